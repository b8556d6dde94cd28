//! Messages, conversations and poll cursors.
//!
//! Outgoing messages are persisted `queued` before the API answers 202 (issue 4); the sender
//! moves them to `sent`/`failed`. Incoming messages are de-duplicated by swarm hash per account
//! (`UNIQUE (account, hash)`), so a poll repeated after a crash inserts nothing twice.
//!
//! A row names its conversation (`peer`) and, separately, its `author` (migration
//! `0005_author.sql`): in a direct chat the author is one of the two sides, in a group or
//! community room any member.

mod cursors;
mod queries;
mod rows;
mod writes;

pub use cursors::NODE_CURSORS_KEPT;
pub use writes::{EnqueueGroups, QueuedText};

use serde::{Deserialize, Serialize};

use super::modes::MessageKind;

pub(crate) use rows::{inserted_message, message_from_row, COLUMNS};

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Received from the peer.
    Incoming,
    /// Sent by this account (through the API, or from its other devices).
    Outgoing,
}

/// Where a message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Accepted, not yet confirmed by a swarm node.
    Queued,
    /// A swarm node confirmed the store.
    Sent,
    /// Retries exhausted (see `failure_reason`).
    Failed,
    /// An incoming message.
    Received,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Incoming => "incoming",
            Self::Outgoing => "outgoing",
        }
    }
}

impl MessageStatus {
    /// Column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Received => "received",
        }
    }
}

/// A message object as the API and events show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Message {
    /// Opaque id (`msg_…`).
    pub id: String,
    /// Swarm hash once stored (sent) or as received.
    pub hash: Option<String>,
    /// Sender's Session ID (the stored `author`).
    pub from: String,
    /// Recipient's Session ID.
    pub to: String,
    /// The conversation: the peer's Session ID.
    pub conversation: String,
    /// Message text.
    pub text: String,
    /// Sent timestamp, ms since the Unix epoch (the Session message timestamp).
    pub timestamp: i64,
    /// Incoming or outgoing.
    pub direction: Direction,
    /// Status.
    pub status: MessageStatus,
    /// Why sending failed (status `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// The message this one replies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<Quote>,
    /// Emoji reactions on it, oldest first.
    pub reactions: Vec<Reaction>,
    /// When it was read (incoming: by us; outgoing: by the peer, from its read receipt), ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_at: Option<i64>,
    /// When it was unsent or deleted (its text is cleared), ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
    /// When it disappears (disappearing messages), ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Control kind of a queued row ([`MessageKind::Text`] for visible messages); not shown.
    #[serde(skip)]
    pub kind: MessageKind,
    /// Attachments (issue 5): metadata and download URL; filled by `store::attachments`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<super::attachments::AttachmentView>,
}

/// A quoted message as Session names it (messages.md §3.3 `DataMessage.Quote`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Quote {
    /// The quoted message's sent timestamp, ms.
    pub timestamp: i64,
    /// Its author's Session ID.
    pub author: String,
    /// Its text, when we have it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Our local id of it, when we have it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// One emoji reaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reaction {
    /// The emoji.
    pub emoji: String,
    /// Who reacted (Session ID).
    pub author: String,
}

/// A message to insert.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// Opaque id.
    pub id: String,
    /// Owning account.
    pub account: String,
    /// The other party.
    pub peer: String,
    /// Who wrote it (Session ID): the peer for incoming messages, the account for outgoing ones
    /// (sync copies from our other devices included). Separate from the conversation: in a
    /// group or community room they differ (design.md §10).
    pub author: String,
    /// Direction.
    pub direction: Direction,
    /// Initial status.
    pub status: MessageStatus,
    /// Swarm hash (incoming, sync copies).
    pub hash: Option<String>,
    /// Text.
    pub text: String,
    /// Sent timestamp, ms.
    pub timestamp: i64,
    /// Client idempotency key (outgoing via the API).
    pub idempotency_key: Option<String>,
}

/// A conversation summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Conversation {
    /// Conversation id: the peer's Session ID.
    pub id: String,
    /// The peer's Session ID.
    pub peer: String,
    /// Newest message id.
    pub last_message_id: Option<String>,
    /// Newest message time, ms.
    pub last_message_at: i64,
    /// First message time, ms.
    pub created_at: i64,
    /// `accepted`, `pending` (a held message request) or `declined`.
    pub state: String,
    /// Where to get the peer's avatar (`/v1/accounts/{sid}/conversations/{peer}/avatar`), when
    /// their profile named one; filled by the API (issue 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

/// The result of [`Store::enqueue_outgoing`](super::Store::enqueue_outgoing).
#[derive(Clone, Debug)]
pub struct Enqueued {
    /// The stored message (the earlier one when the idempotency key was seen before).
    pub message: Message,
    /// False when an earlier request with the same idempotency key created it.
    pub created: bool,
}

/// A fresh message id: UUIDv7, so ids sort by creation time (monotonic within the process),
/// which breaks ties between messages with the same timestamp in history order.
pub fn new_message_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}
