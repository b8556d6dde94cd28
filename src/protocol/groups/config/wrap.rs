//! The legacy protobuf wrapper around user configs (namespaces 2–5), receive side
//! (groups.md §1.6). Facts from libsession-util `src/config/protos.cpp` (`unwrap_config`):
//!
//! ```text
//! WebSocketMessage { type = REQUEST, request.body = Envelope {
//!     content = DM-encrypted (sender = recipient = us, §2 of messages.md) of
//!         Content { sharedConfigMessage { kind, seqno, data } } ‖ 0x80 (‖ 0x00…) } }
//! ```
//! The sender must be our own Ed25519 key, the content must end in 0x00 or 0x80 and hold a
//! 0x80 terminator, and `kind` must match the namespace; `data` is the config ciphertext.
//! Anything that does not unwrap is taken as raw (unwrapped) data; a wrapped result is unwrapped
//! once more (double wrapping). Group configs (ns 13, 14) are never wrapped.

use prost::Message;

use super::transport::ConfigKind;
use crate::protocol::dm::decrypt_incoming;
use crate::protocol::keys::Identity;
use crate::protocol::protos::{
    shared_config_message::Kind, web_socket_message, Content, Envelope, WebSocketMessage,
};

/// Why a wrapped config did not unwrap (then it is taken as raw).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnwrapError {
    /// Group configs are never wrapped.
    #[error("config kind is not a wrapped user config")]
    NotWrappable,
    /// Not a WebSocketMessage REQUEST holding an Envelope.
    #[error("not a wrapped config")]
    NotWrapped,
    /// The Envelope content does not decrypt for us, or was not sent by us.
    #[error("wrapped config does not decrypt as ours")]
    NotOurs,
    /// Missing 0x80 padding terminator or trailing byte other than 0x00 / 0x80.
    #[error("wrapped config has invalid padding")]
    Padding,
    /// No Content.sharedConfigMessage, or its kind differs from the namespace.
    #[error("wrapped config has no matching SharedConfigMessage")]
    Kind,
}

/// The SharedConfigMessage kind of a user config (§1.6), `None` for group configs.
pub const fn shared_config_kind(kind: ConfigKind) -> Option<Kind> {
    match kind {
        ConfigKind::UserProfile => Some(Kind::UserProfile),
        ConfigKind::Contacts => Some(Kind::Contacts),
        ConfigKind::ConvoInfoVolatile => Some(Kind::ConvoInfoVolatile),
        ConfigKind::UserGroups => Some(Kind::UserGroups),
        ConfigKind::GroupInfo | ConfigKind::GroupMembers => None,
    }
}

/// Unwraps one layer of the §1.6 wrapper, strictly.
pub fn unwrap_config(
    own: &Identity,
    data: &[u8],
    kind: ConfigKind,
) -> Result<Vec<u8>, UnwrapError> {
    let expected = shared_config_kind(kind).ok_or(UnwrapError::NotWrappable)?;
    let ws = WebSocketMessage::decode(data).map_err(|_| UnwrapError::NotWrapped)?;
    if ws.r#type != Some(web_socket_message::Type::Request as i32) {
        return Err(UnwrapError::NotWrapped);
    }
    let body = ws
        .request
        .and_then(|r| r.body)
        .ok_or(UnwrapError::NotWrapped)?;
    let envelope = Envelope::decode(body.as_slice()).map_err(|_| UnwrapError::NotWrapped)?;
    let sealed = envelope.content.ok_or(UnwrapError::NotWrapped)?;
    let opened = decrypt_incoming(own, &sealed).map_err(|_| UnwrapError::NotOurs)?;
    if opened.sender_ed25519 != own.ed25519_public() {
        return Err(UnwrapError::NotOurs);
    }
    let content = opened.plaintext;
    let end = content
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(UnwrapError::Padding)?;
    match (content.last(), content.get(end)) {
        (Some(0x00 | 0x80), Some(0x80)) => {}
        _ => return Err(UnwrapError::Padding),
    }
    let content =
        Content::decode(content.get(..end).unwrap_or_default()).map_err(|_| UnwrapError::Kind)?;
    let shared = content.shared_config_message.ok_or(UnwrapError::Kind)?;
    if shared.kind != expected as i32 {
        return Err(UnwrapError::Kind);
    }
    Ok(shared.data)
}

/// What the merge gets for a message of a user config namespace (§1.6): unwrapped (twice if
/// double-wrapped) when it is wrapped, else the bytes as they came. Group configs pass through.
pub fn unwrap_or_raw(own: &Identity, data: &[u8], kind: ConfigKind) -> Vec<u8> {
    match unwrap_config(own, data, kind) {
        Ok(once) => unwrap_config(own, &once, kind).unwrap_or(once),
        Err(_) => data.to_vec(),
    }
}
