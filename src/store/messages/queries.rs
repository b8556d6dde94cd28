//! Reading messages and conversations: one message, history pages, the conversation list.

use sqlx::Row as _;

use super::{message_from_row, Conversation, Message, COLUMNS};
use crate::store::{Store, StoreError};

impl Store {
    /// One visible message of an account (control rows are not messages), with its reactions.
    pub async fn get_message(
        &self,
        account: &str,
        id: &str,
    ) -> Result<Option<Message>, StoreError> {
        let message = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE account = $1 AND id = $2 AND kind = 'text'"
        ))
        .bind(account)
        .bind(id)
        .fetch_optional(self.reads())
        .await?
        .as_ref()
        .map(message_from_row)
        .transpose()?;
        Ok(match message {
            Some(m) => self.with_reactions(vec![m]).await?.pop(),
            None => None,
        })
    }

    /// History, newest first: optionally only with one peer, and only older than the message
    /// `before` (keyset pagination on (timestamp, id)).
    pub async fn list_messages(
        &self,
        account: &str,
        with: Option<&str>,
        before: Option<&Message>,
        limit: i64,
    ) -> Result<Vec<Message>, StoreError> {
        let (before_ts, before_id) = match before {
            Some(m) => (Some(m.timestamp), Some(m.id.as_str())),
            None => (None, None),
        };
        let messages = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE account = $1 AND ($2 IS NULL OR peer = $2) \
             AND kind = 'text' AND held = 0 AND ($3 IS NULL OR timestamp < $3 OR (timestamp = $3 AND id < $4)) \
             ORDER BY timestamp DESC, id DESC LIMIT $5"
        ))
        .bind(account)
        .bind(with)
        .bind(before_ts)
        .bind(before_id)
        .bind(limit)
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(message_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        self.with_reactions(messages).await
    }

    /// An account's conversations, most recent first.
    pub async fn list_conversations(&self, account: &str) -> Result<Vec<Conversation>, StoreError> {
        self.list_conversations_page(account, None, i64::MAX).await
    }

    /// A page of an account's conversations, most recent first (ties by peer), after `after`
    /// (the previous page's last `(last_message_at, peer)`), at most `limit`.
    pub async fn list_conversations_page(
        &self,
        account: &str,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<Conversation>, StoreError> {
        sqlx::query(
            "SELECT peer, last_message_id, last_message_at, created_at, state FROM conversations \
             WHERE account = $1 AND ($2 IS NULL OR last_message_at < $2 \
             OR (last_message_at = $2 AND peer > $3)) \
             ORDER BY last_message_at DESC, peer LIMIT $4",
        )
        .bind(account)
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(limit)
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(|row| {
            let peer: String = row.try_get("peer")?;
            Ok(Conversation {
                id: peer.clone(),
                peer,
                last_message_id: row.try_get("last_message_id")?,
                last_message_at: row.try_get("last_message_at")?,
                created_at: row.try_get("created_at")?,
                state: row.try_get("state")?,
                avatar: None,
            })
        })
        .collect()
    }
}
