//! Community rooms (migration `0011_communities.sql`, communities.md): the rooms local accounts
//! joined (one row per room, shared by its local members, with the poll cursor and the room's
//! info), who is in them with which blinded ID, each account's blinded DM inbox cursor per
//! server, and the blinded peers an account talks to.
//!
//! A server is polled by its *lead*: the smallest active local account in any of its rooms
//! ([`super::poll_plan::PollPlan::lead_servers`]), for every local member (design.md §10), as
//! groups are.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::messages::{message_from_row, Message, COLUMNS};
use super::{Store, StoreError, StoreTx};

/// A moderator's step in a room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RoomAction {
    /// Delete someone's post (server message id).
    Delete {
        /// The server's message id.
        message_id: i64,
    },
    /// Ban a user from the room, for `timeout_seconds` or for good.
    Ban {
        /// The user's ID (`15…` or `05…`).
        user: String,
        /// How long, seconds; `None`: until unbanned.
        timeout_seconds: Option<u64>,
    },
    /// Lift a ban.
    Unban {
        /// The user's ID.
        user: String,
    },
    /// Delete every post of a user in the room.
    DeleteAll {
        /// The user's ID.
        user: String,
    },
}

/// A joined room as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommunityRoom {
    /// The conversation ID, `base/token`.
    pub room: String,
    /// The server's base URL.
    pub server: String,
    /// The server's X25519 key, hex.
    pub server_key: String,
    /// The room token (case as the server gave it).
    pub token: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// The room info counter last seen.
    pub info_updates: i64,
    /// The poll cursor: the highest `seqno` consumed.
    pub seqno: i64,
    /// Moderators and admins the room lists (IDs).
    pub moderators: Vec<String>,
}

/// A local account in a room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomMember {
    /// The account.
    pub account: String,
    /// Its blinded ID in the room's server (`15…`).
    pub blinded_id: String,
    /// It moderates the room (as the server said at join or in room info).
    pub moderator: bool,
    /// When it joined, ms.
    pub joined_at: i64,
}

/// An account's DM inbox on one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxCursor {
    /// The server's base URL.
    pub server: String,
    /// Its X25519 key, hex.
    pub server_key: String,
    /// The last inbox id consumed.
    pub last_id: i64,
}

/// Where a blinded peer's DMs go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlindedPeer {
    /// The server's base URL.
    pub server: String,
    /// Its X25519 key, hex.
    pub server_key: String,
    /// The peer's `05` Session ID, once known.
    pub session_id: Option<String>,
}

const ROOM_COLUMNS: &str = "r.room, r.server, r.server_key, r.token, r.name, r.description, \
                            r.info_updates, r.seqno, r.moderators";

fn room_of(row: &AnyRow) -> Result<CommunityRoom, StoreError> {
    let moderators: String = row.try_get("moderators")?;
    Ok(CommunityRoom {
        room: row.try_get("room")?,
        server: row.try_get("server")?,
        server_key: row.try_get("server_key")?,
        token: row.try_get("token")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        info_updates: row.try_get("info_updates")?,
        seqno: row.try_get("seqno")?,
        // A list we wrote; anything else reads as none.
        moderators: serde_json::from_str(&moderators).unwrap_or_default(),
    })
}

fn member_of(row: &AnyRow) -> Result<RoomMember, StoreError> {
    Ok(RoomMember {
        account: row.try_get("account")?,
        blinded_id: row.try_get("blinded_id")?,
        moderator: row.try_get::<i64, _>("moderator")? != 0,
        joined_at: row.try_get("joined_at")?,
    })
}

impl StoreTx {
    /// Records `account` in `room` (the room row created, or its info refreshed keeping the
    /// cursor) and its inbox on the room's server. Returns false when it was a member already.
    pub async fn join_community(
        &mut self,
        account: &str,
        room: &CommunityRoom,
        member: &RoomMember,
        now: i64,
    ) -> Result<bool, StoreError> {
        let existed =
            sqlx::query("SELECT 1 FROM community_members WHERE account = $1 AND room = $2")
                .bind(account)
                .bind(&room.room)
                .fetch_optional(self.conn())
                .await?
                .is_some();
        let moderators = serde_json::to_string(&room.moderators).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO community_rooms (room, server, server_key, token, name, description, \
             info_updates, seqno, moderators, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (room) DO UPDATE SET \
             name = excluded.name, description = excluded.description, \
             moderators = excluded.moderators, updated_at = excluded.updated_at",
        )
        .bind(&room.room)
        .bind(&room.server)
        .bind(&room.server_key)
        .bind(&room.token)
        .bind(&room.name)
        .bind(&room.description)
        .bind(room.info_updates)
        .bind(room.seqno)
        .bind(moderators)
        .bind(now)
        .execute(self.conn())
        .await?;
        sqlx::query(
            "INSERT INTO community_members (account, room, blinded_id, moderator, joined_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account, room) DO UPDATE SET \
             moderator = excluded.moderator",
        )
        .bind(account)
        .bind(&room.room)
        .bind(&member.blinded_id)
        .bind(i64::from(member.moderator))
        .bind(member.joined_at)
        .execute(self.conn())
        .await?;
        sqlx::query(
            "INSERT INTO community_inboxes (account, server, server_key, last_id) \
             VALUES ($1, $2, $3, 0) ON CONFLICT (account, server) DO NOTHING",
        )
        .bind(account)
        .bind(&room.server)
        .bind(&room.server_key)
        .execute(self.conn())
        .await?;
        Ok(!existed)
    }

