//! Every message, fully populated, encodes to exactly the field numbers and wire types of the
//! tables in messages.md §3.2, §3.3, §5.3 and §6.2 (read from the raw bytes, not via prost).

use super::wire::{field_keys, FieldKey};
use super::*;
use prost::Message;

/// Wire types.
const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;

fn keys(message: &impl Message) -> Vec<(u32, u8)> {
    field_keys(&message.encode_to_vec())
        .unwrap()
        .into_iter()
        .map(|FieldKey { number, wire_type }| (number, wire_type))
        .collect()
}

fn s(text: &str) -> Option<String> {
    Some(text.to_string())
}

fn b(len: usize) -> Option<Vec<u8>> {
    Some(vec![1; len])
}

fn pointer() -> AttachmentPointer {
    AttachmentPointer {
        id: 1,
        content_type: s("image/png"),
        key: b(64),
        size: Some(5),
        thumbnail: b(1),
        digest: b(32),
        file_name: s("a.png"),
        flags: Some(attachment_pointer::Flags::VoiceMessage as u32),
        width: Some(1),
        height: Some(1),
        caption: s("c"),
        url: s("http://filev2.getsession.org/file/1"),
    }
}

fn profile() -> LokiProfile {
    LokiProfile {
        display_name: s("Bot"),
        profile_picture: s("http://x/file/2"),
        last_update_seconds: Some(1),
    }
}

#[test]
fn attachment_pointer_table_5_3() {
    assert_eq!(
        keys(&pointer()),
        [
            (1, I64),
            (2, LEN),
            (3, LEN),
            (4, VARINT),
            (5, LEN),
            (6, LEN),
            (7, LEN),
            (8, VARINT),
            (9, VARINT),
            (10, VARINT),
            (11, LEN),
            (101, LEN)
        ]
    );
    // `id` is fixed64: 8 little-endian bytes after the key 0x09.
    assert!(pointer()
        .encode_to_vec()
        .starts_with(&[0x09, 1, 0, 0, 0, 0, 0, 0, 0]));
}

#[test]
fn lokiprofile_and_small_messages_3_3() {
    assert_eq!(keys(&profile()), [(1, LEN), (2, LEN), (3, VARINT)]);
    let receipt = ReceiptMessage {
        r#type: receipt_message::Type::Read as i32,
        timestamp: vec![1, 2],
    };
    // proto2 repeated scalars are not packed: one key per value, as clients write them.
    assert_eq!(keys(&receipt), [(1, VARINT), (2, VARINT), (2, VARINT)]);
    let typing = TypingMessage {
        timestamp: 1,
        action: typing_message::Action::Stopped as i32,
    };
    assert_eq!(keys(&typing), [(1, VARINT), (2, VARINT)]);
    let unsend = UnsendRequest {
        timestamp: 1,
        author: "05ab".into(),
    };
    assert_eq!(keys(&unsend), [(1, VARINT), (2, LEN)]);
    let response = MessageRequestResponse {
        is_approved: true,
        profile_key: b(32),
        profile: Some(profile()),
    };
    assert_eq!(keys(&response), [(1, VARINT), (2, LEN), (3, LEN)]);
    let extraction = DataExtractionNotification {
        r#type: data_extraction_notification::Type::MediaSaved as i32,
        timestamp: Some(1),
    };
    assert_eq!(keys(&extraction), [(1, VARINT), (2, VARINT)]);
    let call = CallMessage {
        r#type: call_message::Type::PreOffer as i32,
        sdps: vec!["v=0".into()],
        sdp_m_line_indexes: vec![0],
        sdp_mids: vec!["0".into()],
        uuid: "u".into(),
    };
    assert_eq!(
        keys(&call),
        [(1, VARINT), (2, LEN), (3, VARINT), (4, LEN), (5, LEN)]
    );
    let config = SharedConfigMessage {
        kind: shared_config_message::Kind::Contacts as i32,
        seqno: 1,
        data: vec![1],
    };
    assert_eq!(keys(&config), [(1, VARINT), (2, VARINT), (3, LEN)]);
}

