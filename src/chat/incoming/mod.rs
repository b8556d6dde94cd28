//! What a verified message does to the account's chat state, inside the poll's transaction:
//! one function per [`ChatEvent`], each writing its rows and its webhook event.
//!
//! Message requests: a first message from a sender with no conversation is a request. Under
//! `auto_accept` (default) the conversation becomes `accepted`, `message_request.received`
//! fires once and a MessageRequestResponse is queued back; under `hold` it becomes `pending`
//! and its messages are stored held (no `message.received` until `accept`). A `declined`
//! sender's Content is dropped; a `pending` one's only adds held messages and its profile.
//!
//! Our own sync copies (sender = us) add outgoing messages written by our other devices; their
//! other control messages are ignored (this gateway already applied its own).
//!
//! The actors call [`apply`] for each verified message of a poll, inside the poll's one
//! transaction. Files: the message-request policy and events here, messages and their
//! references (quotes, reactions, unsend) and profiles in `messages.rs`, attachment pointers in
//! `parts.rs`.

use super::ChatError;
use crate::events::{EventData, MessageEvent};
use crate::ids::{ConversationId, SessionIdText};
use crate::metrics::Metrics;
use crate::protocol::chat::{CallKind, ChatEvent, DataExtractionKind};
use crate::store::chat::ControlBody;
use crate::store::events::NewEvent;
use crate::store::messages::Message;
use crate::store::modes::{ConversationState, MessageRequests};
use crate::store::replays::SignedKey;
use crate::store::{Store, StoreTx};
use crate::telemetry::links::Key;

mod community;
mod groups;
mod messages;
mod parts;

pub use community::{
    apply_room, room_message_hash, room_message_id, RoomChange, RoomReactions, RoomUpdate,
};
pub use parts::IncomingParts;

/// A verified message and what it means for the conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The swarm hash (the de-duplication key).
    pub hash: String,
    /// Who sent it (our own Session ID for sync copies from our other devices).
    pub sender: String,
    /// The sent timestamp (`Envelope.timestamp` = `sigTimestamp`), ms.
    pub timestamp: i64,
    /// What it means ([`crate::protocol::chat::classify`]), at least one event that is not
    /// `Ignored`.
    pub events: Vec<ChatEvent>,
    /// The group (03…) it was posted in; `None` for a 1:1 message.
    pub group: Option<String>,
    /// A digest of the signed content ([`crate::store::replays::content_digest`]): with the
    /// sender and timestamp, the replay key (the hash also covers the unsigned wrapper).
    pub signed_digest: [u8; 32],
}

impl Accepted {
    /// What the sender signed, the key replays are dropped on.
    pub fn signed_key(&self) -> SignedKey<'_> {
        SignedKey {
            sender: &self.sender,
            sent_at: self.timestamp,
            digest: &self.signed_digest,
        }
    }

    /// The conversations of `recipient` this message is about, as the apply step files it: a
    /// peer's message belongs to the conversation with the sender; our own sync copy to its
    /// `syncTarget` (or to ourselves, a note to self), and its other events to none (this
    /// gateway already applied its own).
    pub fn conversations(&self, recipient: &str) -> Vec<ConversationId> {
        if let Some(group) = &self.group {
            return ConversationId::parse(group).ok().into_iter().collect();
        }
        let direct = |id: &str| SessionIdText::parse_any(id).ok().map(ConversationId::from);
        if self.sender != recipient {
            return direct(&self.sender).into_iter().collect();
        }
        let mut found = Vec::new();
        for event in &self.events {
            if let ChatEvent::Message(m) = event {
                let peer = match &m.sync_target {
                    Some(target) => direct(&target.to_string()),
                    None => direct(&self.sender),
                };
                if let Some(peer) = peer.filter(|p| !found.contains(p)) {
                    found.push(peer);
                }
            }
        }
        found
    }
}

/// Where the sender stands with the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Our own other device (sync copies).
    Own,
    /// An accepted conversation.
    Accepted,
    /// A held request: messages are stored held.
    Pending,
    /// Unknown and this Content has no message: nothing to start a conversation with.
    Unknown,
}

