//! [`ChatError`]: why a chat operation was refused or failed. Each variant is named for the
//! failure; `api::error` maps them to HTTP statuses and codes (the one place that does), and
//! the actors keep a store failure as their own `Store` error (a lost lease stays a lost lease).

use crate::store::StoreError;

/// A refused or failed chat operation.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The message, conversation or reaction named does not exist (for this account).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Not one emoji (400 `invalid_emoji`).
    #[error("emoji must be one emoji (1 to 16 code points, not plain text)")]
    InvalidEmoji,
    /// Text empty without files, or too long (400 `invalid_text`).
    #[error("text must be 1 to {} characters", super::MAX_TEXT_CHARS)]
    InvalidText,
    /// A disappearing timer outside 1 to 14 days (400 `invalid_disappearing`).
    #[error("seconds must be 1 to {}", super::MAX_DISAPPEARING_SECONDS)]
    DisappearingSeconds,
    /// An unknown disappearing mode (400 `invalid_disappearing`).
    #[error("mode must be off, after_send or after_read")]
    DisappearingMode,
    /// The message to react to was deleted (422 `message_deleted`).
    #[error("the message was deleted")]
    MessageDeleted,
    /// The message to delete was deleted before (422 `message_deleted`).
    #[error("the message was already deleted")]
    AlreadyDeleted,
    /// `up_to` names a message of another conversation (422 `message_not_in_conversation`).
    #[error("up_to names a message of another conversation")]
    MessageNotInConversation,
    /// The quoted message belongs to another conversation (422 `quote_not_in_conversation`).
    #[error("quote.id names a message of another conversation")]
    QuoteNotInConversation,
    /// A 1:1-only feature asked of a group conversation (422 `unsupported_conversation`).
    #[error("this is a 1:1 feature; a group conversation does not have it")]
    GroupUnsupported,
    /// A 1:1-only feature asked of a community room (422 `unsupported_conversation`).
    #[error("this is a 1:1 feature; a community room does not have it")]
    CommunityUnsupported,
    /// The operation needs a moderator of the room (403 `not_moderator`).
    #[error("only a moderator of the room can do this")]
    NotModerator,
    /// A group's name, description or member list is invalid (400 `invalid_group`).
    #[error("{0}")]
    InvalidGroup(String),
    /// The operation needs the group's admin (403 `not_group_admin`).
    #[error("only an admin of the group can do this")]
    NotGroupAdmin,
    /// The membership is not in a state that allows this (409 `group_state`).
    #[error("the account's membership of the group is {0}")]
    GroupState(crate::store::modes::GroupState),
    /// An admin destroyed the group (409 `group_destroyed`).
    #[error("the group was destroyed by an admin")]
    GroupDestroyed,
    /// Group state could not be built or read (a stored row the protocol refuses).
    #[error("group protocol: {0}")]
    GroupProtocol(String),
    /// An `Idempotency-Key` reused with another message (409 `idempotency_conflict`).
    #[error("Idempotency-Key was already used with a different message")]
    IdempotencyConflict,
    /// An event body could not be built from a stored message (our bug or corrupt data).
    #[error("event body: {0}")]
    Event(#[from] serde_json::Error),
    /// The database failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}