fn data_message() -> DataMessage {
    DataMessage {
        body: s("hi"),
        attachments: vec![pointer()],
        flags: Some(data_message::Flags::ExpirationTimerUpdate as u32),
        profile_key: b(32),
        timestamp: Some(1),
        quote: Some(data_message::Quote {
            id: 1,
            author: "05ab".into(),
            text: s("q"),
            attachments: vec![data_message::quote::QuotedAttachment {
                content_type: s("image/png"),
                file_name: s("a"),
                thumbnail: Some(pointer()),
                flags: Some(1),
            }],
        }),
        preview: vec![data_message::Preview {
            url: "https://getsession.org".into(),
            title: s("t"),
            image: Some(pointer()),
        }],
        reaction: Some(data_message::Reaction {
            id: 1,
            author: "05ab".into(),
            emoji: s("👍"),
            action: data_message::reaction::Action::React as i32,
        }),
        profile: Some(profile()),
        open_group_invitation: Some(data_message::OpenGroupInvitation {
            url: "https://open.getsession.org/session?public_key=00".into(),
            name: "Session".into(),
        }),
        sync_target: s("05ab"),
        blocks_community_message_requests: Some(true),
        group_update_message: Some(group_update()),
    }
}

#[test]
fn data_message_table_3_3() {
    assert_eq!(
        keys(&data_message()),
        [
            (1, LEN),
            (2, LEN),
            (4, VARINT),
            (6, LEN),
            (7, VARINT),
            (8, LEN),
            (10, LEN),
            (11, LEN),
            (101, LEN),
            (102, LEN),
            (105, LEN),
            (106, VARINT),
            (120, LEN)
        ]
    );
    let dm = data_message();
    let quote = dm.quote.unwrap();
    assert_eq!(keys(&quote), [(1, VARINT), (2, LEN), (3, LEN), (4, LEN)]);
    assert_eq!(
        keys(&quote.attachments[0]),
        [(1, LEN), (2, LEN), (3, LEN), (4, VARINT)]
    );
    assert_eq!(keys(&dm.preview[0]), [(1, LEN), (2, LEN), (3, LEN)]);
    assert_eq!(
        keys(&dm.reaction.unwrap()),
        [(1, VARINT), (2, LEN), (3, LEN), (4, VARINT)]
    );
    assert_eq!(
        keys(&dm.open_group_invitation.unwrap()),
        [(1, LEN), (3, LEN)]
    );
}

fn group_update() -> GroupUpdateMessage {
    GroupUpdateMessage {
        invite_message: Some(GroupUpdateInviteMessage {
            group_session_id: "03ab".into(),
            name: "g".into(),
            member_auth_data: vec![1],
            admin_signature: vec![2],
        }),
        info_change_message: Some(GroupUpdateInfoChangeMessage {
            r#type: group_update_info_change_message::Type::DisappearingMessages as i32,
            updated_name: s("n"),
            updated_expiration: Some(60),
            admin_signature: vec![1],
        }),
        member_change_message: Some(GroupUpdateMemberChangeMessage {
            r#type: group_update_member_change_message::Type::Promoted as i32,
            member_session_ids: vec!["05ab".into()],
            history_shared: Some(true),
            admin_signature: vec![1],
        }),
        promote_message: Some(GroupUpdatePromoteMessage {
            group_identity_seed: vec![1; 32],
            name: "g".into(),
        }),
        member_left_message: Some(GroupUpdateMemberLeftMessage {}),
        invite_response: Some(GroupUpdateInviteResponseMessage { is_approved: true }),
        delete_member_content: Some(GroupUpdateDeleteMemberContentMessage {
            member_session_ids: vec!["05ab".into()],
            message_hashes: vec!["h".into()],
            admin_signature: b(64),
        }),
        member_left_notification_message: Some(GroupUpdateMemberLeftNotificationMessage {}),
    }
}

#[test]
fn group_update_tables_6_2() {
    let g = group_update();
    assert_eq!(keys(&g), (1..=8).map(|n| (n, LEN)).collect::<Vec<_>>());
    assert_eq!(
        keys(&g.invite_message.unwrap()),
        [(1, LEN), (2, LEN), (3, LEN), (4, LEN)]
    );
    assert_eq!(
        keys(&g.info_change_message.unwrap()),
        [(1, VARINT), (2, LEN), (3, VARINT), (4, LEN)]
    );
    assert_eq!(
        keys(&g.member_change_message.unwrap()),
        [(1, VARINT), (2, LEN), (3, VARINT), (4, LEN)]
    );
    assert_eq!(keys(&g.promote_message.unwrap()), [(1, LEN), (2, LEN)]);
    assert_eq!(keys(&g.invite_response.unwrap()), [(1, VARINT)]);
    assert_eq!(
        keys(&g.delete_member_content.unwrap()),
        [(1, LEN), (2, LEN), (3, LEN)]
    );
}