/// Applies one accepted message for `account` in `tx`; returns how many messages it stored.
/// `store` seals and opens contact profile keys; `metrics` links each event to the trace.
pub async fn apply(
    tx: &mut StoreTx,
    store: &Store,
    metrics: &Metrics,
    account: &str,
    a: &Accepted,
    now: i64,
) -> Result<usize, ChatError> {
    if !tx.first_receipt(account, &a.signed_key(), now).await? {
        return Ok(0); // a replay under another hash (issue 13, attack 3)
    }
    let ctx = Ctx {
        store,
        metrics,
        account,
        sender: &a.sender,
        peer: a.group.as_deref().unwrap_or(&a.sender),
        now,
    };
    if a.group.is_some() {
        return ctx.group_message(tx, a).await;
    }
    let standing = match ctx.standing(tx, a).await? {
        Some(standing) => standing,
        None => return Ok(0),
    };
    let mut stored = 0;
    for event in &a.events {
        stored += ctx.event_of(tx, a, standing, event).await?;
    }
    Ok(stored)
}

/// What applying one message needs to hand.
struct Ctx<'a> {
    store: &'a Store,
    metrics: &'a Metrics,
    account: &'a str,
    /// The author.
    sender: &'a str,
    /// The conversation: the sender in a direct chat, the group in a group.
    peer: &'a str,
    now: i64,
}

impl Ctx<'_> {
    /// The sender's standing, applying the message-request policy to a first message;
    /// `None` drops the whole Content (declined sender).
    async fn standing(
        &self,
        tx: &mut StoreTx,
        a: &Accepted,
    ) -> Result<Option<Standing>, ChatError> {
        if self.sender == self.account {
            return Ok(Some(Standing::Own));
        }
        if let Some(chat) = tx.conversation_chat(self.account, self.sender).await? {
            return Ok(match chat.state {
                ConversationState::Declined => None,
                ConversationState::Pending => Some(Standing::Pending),
                _ => Some(Standing::Accepted),
            });
        }
        if !a.events.iter().any(|e| matches!(e, ChatEvent::Message(_))) {
            return Ok(Some(Standing::Unknown));
        }
        let hold = tx
            .chat_settings(self.account)
            .await?
            .is_some_and(|s| s.message_requests == MessageRequests::Hold);
        let new_state = if hold {
            ConversationState::Pending
        } else {
            ConversationState::Accepted
        };
        tx.set_conversation_state(self.account, self.sender, new_state, self.now)
            .await?;
        let data = EventData::message_request_received(self.sender, new_state.as_str());
        self.event(tx, self.sender, data).await?;
        if hold {
            return Ok(Some(Standing::Pending));
        }
        tx.enqueue_control(
            self.account,
            self.sender,
            &ControlBody::RequestResponse,
            self.now,
        )
        .await?;
        Ok(Some(Standing::Accepted))
    }

    async fn event(
        &self,
        tx: &mut StoreTx,
        conversation: &str,
        data: EventData,
    ) -> Result<(), ChatError> {
        let event = tx
            .append_event(&NewEvent {
                account: Some(self.account.to_owned()),
                conversation: Some(conversation.to_owned()),
                timestamp: self.now,
                data,
            })
            .await?;
        // Before the commit: a webhook worker may pick the event up the moment it is visible.
        self.metrics.links.remember(Key::Event(&event.id));
        Ok(())
    }

    async fn message_event(
        &self,
        tx: &mut StoreTx,
        event: MessageEvent,
        message: &Message,
    ) -> Result<(), ChatError> {
        let data = EventData::message(event, message)?;
        self.event(tx, &message.conversation, data).await
    }
}

