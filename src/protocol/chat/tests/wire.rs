//! Byte-level checks: each builder's Content, after `OutgoingContent::new`, is unpadded and its
//! raw tags are walked with `protos::wire`; the set of field paths and wire types must equal the
//! one `tests/vectors/chat.json` restates from messages.md §3.3/§5.3, and `sigTimestamp` must
//! equal the sent timestamp. Then the same Content is classified as the peer would see it.

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Deserialize;

use super::{alice, bob};
use crate::protocol::attachment::{encrypt_attachment, ProfileKey};
use crate::protocol::chat::*;
use crate::protocol::envelope::parse_content;
use crate::protocol::padding::unpad;
use crate::protocol::protos::wire::{fields, SCHEMA};
use crate::protocol::vectors::{load, Source};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Feature {
    source: Source,
    name: String,
    paths: Vec<String>,
    ttl_ms: u64,
    visible: bool,
    own_swarm_copy: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vectors {
    #[allow(dead_code)] // documents the file
    description: String,
    features: Vec<Feature>,
}

const SENT: u64 = 1_764_000_000_123;

/// Every field path present in `bytes` (a `message`), recursing into message-typed fields by
/// the schema `build.rs` extracted: `"1.8.2:2"` = field 2 (length-delimited) of field 8 of 1.
fn paths(bytes: &[u8], message: &str, prefix: &str, out: &mut BTreeSet<String>) {
    let schema = SCHEMA.iter().find(|s| s.name == message);
    for (key, payload) in fields(bytes).unwrap() {
        let path = format!("{prefix}{}", key.number);
        out.insert(format!("{path}:{}", key.wire_type));
        let child = schema.and_then(|s| s.children.iter().find(|c| c.0 == key.number));
        if let (Some(&(_, child, _)), Some(payload)) = (child, payload) {
            paths(payload, child, &format!("{path}."), out);
        }
    }
}

fn avatar_profile() -> Profile {
    Profile {
        display_name: Some("Gateway Bot".into()),
        avatar: Some(Avatar {
            url: "http://127.0.0.1:4443/file/12345#p=".to_string() + &"ab".repeat(32),
            key: ProfileKey::from_bytes([7; 32]),
        }),
        updated_seconds: Some(1_764_000_000),
    }
}

fn attachment() -> AttachmentInfo {
    let mut rng = StdRng::seed_from_u64(5);
    let encrypted = encrypt_attachment(b"%PDF-1.7 a small file", &mut rng).unwrap();
    let meta = AttachmentMeta {
        content_type: Some("application/pdf".into()),
        file_name: Some("doc.pdf".into()),
        ..AttachmentMeta::default()
    };
    AttachmentInfo::from_upload("http://filev2.getsession.org/file/987", &encrypted, meta)
}

fn build(name: &str) -> Outgoing {
    let target = MessageRef {
        timestamp_ms: 1_700_000_000_000,
        author: bob(),
    };
    match name {
        "text" => TextMessage {
            body: Some("hello".into()),
            quote: Some(target),
            attachments: vec![attachment()],
            profile: Some(avatar_profile()),
            disappearing: Disappearing::after_send(3600),
        }
        .build(SENT)
        .unwrap(),
        "text_sync_copy" => TextMessage {
            body: Some("hello".into()),
            ..TextMessage::default()
        }
        .build(SENT)
        .unwrap()
        .own_swarm_copy(&bob())
        .unwrap(),
        "reaction_add" => {
            let profile = Profile::named("Gateway Bot", 1_764_000_000);
            reaction(target, "👍", ReactionAction::Add, Some(&profile), SENT).unwrap()
        }
        "reaction_remove" => reaction(target, "👍", ReactionAction::Remove, None, SENT).unwrap(),
        "unsend" => unsend(target, SENT),
        "read_receipt" => read_receipt(&[1, 2, 3], SENT).unwrap(),
        "typing_started" => typing(true, SENT),
        "message_request_response" => message_request_response(Some(&avatar_profile()), SENT),
        "expiration_timer_update" => expiration_timer_update(Disappearing::after_send(300), SENT),
        "data_extraction" => data_extraction(false, 42, Disappearing::after_read(60), SENT),
        "community_invitation" => community_invitation(
            "https://open.getsession.org/session?public_key=a03c",
            "Session",
            None,
            Disappearing::Off,
            SENT,
        )
        .unwrap(),
        other => panic!("no builder case for {other}"),
    }
}

#[test]
fn every_builder_matches_the_field_tables_byte_for_byte() {
    let vectors: Vectors = load(include_str!("../../../../tests/vectors/chat.json"));
    assert_eq!(vectors.features.len(), 11, "one vector per feature case");
    for feature in &vectors.features {
        feature.source.check();
        let outgoing = build(&feature.name);
        assert_eq!(outgoing.ttl_ms(), feature.ttl_ms, "{}: TTL", feature.name);
        assert_eq!(outgoing.is_visible(), feature.visible, "{}", feature.name);
        let own = outgoing.wants_own_swarm_copy();
        assert_eq!(own, feature.own_swarm_copy, "{}: own copy", feature.name);
        let sealed = outgoing.into_content();
        assert_eq!(sealed.timestamp_ms(), SENT);
        let plain = unpad(sealed.padded());
        let mut found = BTreeSet::new();
        paths(plain, "SessionProtos.Content", "", &mut found);
        let expected: BTreeSet<String> = feature.paths.iter().cloned().collect();
        assert_eq!(found, expected, "{}: field paths", feature.name);
        let content = parse_content(sealed.padded(), SENT).unwrap();
        assert_eq!(content.sig_timestamp, Some(SENT), "{}", feature.name);
    }
}

/// A sends each feature to B; B's `classify` yields the right event with the right data.
#[test]
fn what_we_send_classifies_as_the_same_feature() {
    let events = |name: &str| {
        let sealed = build(name).into_content();
        let content = parse_content(sealed.padded(), SENT).unwrap();
        classify(&content, &alice(), &bob(), SENT).unwrap()
    };
    let target = MessageRef {
        timestamp_ms: 1_700_000_000_000,
        author: bob(),
    };
    let text = events("text");
    assert_eq!(text[0], ChatEvent::ProfileUpdated(avatar_profile()));
    let ChatEvent::Message(message) = &text[1] else {
        panic!("{text:?}")
    };
    assert_eq!(message.text.as_deref(), Some("hello"));
    assert_eq!(message.quote, Some(target));
    assert_eq!(message.attachments, vec![attachment()]);
    assert_eq!(
        message.expiration,
        Disappearing::AfterSend { seconds: 3600 }
    );
    assert_eq!(message.sent_ms, SENT);
    assert_eq!(message.sync_target, None);
    assert_eq!(
        events("reaction_remove"),
        vec![ChatEvent::ReactionRemoved {
            target,
            emoji: "👍".into(),
            sync_target: None
        }]
    );
    assert_eq!(
        events("read_receipt"),
        vec![ChatEvent::Read {
            timestamps: vec![1, 2, 3]
        }]
    );
    assert_eq!(
        events("typing_started"),
        vec![ChatEvent::TypingStarted { timestamp_ms: SENT }]
    );
    assert_eq!(
        events("expiration_timer_update"),
        vec![ChatEvent::ExpirationTimerUpdate {
            setting: Disappearing::AfterSend { seconds: 300 },
            sync_target: None
        }]
    );
    assert_eq!(
        events("data_extraction"),
        vec![ChatEvent::DataExtraction {
            kind: DataExtractionKind::MediaSaved,
            timestamp_ms: Some(42)
        }]
    );
    assert_eq!(
        events("message_request_response"),
        vec![
            ChatEvent::ProfileUpdated(avatar_profile()),
            ChatEvent::MessageRequestResponse {
                approved: true,
                profile: Some(avatar_profile())
            }
        ]
    );
    // B unsends its own message: honoured. The same request from A names B's message: ignored.
    let sealed = unsend(target, SENT).into_content();
    let content = parse_content(sealed.padded(), SENT).unwrap();
    let from_bob = classify(&content, &bob(), &alice(), SENT).unwrap();
    assert_eq!(from_bob, vec![ChatEvent::Unsend { target }]);
    assert_eq!(
        events("unsend"),
        vec![ChatEvent::Ignored(IgnoreReason::UnsendByOther)]
    );
}

/// The copy A sends to its own swarm reads back, on A's other devices, as an outgoing message
/// to B; the same copy claimed by B is dropped.
#[test]
fn sync_copies_classify_as_outgoing_to_the_target() {
    let sealed = build("text_sync_copy").into_content();
    let content = parse_content(sealed.padded(), SENT).unwrap();
    let events = classify(&content, &alice(), &alice(), SENT).unwrap();
    let [ChatEvent::Message(message)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(message.sync_target, Some(bob()));
    let forged = classify(&content, &bob(), &alice(), SENT).unwrap();
    assert_eq!(
        forged,
        vec![ChatEvent::Ignored(IgnoreReason::SyncFromOther)]
    );
}

#[test]
fn builders_refuse_what_clients_would_drop() {
    assert!(TextMessage::default().build(SENT).is_err());
    assert!(read_receipt(&[], SENT).is_err());
    let target = MessageRef {
        timestamp_ms: 1,
        author: bob(),
    };
    assert!(reaction(target, "", ReactionAction::Add, None, SENT).is_err());
    assert!(community_invitation("", "x", None, Disappearing::Off, SENT).is_err());
    assert!(unsend(target, SENT).own_swarm_copy(&bob()).is_some());
    assert!(typing(false, SENT).own_swarm_copy(&bob()).is_none());
}

/// The reply's `Quote` carries what Session Desktop sets and nothing else: `id` (1, varint, the
/// quoted message's sent timestamp) and `author` (2, string). Desktop
/// (`VisibleMessage.ts`@00645cd `dataProto`) sets only these two and its proto reserves 3
/// (`text`) and 4 (`attachments`), messages.md §3.3; Android (`Quote.kt`@442fca2 `Quote.from`)
/// sends `text` empty. No client sends the quoted text, so neither do we: it would only repeat
/// plaintext the recipient already has.
#[test]
fn the_quote_carries_id_and_author_only() {
    let target = MessageRef {
        timestamp_ms: 1_700_000_000_000,
        author: bob(),
    };
    let built = TextMessage {
        body: Some("a reply".into()),
        quote: Some(target),
        ..TextMessage::default()
    }
    .build(SENT)
    .unwrap();
    let data = built.content().data_message.clone().unwrap();
    let bytes = prost::Message::encode_to_vec(&data);
    let (_, quote) = fields(&bytes)
        .unwrap()
        .into_iter()
        .find(|(key, _)| key.number == 8)
        .unwrap();
    let author = bob().to_string();
    let mut expected = vec![0x08];
    // 1_700_000_000_000 as a varint, low 7 bits first.
    let mut ts = 1_700_000_000_000u64;
    while ts >= 0x80 {
        expected.push((ts as u8 & 0x7f) | 0x80);
        ts >>= 7;
    }
    expected.push(ts as u8);
    expected.extend_from_slice(&[0x12, 66]);
    expected.extend_from_slice(author.as_bytes());
    assert_eq!(quote.unwrap(), expected.as_slice());
}
