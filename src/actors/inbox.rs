//! The receive pipeline of one poll: retrieve namespace 0 through the onion, check each message
//! (hash, envelope, decryption + signature, Content, `sigTimestamp`), then store the accepted
//! ones with their events and the advanced cursor in ONE transaction (design.md §2).
//!
//! A message whose data does not hash to its swarm hash was altered by the node that served it
//! (`messages.md` §2.2 cannot even be attempted on it honestly): it is counted as `tampered`,
//! and the cursor stops *before* it so the next poll, from other swarm members, fetches the
//! honest copy. Anything else that fails verification is genuinely bad (a forged or corrupt
//! message); it is counted, logged by hash, and the cursor moves past it. Neither is delivered.

use std::collections::HashSet;
use std::sync::Arc;

use super::keys::AccountKeys;
use super::{ActorError, Deps};
use crate::clock::now_ms;
use crate::network::{ItemData, RetrievedItem};
use crate::protocol::chat::{self, ChatError, ChatEvent};
use crate::protocol::dm::{self, DmError};
use crate::protocol::envelope::{decode_dm_payload, parse_content};
use crate::protocol::storage::{MessageHash, Namespace, Signer};
use crate::store::LeaseToken;

mod apply;

/// The namespace of 1:1 messages and sync copies (`messages.md` §3.5).
pub const DM_NAMESPACE: Namespace = Namespace(0);

/// A verified message and what it means for the conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The swarm hash (the de-duplication key).
    pub hash: String,
    /// Who sent it (our own Session ID for sync copies from our other devices).
    pub sender: String,
    /// The sent timestamp (`Envelope.timestamp` = `sigTimestamp`), ms.
    pub timestamp: i64,
    /// What it means ([`chat::classify`]), at least one event that is not `Ignored`.
    pub events: Vec<ChatEvent>,
}

/// What one retrieved message turned out to be.
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

/// Checks one retrieved item for `keys`' account (its hash was checked by the network). Pure
/// apart from the CPU work.
pub fn classify(keys: &AccountKeys, message: &RetrievedItem) -> Verdict {
    // The network checked the hash once, as the copy arrived; nothing here hashes again.
    let data = match &message.data {
        ItemData::Intact(data) => data,
        ItemData::Tampered(_) => return Verdict::Tampered,
    };
    let Ok(envelope) = decode_dm_payload(data) else {
        return Verdict::Dropped("invalid_envelope");
    };
    let opened = match dm::decrypt_incoming(&keys.identity, envelope.content_ciphertext()) {
        Ok(opened) => opened,
        Err(DmError::BadSignature | DmError::InvalidSenderKey) => {
            return Verdict::Dropped("bad_signature")
        }
        Err(_) => return Verdict::Dropped("undecryptable"),
    };
    let Ok(content) = parse_content(&opened.plaintext, envelope.timestamp_ms()) else {
        return Verdict::Dropped("invalid_content");
    };
    let Ok(timestamp) = i64::try_from(envelope.timestamp_ms()) else {
        return Verdict::Dropped("invalid_content");
    };
    let own = keys.identity.session_id();
    let sender = opened.sender_session_id;
    let events = match chat::classify(&content, &sender, &own, envelope.timestamp_ms()) {
        Ok(events) => events,
        Err(ChatError::BadSessionId {
            field: "dataMessage.syncTarget",
        }) => return Verdict::Dropped("bad_sync_target"),
        Err(ChatError::BadSessionId { .. }) => return Verdict::Dropped("bad_session_id"),
        Err(ChatError::EmptyContent) => return Verdict::Ignored,
        Err(_) => return Verdict::Dropped("invalid_content"),
    };
    let events: Vec<ChatEvent> = events
        .into_iter()
        .filter(|e| !matches!(e, ChatEvent::Ignored(_)))
        .collect();
    if events.is_empty() {
        return Verdict::Ignored;
    }
    Verdict::Accepted(Accepted {
        hash: message.hash.as_str().to_owned(),
        sender: sender.to_string(),
        timestamp,
        events,
    })
}

/// What a poll did, for the Identity actor's bookkeeping.
#[derive(Debug, Default)]
pub struct PollOutcome {
    /// The cursor after this poll (unchanged when nothing was consumed).
    pub cursor: Option<MessageHash>,
    /// Messages newly stored (duplicates and own sync copies of sent messages not counted).
    pub stored: usize,
    /// The tampered message the poll stopped before, if any.
    pub stopped_at: Option<String>,
    /// More messages wait on the swarm (poll again soon).
    pub more: bool,
}

