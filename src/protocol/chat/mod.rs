//! The 1:1 chat feature layer: which `Content` each feature sends, and what a received
//! `Content` means (messages.md §3.3–§3.5, §4, §5, §8). Pure: no I/O, time comes in as `u64` ms.
//!
//! * Outgoing ([`outgoing`]): one builder per feature (text with quote/attachments/profile,
//!   reactions, unsend, read receipts, typing, message-request responses, disappearing-message
//!   settings and their control message, data-extraction notifications, community invitations).
//!   Each returns an [`Outgoing`]: the `Content`, the TTL to store it with, whether it is a
//!   visible message (which carries our profile) and whether a copy goes to our own swarm.
//!   [`Outgoing::into_content`] hands it to `protocol::envelope` (sets `sigTimestamp`, pads).
//! * Incoming ([`classify`]): a decrypted `Content` and its sender become typed [`ChatEvent`]s.
//! * Attachments ([`pointer`]): `AttachmentPointer` ⇄ [`AttachmentInfo`], the file-server URL
//!   ([`FileUrl`]) and the upload size limit; avatars in [`profile`].
//!
//! Layouts are written out on each type; the field numbers are those of the tables in §3.3 and
//! §5.3, which `tests/vectors/chat.json` restates and the byte-level tests check.

pub mod expiration;
pub mod incoming;
pub mod outgoing;
pub mod pointer;
pub mod profile;

pub use expiration::Disappearing;
pub use incoming::{
    classify, CallKind, ChatEvent, DataExtractionKind, GroupInvite, IgnoreReason, IncomingMessage,
    RejectedAttachment,
};
pub use outgoing::{
    community_invitation, data_extraction, expiration_timer_update, group_control,
    message_request_response, reaction, read_receipt, typing, unsend, MessageRef, Outgoing,
    ReactionAction, TextMessage,
};
pub use pointer::{
    check_upload_size, file_id_from_url, AttachmentInfo, AttachmentMeta, FileServer, FileUrl,
    PointerKey,
};
pub use profile::{prepare_avatar, Avatar, PreparedAvatar, Profile};

use super::attachment::AttachmentError;

/// Storage TTL of ordinary content messages: 14 days (§3.5, DESKTOP `TTL_DEFAULT.CONTENT_MESSAGE`).
pub const TTL_CONTENT_MS: u64 = 14 * 24 * 60 * 60 * 1000;

/// Storage TTL of typing indicators: 20 seconds (§3.5 `TTL_DEFAULT.TYPING_MESSAGE`).
pub const TTL_TYPING_MS: u64 = 20 * 1000;

/// Storage TTL of call messages: 5 minutes (§3.5 `TTL_DEFAULT.CALL_MESSAGE`).
pub const TTL_CALL_MS: u64 = 5 * 60 * 1000;

/// Why a chat Content could not be built or understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// The Content carries no sub-message this layer knows (every field absent).
    #[error("content carries nothing")]
    EmptyContent,
    /// `Content.sigTimestamp` and the envelope timestamp are both set and differ (§3.3).
    #[error("sigTimestamp {signed} differs from envelope timestamp {envelope}")]
    SigTimestampMismatch {
        /// The envelope timestamp, ms.
        envelope: u64,
        /// `Content.sigTimestamp`, ms.
        signed: u64,
    },
    /// A field that must hold a Session ID (`05…`, 66 hex chars) does not.
    #[error("{field} is not a Session ID")]
    BadSessionId {
        /// The field, e.g. `quote.author`.
        field: &'static str,
    },
    /// A field that must be set is absent, zero or empty.
    #[error("{field} is missing")]
    MissingField {
        /// The field, e.g. `reaction.emoji`.
        field: &'static str,
    },
    /// An attachment pointer has no URL to fetch from.
    #[error("attachment pointer has no url")]
    MissingUrl,
    /// An attachment or avatar URL is not a file-server URL (`http(s)://host/…/file/<id>`).
    #[error("not a file server URL")]
    BadUrl,
    /// An attachment pointer's key is neither 64 (legacy) nor 32 ('S') bytes.
    #[error("attachment key of {0} bytes has the wrong length")]
    BadKeyLength(usize),
    /// A legacy pointer's digest is absent or not 32 bytes (DESKTOP refuses to fetch without it).
    #[error("attachment digest is missing or not 32 bytes")]
    BadDigest,
    /// A `profileKey` that is not 32 bytes.
    #[error("profile key of {0} bytes has the wrong length")]
    BadProfileKey(usize),
    /// Attachment or avatar crypto or size limit.
    #[error(transparent)]
    Attachment(#[from] AttachmentError),
}

#[cfg(test)]
mod tests;
