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

use super::Accepted;
use crate::actors::attachments::IncomingParts;
use crate::actors::{ActorError, Deps};
use crate::events::{EventData, MessageEvent};
use crate::protocol::chat::{
    CallKind, ChatEvent, DataExtractionKind, IncomingMessage, MessageRef, Profile,
};
use crate::store::chat::{ContactProfile, ControlBody};
use crate::store::events::NewEvent;
use crate::store::messages::{
    new_message_id, Direction, Message, MessageStatus, NewMessage, Quote,
};
use crate::store::modes::{ConversationState, MessageRequests};
use crate::store::{StoreError, StoreTx};
use crate::telemetry::links::Key;

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

/// Applies one accepted message; returns how many messages it stored.
pub(super) async fn apply(
    tx: &mut StoreTx,
    deps: &Deps,
    account: &str,
    a: &Accepted,
    now: i64,
) -> Result<usize, ActorError> {
    let ctx = Ctx {
        deps,
        account,
        sender: &a.sender,
        now,
    };
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

struct Ctx<'a> {
    deps: &'a Deps,
    account: &'a str,
    sender: &'a str,
    now: i64,
}

fn corrupt(e: serde_json::Error) -> ActorError {
    ActorError::Store(StoreError::Corrupt(e.to_string()))
}

