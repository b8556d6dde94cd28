//! "We accept what Session Desktop sends": each Content below is written tag by tag with a
//! tiny protobuf writer, from the field tables of messages.md §3.3/§5.3 and the fields DESKTOP's
//! outgoing classes set (`VisibleMessage`, `ExpirableMessage` writing 12/13 on every expirable
//! message, …), never with our builders or prost. Each goes through `parse_content` (unpad,
//! required fields, sigTimestamp) and `classify`.

use super::{alice, bob};
use crate::protocol::attachment::ProfileKey;
use crate::protocol::chat::*;
use crate::protocol::envelope::parse_content;
use crate::protocol::padding::pad;

/// A protobuf message written field by field.
#[derive(Default, Clone)]
struct W(Vec<u8>);

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl W {
    fn key(mut self, field: u32, wire: u8) -> Self {
        varint(&mut self.0, (u64::from(field) << 3) | u64::from(wire));
        self
    }
    fn uint(self, field: u32, v: u64) -> Self {
        let mut w = self.key(field, 0);
        varint(&mut w.0, v);
        w
    }
    fn fixed64(self, field: u32, v: u64) -> Self {
        let mut w = self.key(field, 1);
        w.0.extend_from_slice(&v.to_le_bytes());
        w
    }
    fn bytes(self, field: u32, b: &[u8]) -> Self {
        let mut w = self.key(field, 2);
        varint(&mut w.0, b.len() as u64);
        w.0.extend_from_slice(b);
        w
    }
    fn str(self, field: u32, s: &str) -> Self {
        self.bytes(field, s.as_bytes())
    }
    fn msg(self, field: u32, m: W) -> Self {
        self.bytes(field, &m.0)
    }
}

const TS: u64 = 1_764_000_111_222;

/// Desktop's Content: the given sub-message fields, then `sigTimestamp` (15) = TS.
fn content(w: W) -> W {
    w.uint(15, TS)
}

fn classify_from(w: W, sender: &crate::protocol::keys::SessionId) -> Vec<ChatEvent> {
    let parsed = parse_content(&pad(&content(w).0), TS).unwrap();
    classify(&parsed, sender, &alice(), TS).unwrap()
}

fn from_bob(w: W) -> Vec<ChatEvent> {
    classify_from(w, &bob())
}

fn desktop_profile() -> W {
    W::default()
        .str(1, "Bob Desktop")
        .str(2, "http://filev2.getsession.org/file/4242")
        .uint(3, 1_764_000_000)
}

