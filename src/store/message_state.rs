//! The state of individual messages beyond their text (migration `0003_chat.sql`): replies
//! and disappearing settings of a new message, reactions, deletion (unsend), read state and
//! read receipts, held message requests and expiry. Messages are found the way Session names
//! them: by conversation, sent timestamp and author ([`StoreTx::find_by_ref`]).

use sqlx::Row as _;

use super::chat::TextExtras;
use super::messages::{message_from_row, Message, Reaction, COLUMNS};
use super::modes::ExpireMode;
use super::sql::placeholders;
use super::{Store, StoreError, StoreTx};

impl Store {
    /// Fills in the reactions of `messages`.
    pub(crate) async fn with_reactions(
        &self,
        mut messages: Vec<Message>,
    ) -> Result<Vec<Message>, StoreError> {
        if messages.is_empty() {
            return Ok(messages);
        }
        let sql = format!(
            "SELECT message_id, author, emoji FROM reactions WHERE message_id IN ({}) \
             ORDER BY created_at, author, emoji",
            placeholders(1, messages.len())
        );
        let mut query = sqlx::query(&sql);
        for m in &messages {
            query = query.bind(m.id.clone());
        }
        let rows = query.fetch_all(self.reads()).await?;
        for row in &rows {
            let id: String = row.try_get("message_id")?;
            if let Some(m) = messages.iter_mut().find(|m| m.id == id) {
                m.reactions.push(Reaction {
                    emoji: row.try_get("emoji")?,
                    author: row.try_get("author")?,
                });
            }
        }
        Ok(messages)
    }

    /// The own-swarm copy hash of our message to `peer` sent at `timestamp`.
    pub async fn own_hash_of(
        &self,
        account: &str,
        peer: &str,
        timestamp: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query(
            "SELECT own_hash FROM messages WHERE account = $1 AND peer = $2 AND timestamp = $3 \
             AND direction = 'outgoing' AND kind = 'text' LIMIT 1",
        )
        .bind(account)
        .bind(peer)
        .bind(timestamp)
        .fetch_optional(self.reads())
        .await?
        .map(|row| row.try_get::<Option<String>, _>("own_hash"))
        .transpose()?
        .flatten())
    }

    /// Visible messages whose disappearing timer ran out by `now`, oldest first.
    pub async fn expired_messages(&self, now: i64, limit: i64) -> Result<Vec<Message>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE expires_at IS NOT NULL AND expires_at <= $1 \
             AND kind = 'text' ORDER BY expires_at, id LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(message_from_row)
        .collect()
    }
}

impl StoreTx {
    /// Writes the reply and disappearing columns of a just-inserted text message and returns
    /// the row as written. A message with no quote and no disappearing setting keeps the
    /// columns' defaults: no statement (most messages; one round trip fewer on each side of a
    /// send), and `None`: the row is as inserted.
    pub async fn set_text_extras(
        &mut self,
        id: &str,
        timestamp: i64,
        extras: &TextExtras,
    ) -> Result<Option<Message>, StoreError> {
        let defaults = extras.quote.is_none()
            && extras.expire_mode == ExpireMode::Off
            && extras.expire_seconds == 0;
        if defaults {
            return Ok(None);
        }
        let expires_at = (extras.expire_mode == ExpireMode::AfterSend && extras.expire_seconds > 0)
            .then(|| timestamp.saturating_add(extras.expire_seconds.saturating_mul(1000)));
        let quote = extras.quote.as_ref();
        sqlx::query(&format!(
            "UPDATE messages SET quote_timestamp = $1, quote_author = $2, quote_text = $3, \
             quote_id = $4, expire_mode = $5, expire_seconds = $6, expires_at = $7 WHERE id = $8 \
             RETURNING {COLUMNS}"
        ))
        .bind(quote.map(|q| q.timestamp))
        .bind(quote.map(|q| q.author.clone()))
        .bind(quote.and_then(|q| q.text.clone()))
        .bind(quote.and_then(|q| q.id.clone()))
        .bind(extras.expire_mode.as_str())
        .bind(extras.expire_seconds)
        .bind(expires_at)
        .bind(id)
        .fetch_optional(self.conn())
        .await?
        .as_ref()
        .map(message_from_row)
        .transpose()
    }

