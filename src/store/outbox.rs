//! Queries the actors need on top of [`super::messages`]: the outgoing queue per conversation
//! (the Conversation actor sends its oldest `queued` row first), the peers with queued rows
//! (picked up at start so a crash loses nothing), and the sync-copy de-duplication lookup.

use sqlx::Row as _;

use super::messages::{Direction, Message, MessageStatus};
use super::{Store, StoreError, StoreTx};

/// An outgoing message waiting to be sent, with what the sender needs beyond [`Message`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Opaque id (`msg_…`).
    pub id: String,
    /// The recipient's Session ID.
    pub peer: String,
    /// The text.
    pub text: String,
    /// The Session sent timestamp, ms (fixed at enqueue time so a resend is byte-identical).
    pub timestamp: i64,
    /// When the API accepted it, ms.
    pub created_at: i64,
}

fn queued_from_row(row: &sqlx::any::AnyRow) -> Result<QueuedMessage, StoreError> {
    Ok(QueuedMessage {
        id: row.try_get("id")?,
        peer: row.try_get("peer")?,
        text: row.try_get("text")?,
        timestamp: row.try_get("timestamp")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// The oldest `queued` outgoing message of one conversation (send order = accept order).
    pub async fn next_queued(
        &self,
        account: &str,
        peer: &str,
    ) -> Result<Option<QueuedMessage>, StoreError> {
        sqlx::query(
            "SELECT id, peer, text, timestamp, created_at FROM messages \
             WHERE account = $1 AND peer = $2 AND status = 'queued' AND direction = 'outgoing' \
             ORDER BY created_at, id LIMIT 1",
        )
        .bind(account)
        .bind(peer)
        .fetch_optional(self.pool())
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
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| row.try_get("peer").map_err(StoreError::from))
        .collect()
    }

    /// The account's display name, sent as the profile in outgoing messages.
    pub async fn account_display_name(&self, account: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query("SELECT display_name FROM accounts WHERE session_id = $1")
                .bind(account)
                .fetch_optional(self.pool())
                .await?
                .map(|row| row.try_get::<Option<String>, _>("display_name"))
                .transpose()?
                .flatten(),
        )
    }
}

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
    pub async fn settle_outgoing(
        &mut self,
        id: &str,
        status: MessageStatus,
        hash: Option<&str>,
        failure_reason: Option<&str>,
        now: i64,
    ) -> Result<Option<Message>, StoreError> {
        let done = sqlx::query(
            "UPDATE messages SET status = $1, hash = COALESCE($2, hash), failure_reason = $3, \
             updated_at = $4 WHERE id = $5 AND status = 'queued'",
        )
        .bind(status.as_str())
        .bind(hash)
        .bind(failure_reason)
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT account, peer, hash, text, timestamp, failure_reason FROM messages \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_one(self.conn())
        .await?;
        let account: String = row.try_get("account")?;
        let peer: String = row.try_get("peer")?;
        Ok(Some(Message {
            id: id.to_owned(),
            hash: row.try_get("hash")?,
            from: account,
            to: peer.clone(),
            conversation: peer,
            text: row.try_get("text")?,
            timestamp: row.try_get("timestamp")?,
            direction: Direction::Outgoing,
            status,
            failure_reason: row.try_get("failure_reason")?,
            attachments: Vec::new(),
        }))
    }
}