#[test]
fn content_table_3_3() {
    let content = Content {
        data_message: Some(data_message()),
        call_message: Some(CallMessage {
            r#type: 1,
            uuid: "u".into(),
            ..Default::default()
        }),
        receipt_message: Some(ReceiptMessage::default()),
        typing_message: Some(TypingMessage::default()),
        data_extraction_notification: Some(DataExtractionNotification::default()),
        unsend_request: Some(UnsendRequest::default()),
        message_request_response: Some(MessageRequestResponse::default()),
        shared_config_message: Some(SharedConfigMessage::default()),
        expiration_type: Some(content::ExpirationType::DeleteAfterRead as i32),
        expiration_timer: Some(60),
        sig_timestamp: Some(1),
        pro_message: b(3),
        pro_sig_for_community_message_only: b(64),
    };
    assert_eq!(
        keys(&content),
        [
            (1, LEN),
            (3, LEN),
            (5, LEN),
            (6, LEN),
            (8, LEN),
            (9, LEN),
            (10, LEN),
            (11, LEN),
            (12, VARINT),
            (13, VARINT),
            (15, VARINT),
            (16, LEN),
            (17, LEN)
        ]
    );
}

#[test]
fn enum_values_from_the_tables() {
    assert_eq!(envelope::Type::SessionMessage as i32, 6);
    assert_eq!(envelope::Type::ClosedGroupMessage as i32, 7);
    assert_eq!(web_socket_message::Type::Request as i32, 1);
    assert_eq!(web_socket_message::Type::Response as i32, 2);
    assert_eq!(content::ExpirationType::DeleteAfterRead as i32, 1);
    assert_eq!(content::ExpirationType::DeleteAfterSend as i32, 2);
    assert_eq!(data_message::Flags::ExpirationTimerUpdate as i32, 2);
    assert_eq!(data_message::reaction::Action::Remove as i32, 1);
    assert_eq!(receipt_message::Type::Delivery as i32, 0);
    assert_eq!(receipt_message::Type::Read as i32, 1);
    assert_eq!(typing_message::Action::Stopped as i32, 1);
    assert_eq!(data_extraction_notification::Type::Screenshot as i32, 1);
    assert_eq!(data_extraction_notification::Type::MediaSaved as i32, 2);
    assert_eq!(call_message::Type::PreOffer as i32, 6);
    assert_eq!(call_message::Type::Offer as i32, 1);
    assert_eq!(call_message::Type::EndCall as i32, 5);
    assert_eq!(shared_config_message::Kind::UserGroups as i32, 4);
    assert_eq!(attachment_pointer::Flags::VoiceMessage as i32, 1);
    assert_eq!(group_update_info_change_message::Type::Avatar as i32, 2);
    assert_eq!(group_update_member_change_message::Type::Removed as i32, 2);
}

#[test]
fn schema_lists_every_message_and_required_field() {
    use super::wire::{check_required, WireError, SCHEMA};
    assert_eq!(SCHEMA.len(), 28); // 20 messages of §3 and §5.3, 8 of §6.2
    let envelope = SCHEMA
        .iter()
        .find(|s| s.name == "SessionProtos.Envelope")
        .unwrap();
    assert_eq!(envelope.required, [1, 5]);
    // Fully populated messages built with prost carry every required field.
    let content = Content {
        data_message: Some(data_message()),
        ..Default::default()
    };
    assert_eq!(
        check_required(&content.encode_to_vec(), "SessionProtos.Content"),
        Ok(())
    );
    assert_eq!(
        check_required(&[], "SessionProtos.CallMessage"),
        Err(WireError::MissingRequired {
            message: "SessionProtos.CallMessage",
            field: 1
        })
    );
}

#[test]
fn wire_scanner_rejects_junk() {
    assert!(field_keys(&[0x0a, 0x05, 1]).is_err()); // length past the end
    assert!(field_keys(&[0x80]).is_err()); // truncated varint key
    assert!(field_keys(&[]).unwrap().is_empty());
}

proptest::proptest! {
    #[test]
    fn wire_scanner_never_panics(junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let _ = field_keys(&junk);
        for schema in super::wire::SCHEMA {
            let _ = super::wire::check_required(&junk, schema.name);
        }
    }
}