    /// Removes `account` from `room`; the room row goes with its last member, the inbox with
    /// the account's last room on that server. False when it was not a member.
    pub async fn leave_community(&mut self, account: &str, room: &str) -> Result<bool, StoreError> {
        let server: Option<String> =
            sqlx::query("SELECT server FROM community_rooms WHERE room = $1")
                .bind(room)
                .fetch_optional(self.conn())
                .await?
                .map(|row| row.try_get("server"))
                .transpose()?;
        let done = sqlx::query("DELETE FROM community_members WHERE account = $1 AND room = $2")
            .bind(account)
            .bind(room)
            .execute(self.conn())
            .await?;
        sqlx::query(
            "DELETE FROM community_rooms WHERE room = $1 AND NOT EXISTS \
             (SELECT 1 FROM community_members m WHERE m.room = $1)",
        )
        .bind(room)
        .execute(self.conn())
        .await?;
        if let Some(server) = server {
            sqlx::query(
                "DELETE FROM community_inboxes WHERE account = $1 AND server = $2 AND NOT EXISTS \
                 (SELECT 1 FROM community_members m JOIN community_rooms r ON r.room = m.room \
                 WHERE m.account = $1 AND r.server = $2)",
            )
            .bind(account)
            .bind(&server)
            .execute(self.conn())
            .await?;
        }
        Ok(done.rows_affected() > 0)
    }

    /// Moves `room`'s poll cursor forward to `seqno` (never back).
    pub async fn set_room_cursor(
        &mut self,
        room: &str,
        seqno: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE community_rooms SET seqno = $1, updated_at = $2 WHERE room = $3 AND seqno < $1",
        )
        .bind(seqno)
        .bind(now)
        .bind(room)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Stores `room`'s new info (name, description, counter, moderators).
    pub async fn set_room_info(
        &mut self,
        room: &CommunityRoom,
        now: i64,
    ) -> Result<(), StoreError> {
        let moderators = serde_json::to_string(&room.moderators).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "UPDATE community_rooms SET name = $1, description = $2, info_updates = $3, \
             moderators = $4, updated_at = $5 WHERE room = $6",
        )
        .bind(&room.name)
        .bind(&room.description)
        .bind(room.info_updates)
        .bind(moderators)
        .bind(now)
        .bind(&room.room)
        .execute(self.conn())
        .await?;
        sqlx::query(
            "UPDATE community_members SET moderator = CASE WHEN $1 LIKE '%\"' || blinded_id || '\"%' \
             THEN 1 ELSE 0 END WHERE room = $2",
        )
        .bind(serde_json::to_string(&room.moderators).unwrap_or_default())
        .bind(&room.room)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Moves `account`'s inbox cursor on `server` forward to `last_id`.
    pub async fn set_inbox_cursor(
        &mut self,
        account: &str,
        server: &str,
        last_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE community_inboxes SET last_id = $1 WHERE account = $2 AND server = $3 \
             AND last_id < $1",
        )
        .bind(last_id)
        .bind(account)
        .bind(server)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Remembers that `blinded` talks to `account` through `peer.server`, and its `05` ID once
    /// known (a known ID is never forgotten).
    pub async fn set_blinded_peer(
        &mut self,
        account: &str,
        blinded: &str,
        peer: &BlindedPeer,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO blinded_peers (account, blinded_id, server, server_key, session_id) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account, blinded_id) DO UPDATE SET \
             server = excluded.server, server_key = excluded.server_key, \
             session_id = COALESCE(excluded.session_id, blinded_peers.session_id)",
        )
        .bind(account)
        .bind(blinded)
        .bind(&peer.server)
        .bind(&peer.server_key)
        .bind(&peer.session_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// `account`'s message in `room` stored under `hash`.
    pub async fn room_message(
        &mut self,
        account: &str,
        room: &str,
        hash: &str,
    ) -> Result<Option<Message>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE account = $1 AND peer = $2 AND hash = $3"
        ))
        .bind(account)
        .bind(room)
        .bind(hash)
        .fetch_optional(self.conn())
        .await?
        .as_ref()
        .map(message_from_row)
        .transpose()
    }

    /// Replaces a message's text (an edit), keeping everything else.
    pub async fn set_message_text(
        &mut self,
        id: &str,
        text: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE messages SET text = $1, updated_at = $2 WHERE id = $3 AND deleted_at IS NULL \
             AND text <> $1",
        )
        .bind(text)
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The reactions (author, emoji) held on a message.
    pub async fn reactions_of(
        &mut self,
        message_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT author, emoji FROM reactions WHERE message_id = $1")
            .bind(message_id)
            .fetch_all(self.conn())
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("author")?, row.try_get("emoji")?)))
            .collect()
    }
}

