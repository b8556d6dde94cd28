//! The receive pipeline of one poll of one [source](super::sources): retrieve a batch after the
//! cursor, open each item into a verdict per local recipient (for the account's own swarm:
//! hash, envelope, decryption + signature, Content, `sigTimestamp`), then store the accepted
//! ones with their events and the advanced cursor in ONE transaction (design.md §2). Written
//! once; a source only says how to retrieve and open.
//!
//! A message whose data does not hash to its swarm hash was altered by the node that served it
//! (`messages.md` §2.2 cannot even be attempted on it honestly): it is counted as `tampered`,
//! and the cursors stop *before* it so the next poll, from other swarm members, fetches the
//! honest copy. Anything else that fails verification is genuinely bad (a forged or corrupt
//! message); it is counted, logged by hash, and the cursor moves past it. Neither is delivered.
//!
//! There is one cursor per swarm member ([`NamespaceCursor`]): each member's advances only over
//! the prefix of its own page that was consumed ([`cursors_after`]), so a member that lacks a
//! message cannot move past it the cursor of a member that holds it. A member that has no
//! cursor of its own re-serves what was delivered already; it is stored as nothing (the
//! message layer skips duplicates by hash).

use std::collections::HashSet;

use super::sources::{stored_cursors, CursorKey, Source};
use super::{ActorError, Deps};
use crate::clock::now_ms;
use crate::ids::ConversationId;
use crate::network::{cursors_after, NamespaceCursor};
use crate::protocol::chat::ChatEvent;
use crate::protocol::onion::SnodeEd25519;
use crate::protocol::storage::MessageHash;
use crate::store::LeaseToken;

pub use super::sources::own_swarm::DM_NAMESPACE;
pub use super::sources::{classify, Accepted, Verdict};

/// A conversation that got something in a poll (a message, a reaction, a request, …; also a
/// duplicate: the Conversation actor only looks at its queue and notes the time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touched {
    /// The local account it belongs to.
    pub recipient: String,
    /// The conversation.
    pub conversation: ConversationId,
    /// The newest sent timestamp among what arrived for it, ms.
    pub latest: i64,
}

/// What a poll did, for the Identity actor's bookkeeping.
#[derive(Debug, Default)]
pub struct PollOutcome {
    /// The members' cursors this poll advanced (committed).
    pub advanced: Vec<(SnodeEd25519, MessageHash)>,
    /// Items consumed (stored, dropped or ignored), duplicates included.
    pub consumed: usize,
    /// Messages newly stored (duplicates and own sync copies of sent messages not counted).
    pub stored: usize,
    /// The tampered message the poll stopped before, if any.
    pub stopped_at: Option<String>,
    /// More messages wait on the swarm (poll again soon): a member whose page moved past its
    /// cursor said so.
    pub more: bool,
    /// The conversations that got something, in order of first arrival (committed).
    pub touched: Vec<Touched>,
    /// The account polled a source for others this cycle (a community server it leads): it
    /// stays on the active interval, as clients poll rooms every few seconds.
    pub keeps_active: bool,
}

