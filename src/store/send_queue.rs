//! The send queue: outgoing messages the API accepted (`status = 'queued'`) and a swarm has not
//! confirmed yet. The queries the actors need on top of [`super::messages`]: the oldest queued
//! row per conversation (the Conversation actor sends it first), the peers with queued rows
//! (picked up at start so a crash loses nothing), settling a row as sent or failed, and the
//! sync-copy de-duplication lookup.
//!
//! No wake-ups live here: queueing a message announces [`super::Notice::OutgoingQueued`]
//! through [`super::notify`], the store's one notice mechanism, so the replica that owns the
//! account sends it at once. (Formerly `store::outbox`; the *event outbox*, what webhooks
//! deliver, is [`super::events`].)

use sqlx::Row as _;

use super::chat::ControlBody;
use super::messages::{message_from_row, Message, MessageStatus, COLUMNS};
use super::modes::{ExpireMode, MessageKind};
use super::sql::placeholders;
use super::{Store, StoreError, StoreTx};

/// An outgoing message waiting to be sent, with what the sender needs beyond [`Message`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Opaque id (`msg_…`).
    pub id: String,
    /// The sending account's Session ID.
    pub account: String,
    /// The recipient's Session ID.
    pub peer: String,
    /// The text.
    pub text: String,
    /// The Session sent timestamp, ms (fixed at enqueue time so a resend is byte-identical).
    pub timestamp: i64,
    /// When the API accepted it, ms.
    pub created_at: i64,
    /// What to send: a visible text message, or a control message (`chat::ControlBody`).
    pub control: Option<ControlBody>,
    /// The quoted message's sent timestamp and author (text messages).
    pub quote: Option<(i64, String)>,
    /// The disappearing setting it goes out under: mode and seconds (text messages).
    pub expire: (ExpireMode, i64),
    /// Files were queued with it (issue 5): only then are its attachments read.
    pub has_files: bool,
    /// Another message of the conversation was queued behind it when it was read: when none
    /// was, the conversation goes idle after this one without asking the queue again (a
    /// message queued meanwhile kicks it).
    pub queued_behind: bool,
}

fn queued_from_row(row: &sqlx::any::AnyRow) -> Result<QueuedMessage, StoreError> {
    let kind = MessageKind::from_column("kind", &row.try_get::<String, _>("kind")?)?;
    let control = if kind == MessageKind::Text {
        None
    } else {
        let body: Option<String> = row.try_get("body")?;
        let body = body.ok_or_else(|| StoreError::Corrupt(format!("{kind} without body")))?;
        Some(serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?)
    };
    let quote = match (
        row.try_get::<Option<i64>, _>("quote_timestamp")?,
        row.try_get::<Option<String>, _>("quote_author")?,
    ) {
        (Some(ts), Some(author)) => Some((ts, author)),
        _ => None,
    };
    Ok(QueuedMessage {
        id: row.try_get("id")?,
        account: row.try_get("account")?,
        peer: row.try_get("peer")?,
        text: row.try_get("text")?,
        timestamp: row.try_get("timestamp")?,
        created_at: row.try_get("created_at")?,
        control,
        quote,
        expire: (
            ExpireMode::from_column("expire_mode", &row.try_get::<String, _>("expire_mode")?)?,
            row.try_get("expire_seconds")?,
        ),
        has_files: row.try_get::<i64, _>("files")? > 0,
        queued_behind: row.try_get::<i64, _>("behind")? > 0,
    })
}

impl Store {
    /// The oldest `queued` outgoing message of one conversation (send order = accept order),
    /// whether files came with it, and whether another one waits behind it (one statement).
    pub async fn next_queued(
        &self,
        account: &str,
        peer: &str,
    ) -> Result<Option<QueuedMessage>, StoreError> {
        sqlx::query(
            "SELECT id, account, peer, text, timestamp, created_at, kind, body, quote_timestamp, \
             quote_author, expire_mode, expire_seconds, \
             (SELECT COUNT(*) FROM attachments a WHERE a.message_id = messages.id) AS files, \
             (SELECT COUNT(*) FROM (SELECT 1 FROM messages b WHERE b.account = $1 AND b.peer = $2 \
             AND b.status = 'queued' AND b.direction = 'outgoing' LIMIT 2) AS q) - 1 AS behind \
             FROM messages WHERE account = $1 AND peer = $2 AND status = 'queued' AND direction = 'outgoing' \
             ORDER BY created_at, id LIMIT 1",
        )
        .bind(account)
        .bind(peer)
        .fetch_optional(self.reads())
        .await?
        .as_ref()
        .map(queued_from_row)
        .transpose()
    }