impl Store {
    /// `room` as stored, if any local account is in it.
    pub async fn community_room(&self, room: &str) -> Result<Option<CommunityRoom>, StoreError> {
        sqlx::query(&format!(
            "SELECT {ROOM_COLUMNS} FROM community_rooms r WHERE r.room = $1"
        ))
        .bind(room)
        .fetch_optional(self.reads())
        .await?
        .as_ref()
        .map(room_of)
        .transpose()
    }

    /// `account`'s membership of `room`.
    pub async fn room_membership(
        &self,
        account: &str,
        room: &str,
    ) -> Result<Option<RoomMember>, StoreError> {
        sqlx::query(
            "SELECT account, blinded_id, moderator, joined_at FROM community_members \
             WHERE account = $1 AND room = $2",
        )
        .bind(account)
        .bind(room)
        .fetch_optional(self.reads())
        .await?
        .as_ref()
        .map(member_of)
        .transpose()
    }

    /// The rooms `account` is in, with its membership, by room.
    pub async fn account_rooms(
        &self,
        account: &str,
    ) -> Result<Vec<(CommunityRoom, RoomMember)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ROOM_COLUMNS}, m.account, m.blinded_id, m.moderator, m.joined_at \
             FROM community_members m JOIN community_rooms r ON r.room = m.room \
             WHERE m.account = $1 ORDER BY r.room"
        ))
        .bind(account)
        .fetch_all(self.reads())
        .await?;
        rows.iter()
            .map(|row| Ok((room_of(row)?, member_of(row)?)))
            .collect()
    }

    /// The joined rooms on `server`, by room.
    pub async fn server_rooms(&self, server: &str) -> Result<Vec<CommunityRoom>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ROOM_COLUMNS} FROM community_rooms r WHERE r.server = $1 ORDER BY r.room"
        ))
        .bind(server)
        .fetch_all(self.reads())
        .await?;
        rows.iter().map(room_of).collect()
    }

    /// The local members of `room`, by account.
    pub async fn room_members(&self, room: &str) -> Result<Vec<RoomMember>, StoreError> {
        let rows = sqlx::query(
            "SELECT account, blinded_id, moderator, joined_at FROM community_members \
             WHERE room = $1 ORDER BY account",
        )
        .bind(room)
        .fetch_all(self.reads())
        .await?;
        rows.iter().map(member_of).collect()
    }

    /// Where `account`'s DMs to `blinded` go: a peer that wrote to it, or else the server of a
    /// room where `blinded` posted and `account` is a member.
    pub async fn blinded_peer(
        &self,
        account: &str,
        blinded: &str,
    ) -> Result<Option<BlindedPeer>, StoreError> {
        let known = sqlx::query(
            "SELECT server, server_key, session_id FROM blinded_peers \
             WHERE account = $1 AND blinded_id = $2",
        )
        .bind(account)
        .bind(blinded)
        .fetch_optional(self.reads())
        .await?;
        if let Some(row) = known {
            return Ok(Some(BlindedPeer {
                server: row.try_get("server")?,
                server_key: row.try_get("server_key")?,
                session_id: row.try_get("session_id")?,
            }));
        }
        let seen = sqlx::query(
            "SELECT r.server, r.server_key FROM messages g \
             JOIN community_rooms r ON r.room = g.peer \
             JOIN community_members m ON m.room = r.room AND m.account = g.account \
             WHERE g.account = $1 AND g.author = $2 LIMIT 1",
        )
        .bind(account)
        .bind(blinded)
        .fetch_optional(self.reads())
        .await?;
        seen.map(|row| {
            Ok(BlindedPeer {
                server: row.try_get("server")?,
                server_key: row.try_get("server_key")?,
                session_id: None,
            })
        })
        .transpose()
    }
}