#[test]
fn desktop_visible_message_with_quote_attachment_and_profile() {
    let pointer = W::default()
        .fixed64(1, 777)
        .str(2, "image/jpeg")
        .bytes(3, &[9; 64])
        .uint(4, 1234)
        .bytes(6, &[8; 32])
        .str(7, "cat.jpg")
        .uint(9, 640)
        .uint(10, 480)
        .str(101, "http://filev2.getsession.org/file/777");
    let quote = W::default()
        .uint(1, 1_700_000_000_000)
        .str(2, &alice().to_string());
    let data = W::default()
        .str(1, "hi from desktop")
        .msg(2, pointer)
        .bytes(6, &[5; 32])
        .msg(8, quote)
        .msg(101, desktop_profile());
    let events = from_bob(W::default().msg(1, data).uint(12, 1).uint(13, 86_400));
    let [ChatEvent::ProfileUpdated(profile), ChatEvent::Message(m)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(profile.display_name.as_deref(), Some("Bob Desktop"));
    let avatar = profile.avatar.as_ref().unwrap();
    assert_eq!(avatar.key, ProfileKey::from_bytes([5; 32]));
    assert_eq!(avatar.url, "http://filev2.getsession.org/file/4242");
    assert_eq!(profile.updated_seconds, Some(1_764_000_000));
    assert_eq!(m.text.as_deref(), Some("hi from desktop"));
    assert_eq!(m.sent_ms, TS);
    let quote = m.quote.unwrap();
    assert_eq!(
        (quote.timestamp_ms, quote.author),
        (1_700_000_000_000, alice())
    );
    assert_eq!(m.expiration, Disappearing::AfterRead { seconds: 86_400 });
    let a = &m.attachments[0];
    assert_eq!((a.id, a.size, a.digest), (777, Some(1234), Some([8; 32])));
    assert_eq!(a.key.expose_secret(), &[9; 64]);
    assert_eq!(a.meta.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(a.meta.file_name.as_deref(), Some("cat.jpg"));
    assert_eq!((a.meta.width, a.meta.height), (Some(640), Some(480)));
    assert_eq!(a.file_url().unwrap().id(), "777");
}

#[test]
fn desktop_deterministic_attachment_and_broken_pointers() {
    let stream = W::default()
        .fixed64(1, 0)
        .bytes(3, &[1; 32])
        .str(101, "http://filev2.getsession.org/file/AbC123#d");
    let bad_key = W::default()
        .fixed64(1, 1)
        .bytes(3, &[1; 16])
        .str(101, "http://x/file/1");
    let no_digest = W::default()
        .fixed64(1, 1)
        .bytes(3, &[1; 64])
        .str(101, "http://x/file/1");
    let no_url = W::default().fixed64(1, 1).bytes(3, &[1; 32]);
    let data = W::default()
        .msg(2, stream)
        .msg(2, bad_key)
        .msg(2, no_digest)
        .msg(2, no_url);
    let events = from_bob(W::default().msg(1, data));
    let [ChatEvent::Message(m)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(m.text, None);
    assert_eq!(m.attachments.len(), 1);
    assert!(matches!(m.attachments[0].key, PointerKey::Stream(_)));
    assert!(m.attachments[0].file_url().unwrap().is_deterministic());
    let reasons: Vec<_> = m
        .rejected_attachments
        .iter()
        .map(|r| (r.index, r.reason.clone()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (1, ChatError::BadKeyLength(16)),
            (2, ChatError::BadDigest),
            (3, ChatError::MissingUrl)
        ]
    );
}

#[test]
fn desktop_reactions() {
    let reaction = |action| {
        W::default()
            .uint(1, 1_700_000_000_000)
            .str(2, &alice().to_string())
            .str(3, "😂")
            .uint(4, action)
    };
    let target = MessageRef {
        timestamp_ms: 1_700_000_000_000,
        author: alice(),
    };
    let added = from_bob(W::default().msg(1, W::default().msg(11, reaction(0))));
    let removed = from_bob(W::default().msg(1, W::default().msg(11, reaction(1))));
    let emoji = "😂".to_string();
    assert_eq!(
        added,
        vec![ChatEvent::ReactionAdded {
            target,
            emoji: emoji.clone(),
            sync_target: None
        }]
    );
    assert_eq!(
        removed,
        vec![ChatEvent::ReactionRemoved {
            target,
            emoji,
            sync_target: None
        }]
    );
}

#[test]
fn desktop_control_messages() {
    let bob_id = bob().to_string();
    let unsend = W::default().uint(1, 1_700_000_000_000).str(2, &bob_id);
    assert_eq!(
        from_bob(W::default().msg(9, unsend)),
        vec![ChatEvent::Unsend {
            target: MessageRef {
                timestamp_ms: 1_700_000_000_000,
                author: bob()
            }
        }]
    );
    let receipt = W::default().uint(1, 1).uint(2, 10).uint(2, 11);
    assert_eq!(
        from_bob(W::default().msg(5, receipt)),
        vec![ChatEvent::Read {
            timestamps: vec![10, 11]
        }]
    );
    let delivery = W::default().uint(1, 0).uint(2, 10);
    assert_eq!(
        from_bob(W::default().msg(5, delivery)),
        vec![ChatEvent::Ignored(IgnoreReason::DeliveryReceipt)]
    );
    for (action, expected) in [
        (0, ChatEvent::TypingStarted { timestamp_ms: TS }),
        (1, ChatEvent::TypingStopped { timestamp_ms: TS }),
    ] {
        let typing = W::default().uint(1, TS).uint(2, action);
        assert_eq!(from_bob(W::default().msg(6, typing)), vec![expected]);
    }
    let extraction = W::default().uint(1, 1).uint(2, 99);
    assert_eq!(
        from_bob(W::default().msg(8, extraction).uint(12, 0).uint(13, 0)),
        vec![ChatEvent::DataExtraction {
            kind: DataExtractionKind::Screenshot,
            timestamp_ms: Some(99)
        }]
    );
}

#[test]
fn desktop_message_request_response_and_timer_update() {
    let response = W::default()
        .uint(1, 1)
        .bytes(2, &[3; 32])
        .msg(3, desktop_profile());
    let events = from_bob(W::default().msg(10, response));
    let [ChatEvent::ProfileUpdated(p), ChatEvent::MessageRequestResponse { approved, profile }] =
        events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert!(*approved);
    assert_eq!(profile.as_ref(), Some(p));
    assert_eq!(
        p.avatar.as_ref().unwrap().key,
        ProfileKey::from_bytes([3; 32])
    );
    let update = W::default()
        .msg(1, W::default().uint(4, 2))
        .uint(12, 2)
        .uint(13, 30);
    assert_eq!(
        from_bob(update),
        vec![ChatEvent::ExpirationTimerUpdate {
            setting: Disappearing::AfterSend { seconds: 30 },
            sync_target: None
        }]
    );
    let off = W::default()
        .msg(1, W::default().uint(4, 2))
        .uint(12, 0)
        .uint(13, 0);
    assert_eq!(
        from_bob(off),
        vec![ChatEvent::ExpirationTimerUpdate {
            setting: Disappearing::Off,
            sync_target: None
        }]
    );
}

#[test]
fn desktop_calls_and_community_invitations() {
    let offer = W::default().uint(1, 6).str(5, "5b0c-uuid");
    assert_eq!(
        from_bob(W::default().msg(3, offer)),
        vec![ChatEvent::CallOffered {
            uuid: "5b0c-uuid".into(),
            kind: CallKind::PreOffer
        }]
    );
    let end = W::default().uint(1, 5).str(5, "5b0c-uuid");
    assert_eq!(
        from_bob(W::default().msg(3, end)),
        vec![ChatEvent::Ignored(IgnoreReason::CallSignal(
            CallKind::EndCall
        ))]
    );
    let url = "https://open.getsession.org/session?public_key=a03c383cf63c3c4efe67acc52112a6dd734b3a946b9545f488aaa93da7991238";
    let invitation = W::default().str(1, url).str(3, "Session");
    let data = W::default()
        .msg(102, invitation)
        .msg(101, desktop_profile());
    let events = from_bob(W::default().msg(1, data));
    assert!(matches!(events[0], ChatEvent::ProfileUpdated(_)));
    assert_eq!(
        events[1],
        ChatEvent::CommunityInvitation {
            url: url.into(),
            name: "Session".into(),
            sync_target: None
        }
    );
}

#[test]
fn desktop_sync_copy_from_our_other_device() {
    let data = W::default()
        .str(1, "sent from my laptop")
        .str(105, &bob().to_string());
    let events = classify_from(W::default().msg(1, data), &alice());
    let [ChatEvent::Message(m)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(m.sync_target, Some(bob()));
    assert_eq!(m.text.as_deref(), Some("sent from my laptop"));
}

#[test]
fn refusals_say_why() {
    let empty = parse_content(&pad(&W::default().uint(15, TS).0), TS).unwrap();
    assert_eq!(
        classify(&empty, &bob(), &alice(), TS),
        Err(ChatError::EmptyContent)
    );
    assert_eq!(
        classify(&empty, &bob(), &alice(), TS + 1),
        Err(ChatError::SigTimestampMismatch {
            envelope: TS + 1,
            signed: TS
        })
    );
    let bad_quote = W::default()
        .str(1, "x")
        .msg(8, W::default().uint(1, 1).str(2, "not an id"));
    let parsed = parse_content(&pad(&content(W::default().msg(1, bad_quote)).0), TS).unwrap();
    assert_eq!(
        classify(&parsed, &bob(), &alice(), TS),
        Err(ChatError::BadSessionId {
            field: "quote.author"
        })
    );
}
