//! What a community room's poll does to each local member's state (communities.md §4): a new
//! post is stored in the room's conversation with its author's blinded ID (our own posts are
//! recognised by the account's blinded ID there); a post seen again with other text is an
//! edit (`message.edited`); a tombstone deletes it (`message.deleted`); and the reactions the
//! server lists are brought into the stored ones (`reaction.added` / `reaction.removed`).
//!
//! A post under a new id whose signed content (author, signed time, bytes) was received before
//! is a replay by the server (the server signs nothing; only the author's signature binds the
//! content): nothing is applied, as for swarm replays.
//!
//! The server lists at most a few reactors per emoji (§4.2): a stored reactor missing from a
//! list is removed only when the list is complete (its count equals its length), or when the
//! emoji is gone altogether.

use super::{Accepted, Ctx, Standing};
use crate::chat::ChatError;
use crate::events::{EventData, MessageEvent};
use crate::metrics::Metrics;
use crate::protocol::chat::ChatEvent;
use crate::store::{Store, StoreTx};

/// One emoji's reactors as the server lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomReactions {
    /// The emoji.
    pub emoji: String,
    /// Reactors listed (IDs).
    pub reactors: Vec<String>,
    /// The list names every reactor.
    pub complete: bool,
}

/// What one row of a room's poll says about one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomChange {
    /// The post's current content, verified (new, or an edit of one we hold).
    Post(Accepted),
    /// A deletion tombstone.
    Deleted,
    /// Only its reactions changed.
    Reactions,
    /// The row failed verification or holds nothing we show (the metric reason): only its
    /// reactions count.
    Unreadable(&'static str),
}

/// One row of a room's poll, for every local member alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomUpdate {
    /// The room's conversation ID.
    pub room: String,
    /// The message's key in this gateway (`sogs:<room>#<id>`), stored as its hash.
    pub hash: String,
    /// What changed.
    pub change: RoomChange,
    /// Its reactions, when the row lists them.
    pub reactions: Option<Vec<RoomReactions>>,
}

/// The key a room message is stored under: its server id within the room.
pub fn room_message_hash(room: &str, id: i64) -> String {
    format!("sogs:{room}#{id}")
}

/// The server id back from a key written by [`room_message_hash`] for `room`.
pub fn room_message_id(room: &str, hash: &str) -> Option<i64> {
    hash.strip_prefix("sogs:")?
        .strip_prefix(room)?
        .strip_prefix('#')?
        .parse()
        .ok()
}

/// Applies `update` for the local member `account` (blinded ID `blinded` in the room) in `tx`;
/// returns how many messages it stored.
pub async fn apply_room(
    tx: &mut StoreTx,
    store: &Store,
    metrics: &Metrics,
    account: &str,
    blinded: &str,
    update: &RoomUpdate,
    now: i64,
) -> Result<usize, ChatError> {
    let sender = match &update.change {
        RoomChange::Post(a) => a.sender.as_str(),
        _ => "",
    };
    let ctx = Ctx {
        store,
        metrics,
        account,
        sender,
        peer: &update.room,
        now,
    };
    let held = tx.room_message(account, &update.room, &update.hash).await?;
    let mut stored = 0;
    match (&update.change, &held) {
        // A new id with content its author signed before is the server replaying a post.
        (RoomChange::Post(a), None) if !tx.first_receipt(account, &a.signed_key(), now).await? => {}
        (RoomChange::Post(a), None) => {
            let standing = if a.sender == blinded {
                Standing::Own
            } else {
                Standing::Accepted
            };
            for event in &a.events {
                if let ChatEvent::Message(m) = event {
                    stored += ctx.message(tx, a, standing, m).await?;
                }
            }
        }
        (RoomChange::Post(a), Some(message)) => {
            let text = a.events.iter().find_map(|e| match e {
                ChatEvent::Message(m) => Some(m.text.clone().unwrap_or_default()),
                _ => None,
            });
            if let Some(text) = text {
                if tx.set_message_text(&message.id, &text, now).await? {
                    if let Some(edited) = tx.message(&message.id).await? {
                        ctx.message_event(tx, MessageEvent::Edited, &edited).await?;
                    }
                }
            }
        }
        (RoomChange::Deleted, Some(message)) if tx.mark_deleted(&message.id, now).await? => {
            let data =
                EventData::message_deleted(&update.room, &message.id, "everyone", &message.from);
            ctx.event(tx, &update.room, data).await?;
        }
        _ => {}
    }
    if let (Some(reactions), Some(message)) = (&update.reactions, &held) {
        if message.deleted_at.is_none() {
            ctx.room_reactions(tx, &message.id, reactions).await?;
        }
    }
    Ok(stored)
}

impl Ctx<'_> {
    /// Brings the stored reactions on `message_id` in step with the server's `listed`.
    async fn room_reactions(
        &self,
        tx: &mut StoreTx,
        message_id: &str,
        listed: &[RoomReactions],
    ) -> Result<(), ChatError> {
        let held = tx.reactions_of(message_id).await?;
        for r in listed {
            for reactor in &r.reactors {
                if tx
                    .add_reaction(message_id, reactor, &r.emoji, self.now)
                    .await?
                {
                    let data = EventData::reaction(false, self.peer, message_id, &r.emoji, reactor);
                    self.event(tx, self.peer, data).await?;
                }
            }
        }
        for (author, emoji) in held {
            let gone = match listed.iter().find(|r| r.emoji == emoji) {
                None => true,
                Some(r) => r.complete && !r.reactors.contains(&author),
            };
            if gone && tx.remove_reaction(message_id, &author, &emoji).await? {
                let data = EventData::reaction(true, self.peer, message_id, &emoji, &author);
                self.event(tx, self.peer, data).await?;
            }
        }
        Ok(())
    }
}
