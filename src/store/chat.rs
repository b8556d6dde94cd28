//! The 1:1 chat state on top of [`super::messages`] (migration `0003_chat.sql`): account chat
//! settings, outgoing control messages queued with the text messages, and per-conversation
//! state (message-request state, disappearing setting, the peer's profile). The state of
//! single messages (reactions, deletion, read, held, expiry) is in [`super::message_state`],
//! what a control message asks for in [`super::control`].

use sqlx::Row as _;

pub use super::communities::RoomAction;
pub use super::control::{ControlBody, GroupAdminStep};
use super::modes::{ConversationState, ExpireMode, GroupInvites, MessageRequests, ReadReceipts};
use super::{Notice, RecordKind, Store, StoreError, StoreTx};

/// An account's chat settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatSettings {
    /// When read receipts are sent.
    pub read_receipts: ReadReceipts,
    /// What happens to a first message from an unknown sender.
    pub message_requests: MessageRequests,
    /// What an invitation to a group does.
    pub group_invites: GroupInvites,
}

/// A conversation's chat state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConversationChat {
    /// Its message-request state.
    pub state: ConversationState,
    /// Its disappearing-messages mode.
    pub disappearing_mode: ExpireMode,
    /// Timer, seconds.
    pub disappearing_seconds: i64,
    /// The peer's display name.
    pub profile_name: Option<String>,
    /// The peer's avatar URL.
    pub profile_avatar_url: Option<String>,
    /// The peer's profile key, sealed.
    pub profile_key_sealed: Option<Vec<u8>>,
    /// The peer's profile update time, seconds.
    pub profile_updated: Option<i64>,
    /// Newest message id.
    pub last_message_id: Option<String>,
    /// Newest message time, ms.
    pub last_message_at: i64,
}

/// A contact's profile as stored.
#[derive(Clone, Copy, Debug)]
pub struct ContactProfile<'a> {
    /// Display name.
    pub name: Option<&'a str>,
    /// Avatar URL.
    pub avatar_url: Option<&'a str>,
    /// The profile key sealed with [`Store::seal_profile_key`].
    pub key_sealed: Option<&'a [u8]>,
    /// Its update time, seconds.
    pub updated: Option<i64>,
}

/// Extra columns of an outgoing text message, written in the transaction that queues it.
#[derive(Clone, Debug, Default)]
pub struct TextExtras {
    /// The quoted message.
    pub quote: Option<super::messages::Quote>,
    /// The conversation's disappearing mode at send time.
    pub expire_mode: ExpireMode,
    /// Its timer, seconds.
    pub expire_seconds: i64,
}

const CONVERSATION_CHAT: &str = "state, disappearing_mode, disappearing_seconds, profile_name, \
    profile_avatar_url, profile_key_sealed, profile_updated, last_message_id, last_message_at";

fn conversation_from_row(row: &sqlx::any::AnyRow) -> Result<ConversationChat, StoreError> {
    Ok(ConversationChat {
        state: ConversationState::from_column("state", &row.try_get::<String, _>("state")?)?,
        disappearing_mode: ExpireMode::from_column(
            "disappearing_mode",
            &row.try_get::<String, _>("disappearing_mode")?,
        )?,
        disappearing_seconds: row.try_get("disappearing_seconds")?,
        profile_name: row.try_get("profile_name")?,
        profile_avatar_url: row.try_get("profile_avatar_url")?,
        profile_key_sealed: row.try_get("profile_key_sealed")?,
        profile_updated: row.try_get("profile_updated")?,
        last_message_id: row.try_get("last_message_id")?,
        last_message_at: row.try_get("last_message_at")?,
    })
}

impl Store {
    /// The account's chat settings (`None`: no such account).
    pub async fn chat_settings(&self, account: &str) -> Result<Option<ChatSettings>, StoreError> {
        fetch_chat_settings(self.reads(), account).await
    }