impl Ctx<'_> {
    /// The sender's standing, applying the message-request policy to a first message;
    /// `None` drops the whole Content (declined sender).
    async fn standing(
        &self,
        tx: &mut StoreTx,
        a: &Accepted,
    ) -> Result<Option<Standing>, ActorError> {
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
    ) -> Result<(), ActorError> {
        let event = tx
            .append_event(&NewEvent {
                account: Some(self.account.to_owned()),
                conversation: Some(conversation.to_owned()),
                timestamp: self.now,
                data,
            })
            .await?;
        // Before the commit: a webhook worker may pick the event up the moment it is visible.
        self.deps.metrics.links.remember(Key::Event(&event.id));
        Ok(())
    }

    async fn message_event(
        &self,
        tx: &mut StoreTx,
        event: MessageEvent,
        message: &Message,
    ) -> Result<(), ActorError> {
        let data = EventData::message(event, message).map_err(corrupt)?;
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
    ) -> Result<usize, ActorError> {
        let peer = self.sender;
        match (standing, event) {
            (_, ChatEvent::Message(m)) => self.message(tx, a, standing, m).await,
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
    ) -> Result<(), ActorError> {
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
            ChatEvent::Message(_) | ChatEvent::Ignored(_) => Ok(()),
        }
    }

    /// A visible message: ours from another device (sync copy) or the peer's.
    async fn message(
        &self,
        tx: &mut StoreTx,
        a: &Accepted,
        standing: Standing,
        m: &IncomingMessage,
    ) -> Result<usize, ActorError> {
        let own = standing == Standing::Own;
        let peer = match (&m.sync_target, own) {
            (Some(target), true) => target.to_string(),
            _ => self.sender.to_owned(),
        };
        if own && tx.has_outgoing(self.account, &peer, a.timestamp).await? {
            return Ok(0);
        }
        let (direction, status) = if own {
            (Direction::Outgoing, MessageStatus::Sent)
        } else {
            (Direction::Incoming, MessageStatus::Received)
        };
        let new = NewMessage {
            id: new_message_id(),
            account: self.account.to_owned(),
            peer: peer.clone(),
            direction,
            status,
            author: self.sender.to_owned(),
            hash: Some(a.hash.clone()),
            text: m.text.clone().unwrap_or_default(),
            timestamp: a.timestamp,
            idempotency_key: None,
        };
        let Some(mut message) = tx.insert_message(&new, self.now).await? else {
            return Ok(0);
        };
        // The attachment pointers, recorded `queued` in this transaction (the fetcher downloads
        // them after the commit), and the sender's avatar for the avatar endpoint.
        IncomingParts::of_message(m)
            .record(tx, &mut message, self.now)
            .await?;
        let files = std::mem::take(&mut message.attachments);
        let quote = match &m.quote {
            Some(q) => Some(self.quote(tx, &peer, q).await?),
            None => None,
        };
        let extras = crate::store::chat::TextExtras {
            quote,
            expire_mode: m.expiration.into(),
            expire_seconds: i64::from(m.expiration.seconds()),
        };
        tx.set_text_extras(&message.id, message.timestamp, &extras)
            .await?;
        if standing == Standing::Pending {
            tx.hold_message(&message.id).await?;
            return Ok(1);
        }
        let Some(mut message) = tx.message(&message.id).await? else {
            return Ok(0);
        };
        message.attachments = files;
        self.message_event(tx, MessageEvent::Received, &message)
            .await?;
        if !own {
            tx.auto_read(self.account, &peer, message.timestamp, self.now)
                .await?;
        }
        Ok(1)
    }

    /// The quote as stored: our local id and text of the quoted message when we have it.
    async fn quote(
        &self,
        tx: &mut StoreTx,
        peer: &str,
        q: &MessageRef,
    ) -> Result<Quote, ActorError> {
        let timestamp = i64::try_from(q.timestamp_ms).unwrap_or(i64::MAX);
        let author = q.author.to_string();
        let ours = author == self.account;
        let found = tx.find_by_ref(self.account, peer, timestamp, ours).await?;
        Ok(Quote {
            timestamp,
            author,
            text: found.as_ref().map(|m| m.text.clone()),
            id: found.map(|m| m.id),
        })
    }

    async fn reaction(
        &self,
        tx: &mut StoreTx,
        target: &MessageRef,
        emoji: &str,
        remove: bool,
    ) -> Result<(), ActorError> {
        let ts = i64::try_from(target.timestamp_ms).unwrap_or(i64::MAX);
        let ours = target.author.to_string() == self.account;
        let Some(message) = tx.find_by_ref(self.account, self.sender, ts, ours).await? else {
            return Ok(());
        };
        let changed = if remove {
            tx.remove_reaction(&message.id, self.sender, emoji).await?
        } else {
            tx.add_reaction(&message.id, self.sender, emoji, self.now)
                .await?
        };
        if changed {
            let data = EventData::reaction(remove, self.sender, &message.id, emoji, self.sender);
            self.event(tx, self.sender, data).await?;
        }
        Ok(())
    }

    async fn unsend(&self, tx: &mut StoreTx, target: &MessageRef) -> Result<(), ActorError> {
        let ts = i64::try_from(target.timestamp_ms).unwrap_or(i64::MAX);
        let Some(message) = tx.find_by_ref(self.account, self.sender, ts, false).await? else {
            return Ok(());
        };
        if tx.mark_deleted(&message.id, self.now).await? {
            let data =
                EventData::message_deleted(self.sender, &message.id, "everyone", self.sender);
            self.event(tx, self.sender, data).await?;
        }
        Ok(())
    }

    /// Keeps a contact's profile when it changed and is not older than the one held.
    async fn profile(&self, tx: &mut StoreTx, p: &Profile) -> Result<(), ActorError> {
        let peer = self.sender;
        let held = tx.conversation_chat(self.account, peer).await?;
        let updated = p.updated_seconds.and_then(|s| i64::try_from(s).ok());
        let url = p.avatar.as_ref().map(|a| a.url.clone());
        if let Some(held) = &held {
            if let (Some(new), Some(old)) = (updated, held.profile_updated) {
                if new < old {
                    return Ok(());
                }
            }
            let same_key = match (&held.profile_key_sealed, &p.avatar) {
                (Some(sealed), Some(avatar)) => self
                    .deps
                    .store
                    .open_profile_key(self.account, peer, sealed)
                    .is_ok_and(|k| k.as_slice() == &avatar.key.expose_secret()[..]),
                (None, None) => true,
                _ => false,
            };
            if held.profile_name == p.display_name && held.profile_avatar_url == url && same_key {
                return Ok(());
            }
        }
        let sealed = p.avatar.as_ref().map(|a| {
            self.deps
                .store
                .seal_profile_key(self.account, peer, a.key.expose_secret())
        });
        let stored = ContactProfile {
            name: p.display_name.as_deref(),
            avatar_url: url.as_deref(),
            key_sealed: sealed.as_deref(),
            updated,
        };
        tx.set_contact_profile(self.account, peer, &stored, self.now)
            .await?;
        let data = EventData::profile_updated(peer, p.display_name.as_deref(), url.as_deref());
        self.event(tx, peer, data).await
    }
}
