//! Sources: where an account's messages come from (design.md §10). A source is polled as one
//! cursor ([`CursorKey`]: the swarm or server it reads and the namespace), retrieves a batch of
//! items after that cursor, and opens each item into one [`Verdict`] per *local recipient*
//! ([`Delivery`]). Everything after that is written once, over any source, in
//! [`super::inbox::poll`]: stop before a tampered item (the honest copy comes from another
//! member next poll), skip one seen tampered too often, count drops, and commit the accepted
//! items of every recipient with the advanced cursor in ONE transaction
//! ([`super::inbox::commit`]).
//!
//! Today there is one source, [`OwnSwarm`]: the account's own swarm, namespace 0 (1:1
//! messages and sync copies), opened with the account's keys, for exactly one recipient (the
//! account).
//!
//! How the next ones plug in:
//! - **A group swarm** (groups.md §7) retrieves several namespaces (messages, keys, info,
//!   members) in one signed request; each namespace is its own [`CursorKey`] with the group's
//!   ID as subject, and each batch goes through the same loop. It opens an item once with the
//!   group keys and returns one [`Delivery`] per local member of the group, so each member gets
//!   its own rows and events from the one decryption.
//! - **A community server** retrieves a room's messages with `/batch` over onion v4; the cursor
//!   is the room's last message id (subject: the room URL), and `open` verifies the (blinded)
//!   signature once and fans out to every local account in the room.
//!
//! Such sources are **per replica, not per member**: one poller per group or server on the
//! replica, shared by the local members it delivers to (a group with five local members is
//! retrieved once per interval), unlike [`OwnSwarm`], which only one account can read.

use std::future::Future;

use super::{ActorError, Deps};
use crate::network::RetrievedItem;
use crate::protocol::storage::{MessageHash, Namespace};

pub mod group_swarm;
pub mod own_swarm;
pub mod user_config;

pub use group_swarm::GroupSwarm;
pub use own_swarm::{classify, OwnSwarm};

/// What a source is polled as: whose store it reads (`subject`: the account today; a group ID
/// or a room later) and which namespace. The cursor is stored under this key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CursorKey {
    /// The account (or later group or room) whose messages are read.
    pub subject: String,
    /// The namespace within it.
    pub namespace: Namespace,
}

/// One retrieved batch of a source.
#[derive(Debug, Default)]
pub struct Batch {
    /// Items after the cursor, oldest first; the last consumed one becomes the next cursor.
    pub items: Vec<RetrievedItem>,
    /// More items wait behind these (poll again soon).
    pub more: bool,
}

/// A verified message, as the chat domain applies it.
pub use crate::chat::incoming::Accepted;

/// What one retrieved message turned out to be, for one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Its data does not hash to its hash: the serving node altered it.
    Tampered,
    /// It fails verification; the label is the metric reason.
    Dropped(&'static str),
    /// Valid, but nothing the gateway acts on (delivery receipts, group control, …): skipped.
    Ignored,
    /// A verified message with chat events.
    Accepted(Accepted),
}

/// A verdict for one local recipient of an item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The local account it is for.
    pub recipient: String,
    /// What the item is for that account.
    pub verdict: Verdict,
}

/// Where messages come from; see the module doc.
pub trait Source {
    /// The cursor this source is polled as.
    fn cursor_key(&self) -> CursorKey;

    /// A short, log-safe name of the source (an account prefix).
    fn label(&self) -> &str;

    /// Retrieves the items after `cursor`; `None` when the answer had no batch for the
    /// namespace (nothing consumed).
    fn retrieve(
        &self,
        deps: &Deps,
        cursor: Option<MessageHash>,
    ) -> impl Future<Output = Result<Option<Batch>, ActorError>> + Send;

    /// Opens one item into a verdict for each local recipient (at least one). A tampered item
    /// is tampered for all of them.
    fn open(&self, item: &RetrievedItem) -> Vec<Delivery>;
}
