//! The send queue of one conversation, written once for every conversation kind: load the
//! oldest queued row ([`step`]), build its Content with the chat builders ([`build_outgoing`]: a
//! text message with its quote, our profile and the disappearing setting, or a control message:
//! reaction, unsend, read receipt, typing, request response, timer update), hand it to the
//! conversation's [transport](super::transports) once (`attempt`), and record `sent` +
//! `message.sent` (text messages only), or after the last attempt or the send deadline
//! `failed` + `message.failed`, in one transaction ([`settle`]).
//!
//! The transport is picked from the conversation's [`ConversationId`]: a direct chat uses
//! [`DirectTransport`] (sealed to the recipient's swarm plus the sync copy; its sends are
//! byte-identical on a retry, see [`super::transports::direct`]).

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng as _;
use sha2::{Digest as _, Sha256};
use tracing::Instrument as _;

use super::keys::AccountKeys;
use super::transports::{
    BlindedDmTransport, CommunityTransport, DirectTransport, GroupTransport, Stored, Transport,
};
use super::{ActorError, Deps};
use crate::clock::now_ms;
use crate::events::{EventData, MessageEvent};
use crate::ids::{ConversationId, SessionIdKind};
use crate::protocol::chat::{
    self, AttachmentInfo, MessageRef, Outgoing, Profile, ReactionAction, TextMessage, TTL_TYPING_MS,
};
use crate::protocol::dm;
use crate::protocol::envelope::{OutgoingContent, ProSig};
use crate::protocol::groups::control;
use crate::protocol::keys::SessionId;
use crate::protocol::protos::{Content, DataMessage, LokiProfile};
use crate::store::chat::ControlBody;
use crate::store::events::NewEvent;
use crate::store::group_commit::{Groups, Role};
use crate::store::messages::MessageStatus;
use crate::store::send_queue::{QueuedMessage, Settle};
use crate::store::{LeaseToken, StoreError, StoreTx};
use crate::telemetry::links::Key;

/// TTL of content messages: 14 days (`messages.md` §3.5, DESKTOP `TTL_DEFAULT`).
pub const DM_TTL_MS: u64 = chat::TTL_CONTENT_MS;

