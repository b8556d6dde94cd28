//! The chat domain (design.md §10, style.md habit 11): what queueing a message, reacting,
//! unsending, marking read, typing, answering a message request, changing the disappearing
//! setting and applying an incoming message do to a conversation, written once. Both edges
//! call it: the API handlers parse, authorise, call one function here and map its outcome; the
//! actors apply each verified incoming message through [`incoming::apply`] inside their poll's
//! transaction.
//!
//! An operation opens and commits its own transaction (its inner steps take the
//! [`StoreTx`](crate::store::StoreTx)), and returns an outcome saying what the caller must do
//! afterwards, such as waking the sender of a conversation that got something queued: chat
//! talks to neither the network nor the actors (`tests/layering.rs`).
//!
//! Conversations are named by [`ConversationId`]. Texts, reactions and deletions work in every
//! kind; the 1:1-only features (read receipts, typing, requests, disappearing settings) answer
//! [`ChatError::GroupUnsupported`] / [`ChatError::CommunityUnsupported`] for the others.
//!
//! Files: `outgoing.rs` (queue a text), `reactions.rs`, `unsend.rs` (delete a message),
//! `read.rs` (read receipts, typing), `requests.rs` (accept, decline), `settings.rs`
//! (disappearing setting, the conversation's state), `incoming/` (apply a received message).

use crate::ids::{ConversationId, SessionIdText};

pub mod community;
mod error;
pub mod groups;
pub mod incoming;
mod outgoing;
mod reactions;
mod read;
mod requests;
mod settings;
mod unsend;

pub use error::ChatError;
pub use outgoing::{check_text, send_text, NewText, SentText, MAX_TEXT_CHARS};
pub use reactions::{react, Emoji};
pub use read::{mark_read, typing, MarkedRead};
pub use requests::{accept, decline};
pub use settings::{
    conversation, set_disappearing, ConversationSnapshot, Disappearing, MAX_DISAPPEARING_SECONDS,
};
pub use unsend::{delete_message, DeleteScope, Deleted};

/// A control or text message was queued in `conversation`: the caller wakes its sender now
/// (the store's `OutgoingQueued` notice would wake it too, later).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    /// The queued row's id.
    pub id: String,
    /// The conversation it goes out in (`None` only for a stored conversation column no
    /// conversation ID reads, which nothing writes).
    pub conversation: Option<ConversationId>,
}

/// Where a message can be sent, as the stored `peer` column names it: the peer of a direct
/// conversation, a group the account has joined, or a community room it is in (not found
/// otherwise).
pub async fn message_peer(
    store: &crate::store::Store,
    account: &SessionIdText,
    conversation: &ConversationId,
) -> Result<String, ChatError> {
    match conversation {
        ConversationId::Group(group) => {
            let membership = store
                .membership(account.as_str(), group.as_str())
                .await?
                .ok_or(ChatError::NotFound("group"))?;
            if membership.state != crate::store::modes::GroupState::Joined {
                return Err(ChatError::GroupState(membership.state));
            }
            if groups::state::current_info(store, group.as_str())
                .await?
                .destroyed
            {
                return Err(ChatError::GroupDestroyed);
            }
            Ok(group.as_str().to_owned())
        }
        ConversationId::Community(room) => {
            let room = room.to_string();
            store
                .room_membership(account.as_str(), &room)
                .await?
                .ok_or(ChatError::NotFound("community"))?;
            Ok(room)
        }
        ConversationId::Direct(peer) => Ok(peer.as_str().to_owned()),
    }
}

/// The peer of a direct conversation; groups and communities are not served yet.
pub fn direct_peer(conversation: &ConversationId) -> Result<&SessionIdText, ChatError> {
    match conversation {
        ConversationId::Direct(peer) => Ok(peer),
        ConversationId::Group(_) => Err(ChatError::GroupUnsupported),
        ConversationId::Community(_) => Err(ChatError::CommunityUnsupported),
    }
}

/// `account`'s message `id` ([`ChatError::NotFound`] when it has none by that id).
async fn message_of(
    store: &crate::store::Store,
    account: &SessionIdText,
    id: &str,
) -> Result<crate::store::messages::Message, ChatError> {
    store
        .get_message(account.as_str(), id)
        .await?
        .ok_or(ChatError::NotFound("message"))
}

/// The conversation a stored message's `conversation` column names (a direct chat's peer).
/// `None` for text no conversation ID reads, which nothing writes.
fn conversation_of(column: &str) -> Option<ConversationId> {
    ConversationId::parse(column).ok()
}

/// Appends `data` as an event of `account` in `conversation` (`peer` column text).
async fn append(
    tx: &mut crate::store::StoreTx,
    account: &SessionIdText,
    conversation: &str,
    data: crate::events::EventData,
    now: i64,
) -> Result<(), ChatError> {
    tx.append_event(&crate::store::events::NewEvent {
        account: Some(account.as_str().to_owned()),
        conversation: Some(conversation.to_owned()),
        timestamp: now,
        data,
    })
    .await?;
    Ok(())
}