    /// Marks a just-inserted incoming message as held (a pending message request).
    pub async fn hold_message(&mut self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE messages SET held = 1 WHERE id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// The visible message of the conversation `peer` sent at `timestamp` by `author` (the
    /// account itself, the peer, or a group member).
    pub async fn find_by_ref(
        &mut self,
        account: &str,
        peer: &str,
        timestamp: i64,
        author: &str,
    ) -> Result<Option<Message>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE account = $1 AND peer = $2 AND timestamp = $3 \
             AND author = $4 AND kind = 'text' LIMIT 1"
        ))
        .bind(account)
        .bind(peer)
        .bind(timestamp)
        .bind(author)
        .fetch_optional(self.conn())
        .await?
        .as_ref()
        .map(message_from_row)
        .transpose()
    }

    /// `account`'s visible messages in `group` written by one of `authors` or stored under one
    /// of `hashes` (an admin's DeleteMemberContent, groups.md §6.3).
    pub async fn group_messages_matching(
        &mut self,
        account: &str,
        group: &str,
        authors: &[String],
        hashes: &[String],
    ) -> Result<Vec<Message>, StoreError> {
        let mut found: Vec<Message> = Vec::new();
        for (column, values) in [("author", authors), ("hash", hashes)] {
            for value in values {
                let rows = sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM messages WHERE account = $1 AND peer = $2 \
                     AND {column} = $3 AND kind = 'text' AND deleted_at IS NULL"
                ))
                .bind(account)
                .bind(group)
                .bind(value)
                .fetch_all(self.conn())
                .await?;
                for row in &rows {
                    let message = message_from_row(row)?;
                    if !found.iter().any(|m| m.id == message.id) {
                        found.push(message);
                    }
                }
            }
        }
        Ok(found)
    }

    /// Adds a reaction; false when it was already there.
    pub async fn add_reaction(
        &mut self,
        message_id: &str,
        author: &str,
        emoji: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO reactions (message_id, author, emoji, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(message_id)
        .bind(author)
        .bind(emoji)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes a reaction; false when it was not there.
    pub async fn remove_reaction(
        &mut self,
        message_id: &str,
        author: &str,
        emoji: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM reactions WHERE message_id = $1 AND author = $2 AND emoji = $3",
        )
        .bind(message_id)
        .bind(author)
        .bind(emoji)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Marks a message deleted (text and quote text cleared, reactions dropped, and what it
    /// left elsewhere forgotten: [`StoreTx::forget_message_content`]); false when it already
    /// was.
    pub async fn mark_deleted(&mut self, id: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE messages SET text = '', quote_text = NULL, deleted_at = $1, expires_at = NULL, \
             updated_at = $1 WHERE id = $2 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        sqlx::query("DELETE FROM reactions WHERE message_id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        if done.rows_affected() > 0 {
            self.forget_message_content(id).await?;
        }
        Ok(done.rows_affected() > 0)
    }

    /// Our messages to `peer` sent at `timestamps` that the peer has now read (each once);
    /// "after read" ones start their timer.
    pub async fn mark_read_by_peer(
        &mut self,
        account: &str,
        peer: &str,
        timestamps: &[i64],
        now: i64,
    ) -> Result<Vec<Message>, StoreError> {
        let mut read = Vec::new();
        for ts in timestamps {
            let Some(message) = self.find_by_ref(account, peer, *ts, account).await? else {
                continue;
            };
            if message.read_at.is_some() {
                continue;
            }
            self.set_read(&message.id, now).await?;
            if let Some(m) = self.message(&message.id).await? {
                read.push(m);
            }
        }
        Ok(read)
    }

    async fn set_read(&mut self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE messages SET read_at = $1, updated_at = $1, expires_at = CASE \
             WHEN expire_mode = 'after_read' AND expire_seconds > 0 AND deleted_at IS NULL \
             THEN $1 + expire_seconds * 1000 ELSE expires_at END WHERE id = $2 AND read_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// One message row (any kind) by id.
    pub async fn message(&mut self, id: &str) -> Result<Option<Message>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM messages WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?
            .as_ref()
            .map(message_from_row)
            .transpose()
    }

    /// Marks the delivered incoming messages from `peer` up to `up_to_ts` read, and returns the
    /// sent timestamps no receipt was sent for yet (each is returned once, ever).
    pub async fn mark_read_by_us(
        &mut self,
        account: &str,
        peer: &str,
        up_to_ts: i64,
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, timestamp, receipt_sent_at FROM messages WHERE account = $1 AND peer = $2 \
             AND direction = 'incoming' AND kind = 'text' AND held = 0 AND timestamp <= $3 \
             AND deleted_at IS NULL AND (read_at IS NULL OR receipt_sent_at IS NULL) \
             ORDER BY timestamp, id",
        )
        .bind(account)
        .bind(peer)
        .bind(up_to_ts)
        .fetch_all(self.conn())
        .await?;
        let mut timestamps = Vec::new();
        for row in &rows {
            let id: String = row.try_get("id")?;
            let sent: Option<i64> = row.try_get("receipt_sent_at")?;
            self.set_read(&id, now).await?;
            if sent.is_none() {
                sqlx::query("UPDATE messages SET receipt_sent_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(&id)
                    .execute(self.conn())
                    .await?;
                timestamps.push(row.try_get("timestamp")?);
            }
        }
        Ok(timestamps)
    }

    /// Releases the held messages of a request: they join the history; returned oldest first.
    pub async fn release_held(
        &mut self,
        account: &str,
        peer: &str,
    ) -> Result<Vec<Message>, StoreError> {
        let messages = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE account = $1 AND peer = $2 AND held = 1 \
             ORDER BY timestamp, id"
        ))
        .bind(account)
        .bind(peer)
        .fetch_all(self.conn())
        .await?
        .iter()
        .map(message_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        sqlx::query("UPDATE messages SET held = 0 WHERE account = $1 AND peer = $2 AND held = 1")
            .bind(account)
            .bind(peer)
            .execute(self.conn())
            .await?;
        Ok(messages)
    }

    /// Deletes the held messages of a declined request; returns how many.
    pub async fn drop_held(&mut self, account: &str, peer: &str) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM messages WHERE account = $1 AND peer = $2 AND held = 1")
                .bind(account)
                .bind(peer)
                .execute(self.conn())
                .await?;
        Ok(done.rows_affected())
    }

    /// Deletes an expired message with what it left elsewhere
    /// ([`StoreTx::forget_message_content`]); false when another replica (or an unsend) got
    /// there first.
    pub async fn delete_expired(&mut self, id: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM messages WHERE id = $1 AND expires_at IS NOT NULL AND expires_at <= $2",
        )
        .bind(id)
        .bind(now)
        .execute(self.conn())
        .await?;
        if done.rows_affected() > 0 {
            self.forget_message_content(id).await?;
        }
        Ok(done.rows_affected() > 0)
    }
}
