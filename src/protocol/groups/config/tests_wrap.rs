//! The §1.6 protobuf wrapper: built here by libsession's `wrap_config` layout
//! (`src/config/protos.cpp`), unwrapped, and junk that must fall back to raw.

use prost::Message;

use super::wrap::{unwrap_config, unwrap_or_raw, UnwrapError};
use super::ConfigKind;
use crate::protocol::dm::encrypt_for_recipient_deterministic;
use crate::protocol::keys::{Identity, Seed};
use crate::protocol::protos::{
    envelope, shared_config_message::Kind, web_socket_message, Content, Envelope,
    SharedConfigMessage, WebSocketMessage, WebSocketRequestMessage,
};

fn identity(byte: u8) -> Identity {
    Identity::from_seed(Seed::from_bytes([byte; 32]))
}

fn wrap_with(
    sender: &Identity,
    recipient: &Identity,
    data: &[u8],
    kind: Kind,
    tail: &[u8],
) -> Vec<u8> {
    let content = Content {
        shared_config_message: Some(SharedConfigMessage {
            kind: kind as i32,
            seqno: 5,
            data: data.to_vec(),
        }),
        ..Default::default()
    };
    let mut plain = content.encode_to_vec();
    plain.extend_from_slice(tail);
    let sealed =
        encrypt_for_recipient_deterministic(sender, &recipient.x25519_public(), &plain).unwrap();
    let envelope = Envelope {
        r#type: envelope::Type::SessionMessage as i32,
        timestamp: 1,
        content: Some(sealed),
        ..Default::default()
    };
    WebSocketMessage {
        r#type: Some(web_socket_message::Type::Request as i32),
        request: Some(WebSocketRequestMessage {
            verb: Some(String::new()),
            path: Some(String::new()),
            body: Some(envelope.encode_to_vec()),
            id: Some(0),
            headers: vec![],
        }),
    }
    .encode_to_vec()
}

fn wrap(own: &Identity, data: &[u8], kind: Kind) -> Vec<u8> {
    wrap_with(own, own, data, kind, &[0x80])
}

#[test]
fn wrapped_and_double_wrapped_unwrap() {
    let me = identity(1);
    let data = b"config ciphertext".to_vec();
    let once = wrap(&me, &data, Kind::Contacts);
    assert_eq!(
        unwrap_config(&me, &once, ConfigKind::Contacts),
        Ok(data.clone())
    );
    assert_eq!(unwrap_or_raw(&me, &once, ConfigKind::Contacts), data);
    let twice = wrap(&me, &once, Kind::Contacts);
    assert_eq!(unwrap_or_raw(&me, &twice, ConfigKind::Contacts), data);
    // Zero padding after the terminator is accepted too.
    let padded = wrap_with(&me, &me, &data, Kind::UserGroups, &[0x80, 0, 0]);
    assert_eq!(unwrap_or_raw(&me, &padded, ConfigKind::UserGroups), data);
}

#[test]
fn what_does_not_unwrap_is_raw() {
    let me = identity(1);
    let other = identity(2);
    let data = b"config ciphertext".to_vec();
    let cases = [
        (wrap(&me, &data, Kind::UserProfile), UnwrapError::Kind),
        (
            wrap_with(&other, &me, &data, Kind::Contacts, &[0x80]),
            UnwrapError::NotOurs,
        ),
        (
            wrap_with(&me, &other, &data, Kind::Contacts, &[0x80]),
            UnwrapError::NotOurs,
        ),
        (
            wrap_with(&me, &me, &data, Kind::Contacts, &[]),
            UnwrapError::Padding,
        ),
        (
            wrap_with(&me, &me, &data, Kind::Contacts, &[0x80, 1]),
            UnwrapError::Padding,
        ),
        (data.clone(), UnwrapError::NotWrapped),
    ];
    for (bytes, err) in cases {
        assert_eq!(unwrap_config(&me, &bytes, ConfigKind::Contacts), Err(err));
        assert_eq!(unwrap_or_raw(&me, &bytes, ConfigKind::Contacts), bytes);
    }
    // Group configs are never unwrapped.
    let wrapped = wrap(&me, &data, Kind::Contacts);
    assert_eq!(
        unwrap_config(&me, &wrapped, ConfigKind::GroupInfo),
        Err(UnwrapError::NotWrappable)
    );
    assert_eq!(
        unwrap_or_raw(&me, &wrapped, ConfigKind::GroupMembers),
        wrapped
    );
}

#[test]
fn junk_never_panics() {
    let me = identity(1);
    let wrapped = wrap(&me, b"x", Kind::Contacts);
    let mut seed = 0x9e37_79b9_u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for round in 0..1000 {
        let mut junk = if round % 2 == 0 {
            wrapped.clone()
        } else {
            (0..next() % 200).map(|_| next() as u8).collect()
        };
        if !junk.is_empty() {
            let at = next() as usize % junk.len();
            junk[at] = next() as u8;
            junk.truncate(next() as usize % (junk.len() + 1));
        }
        let _ = unwrap_or_raw(&me, &junk, ConfigKind::Contacts);
    }
}