    /// Changes the account's chat settings; `None` leaves one as it is.
    pub async fn set_chat_settings(
        &self,
        account: &str,
        read_receipts: Option<ReadReceipts>,
        message_requests: Option<MessageRequests>,
        group_invites: Option<GroupInvites>,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(
            "UPDATE accounts SET read_receipts = COALESCE($1, read_receipts), \
             message_requests = COALESCE($2, message_requests), \
             group_invites = COALESCE($3, group_invites) WHERE session_id = $4",
        )
        .bind(read_receipts.map(ReadReceipts::as_str))
        .bind(message_requests.map(MessageRequests::as_str))
        .bind(group_invites.map(GroupInvites::as_str))
        .bind(account);
        self.execute_synced(query).await?;
        Ok(())
    }

    /// A conversation's chat state (`None`: no conversation with `peer` yet).
    pub async fn conversation_chat(
        &self,
        account: &str,
        peer: &str,
    ) -> Result<Option<ConversationChat>, StoreError> {
        fetch_conversation_chat(self.reads(), account, peer).await
    }

    /// Queues a control message in its own transaction; returns its id.
    pub async fn enqueue_control(
        &self,
        account: &str,
        peer: &str,
        body: &ControlBody,
        now: i64,
    ) -> Result<String, StoreError> {
        let mut tx = self.begin().await?;
        let id = tx.enqueue_control(account, peer, body, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Seals a contact's profile key under the master key.
    pub fn seal_profile_key(&self, account: &str, peer: &str, key: &[u8]) -> Vec<u8> {
        self.master().seal(
            RecordKind::ContactProfileKey,
            &profile_key_id(account, peer),
            key,
        )
    }

    /// Opens a contact's profile key sealed by [`Store::seal_profile_key`].
    pub fn open_profile_key(
        &self,
        account: &str,
        peer: &str,
        sealed: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError> {
        self.master()
            .open(
                RecordKind::ContactProfileKey,
                &profile_key_id(account, peer),
                sealed,
            )
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

fn profile_key_id(account: &str, peer: &str) -> String {
    format!("{account}/{peer}")
}

impl StoreTx {
    /// The account's chat settings, read once per transaction (and again after it changed
    /// them: [`StoreTx::set_group_invites`]).
    pub async fn chat_settings(
        &mut self,
        account: &str,
    ) -> Result<Option<ChatSettings>, StoreError> {
        if let Some((read_for, settings)) = &self.chat_settings {
            if read_for == account {
                return Ok(settings.clone());
            }
        }
        let settings = fetch_chat_settings(self.conn(), account).await?;
        self.chat_settings = Some((account.to_owned(), settings.clone()));
        Ok(settings)
    }

    /// A conversation's chat state.
    pub async fn conversation_chat(
        &mut self,
        account: &str,
        peer: &str,
    ) -> Result<Option<ConversationChat>, StoreError> {
        fetch_conversation_chat(self.conn(), account, peer).await
    }

    /// Creates the conversation if needed (no message yet), then sets its state.
    pub async fn set_conversation_state(
        &mut self,
        account: &str,
        peer: &str,
        state: ConversationState,
        now: i64,
    ) -> Result<(), StoreError> {
        self.ensure_conversation(account, peer, now).await?;
        sqlx::query("UPDATE conversations SET state = $1 WHERE account = $2 AND peer = $3")
            .bind(state.as_str())
            .bind(account)
            .bind(peer)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    async fn ensure_conversation(
        &mut self,
        account: &str,
        peer: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO conversations (account, peer, last_message_id, last_message_at, \
             created_at) VALUES ($1, $2, NULL, 0, $3) ON CONFLICT (account, peer) DO NOTHING",
        )
        .bind(account)
        .bind(peer)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Sets a conversation's disappearing setting (creating the conversation if needed).
    pub async fn set_disappearing(
        &mut self,
        account: &str,
        peer: &str,
        mode: ExpireMode,
        seconds: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.ensure_conversation(account, peer, now).await?;
        sqlx::query(
            "UPDATE conversations SET disappearing_mode = $1, disappearing_seconds = $2 \
             WHERE account = $3 AND peer = $4",
        )
        .bind(mode.as_str())
        .bind(seconds)
        .bind(account)
        .bind(peer)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Stores a contact's profile.
    pub async fn set_contact_profile(
        &mut self,
        account: &str,
        peer: &str,
        profile: &ContactProfile<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        let ContactProfile {
            name,
            avatar_url,
            key_sealed,
            updated,
        } = *profile;
        self.ensure_conversation(account, peer, now).await?;
        sqlx::query(
            "UPDATE conversations SET profile_name = $1, profile_avatar_url = $2, \
             profile_key_sealed = $3, profile_updated = $4 WHERE account = $5 AND peer = $6",
        )
        .bind(name)
        .bind(avatar_url)
        .bind(key_sealed)
        .bind(updated)
        .bind(account)
        .bind(peer)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Queues a control message behind the conversation's queued messages; returns its id.
    /// A typing state supersedes a still-queued older one for the same peer.
    pub async fn enqueue_control(
        &mut self,
        account: &str,
        peer: &str,
        body: &ControlBody,
        now: i64,
    ) -> Result<String, StoreError> {
        let timestamp = self.next_outgoing_timestamp(account, now).await?;
        if matches!(body, ControlBody::Typing { .. }) {
            sqlx::query(
                "DELETE FROM messages WHERE account = $1 AND peer = $2 AND kind = 'typing' \
                 AND status = 'queued'",
            )
            .bind(account)
            .bind(peer)
            .execute(self.conn())
            .await?;
        }
        let id = super::messages::new_message_id();
        let json = serde_json::to_string(body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO messages (id, account, peer, author, direction, status, hash, text, \
             timestamp, created_at, updated_at, kind, body) \
             VALUES ($1, $2, $3, $2, 'outgoing', 'queued', NULL, '', $4, $5, $5, $6, $7)",
        )
        .bind(&id)
        .bind(account)
        .bind(peer)
        .bind(timestamp)
        .bind(now)
        .bind(body.kind().as_str())
        .bind(json)
        .execute(self.conn())
        .await?;
        self.announce_on_commit(Notice::OutgoingQueued {
            account: account.to_owned(),
            peer: Some(peer.to_owned()),
            id: Some(id.clone()),
        });
        Ok(id)
    }

    /// Marks the delivered incoming messages from `peer` up to `up_to_ts` read and queues one
    /// read receipt naming those not receipted yet. Returns the receipt's id and how many
    /// messages it names; `None` when there was nothing new to receipt.
    pub async fn read_with_receipt(
        &mut self,
        account: &str,
        peer: &str,
        up_to_ts: i64,
        now: i64,
    ) -> Result<Option<(String, usize)>, StoreError> {
        let timestamps = self.mark_read_by_us(account, peer, up_to_ts, now).await?;
        if timestamps.is_empty() {
            return Ok(None);
        }
        let count = timestamps.len();
        let body = ControlBody::ReadReceipt { timestamps };
        let id = self.enqueue_control(account, peer, &body, now).await?;
        Ok(Some((id, count)))
    }

    /// Under the account's `read_receipts: auto`, [`Self::read_with_receipt`] (messages as
    /// they are delivered: live, or released from a held request); otherwise nothing.
    pub async fn auto_read(
        &mut self,
        account: &str,
        peer: &str,
        up_to_ts: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let auto = self
            .chat_settings(account)
            .await?
            .is_some_and(|s| s.read_receipts == ReadReceipts::Auto);
        if auto {
            self.read_with_receipt(account, peer, up_to_ts, now).await?;
        }
        Ok(())
    }

    /// The next sent timestamp of the account: `now`, or one past its latest outgoing one
    /// (Session names a sender's messages by sent timestamp, so they must stay distinct).
    ///
    /// The latest one is read (and on PostgreSQL the account locked) once per transaction;
    /// after that the transaction keeps it up to date itself: every outgoing row it writes
    /// goes through here or through [`StoreTx::insert_message`] ([`StoreTx::saw_outgoing`]).
    /// A group of queued sends (issue 16) pays one read, not one per message. (On PostgreSQL
    /// a sync copy from another device that a poll commits meanwhile is not seen: polls take no
    /// account lock. That window existed before, between the read and the insert; it now
    /// spans the transaction.)
    pub(crate) async fn next_outgoing_timestamp(
        &mut self,
        account: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        let latest = match &self.latest_outgoing {
            Some((known, latest)) if known == account => Some(*latest),
            _ => self.read_latest_outgoing(account).await?,
        };
        let next = latest.map_or(now, |l| now.max(l + 1));
        self.latest_outgoing = Some((account.to_owned(), next));
        Ok(next)
    }

    /// Notes an outgoing row of `account` with sent time `timestamp` (a sync copy from another
    /// device carries its own): the next one this transaction queues comes after it.
    pub(crate) fn saw_outgoing(&mut self, account: &str, timestamp: i64) {
        if let Some((known, latest)) = &mut self.latest_outgoing {
            if known == account {
                *latest = (*latest).max(timestamp);
            }
        }
    }

    /// The account's latest outgoing timestamp in the database.
    async fn read_latest_outgoing(&mut self, account: &str) -> Result<Option<i64>, StoreError> {
        let lock = self.backend().for_update();
        if !lock.is_empty() {
            // The account row's lock serialises its enqueues across connections and replicas
            // (PostgreSQL). The maximum is read by the next statement, whose snapshot is taken
            // after the lock is held (read committed): one statement would read it before
            // waiting. SQLite takes no row locks: its one connection serialises them already.
            sqlx::query(&format!(
                "SELECT session_id FROM accounts WHERE session_id = $1{lock}"
            ))
            .bind(account)
            .fetch_optional(self.conn())
            .await?;
        }
        let latest: Option<i64> = sqlx::query(
            "SELECT MAX(timestamp) AS latest FROM messages WHERE account = $1 \
             AND direction = 'outgoing'",
        )
        .bind(account)
        .fetch_one(self.conn())
        .await?
        .try_get("latest")?;
        Ok(latest)
    }
}

/// The account's chat settings, read through `executor` (a transaction or a pool).
async fn fetch_chat_settings<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    account: &str,
) -> Result<Option<ChatSettings>, StoreError> {
    sqlx::query(
        "SELECT read_receipts, message_requests, group_invites FROM accounts \
         WHERE session_id = $1",
    )
    .bind(account)
    .fetch_optional(executor)
    .await?
    .map(|row| {
        Ok(ChatSettings {
            read_receipts: ReadReceipts::from_column(
                "read_receipts",
                &row.try_get::<String, _>("read_receipts")?,
            )?,
            message_requests: MessageRequests::from_column(
                "message_requests",
                &row.try_get::<String, _>("message_requests")?,
            )?,
            group_invites: GroupInvites::from_column(
                "group_invites",
                &row.try_get::<String, _>("group_invites")?,
            )?,
        })
    })
    .transpose()
}

/// A conversation's chat state, read through `executor` (a transaction or a pool).
async fn fetch_conversation_chat<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    account: &str,
    peer: &str,
) -> Result<Option<ConversationChat>, StoreError> {
    sqlx::query(&format!(
        "SELECT {CONVERSATION_CHAT} FROM conversations WHERE account = $1 AND peer = $2"
    ))
    .bind(account)
    .bind(peer)
    .fetch_optional(executor)
    .await?
    .as_ref()
    .map(conversation_from_row)
    .transpose()
}
