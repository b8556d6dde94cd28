//! Sources: where an account's messages come from (design.md §10). A source is polled as one
//! cursor ([`CursorKey`]: the swarm or server it reads and the namespace), retrieves a batch of
//! items after that cursor, and opens each item into one [`Verdict`] per *local recipient*
//! ([`Delivery`]). Everything after that is written once, over any source, in
//! [`super::inbox::poll`]: stop before a tampered item (the honest copy comes from another
//! member next poll), skip one seen tampered too often, count drops, and commit the accepted
//! items of every recipient with the advanced cursors (one per swarm member, see
//! [`load_cursor`]) in ONE transaction
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
use crate::network::{MemberPage, NamespaceCursor, RetrievedItem};
use crate::protocol::onion::SnodeEd25519;
use crate::protocol::storage::{MessageHash, Namespace};
use crate::store::Store;

pub mod community;
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
    /// Items after the cursor, oldest first.
    pub items: Vec<RetrievedItem>,
    /// More items wait behind these (poll again soon).
    pub more: bool,
    /// Each member's page: its cursor advances over the prefix of it that was consumed
    /// ([`crate::network::cursors_after`]).
    pub pages: Vec<MemberPage>,
}

/// Loads the cursor of `subject`'s `namespace`: each member's own last hash, and `fallback`
/// (the per-subject cursor written before per-member cursors existed) for a member with
/// none. A stored value that does not parse counts as absent.
pub async fn load_cursor(
    store: &Store,
    subject: &str,
    namespace: Namespace,
    fallback: Option<String>,
) -> Result<NamespaceCursor, ActorError> {
    let mut cursor = NamespaceCursor::new(
        namespace,
        fallback.and_then(|h| MessageHash::parse(&h).ok()),
    );
    for (node, hash) in store.node_cursors(subject, i64::from(namespace.0)).await? {
        if let (Ok(node), Ok(hash)) = (SnodeEd25519::from_hex(&node), MessageHash::parse(&hash)) {
            cursor.by_node.insert(node, hash);
        }
    }
    Ok(cursor)
}

/// The cursor of `group`'s namespace `ns`: each member's own, and the group's cursor from
/// before per-member cursors as the fallback.
pub async fn load_group_cursor(
    deps: &Deps,
    group: &str,
    ns: i16,
) -> Result<NamespaceCursor, ActorError> {
    let fallback = deps.store.group_cursor(group, i64::from(ns)).await?;
    load_cursor(&deps.store, group, Namespace(ns), fallback).await
}

/// `advanced` cursors as the store keeps them: `(node ed25519 hex, hash)`.
pub fn stored_cursors(advanced: &[(SnodeEd25519, MessageHash)]) -> Vec<(String, String)> {
    advanced
        .iter()
        .map(|(node, hash)| (node.to_hex(), hash.as_str().to_owned()))
        .collect()
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
    /// A copy this replica stored on the account's own swarm as it sent the message (its sync
    /// copy), retrieved intact: applied already, so passed over unopened
    /// ([`own_swarm::OwnCopies`]).
    OwnCopy,
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

    /// Retrieves the items after `cursor` (each member from its own last hash); `None` when
    /// the answer had no batch for the namespace (nothing consumed).
    fn retrieve(
        &self,
        deps: &Deps,
        cursor: &NamespaceCursor,
    ) -> impl Future<Output = Result<Option<Batch>, ActorError>> + Send;

    /// Opens one item into a verdict for each local recipient (at least one). A tampered item
    /// is tampered for all of them.
    fn open(&self, item: &RetrievedItem) -> Vec<Delivery>;
}