/// One poll of `source` from `cursor`. `skip` holds hashes seen tampered so often that they are
/// passed over (the honest copy is not coming).
pub async fn poll<S: Source>(
    deps: Deps,
    source: S,
    cursor: NamespaceCursor,
    skip: HashSet<String>,
    lease: Option<LeaseToken>,
) -> Result<PollOutcome, ActorError> {
    let Some(batch) = source.retrieve(&deps, &cursor).await? else {
        return Ok(PollOutcome::default());
    };
    let label = source.label();
    let mut outcome = PollOutcome {
        more: batch.more,
        ..PollOutcome::default()
    };
    let mut accepted = Vec::new();
    let mut consumed = HashSet::new();
    for item in &batch.items {
        let hash = item.hash.as_str();
        let deliveries = source.open(item);
        if deliveries.iter().any(|d| d.verdict == Verdict::Tampered) {
            if !skip.contains(hash) {
                deps.metrics
                    .messages_dropped
                    .with_label_values(&["tampered"])
                    .inc();
                tracing::warn!(
                    account = label,
                    hash,
                    "retrieved message does not match its hash; will fetch it again"
                );
                outcome.stopped_at = Some(hash.to_owned());
                break;
            }
            tracing::warn!(
                account = label,
                hash,
                "skipping a message no node served intact"
            );
        }
        for delivery in deliveries {
            match delivery.verdict {
                Verdict::Tampered => {}
                Verdict::Dropped(reason) => {
                    deps.metrics
                        .messages_dropped
                        .with_label_values(&[reason])
                        .inc();
                    tracing::warn!(account = label, hash, reason, "dropped an invalid message");
                }
                Verdict::Ignored => {
                    deps.metrics
                        .messages_received
                        .with_label_values(&["other"])
                        .inc();
                }
                Verdict::OwnCopy => {
                    deps.metrics
                        .messages_received
                        .with_label_values(&["sync"])
                        .inc();
                }
                Verdict::Accepted(a) => accepted.push((delivery.recipient, a)),
            }
        }
        consumed.insert(item.hash.clone());
    }
    if !consumed.is_empty() {
        let key = source.cursor_key();
        let advanced = cursors_after(&batch.pages, &consumed);
        // Boxed, like every step an idle poll skips: a poll waiting on the network holds only
        // the retrieve's state (issue 16: memory per poll in flight).
        let committed = Box::pin(commit(&deps, &key, &accepted, &advanced, lease.as_ref()));
        outcome.stored = committed.await?;
        for (recipient, a) in &accepted {
            let kind = if a.sender == *recipient {
                "sync"
            } else {
                "incoming"
            };
            deps.metrics
                .messages_received
                .with_label_values(&[kind])
                .inc();
        }
        outcome.touched = touched(&accepted);
        outcome.consumed = consumed.len();
        outcome.advanced = advanced;
    }
    Ok(outcome)
}

/// The conversations `accepted` (recipient, message) is about, each once with its newest
/// timestamp, in order of first arrival.
pub fn touched(accepted: &[(String, Accepted)]) -> Vec<Touched> {
    let mut touched: Vec<Touched> = Vec::new();
    for (recipient, a) in accepted {
        for conversation in a.conversations(recipient) {
            let seen = touched
                .iter_mut()
                .find(|t| t.recipient == *recipient && t.conversation == conversation);
            match seen {
                Some(t) => t.latest = t.latest.max(a.timestamp),
                None => touched.push(Touched {
                    recipient: recipient.clone(),
                    conversation,
                    latest: a.timestamp,
                }),
            }
        }
    }
    touched
}

/// Applies `accepted`, each for its recipient ([`crate::chat::incoming::apply`]: stores
/// messages, skipping duplicates by hash and sync copies of messages this gateway sent itself,
/// with their events), and the members' cursors of `key` advanced to `advanced`, in one
/// transaction. Under `lease` the
/// transaction is fenced ([`crate::store::StoreTx::fence`]): a replica that lost the account
/// gets [`crate::store::StoreError::LeaseLost`] and commits nothing.
#[tracing::instrument(name = "inbox.commit", skip_all, fields(messages = accepted.len()))]
pub async fn commit(
    deps: &Deps,
    key: &CursorKey,
    accepted: &[(String, Accepted)],
    advanced: &[(SnodeEd25519, MessageHash)],
    lease: Option<&LeaseToken>,
) -> Result<usize, ActorError> {
    let now = now_ms();
    let mut tx = match lease {
        Some(lease) => deps.store.begin_fenced(lease).await?,
        None => deps.store.begin().await?,
    };
    let mut stored = 0;
    for (account, a) in accepted {
        stored +=
            crate::chat::incoming::apply(&mut tx, &deps.store, &deps.metrics, account, a, now)
                .await?;
    }
    let namespace = i64::from(key.namespace.0);
    tx.set_node_cursors(&key.subject, namespace, &stored_cursors(advanced), now)
        .await?;
    tx.commit().await?;
    // Fetch the newly recorded attachment pointers in the background.
    let has_files = |e: &ChatEvent| matches!(e, ChatEvent::Message(m) if !m.attachments.is_empty());
    let mut kicked: Vec<&str> = Vec::new();
    for (account, a) in accepted {
        if !kicked.contains(&account.as_str()) && a.events.iter().any(has_files) {
            kicked.push(account);
            deps.attachments.kick(deps, account);
        }
    }
    Ok(stored)
}

#[cfg(test)]
mod tests;
