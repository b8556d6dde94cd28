//! Failure reasons, pointers in and out, and junk.

use proptest::prelude::*;
use prost::Message as _;

use super::*;
use crate::protocol::attachment::{decrypt_for_pointer, encrypt_attachment_with, AttachmentKey};
use crate::protocol::protos::DataMessage;

/// A legacy blob made with a fixed key and IV; the digest-mismatch case is derived by a
/// second path (the right blob, a wrong digest), since no vector in the notes covers it.
fn sealed() -> (Vec<u8>, [u8; 64], [u8; 32]) {
    let encrypted = encrypt_attachment_with(
        b"hello attachment",
        AttachmentKey::from_bytes([7u8; 64]),
        [9u8; 16],
    )
    .unwrap();
    (encrypted.blob, [7u8; 64], encrypted.digest)
}

#[test]
fn failure_reasons_name_the_tampering() {
    let (blob, key, digest) = sealed();
    let mut flipped = blob.clone();
    flipped[20] ^= 1;
    let bad_hmac = decrypt_for_pointer(&flipped, &key, Some(&digest), None).unwrap_err();
    assert_eq!(
        TransferError::from(bad_hmac).to_string(),
        "tampered: bad hmac"
    );
    let bad_digest = decrypt_for_pointer(&blob, &key, Some(&[0u8; 32]), None).unwrap_err();
    assert_eq!(
        TransferError::from(bad_digest).to_string(),
        "tampered: digest mismatch"
    );
    let not_found = NetworkError::FileServer {
        status: 404,
        message: String::new(),
    };
    let not_found = TransferError::from(not_found);
    assert_eq!(not_found.to_string(), "not found");
    assert!(!not_found.is_retryable());
}

#[test]
fn incoming_parts_read_pointers() {
    let (_, key, digest) = sealed();
    let data = DataMessage {
        attachments: vec![
            crate::protocol::protos::AttachmentPointer {
                url: Some("http://filev2.getsession.org/file/123".into()),
                key: Some(key.to_vec()),
                digest: Some(digest.to_vec()),
                size: Some(16),
                content_type: Some("image/png".into()),
                file_name: Some("a.png".into()),
                ..Default::default()
            },
            // No URL: skipped, not fatal.
            crate::protocol::protos::AttachmentPointer::default(),
        ],
        ..DataMessage::default()
    };
    let parts = IncomingParts::of(&data);
    assert_eq!(parts.pointers.len(), 1);
    let pointer = &parts.pointers[0];
    assert_eq!(pointer.content_type, "image/png");
    assert_eq!(pointer.size, 16);
    assert_eq!(pointer.key.as_slice(), key.as_slice());
}

/// The bytes we send carry the field numbers of messages.md §3.3/§4/§5.3.
#[test]
fn outgoing_text_with_files_uses_the_documented_fields() {
    use crate::protocol::attachment::ProfileKey;
    use crate::protocol::chat::profile::{Avatar, Profile};

    let encrypted =
        encrypt_attachment_with(b"x", AttachmentKey::from_bytes([1u8; 64]), [2u8; 16]).unwrap();
    let meta = AttachmentMeta {
        content_type: Some("a/b".into()),
        file_name: Some("f".into()),
        ..AttachmentMeta::default()
    };
    let info = AttachmentInfo::from_upload("http://h/file/77", &encrypted, meta);
    let profile = Profile {
        display_name: Some("N".into()),
        avatar: Some(Avatar {
            url: "http://h/file/78".into(),
            key: ProfileKey::from_bytes([3u8; 32]),
        }),
        updated_seconds: Some(5),
    };
    let text = crate::protocol::chat::TextMessage {
        body: Some("hi".into()),
        attachments: vec![info.clone()],
        profile: Some(profile),
        ..Default::default()
    };
    let built = text.build(1).unwrap();
    let data = built.content().data_message.clone().unwrap();
    let bytes = data.encode_to_vec();
    // body (1, len) "hi"
    assert_eq!(&bytes[..4], &[0x0a, 2, b'h', b'i']);
    // attachments (2, len), profileKey (6, len 32), profile (101 = 0xaa 0x06, len)
    assert_eq!(bytes[4], 0x12);
    let pointer = info.to_pointer().encode_to_vec();
    // id (1, fixed64) = 77, contentType (2), key (3, 64 bytes), size (4, varint 1)
    assert_eq!(&pointer[..9], &[0x09, 77, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&pointer[9..14], &[0x12, 3, b'a', b'/', b'b']);
    assert_eq!(&pointer[14..16], &[0x1a, 64]);
    assert_eq!(&pointer[80..82], &[0x20, 1]);
    // digest (6, 32 bytes), fileName (7), url (101)
    assert_eq!(&pointer[82..84], &[0x32, 32]);
    assert_eq!(&pointer[116..119], &[0x3a, 1, b'f']);
    assert_eq!(&pointer[119..122], &[0xaa, 0x06, 16]);
    // The pointer is 138 bytes: a two-byte length varint.
    assert_eq!(pointer.len(), 138);
    assert_eq!(&bytes[5..7], &[0x8a, 0x01]);
    let rest = &bytes[7 + pointer.len()..];
    assert_eq!(&rest[..2], &[0x32, 32]);
    assert_eq!(&rest[34..36], &[0xaa, 0x06]);
    let decoded = DataMessage::decode(bytes.as_slice()).unwrap();
    let loki = decoded.profile.unwrap();
    assert_eq!(loki.display_name.as_deref(), Some("N"));
    assert_eq!(loki.profile_picture.as_deref(), Some("http://h/file/78"));
    assert_eq!(loki.last_update_seconds, Some(5));
    assert_eq!(decoded.profile_key.as_deref(), Some(&[3u8; 32][..]));
    // Neither text nor files: nothing to send.
    assert!(crate::protocol::chat::TextMessage::default()
        .build(1)
        .is_err());
}

proptest! {
    /// Junk `DataMessage` bytes never make the pointer reader panic.
    #[test]
    fn incoming_parts_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(data) = DataMessage::decode(bytes.as_slice()) {
            let _ = IncomingParts::of(&data);
        }
    }
}