    /// Peers of an account that have `queued` outgoing messages.
    pub async fn queued_peers(&self, account: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query(
            "SELECT DISTINCT peer FROM messages \
             WHERE account = $1 AND status = 'queued' AND direction = 'outgoing' ORDER BY peer",
        )
        .bind(account)
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(|row| row.try_get("peer").map_err(StoreError::from))
        .collect()
    }
}

/// One message's move out of `queued` ([`StoreTx::settle_outgoing_many`]).
#[derive(Clone, Copy, Debug)]
pub struct Settle<'a> {
    /// The message.
    pub id: &'a str,
    /// `sent` or `failed`.
    pub status: MessageStatus,
    /// Its hash on the recipient's swarm, once stored there.
    pub hash: Option<&'a str>,
    /// The hash of its copy on our own swarm.
    pub own_hash: Option<&'a str>,
    /// Why it failed.
    pub failure_reason: Option<&'a str>,
}

/// Messages settled by one statement at most: five parameters each, well under SQLite's
/// 32,766 and PostgreSQL's 65,535.
const SETTLES_PER_STATEMENT: usize = 500;

impl StoreTx {
    /// True when the account already has an outgoing message to `peer` with this sent
    /// timestamp: the sync copy of a message this gateway sent itself.
    pub async fn has_outgoing(
        &mut self,
        account: &str,
        peer: &str,
        timestamp: i64,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "SELECT 1 AS one FROM messages WHERE account = $1 AND peer = $2 AND timestamp = $3 \
             AND direction = 'outgoing' LIMIT 1",
        )
        .bind(account)
        .bind(peer)
        .bind(timestamp)
        .fetch_optional(self.conn())
        .await?
        .is_some())
    }

    /// Moves a `queued` message to `sent` or `failed` and returns it; `None` when it is no
    /// longer queued (deleted with its account, or already settled by an earlier attempt).
    /// `own_hash` is the hash of its copy on our own swarm.
    pub async fn settle_outgoing(
        &mut self,
        id: &str,
        status: MessageStatus,
        hash: Option<&str>,
        own_hash: Option<&str>,
        failure_reason: Option<&str>,
        now: i64,
    ) -> Result<Option<Message>, StoreError> {
        let settle = Settle {
            id,
            status,
            hash,
            own_hash,
            failure_reason,
        };
        Ok(self.settle_outgoing_many(&[settle], now).await?.remove(id))
    }

    /// [`StoreTx::settle_outgoing`] for several messages in one statement (issue 16: a group of
    /// send outcomes held the database's one writer for two round trips each): each moves from
    /// `queued` as its [`Settle`] says, and the rows moved come back by id (a message no
    /// longer queued is not among them).
    pub async fn settle_outgoing_many(
        &mut self,
        settles: &[Settle<'_>],
        now: i64,
    ) -> Result<std::collections::HashMap<String, Message>, StoreError> {
        let mut settled = std::collections::HashMap::with_capacity(settles.len());
        for chunk in settles.chunks(SETTLES_PER_STATEMENT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders(2 + 5 * i, 5)))
                .collect();
            let sql = format!(
                "WITH settled (settled_id, settled_status, settled_hash, settled_reason, \
                 settled_own_hash) AS (VALUES {}) \
                 UPDATE messages SET status = settled_status, \
                 hash = COALESCE(settled_hash, hash), failure_reason = settled_reason, \
                 updated_at = $1, own_hash = COALESCE(settled_own_hash, own_hash) \
                 FROM settled WHERE id = settled_id AND status = 'queued' RETURNING {COLUMNS}",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(now);
            for settle in chunk {
                query = query
                    .bind(settle.id)
                    .bind(settle.status.as_str())
                    .bind(settle.hash)
                    .bind(settle.failure_reason)
                    .bind(settle.own_hash);
            }
            for row in query.fetch_all(self.conn()).await? {
                let message = message_from_row(&row)?;
                settled.insert(message.id.clone(), message);
            }
        }
        Ok(settled)
    }

    /// The hash of our own swarm's copy of message `id`.
    pub async fn own_hash(&mut self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query("SELECT own_hash FROM messages WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?
            .map(|row| row.try_get::<Option<String>, _>("own_hash"))
            .transpose()?
            .flatten())
    }
}
