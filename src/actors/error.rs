//! [`ActorError`]: why an actor's unit of work (a poll, a send, a start) failed. The actor logs
//! it (by account prefix and message hash only, never a body or a full Session ID) and retries
//! or stops; nothing here reaches the API.

use crate::network::NetworkError;
use crate::protocol::dm::DmError;
use crate::protocol::storage::RequestError;
use crate::store::StoreError;

/// One failed unit of actor work.
#[derive(Debug, thiserror::Error)]
pub enum ActorError {
    /// The database failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The network client gave up (after its own retries over members and paths).
    #[error("network: {0}")]
    Network(#[from] NetworkError),
    /// A storage request could not be built (for example data over the size limit).
    #[error("request: {0}")]
    Request(#[from] RequestError),
    /// The account row is gone (deleted while its actor ran).
    #[error("account no longer exists")]
    AccountGone,
    /// The stored seed does not produce this account's Session ID, or has a bad length.
    #[error("stored seed does not match the account")]
    SeedMismatch,
    /// Sealing the message failed.
    #[error("encryption: {0}")]
    Encrypt(#[from] DmError),
    /// A chat Content could not be built (a bad stored parameter).
    #[error("chat: {0}")]
    Chat(#[from] crate::protocol::chat::ChatError),
    /// An attachment could not be prepared for sending (not network weather).
    #[error("attachment: {0}")]
    Attachment(String),
    /// The recipient is not a valid Session ID.
    #[error("invalid recipient Session ID")]
    BadRecipient,
    /// A task on the I/O runtime panicked or was cancelled.
    #[error("task failed: {0}")]
    TaskFailed(String),
    /// The actor system could not start.
    #[error("actor system: {0}")]
    System(String),
    /// A community row or answer could not be used (a stored key, a server's refusal).
    #[error("community: {0}")]
    Community(String),
    /// A group message or state could not be built (a stored grant or push the protocol
    /// refuses).
    #[error("group: {0}")]
    Group(String),
    /// The group's keys are not loaded yet (its first poll is pending): retried.
    #[error("group keys not known yet")]
    GroupKeysMissing,
    /// An invitation waits for the group's keys and configs to be on its swarm: retried.
    #[error("the group's keys are not on its swarm yet")]
    GroupPushPending,
    /// The chat domain refused an operation (a store failure stays [`Self::Store`]).
    #[error("chat domain: {0}")]
    Domain(crate::chat::ChatError),
}

impl From<crate::chat::ChatError> for ActorError {
    fn from(error: crate::chat::ChatError) -> Self {
        use crate::chat::ChatError;
        match error {
            // A lost lease must stay visible to `is_lease_lost`.
            ChatError::Store(e) => Self::Store(e),
            // An event body that does not serialise is corrupt data, as before the move.
            ChatError::Event(e) => Self::Store(StoreError::Corrupt(e.to_string())),
            other => Self::Domain(other),
        }
    }
}

impl ActorError {
    /// True when a fenced write found the account's lease held by another replica (or under a
    /// newer epoch): the actor stops quietly, the new owner carries on.
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, Self::Store(StoreError::LeaseLost { .. }))
    }
}
