//! Deleting a message: our own is unsent for everyone (an Unsend queued to the peer, which
//! also removes our own swarm copy); a received one is deleted here only, except in a group
//! we administer, where an admin deletes any member's message for everyone (groups.md §6.3),
//! or in a community room we moderate (communities.md §4.5).

use super::{append, conversation_of, ChatError, Queued};
use crate::clock::now_ms;
use crate::events::EventData;
use crate::ids::SessionIdText;
use crate::store::chat::{ControlBody, RoomAction};
use crate::store::messages::{Direction, MessageStatus};
use crate::store::modes::{GroupRole, GroupState};
use crate::store::Store;

/// Who a deletion reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteScope {
    /// Our message, unsent for everyone.
    Everyone,
    /// A received message, deleted here only.
    Local,
}

impl DeleteScope {
    /// The word the API and the `message.deleted` event use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Everyone => "everyone",
            Self::Local => "local",
        }
    }
}

/// What [`delete_message`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deleted {
    /// The deleted message's id.
    pub id: String,
    /// Who the deletion reached.
    pub scope: DeleteScope,
    /// The queued Unsend, for our own message.
    pub unsend: Option<Queued>,
}

/// Deletes `account`'s message `id`: marks it deleted with a `message.deleted` event; our own
/// is also unsent (and, if it was never sent, fails instead of going out).
pub async fn delete_message(
    store: &Store,
    account: &SessionIdText,
    id: &str,
) -> Result<Deleted, ChatError> {
    let message = super::message_of(store, account, id).await?;
    if message.deleted_at.is_some() {
        return Err(ChatError::AlreadyDeleted);
    }
    let now = now_ms();
    let peer = message.conversation.clone();
    if message.direction == Direction::Incoming {
        if let Some(server_id) = moderator_can_delete(store, account, &message).await? {
            let mut tx = store.begin().await?;
            let action = RoomAction::Delete {
                message_id: server_id,
            };
            let body = ControlBody::RoomModeration { action };
            let id = tx
                .enqueue_control(account.as_str(), &peer, &body, now)
                .await?;
            tx.mark_deleted(&message.id, now).await?;
            let data = EventData::message_deleted(&peer, &message.id, "everyone", account.as_str());
            append(&mut tx, account, &peer, data, now).await?;
            tx.commit().await?;
            return Ok(Deleted {
                id: message.id,
                scope: DeleteScope::Everyone,
                unsend: Some(Queued {
                    id,
                    conversation: conversation_of(&peer),
                }),
            });
        }
        if let Some(hash) = admin_can_delete(store, account, &message).await? {
            let mut tx = store.begin().await?;
            let queued =
                super::groups::admin::delete_for_everyone(&mut tx, account, &peer, &hash, now)
                    .await?;
            super::groups::admin::delete_content(
                &mut tx,
                &peer,
                &[],
                &[hash],
                account.as_str(),
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(Deleted {
                id: message.id,
                scope: DeleteScope::Everyone,
                unsend: Some(queued),
            });
        }
    }
    let scope = if message.direction == Direction::Outgoing {
        DeleteScope::Everyone
    } else {
        DeleteScope::Local
    };
    let mut tx = store.begin().await?;
    if message.status == MessageStatus::Queued {
        // Not sent yet: it never will be. If a send is in flight and lands, the unsend queued
        // behind it removes it again.
        let reason = "deleted before it was sent";
        tx.set_message_status(&message.id, MessageStatus::Failed, None, Some(reason), now)
            .await?;
    }
    let mut unsend = None;
    if scope == DeleteScope::Everyone {
        let body = ControlBody::Unsend {
            target_ts: message.timestamp,
            own_hash: None,
        };
        let id = tx
            .enqueue_control(account.as_str(), &peer, &body, now)
            .await?;
        unsend = Some(Queued {
            id,
            conversation: conversation_of(&peer),
        });
    }
    tx.mark_deleted(&message.id, now).await?;
    let data = EventData::message_deleted(&peer, &message.id, scope.as_str(), account.as_str());
    append(&mut tx, account, &peer, data, now).await?;
    tx.commit().await?;
    Ok(Deleted {
        id: message.id,
        scope,
        unsend,
    })
}

/// The server id of a received room `message` when `account` moderates its room (so it may
/// delete it for everyone); `None` otherwise.
async fn moderator_can_delete(
    store: &Store,
    account: &SessionIdText,
    message: &crate::store::messages::Message,
) -> Result<Option<i64>, ChatError> {
    let moderator = store
        .room_membership(account.as_str(), &message.conversation)
        .await?
        .is_some_and(|m| m.moderator);
    let id = message
        .hash
        .as_deref()
        .and_then(|hash| crate::chat::incoming::room_message_id(&message.conversation, hash));
    Ok(id.filter(|_| moderator))
}

/// The swarm hash of a received group `message` when `account` is a joined admin of its
/// group (so it may delete it for everyone); `None` otherwise.
async fn admin_can_delete(
    store: &Store,
    account: &SessionIdText,
    message: &crate::store::messages::Message,
) -> Result<Option<String>, ChatError> {
    if !message.conversation.starts_with("03") {
        return Ok(None);
    }
    let admin = store
        .membership(account.as_str(), &message.conversation)
        .await?
        .is_some_and(|m| m.role == GroupRole::Admin && m.state == GroupState::Joined);
    Ok(admin.then(|| message.hash.clone()).flatten())
}