/// One poll of the account's namespace 0 from `cursor`. `skip` holds hashes seen tampered so
/// often that they are passed over (the honest copy is not coming).
pub async fn poll_once(
    deps: Deps,
    keys: Arc<AccountKeys>,
    cursor: Option<MessageHash>,
    skip: HashSet<String>,
    lease: Option<LeaseToken>,
) -> Result<PollOutcome, ActorError> {
    let signer = Signer::Account(keys.identity.signing_key());
    let answers = deps
        .network
        .retrieve(&keys.account, &signer, &[(DM_NAMESPACE, cursor.clone())])
        .await?;
    let Some(batch) = answers.into_iter().find(|a| a.namespace == DM_NAMESPACE) else {
        return Ok(PollOutcome {
            cursor,
            ..PollOutcome::default()
        });
    };
    let mut outcome = PollOutcome {
        cursor,
        more: batch.more,
        ..PollOutcome::default()
    };
    let mut accepted = Vec::new();
    let mut consumed = None;
    for message in &batch.messages {
        match classify(&keys, message) {
            Verdict::Tampered if !skip.contains(message.hash.as_str()) => {
                deps.metrics
                    .messages_dropped
                    .with_label_values(&["tampered"])
                    .inc();
                tracing::warn!(
                    account = keys.short(),
                    hash = message.hash.as_str(),
                    "retrieved message does not match its hash; will fetch it again"
                );
                outcome.stopped_at = Some(message.hash.as_str().to_owned());
                break;
            }
            Verdict::Tampered => {
                tracing::warn!(
                    account = keys.short(),
                    hash = message.hash.as_str(),
                    "skipping a message no node served intact"
                );
            }
            Verdict::Dropped(reason) => {
                deps.metrics
                    .messages_dropped
                    .with_label_values(&[reason])
                    .inc();
                tracing::warn!(
                    account = keys.short(),
                    hash = message.hash.as_str(),
                    reason,
                    "dropped an invalid message"
                );
            }
            Verdict::Ignored => {
                deps.metrics
                    .messages_received
                    .with_label_values(&["other"])
                    .inc();
            }
            Verdict::Accepted(a) => accepted.push(a),
        }
        consumed = Some(message.hash.clone());
    }
    if let Some(last) = consumed {
        outcome.stored = commit(&deps, &keys.session_id, &accepted, &last, lease.as_ref()).await?;
        for a in &accepted {
            let kind = if a.sender == keys.session_id {
                "sync"
            } else {
                "incoming"
            };
            deps.metrics
                .messages_received
                .with_label_values(&[kind])
                .inc();
        }
        outcome.cursor = Some(last);
    }
    Ok(outcome)
}

/// Applies `accepted` ([`apply::apply`]: stores messages, skipping duplicates by hash and
/// sync copies of messages this gateway sent itself, with their events) and the cursor, in one
/// transaction. Under `lease` the transaction is fenced ([`crate::store::StoreTx::fence`]): a
/// replica that lost the account gets [`crate::store::StoreError::LeaseLost`] and commits
/// nothing.
#[tracing::instrument(name = "inbox.commit", skip_all, fields(messages = accepted.len()))]
pub async fn commit(
    deps: &Deps,
    account: &str,
    accepted: &[Accepted],
    cursor: &MessageHash,
    lease: Option<&LeaseToken>,
) -> Result<usize, ActorError> {
    let now = now_ms();
    let mut tx = match lease {
        Some(lease) => deps.store.begin_fenced(lease).await?,
        None => deps.store.begin().await?,
    };
    let mut stored = 0;
    for a in accepted {
        stored += apply::apply(&mut tx, deps, account, a, now).await?;
    }
    tx.set_poll_cursor(account, i64::from(DM_NAMESPACE.0), cursor.as_str(), now)
        .await?;
    tx.commit().await?;
    // Fetch the newly recorded attachment pointers in the background.
    let has_files = |e: &ChatEvent| matches!(e, ChatEvent::Message(m) if !m.attachments.is_empty());
    if accepted.iter().any(|a| a.events.iter().any(has_files)) {
        deps.attachments.kick(deps, account);
    }
    Ok(stored)
}

#[cfg(test)]
mod tests;
