//! What an incoming message does to stored messages: the message itself (with its quote and
//! attachment pointers, held under a pending request), reactions and unsends naming an earlier
//! message, and the sender's profile.

use super::{Accepted, Ctx, IncomingParts, Standing};
use crate::chat::ChatError;
use crate::events::{EventData, MessageEvent};
use crate::protocol::chat::{IncomingMessage, MessageRef, Profile};
use crate::store::chat::{ContactProfile, TextExtras};
use crate::store::messages::{new_message_id, Direction, MessageStatus, NewMessage, Quote};
use crate::store::StoreTx;

impl Ctx<'_> {
    /// A visible message: ours from another device (sync copy) or the peer's.
    pub(super) async fn message(
        &self,
        tx: &mut StoreTx,
        a: &Accepted,
        standing: Standing,
        m: &IncomingMessage,
    ) -> Result<usize, ChatError> {
        let own = standing == Standing::Own;
        let peer = match (&m.sync_target, own) {
            (Some(target), true) => target.to_string(),
            _ => self.peer.to_owned(),
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
        let extras = TextExtras {
            quote,
            expire_mode: m.expiration.into(),
            expire_seconds: i64::from(m.expiration.seconds()),
        };
        let written = tx
            .set_text_extras(&message.id, message.timestamp, &extras)
            .await?;
        if standing == Standing::Pending {
            tx.hold_message(&message.id).await?;
            return Ok(1);
        }
        // The row as it now stands, for the event: as inserted unless the extras were written.
        let mut message = written.unwrap_or(message);
        message.attachments = files;
        self.message_event(tx, MessageEvent::Received, &message)
            .await?;
        // Read receipts are a 1:1 feature.
        if !own && self.peer == self.sender {
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
    ) -> Result<Quote, ChatError> {
        let timestamp = i64::try_from(q.timestamp_ms).unwrap_or(i64::MAX);
        let author = q.author.to_string();
        let found = tx
            .find_by_ref(self.account, peer, timestamp, &author)
            .await?;
        Ok(Quote {
            timestamp,
            author,
            text: found.as_ref().map(|m| m.text.clone()),
            id: found.map(|m| m.id),
        })
    }

    pub(super) async fn reaction(
        &self,
        tx: &mut StoreTx,
        target: &MessageRef,
        emoji: &str,
        remove: bool,
    ) -> Result<(), ChatError> {
        let ts = i64::try_from(target.timestamp_ms).unwrap_or(i64::MAX);
        let author = target.author.to_string();
        let Some(message) = tx.find_by_ref(self.account, self.peer, ts, &author).await? else {
            return Ok(());
        };
        let changed = if remove {
            tx.remove_reaction(&message.id, self.sender, emoji).await?
        } else {
            tx.add_reaction(&message.id, self.sender, emoji, self.now)
                .await?
        };
        if changed {
            let data = EventData::reaction(remove, self.peer, &message.id, emoji, self.sender);
            self.event(tx, self.peer, data).await?;
        }
        Ok(())
    }

    pub(super) async fn unsend(
        &self,
        tx: &mut StoreTx,
        target: &MessageRef,
    ) -> Result<(), ChatError> {
        let ts = i64::try_from(target.timestamp_ms).unwrap_or(i64::MAX);
        // Only the author unsends (admins' deletions are issue 11).
        let Some(message) = tx
            .find_by_ref(self.account, self.peer, ts, self.sender)
            .await?
        else {
            return Ok(());
        };
        if tx.mark_deleted(&message.id, self.now).await? {
            let data = EventData::message_deleted(self.peer, &message.id, "everyone", self.sender);
            self.event(tx, self.peer, data).await?;
        }
        Ok(())
    }

    /// Keeps a contact's profile when it changed and is not older than the one held.
    pub(super) async fn profile(&self, tx: &mut StoreTx, p: &Profile) -> Result<(), ChatError> {
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
            self.store
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
