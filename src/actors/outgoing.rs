//! The send pipeline of one queued message: build the Content (`DataMessage.body`, the
//! account's display name as `profile`), seal it to the recipient (`messages.md` §2.1, §3.1),
//! store it on the recipient's swarm (namespace 0, TTL 14 days, §3.5), then store the sync copy
//! (`syncTarget` = recipient) on the account's own swarm; record `sent` + `message.sent`, or
//! after the last attempt `failed` + `message.failed`, in one transaction.
//!
//! Encryption is the deterministic variant and the `proSig` decoy is drawn from a generator
//! seeded by the message id, so a message re-sent after a crash is byte-identical: it has the
//! same swarm hash, the node de-duplicates it and the recipient never sees it twice.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng as _;
use sha2::{Digest as _, Sha256};
use tracing::Instrument as _;

use super::inbox::DM_NAMESPACE;
use super::keys::AccountKeys;
use super::{ActorError, Deps};
use crate::clock::now_ms;
use crate::protocol::dm;
use crate::protocol::envelope::{OutgoingContent, ProSig};
use crate::protocol::keys::SessionId;
use crate::protocol::protos::{Content, DataMessage, LokiProfile};
use crate::protocol::storage::AccountId;
use crate::store::events::{EventType, NewEvent};
use crate::store::messages::MessageStatus;
use crate::store::outbox::QueuedMessage;
use crate::store::{LeaseToken, StoreError};
use crate::telemetry::links::Key;

/// TTL of content messages: 14 days (`messages.md` §3.5, DESKTOP `TTL_DEFAULT`).
pub const DM_TTL_MS: u64 = 14 * 24 * 3600 * 1000;

/// What one step of a conversation's queue did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing is queued.
    Empty,
    /// The head message was confirmed by a swarm node and recorded as sent.
    Sent {
        /// Message id.
        id: String,
    },
    /// The head message failed for good and was recorded as failed.
    Failed {
        /// Message id.
        id: String,
    },
    /// The head message was not confirmed; try again later.
    Retry {
        /// Message id.
        id: String,
        /// Attempts made on it so far.
        attempts: u32,
    },
}

/// The namespace-0 payload of `text` from `sender`, sealed to `to` (the recipient, or the
/// sender itself for a sync copy whose `sync_target` names the recipient).
pub fn build_payload(
    sender: &AccountKeys,
    to: &SessionId,
    text: &str,
    timestamp_ms: u64,
    display_name: Option<&str>,
    sync_target: Option<&str>,
    message_id: &str,
) -> Result<Vec<u8>, ActorError> {
    let data = DataMessage {
        body: Some(text.to_owned()),
        profile: display_name.map(|name| LokiProfile {
            display_name: Some(name.to_owned()),
            ..LokiProfile::default()
        }),
        ..DataMessage::default()
    };
    seal_data_message(sender, to, data, timestamp_ms, sync_target, message_id)
}

/// [`build_payload`] for a prepared `DataMessage` (attachments hook: text, pointers and
/// profile come from `attachments::outgoing_data_message`); sets `syncTarget`.
pub fn seal_data_message(
    sender: &AccountKeys,
    to: &SessionId,
    mut data: DataMessage,
    timestamp_ms: u64,
    sync_target: Option<&str>,
    message_id: &str,
) -> Result<Vec<u8>, ActorError> {
    data.sync_target = sync_target.map(str::to_owned);
    let content = Content {
        data_message: Some(data),
        ..Content::default()
    };
    let mut seed = Sha256::new();
    seed.update(b"session-gateway proSig decoy v1\0");
    seed.update(message_id.as_bytes());
    seed.update([u8::from(sync_target.is_some())]);
    let mut rng = StdRng::from_seed(seed.finalize().into());
    let pro_sig = ProSig::decoy(&mut rng);
    OutgoingContent::new(content, timestamp_ms)
        .seal(&pro_sig, |padded| {
            dm::encrypt_for_recipient_deterministic(&sender.identity, to.x25519(), padded)
        })
        .map_err(ActorError::from)
}

/// Sends `message` (both copies) and returns the recipient swarm's hash.
pub async fn send_one(
    deps: &Deps,
    keys: &AccountKeys,
    message: &QueuedMessage,
) -> Result<String, ActorError> {
    let recipient: SessionId = message.peer.parse().map_err(|_| ActorError::BadRecipient)?;
    let recipient_account =
        AccountId::from_hex(&message.peer).map_err(|_| ActorError::BadRecipient)?;
    // Attachments hook: uploads the message's files once, adds pointers + profile (issue 5).
    let data = super::attachments::outgoing_data_message(deps, keys, message).await?;
    let timestamp = u64::try_from(message.timestamp).unwrap_or(0);
    let to_self = message.peer == keys.session_id;
    // A note to self is one copy on the own swarm, marked as a sync copy of itself.
    let target = to_self.then_some(keys.session_id.as_str());
    let payload = seal_data_message(
        keys,
        &recipient,
        data.clone(),
        timestamp,
        target,
        &message.id,
    )?;
    let stored = deps
        .network
        .store(&recipient_account, DM_NAMESPACE, &payload, DM_TTL_MS, None)
        .await?;
    if !to_self {
        let own = keys.identity.session_id();
        let sync = seal_data_message(
            keys,
            &own,
            data,
            timestamp,
            Some(&message.peer),
            &message.id,
        )?;
        // The recipient has the message: a lost sync copy only costs the account's other
        // devices their copy, so it is logged, not retried.
        if let Err(error) = deps
            .network
            .store(&keys.account, DM_NAMESPACE, &sync, DM_TTL_MS, None)
            .await
        {
            tracing::info!(account = keys.short(), %error, "sync copy not stored");
        }
    }
    Ok(stored.hash.as_str().to_owned())
}