impl Ctx<'_> {
    /// Applies one event; returns how many messages it stored.
    async fn event_of(
        &self,
        tx: &mut StoreTx,
        a: &Accepted,
        standing: Standing,
        event: &ChatEvent,
    ) -> Result<usize, ChatError> {
        let peer = self.sender;
        match (standing, event) {
            (_, ChatEvent::Message(m)) => self.message(tx, a, standing, m).await,
            (Standing::Own, ChatEvent::GroupInvite(_)) => Ok(0),
            // Invitations follow the account's `group_invites` policy, not message requests.
            (_, ChatEvent::GroupInvite(invite)) => {
                self.group_invite(tx, invite, a.timestamp).await.map(|()| 0)
            }
            (Standing::Own, ChatEvent::GroupPromoted { .. }) => Ok(0),
            // The seed is its own proof (only admins hold it), whoever relays it.
            (_, ChatEvent::GroupPromoted { group, .. }) => {
                self.group_promoted(tx, &group.0).await.map(|()| 0)
            }
            (Standing::Own | Standing::Unknown, _) => Ok(0),
            (Standing::Pending, ChatEvent::ProfileUpdated(p)) => {
                self.profile(tx, p).await.map(|()| 0)
            }
            (Standing::Pending, _) => Ok(0),
            (Standing::Accepted, event) => self.accepted(tx, peer, event).await.map(|()| 0),
        }
    }

    /// Events from an accepted peer other than messages.
    async fn accepted(
        &self,
        tx: &mut StoreTx,
        peer: &str,
        event: &ChatEvent,
    ) -> Result<(), ChatError> {
        match event {
            ChatEvent::ReactionAdded { target, emoji, .. } => {
                self.reaction(tx, target, emoji, false).await
            }
            ChatEvent::ReactionRemoved { target, emoji, .. } => {
                self.reaction(tx, target, emoji, true).await
            }
            ChatEvent::Unsend { target } => self.unsend(tx, target).await,
            ChatEvent::Read { timestamps } => {
                let timestamps: Vec<i64> = timestamps
                    .iter()
                    .filter_map(|t| i64::try_from(*t).ok())
                    .collect();
                let read = tx
                    .mark_read_by_peer(self.account, peer, &timestamps, self.now)
                    .await?;
                for m in &read {
                    self.message_event(tx, MessageEvent::Read, m).await?;
                }
                Ok(())
            }
            ChatEvent::TypingStarted { timestamp_ms }
            | ChatEvent::TypingStopped { timestamp_ms } => {
                let started = matches!(event, ChatEvent::TypingStarted { .. });
                let data = EventData::typing(started, peer, *timestamp_ms);
                self.event(tx, peer, data).await
            }
            ChatEvent::MessageRequestResponse { approved, .. } => {
                if *approved {
                    let data = EventData::message_request_accepted(peer);
                    self.event(tx, peer, data).await?;
                }
                Ok(())
            }
            ChatEvent::ProfileUpdated(p) => self.profile(tx, p).await,
            ChatEvent::DataExtraction { kind, timestamp_ms } => {
                let kind = match kind {
                    DataExtractionKind::Screenshot => "screenshot",
                    DataExtractionKind::MediaSaved => "media_saved",
                };
                let data = EventData::data_extraction(peer, kind, *timestamp_ms);
                self.event(tx, peer, data).await
            }
            ChatEvent::CallOffered { uuid, kind } => {
                let kind = if *kind == CallKind::PreOffer {
                    "pre_offer"
                } else {
                    "offer"
                };
                let data = EventData::call_offered(peer, uuid, kind);
                self.event(tx, peer, data).await
            }
            ChatEvent::CommunityInvitation { url, name, .. } => {
                let data = EventData::community_invitation(peer, url, name);
                self.event(tx, peer, data).await
            }
            ChatEvent::ExpirationTimerUpdate { setting, .. } => {
                let seconds = i64::from(setting.seconds());
                tx.set_disappearing(self.account, peer, (*setting).into(), seconds, self.now)
                    .await?;
                let data = EventData::disappearing_updated(peer, setting.mode(), seconds);
                self.event(tx, peer, data).await
            }
            ChatEvent::Message(_)
            | ChatEvent::Ignored(_)
            | ChatEvent::GroupInvite(_)
            | ChatEvent::GroupInviteResponse { .. }
            | ChatEvent::GroupMemberLeft
            | ChatEvent::GroupPromoted { .. }
            | ChatEvent::GroupDeleteContent { .. } => Ok(()),
        }
    }
}
