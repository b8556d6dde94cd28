//! Community rooms in the chat domain (communities.md): recording a join (with
//! `community.joined`), leaving, and a moderator's steps (delete any post, ban, unban, delete
//! all of a user's posts), queued in the room's conversation like any outgoing row so they are
//! persisted first, ordered and retried. Talking to the server is the actors' job: the join's
//! room info is fetched by the caller and handed in.

use super::{append, ChatError, Queued};
use crate::clock::now_ms;
use crate::events::EventData;
use crate::ids::{ConversationId, SessionIdText};
use crate::store::chat::{ControlBody, RoomAction};
use crate::store::communities::{CommunityRoom, RoomMember};
use crate::store::Store;

/// A joined room as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinedRoom {
    /// The room.
    pub room: CommunityRoom,
    /// The account's membership.
    pub member: RoomMember,
}

impl JoinedRoom {
    /// The join URL, `base/token?public_key=<hex>`.
    pub fn url(&self) -> String {
        format!(
            "{}/{}?public_key={}",
            self.room.server, self.room.token, self.room.server_key
        )
    }

    /// The `community.joined` / `community.updated` body.
    pub fn event_data(&self, joined: bool) -> EventData {
        let data = crate::events::CommunityData {
            conversation: self.room.room.clone(),
            url: self.url(),
            name: self.room.name.clone(),
            description: self.room.description.clone(),
            blinded_id: self.member.blinded_id.clone(),
            moderator: self.member.moderator,
        };
        if joined {
            EventData::CommunityJoined(data)
        } else {
            EventData::CommunityUpdated(data)
        }
    }
}

/// Records `account` in `room` (info as the server gave it); `community.joined` the first
/// time. Returns whether it is new.
pub async fn record_join(
    store: &Store,
    account: &SessionIdText,
    joined: &JoinedRoom,
) -> Result<bool, ChatError> {
    let now = now_ms();
    let mut tx = store.begin().await?;
    let new = tx
        .join_community(account.as_str(), &joined.room, &joined.member, now)
        .await?;
    if new {
        append(
            &mut tx,
            account,
            &joined.room.room,
            joined.event_data(true),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(new)
}

/// `account`'s rooms.
pub async fn rooms(store: &Store, account: &SessionIdText) -> Result<Vec<JoinedRoom>, ChatError> {
    Ok(store
        .account_rooms(account.as_str())
        .await?
        .into_iter()
        .map(|(room, member)| JoinedRoom { room, member })
        .collect())
}

/// `account`'s room `room` ([`ChatError::NotFound`] when not a member).
pub async fn room(
    store: &Store,
    account: &SessionIdText,
    room: &str,
) -> Result<JoinedRoom, ChatError> {
    let member = store
        .room_membership(account.as_str(), room)
        .await?
        .ok_or(ChatError::NotFound("community"))?;
    let room = store
        .community_room(room)
        .await?
        .ok_or(ChatError::NotFound("community"))?;
    Ok(JoinedRoom { room, member })
}

/// Leaves `room`: the membership goes (and the room's polling with its last local member);
/// history stays.
pub async fn leave(store: &Store, account: &SessionIdText, room: &str) -> Result<(), ChatError> {
    let mut tx = store.begin().await?;
    if !tx.leave_community(account.as_str(), room).await? {
        return Err(ChatError::NotFound("community"));
    }
    tx.commit().await?;
    Ok(())
}

/// Queues a moderator's `action` in `room` ([`ChatError::NotModerator`] unless the account
/// moderates it).
pub async fn moderate(
    store: &Store,
    account: &SessionIdText,
    room: &str,
    action: RoomAction,
) -> Result<Queued, ChatError> {
    let joined = self::room(store, account, room).await?;
    if !joined.member.moderator {
        return Err(ChatError::NotModerator);
    }
    let now = now_ms();
    let mut tx = store.begin().await?;
    let id = tx
        .enqueue_control(
            account.as_str(),
            room,
            &ControlBody::RoomModeration { action },
            now,
        )
        .await?;
    tx.commit().await?;
    Ok(Queued {
        id,
        conversation: ConversationId::parse(room).ok(),
    })
}