/// True for failures no retry can fix.
fn permanent(error: &ActorError) -> bool {
    matches!(
        error,
        ActorError::BadRecipient
            | ActorError::Request(_)
            | ActorError::Encrypt(_)
            | ActorError::Attachment(_)
    )
}

/// One step of the conversation with `peer`: load its oldest queued message and try to send it
/// once. `previous` is the message the last step retried and how many attempts it has had.
pub async fn step(
    deps: Deps,
    keys: Arc<AccountKeys>,
    peer: String,
    previous: Option<(String, u32)>,
    lease: Option<LeaseToken>,
) -> Result<Step, ActorError> {
    let Some(message) = deps.store.next_queued(&keys.session_id, &peer).await? else {
        return Ok(Step::Empty);
    };
    let tried = match previous {
        Some((id, n)) if id == message.id => n,
        _ => 0,
    };
    // The API call that queued the message is this span's parent (same trace), even though
    // the message travelled through the database and another thread to get here.
    let span = tracing::info_span!(
        "message.send",
        message_id = %message.id,
        attempt = tried + 1,
        outcome = tracing::field::Empty,
    );
    deps.metrics.links.adopt(&span, Key::Message(&message.id));
    let id = message.id.clone();
    let step = attempt(&deps, &keys, message, tried, lease.as_ref())
        .instrument(span.clone())
        .await;
    if let Ok(done) = &step {
        let outcome = match done {
            Step::Empty => "empty",
            Step::Sent { .. } => "sent",
            Step::Failed { .. } => "failed",
            Step::Retry { .. } => "retry",
        };
        span.record("outcome", outcome);
        if matches!(done, Step::Sent { .. } | Step::Failed { .. }) {
            deps.metrics.links.forget(Key::Message(&id));
        }
    }
    step
}

/// One attempt at `message`, which has had `tried` attempts before.
async fn attempt(
    deps: &Deps,
    keys: &AccountKeys,
    message: QueuedMessage,
    tried: u32,
    lease: Option<&LeaseToken>,
) -> Result<Step, ActorError> {
    let settings = &deps.settings;
    let age = now_ms().saturating_sub(message.created_at);
    if tried > 0 && u64::try_from(age).unwrap_or(0) > settings.send_deadline_ms {
        let reason = "no swarm node confirmed the message before the send deadline";
        settle(deps, &message.id, Err(reason), lease).await?;
        return Ok(Step::Failed { id: message.id });
    }
    match send_one(deps, keys, &message).await {
        Ok(hash) => {
            settle(deps, &message.id, Ok(&hash), lease).await?;
            Ok(Step::Sent { id: message.id })
        }
        Err(ActorError::Store(e)) => Err(ActorError::Store(e)),
        Err(error) if permanent(&error) || tried + 1 >= settings.send_max_attempts => {
            let reason = format!("{error} (after {} attempts)", tried + 1);
            settle(deps, &message.id, Err(&reason), lease).await?;
            Ok(Step::Failed { id: message.id })
        }
        Err(error) => {
            tracing::debug!(account = keys.short(), %error, "send attempt failed");
            Ok(Step::Retry {
                id: message.id,
                attempts: tried + 1,
            })
        }
    }
}

/// Records the outcome with its event in one transaction; a message no longer queued (its
/// account deleted meanwhile) is left alone. Under `lease` the transaction is fenced: a replica
/// that lost the account gets [`StoreError::LeaseLost`] and the message stays queued for the
/// new owner.
pub async fn settle(
    deps: &Deps,
    id: &str,
    outcome: Result<&str, &str>,
    lease: Option<&LeaseToken>,
) -> Result<(), ActorError> {
    let now = now_ms();
    let (status, hash, reason, event_type) = match outcome {
        Ok(hash) => (
            MessageStatus::Sent,
            Some(hash),
            None,
            EventType::MessageSent,
        ),
        Err(reason) => (
            MessageStatus::Failed,
            None,
            Some(reason),
            EventType::MessageFailed,
        ),
    };
    let mut tx = match lease {
        Some(lease) => deps.store.begin_fenced(lease).await?,
        None => deps.store.begin().await?,
    };
    let Some(message) = tx.settle_outgoing(id, status, hash, reason, now).await? else {
        return Ok(());
    };
    let data = serde_json::to_value(&message).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let event = tx
        .append_event(&NewEvent {
            event_type,
            account: Some(message.from.clone()),
            conversation: Some(message.conversation.clone()),
            timestamp: now,
            data,
        })
        .await?;
    // Before the commit: a webhook worker may pick the event up the moment it is visible.
    deps.metrics.links.remember(Key::Event(&event.id));
    tx.commit().await?;
    Ok(())
}
