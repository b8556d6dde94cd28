//! Peer data never panics: `classify` on Content decoded from random bytes and on structurally
//! random Content (arbitrary IDs, enums, keys), pointer and URL parsers on junk.

use proptest::prelude::*;
use prost::Message as _;

use super::{alice, bob};
use crate::protocol::chat::*;
use crate::protocol::protos::{
    data_message, AttachmentPointer, CallMessage, Content, DataMessage, LokiProfile,
    MessageRequestResponse, ReceiptMessage, TypingMessage, UnsendRequest,
};

fn any_id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(bob().to_string()),
        Just(alice().to_string()),
        "[0-9a-f]{0,70}",
        ".{0,12}",
    ]
}

fn any_pointer() -> impl Strategy<Value = AttachmentPointer> {
    (
        any::<u64>(),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..70)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        proptest::option::of(".{0,40}"),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(id, key, digest, url, size)| AttachmentPointer {
            id,
            key,
            digest,
            url,
            size,
            ..AttachmentPointer::default()
        })
}

fn any_data() -> impl Strategy<Value = DataMessage> {
    (
        (
            proptest::option::of(".{0,8}"),
            proptest::collection::vec(any_pointer(), 0..3),
            proptest::option::of(any::<u32>()),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        ),
        (
            proptest::option::of((any::<u64>(), any_id())),
            proptest::option::of((any::<u64>(), any_id(), ".{0,3}", -2i32..4)),
            proptest::option::of(any_id()),
            proptest::option::of((".{0,6}", ".{0,30}", any::<u64>())),
        ),
    )
        .prop_map(
            |((body, attachments, flags, key), (quote, reaction, sync, profile))| DataMessage {
                body,
                attachments,
                flags,
                profile_key: key,
                quote: quote.map(|(id, author)| data_message::Quote {
                    id,
                    author,
                    ..data_message::Quote::default()
                }),
                reaction: reaction.map(|(id, author, emoji, action)| data_message::Reaction {
                    id,
                    author,
                    emoji: Some(emoji),
                    action,
                }),
                sync_target: sync,
                profile: profile.map(|(name, url, s)| LokiProfile {
                    display_name: Some(name),
                    profile_picture: Some(url),
                    last_update_seconds: Some(s),
                }),
                ..DataMessage::default()
            },
        )
}