/// What one step of a conversation's queue did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing is queued.
    Empty,
    /// The head message was confirmed by a swarm node and recorded as sent.
    Sent {
        /// Message id.
        id: String,
        /// Another message was queued behind it when the step began.
        queued_behind: bool,
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

/// The Content `message` asks for: a visible text message (its quote, our profile, the
/// conversation's disappearing setting, and `attachments`, empty until attachments land) or
/// one control message. `None` for a typing indicator already past its 20 s TTL (it would
/// mean nothing any more).
pub fn build_outgoing(
    message: &QueuedMessage,
    profile: Option<&Profile>,
    attachments: Vec<AttachmentInfo>,
    now: u64,
) -> Result<Option<Outgoing>, ActorError> {
    let sent = u64::try_from(message.timestamp).unwrap_or(0);
    let Some(control) = &message.control else {
        let quote = match &message.quote {
            Some((ts, author)) => Some(MessageRef {
                timestamp_ms: u64::try_from(*ts).unwrap_or(0),
                author: author.parse().map_err(|_| ActorError::BadRecipient)?,
            }),
            None => None,
        };
        let text = TextMessage {
            body: Some(message.text.clone()),
            quote,
            attachments,
            profile: profile.cloned(),
            disappearing: message.expire.0.setting(message.expire.1),
        };
        return Ok(Some(text.build(sent)?));
    };
    let outgoing = match control {
        ControlBody::Reaction {
            target_ts,
            target_author,
            emoji,
            remove,
        } => {
            let target = MessageRef {
                timestamp_ms: u64::try_from(*target_ts).unwrap_or(0),
                author: target_author
                    .parse()
                    .map_err(|_| ActorError::BadRecipient)?,
            };
            let action = if *remove {
                ReactionAction::Remove
            } else {
                ReactionAction::Add
            };
            chat::reaction(target, emoji, action, profile, sent)?
        }
        ControlBody::Unsend { target_ts, .. } => {
            let own: SessionId = profile_owner(message)?;
            chat::unsend(
                MessageRef {
                    timestamp_ms: u64::try_from(*target_ts).unwrap_or(0),
                    author: own,
                },
                sent,
            )
        }
        ControlBody::ReadReceipt { timestamps } => {
            let timestamps: Vec<u64> = timestamps
                .iter()
                .map(|t| u64::try_from(*t).unwrap_or(0))
                .collect();
            chat::read_receipt(&timestamps, sent)?
        }
        ControlBody::Typing { typing } => {
            if now.saturating_sub(sent) > TTL_TYPING_MS {
                return Ok(None);
            }
            chat::typing(*typing, sent)
        }
        ControlBody::RequestResponse => chat::message_request_response(profile, sent),
        ControlBody::ExpirationUpdate { mode, seconds } => {
            chat::expiration_timer_update(mode.setting(*seconds), sent)
        }
        ControlBody::GroupInviteResponse => {
            chat::group_control(control::invite_response(true), sent)
        }
        ControlBody::GroupLeave => chat::group_control(control::member_left_notification(), sent),
        // Made by their transports (they need the group seed, or are not Contents).
        ControlBody::GroupPush { .. }
        | ControlBody::GroupInvite { .. }
        | ControlBody::GroupAdmin { .. }
        | ControlBody::GroupPromote { .. }
        | ControlBody::UserConfigPush { .. }
        | ControlBody::RoomModeration { .. } => return Err(ActorError::BadRecipient),
    };
    Ok(Some(outgoing))
}

/// The account that queued `message` (its `from`), for the unsend `author` field.
fn profile_owner(message: &QueuedMessage) -> Result<SessionId, ActorError> {
    message
        .account
        .parse()
        .map_err(|_| ActorError::BadRecipient)
}

/// The namespace-0 payload of a plain text message built field by field (a second path for
/// the receive tests, which also need invalid `sync_target`s): `sync_target` is written as
/// given, valid or not.
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

/// [`build_payload`] for a prepared `DataMessage` (tests' simulated clients send pointers and
/// profiles this way); sets `syncTarget`.
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

/// True for failures no retry can fix.
fn permanent(error: &ActorError) -> bool {
    match error {
        ActorError::BadRecipient
        | ActorError::Request(_)
        | ActorError::Encrypt(_)
        | ActorError::Chat(_)
        | ActorError::Attachment(_)
        | ActorError::Group(_) => true,
        // A community server's refusal (banned, no permission, no such post or room) stands;
        // rate limits (429) and clock complaints (425) pass with time.
        ActorError::Network(crate::network::NetworkError::Community { status, .. }) => {
            (400..500).contains(status) && !matches!(status, 425 | 429)
        }
        _ => false,
    }
}

/// One step of `conversation`: load its oldest queued message and try to send it once through
/// the conversation's transport. `previous` is the message the last step retried and how many
/// attempts it has had.
pub async fn step(
    deps: Deps,
    keys: Arc<AccountKeys>,
    conversation: ConversationId,
    previous: Option<(String, u32)>,
    lease: Option<LeaseToken>,
) -> Result<Step, ActorError> {
    let peer = conversation.to_text();
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
    let lease = lease.as_ref();
    let step = match &conversation {
        ConversationId::Direct(peer)
            if matches!(
                peer.kind(),
                SessionIdKind::Blinded15 | SessionIdKind::Blinded25
            ) =>
        {
            let transport = BlindedDmTransport::new(peer.clone());
            attempt(&deps, &keys, &transport, message, tried, lease)
                .instrument(span.clone())
                .await
        }
        ConversationId::Direct(peer) => {
            let transport = DirectTransport::new(peer.clone());
            attempt(&deps, &keys, &transport, message, tried, lease)
                .instrument(span.clone())
                .await
        }
        ConversationId::Group(group) => {
            let transport = GroupTransport::new(group.clone());
            attempt(&deps, &keys, &transport, message, tried, lease)
                .instrument(span.clone())
                .await
        }
        ConversationId::Community(room) => {
            let transport = CommunityTransport::new(room.clone());
            attempt(&deps, &keys, &transport, message, tried, lease)
                .instrument(span.clone())
                .await
        }
    };
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

/// One attempt at `message` through `transport`; the message has had `tried` attempts before.
async fn attempt<T: Transport>(
    deps: &Deps,
    keys: &AccountKeys,
    transport: &T,
    message: QueuedMessage,
    tried: u32,
    lease: Option<&LeaseToken>,
) -> Result<Step, ActorError> {
    let settings = &deps.settings;
    let age = now_ms().saturating_sub(message.created_at);
    if tried > 0 && u64::try_from(age).unwrap_or(0) > settings.send_deadline_ms {
        let reason = "no swarm node confirmed the message before the send deadline";
        settle(deps, &message.account, &message.id, Err(reason), lease).await?;
        return Ok(Step::Failed { id: message.id });
    }
    match transport.send(deps, keys, &message).await {
        Ok(stored) => {
            settle(deps, &message.account, &message.id, Ok(&stored), lease).await?;
            Ok(Step::Sent {
                id: message.id,
                queued_behind: message.queued_behind,
            })
        }
        Err(ActorError::Store(e)) => Err(ActorError::Store(e)),
        Err(error) if permanent(&error) || tried + 1 >= settings.send_max_attempts => {
            let reason = format!("{error} (after {} attempts)", tried + 1);
            settle(deps, &message.account, &message.id, Err(&reason), lease).await?;
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

/// Send outcomes forming groups that share one transaction ([`settle`]).
pub type SettleGroups = Groups<SettleKey, Outcome, ()>;

/// Which send outcomes may share a transaction: one account's, under one lease (or none), so
/// that one fence covers them all.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SettleKey {
    account: String,
    lease: Option<(Arc<str>, i64)>,
}

impl SettleKey {
    /// The group of `account`'s outcomes written under `lease`.
    pub fn new(account: &str, lease: Option<&LeaseToken>) -> Self {
        Self {
            account: account.to_owned(),
            lease: lease.map(|l| (l.owner.clone(), l.epoch)),
        }
    }
}

/// One send outcome to record: owned, so that a follower's travels to its group's leader
/// ([`crate::store::group_commit`]).
#[derive(Clone, Debug)]
pub struct Outcome {
    account: String,
    id: String,
    status: MessageStatus,
    hash: Option<String>,
    own_hash: Option<String>,
    reason: Option<String>,
    event: MessageEvent,
    /// The send's span: its event's delivery is traced as part of it, whichever outcome's
    /// transaction writes it.
    span: tracing::Span,
}

impl Outcome {
    fn new(account: &str, id: &str, outcome: Result<&Stored, &str>) -> Self {
        let (status, hash, own_hash, reason, event) = match outcome {
            Ok(stored) => (
                MessageStatus::Sent,
                stored.hash.clone(),
                stored.own_hash.clone(),
                None,
                MessageEvent::Sent,
            ),
            Err(reason) => (
                MessageStatus::Failed,
                None,
                None,
                Some(reason.to_owned()),
                MessageEvent::Failed,
            ),
        };
        Self {
            account: account.to_owned(),
            id: id.to_owned(),
            status,
            hash,
            own_hash,
            reason,
            event,
            span: tracing::Span::current(),
        }
    }
}

/// Records the outcome with its event in one transaction; a message no longer queued (its
/// account deleted meanwhile) is left alone. Under `lease` the transaction is fenced: a replica
/// that lost the account gets [`StoreError::LeaseLost`] and the message stays queued for the
/// new owner.
///
/// Outcomes of the same account that arrive while one of them waits for the database's writer
/// share its transaction ([`crate::store::group_commit`]); a group that fails is written
/// again one outcome at a time, so each error reaches the outcome it belongs to.
pub async fn settle(
    deps: &Deps,
    account: &str,
    id: &str,
    outcome: Result<&Stored, &str>,
    lease: Option<&LeaseToken>,
) -> Result<(), ActorError> {
    let outcome = Outcome::new(account, id, outcome);
    let key = SettleKey::new(account, lease);
    let leader = match deps.settles.join(&key, || outcome.clone()) {
        Role::Leader(leader) => leader,
        Role::Follower(answer) => {
            if answer.await.is_ok() {
                return Ok(());
            }
            return settle_alone(deps, &outcome, lease).await;
        }
    };
    // Dropped on an error here, the leader sends its followers to write their own.
    let mut tx = begin(deps, lease).await?;
    // The transaction has begun (on SQLite it holds the one writer): whoever queued meanwhile
    // rides along.
    let followers = leader.take();
    let group: Vec<&Outcome> = std::iter::once(&outcome).chain(followers.items()).collect();
    let written = record(deps, &mut tx, &group).await;
    // The transaction ends here either way (committed or rolled back): writing alone begins
    // another, and SQLite's one writer would wait for this one.
    let written = match written {
        Ok(()) => tx.commit().await.map_err(ActorError::from),
        Err(error) => {
            drop(tx);
            Err(error)
        }
    };
    match written {
        Ok(()) => {
            followers.committed(std::iter::repeat(()));
            Ok(())
        }
        Err(error) if followers.is_empty() => Err(error),
        Err(error) => {
            // Written again one at a time. Harmless even if the commit took effect before it
            // failed: an outcome is only written over a message still queued.
            tracing::debug!(%error, "a group of send outcomes failed; writing each alone");
            followers.alone();
            settle_alone(deps, &outcome, lease).await
        }
    }
}

/// [`settle`] without a group: one outcome, one transaction.
async fn settle_alone(
    deps: &Deps,
    outcome: &Outcome,
    lease: Option<&LeaseToken>,
) -> Result<(), ActorError> {
    let mut tx = begin(deps, lease).await?;
    record(deps, &mut tx, &[outcome]).await?;
    tx.commit().await?;
    Ok(())
}

/// A transaction, fenced under `lease` when there is one.
async fn begin(deps: &Deps, lease: Option<&LeaseToken>) -> Result<StoreTx, StoreError> {
    match lease {
        Some(lease) => deps.store.begin_fenced(lease).await,
        None => deps.store.begin().await,
    }
}

/// Writes `outcomes` in `tx`: the messages' statuses, all in one statement (a group's
/// transaction holds the database's one writer: issue 16), then each text message's event.
async fn record(deps: &Deps, tx: &mut StoreTx, outcomes: &[&Outcome]) -> Result<(), ActorError> {
    let now = now_ms();
    let settles: Vec<Settle<'_>> = outcomes
        .iter()
        .map(|outcome| Settle {
            id: &outcome.id,
            status: outcome.status,
            hash: outcome.hash.as_deref(),
            own_hash: outcome.own_hash.as_deref(),
            failure_reason: outcome.reason.as_deref(),
        })
        .collect();
    let mut settled = tx.settle_outgoing_many(&settles, now).await?;
    for outcome in outcomes {
        // Not moved: no longer queued (its account deleted meanwhile, or settled already).
        let Some(message) = settled.remove(&outcome.id) else {
            continue;
        };
        if message.kind != crate::store::modes::MessageKind::Text {
            // Control messages (reactions, receipts, typing, …) are not messages: no event.
            continue;
        }
        let data = EventData::message(outcome.event, &message)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let event = tx
            .append_event(&NewEvent {
                account: Some(outcome.account.clone()),
                conversation: Some(message.conversation.clone()),
                timestamp: now,
                data,
            })
            .await?;
        // Before the commit: a webhook worker may pick the event up the moment it is visible.
        (outcome.span).in_scope(|| deps.metrics.links.remember(Key::Event(&event.id)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_under_different_leases_never_share_a_transaction() {
        let lease = |epoch| LeaseToken {
            account: "a".into(),
            owner: "replica".into(),
            epoch,
            acquired_at: 0,
            expires_at: 0,
        };
        let (one, two) = (lease(1), lease(2));
        assert_eq!(
            SettleKey::new("a", Some(&one)),
            SettleKey::new("a", Some(&one))
        );
        assert_ne!(
            SettleKey::new("a", Some(&one)),
            SettleKey::new("a", Some(&two))
        );
        assert_ne!(SettleKey::new("a", Some(&one)), SettleKey::new("a", None));
        assert_ne!(SettleKey::new("a", None), SettleKey::new("b", None));
    }
}