fn any_content() -> impl Strategy<Value = Content> {
    (
        proptest::option::of(any_data()),
        proptest::option::of((-1i32..8, ".{0,8}")),
        proptest::option::of((-1i32..3, proptest::collection::vec(any::<u64>(), 0..3))),
        proptest::option::of((any::<u64>(), -1i32..3)),
        proptest::option::of((any::<u64>(), any_id())),
        proptest::option::of(any::<bool>()),
        (
            proptest::option::of(-1i32..4),
            proptest::option::of(any::<u32>()),
        ),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(
            |(data, call, receipt, typing, unsend, mrr, (kind, timer), sig)| Content {
                data_message: data,
                call_message: call.map(|(r#type, uuid)| CallMessage {
                    r#type,
                    uuid,
                    ..CallMessage::default()
                }),
                receipt_message: receipt
                    .map(|(r#type, timestamp)| ReceiptMessage { r#type, timestamp }),
                typing_message: typing
                    .map(|(timestamp, action)| TypingMessage { timestamp, action }),
                unsend_request: unsend
                    .map(|(timestamp, author)| UnsendRequest { timestamp, author }),
                message_request_response: mrr.map(|is_approved| MessageRequestResponse {
                    is_approved,
                    ..MessageRequestResponse::default()
                }),
                expiration_type: kind,
                expiration_timer: timer,
                sig_timestamp: sig,
                ..Content::default()
            },
        )
}

proptest! {
    #[test]
    fn classify_never_panics_on_decoded_junk(
        junk in proptest::collection::vec(any::<u8>(), 0..300),
        ts in any::<u64>(),
    ) {
        if let Ok(content) = Content::decode(junk.as_slice()) {
            let _ = classify(&content, &bob(), &alice(), ts);
            let _ = classify(&content, &alice(), &alice(), ts);
        }
    }

    #[test]
    fn classify_never_panics_on_random_content(content in any_content(), ts in any::<u64>()) {
        for sender in [bob(), alice()] {
            if let Ok(events) = classify(&content, &sender, &alice(), ts) {
                prop_assert!(!events.is_empty());
            }
        }
        // And what is classified survives an encode/decode round trip unchanged.
        let again = Content::decode(content.encode_to_vec().as_slice()).unwrap();
        prop_assert_eq!(
            classify(&again, &bob(), &alice(), ts),
            classify(&content, &bob(), &alice(), ts)
        );
    }

    #[test]
    fn pointer_parse_never_panics(pointer in any_pointer()) {
        if let Ok(info) = AttachmentInfo::parse(&pointer) {
            prop_assert_eq!(AttachmentInfo::parse(&info.to_pointer()).unwrap(), info);
        }
    }

    #[test]
    fn file_url_parse_never_panics(url in ".{0,80}", id in "[A-Za-z0-9]{1,20}") {
        let _ = FileUrl::parse(&url);
        let _ = file_id_from_url(&url);
        let built = FileServer::default_server().file_url(&id);
        let parsed = FileUrl::parse(&built).unwrap();
        prop_assert_eq!(parsed.id(), id.as_str());
    }
}

/// One step of a two-party conversation.
#[derive(Debug, Clone)]
enum Step {
    Text {
        by_a: bool,
        quote: usize,
    },
    React {
        by_a: bool,
        target: usize,
        remove: bool,
    },
    Unsend {
        by_a: bool,
        target: usize,
    },
    Read {
        by_a: bool,
    },
    Typing {
        by_a: bool,
        started: bool,
    },
    Timer {
        by_a: bool,
        seconds: u32,
    },
}

fn any_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (any::<bool>(), any::<usize>()).prop_map(|(by_a, quote)| Step::Text { by_a, quote }),
        (any::<bool>(), any::<usize>(), any::<bool>()).prop_map(|(by_a, target, remove)| {
            Step::React {
                by_a,
                target,
                remove,
            }
        }),
        (any::<bool>(), any::<usize>()).prop_map(|(by_a, target)| Step::Unsend { by_a, target }),
        any::<bool>().prop_map(|by_a| Step::Read { by_a }),
        (any::<bool>(), any::<bool>()).prop_map(|(by_a, started)| Step::Typing { by_a, started }),
        (any::<bool>(), 0u32..100_000).prop_map(|(by_a, seconds)| Step::Timer { by_a, seconds }),
    ]
}

proptest! {
    /// A stateful run: A and B take turns doing random features; every Content goes through
    /// `OutgoingContent` (sigTimestamp, padding) and `parse_content`, and the receiver's
    /// `classify` yields the event a model of the conversation predicts.
    #[test]
    fn conversations_classify_as_the_model_predicts(steps in proptest::collection::vec(any_step(), 1..40)) {
        use crate::protocol::envelope::parse_content;
        let mut sent: Vec<MessageRef> = Vec::new();
        let mut setting = Disappearing::Off;
        for (i, step) in steps.into_iter().enumerate() {
            let ts = 1_700_000_000_000 + i as u64;
            let by_a = match step {
                Step::Text { by_a, .. } | Step::React { by_a, .. } | Step::Unsend { by_a, .. }
                | Step::Read { by_a } | Step::Typing { by_a, .. } | Step::Timer { by_a, .. } => by_a,
            };
            let (me, peer) = if by_a { (alice(), bob()) } else { (bob(), alice()) };
            let pick = |n: usize| (!sent.is_empty()).then(|| sent[n % sent.len()]);
            let (outgoing, expected): (Outgoing, ChatEvent) = match step {
                Step::Text { quote, .. } => {
                    let quote = pick(quote);
                    let message = TextMessage {
                        body: Some(format!("message {i}")),
                        quote,
                        disappearing: setting,
                        ..TextMessage::default()
                    };
                    sent.push(MessageRef { timestamp_ms: ts, author: me });
                    let out = message.build(ts).unwrap();
                    (out, ChatEvent::Message(IncomingMessage {
                        sent_ms: ts, text: Some(format!("message {i}")), quote,
                        attachments: vec![], rejected_attachments: vec![], profile: None,
                        expiration: setting, sync_target: None,
                    }))
                }
                Step::React { target, remove, .. } => {
                    let Some(target) = pick(target) else { continue };
                    let action = if remove { ReactionAction::Remove } else { ReactionAction::Add };
                    let emoji = "❤️".to_string();
                    let out = reaction(target, &emoji, action, None, ts).unwrap();
                    let event = if remove {
                        ChatEvent::ReactionRemoved { target, emoji, sync_target: None }
                    } else {
                        ChatEvent::ReactionAdded { target, emoji, sync_target: None }
                    };
                    (out, event)
                }
                Step::Unsend { target, .. } => {
                    let Some(target) = pick(target) else { continue };
                    let event = if target.author == me {
                        ChatEvent::Unsend { target }
                    } else {
                        ChatEvent::Ignored(IgnoreReason::UnsendByOther)
                    };
                    (unsend(target, ts), event)
                }
                Step::Read { .. } => {
                    let stamps: Vec<u64> = sent.iter().filter(|m| m.author == peer)
                        .map(|m| m.timestamp_ms).collect();
                    if stamps.is_empty() { continue }
                    (read_receipt(&stamps, ts).unwrap(), ChatEvent::Read { timestamps: stamps })
                }
                Step::Typing { started, .. } => {
                    let event = if started {
                        ChatEvent::TypingStarted { timestamp_ms: ts }
                    } else {
                        ChatEvent::TypingStopped { timestamp_ms: ts }
                    };
                    (typing(started, ts), event)
                }
                Step::Timer { seconds, .. } => {
                    setting = Disappearing::after_send(seconds);
                    let event = ChatEvent::ExpirationTimerUpdate { setting, sync_target: None };
                    (expiration_timer_update(setting, ts), event)
                }
            };
            let sealed = outgoing.into_content();
            let content = parse_content(sealed.padded(), ts).unwrap();
            let events = classify(&content, &me, &peer, ts).unwrap();
            prop_assert_eq!(events, vec![expected]);
        }
    }
}
