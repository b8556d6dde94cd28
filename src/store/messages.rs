//! Messages, conversations and poll cursors.
//!
//! Outgoing messages are persisted `queued` before the API answers 202 (issue 4); the sender
//! moves them to `sent`/`failed`. Incoming messages are de-duplicated by swarm hash per account
//! (`UNIQUE (account, hash)`), so a poll repeated after a crash inserts nothing twice.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::{Notice, Store, StoreError, StoreTx};

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Received from the peer.
    Incoming,
    /// Sent by this account (through the API, or from its other devices).
    Outgoing,
}

/// Where a message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Accepted, not yet confirmed by a swarm node.
    Queued,
    /// A swarm node confirmed the store.
    Sent,
    /// Retries exhausted (see `failure_reason`).
    Failed,
    /// An incoming message.
    Received,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Incoming => "incoming",
            Self::Outgoing => "outgoing",
        }
    }
}

impl MessageStatus {
    /// Column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Received => "received",
        }
    }
}

fn parse_direction(text: &str) -> Result<Direction, StoreError> {
    match text {
        "incoming" => Ok(Direction::Incoming),
        "outgoing" => Ok(Direction::Outgoing),
        other => Err(StoreError::Corrupt(format!("direction {other:?}"))),
    }
}

fn parse_status(text: &str) -> Result<MessageStatus, StoreError> {
    match text {
        "queued" => Ok(MessageStatus::Queued),
        "sent" => Ok(MessageStatus::Sent),
        "failed" => Ok(MessageStatus::Failed),
        "received" => Ok(MessageStatus::Received),
        other => Err(StoreError::Corrupt(format!("message status {other:?}"))),
    }
}

/// A message object as the API and events show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Message {
    /// Opaque id (`msg_…`).
    pub id: String,
    /// Swarm hash once stored (sent) or as received.
    pub hash: Option<String>,
    /// Sender's Session ID.
    pub from: String,
    /// Recipient's Session ID.
    pub to: String,
    /// The conversation: the peer's Session ID.
    pub conversation: String,
    /// Message text.
    pub text: String,
    /// Sent timestamp, ms since the Unix epoch (the Session message timestamp).
    pub timestamp: i64,
    /// Incoming or outgoing.
    pub direction: Direction,
    /// Status.
    pub status: MessageStatus,
    /// Why sending failed (status `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// The message this one replies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<Quote>,
    /// Emoji reactions on it, oldest first.
    pub reactions: Vec<Reaction>,
    /// When it was read (incoming: by us; outgoing: by the peer, from its read receipt), ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_at: Option<i64>,
    /// When it was unsent or deleted (its text is cleared), ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
    /// When it disappears (disappearing messages), ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Control kind of a queued row (`text` for visible messages); not shown.
    #[serde(skip)]
    pub kind: String,
    /// Attachments (issue 5): metadata and download URL; filled by `store::attachments`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<super::attachments::AttachmentView>,
}

/// A quoted message as Session names it (messages.md §3.3 `DataMessage.Quote`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Quote {
    /// The quoted message's sent timestamp, ms.
    pub timestamp: i64,
    /// Its author's Session ID.
    pub author: String,
    /// Its text, when we have it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Our local id of it, when we have it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// One emoji reaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reaction {
    /// The emoji.
    pub emoji: String,
    /// Who reacted (Session ID).
    pub author: String,
}

/// A message to insert.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// Opaque id.
    pub id: String,
    /// Owning account.
    pub account: String,
    /// The other party.
    pub peer: String,
    /// Direction.
    pub direction: Direction,
    /// Initial status.
    pub status: MessageStatus,
    /// Swarm hash (incoming, sync copies).
    pub hash: Option<String>,
    /// Text.
    pub text: String,
    /// Sent timestamp, ms.
    pub timestamp: i64,
    /// Client idempotency key (outgoing via the API).
    pub idempotency_key: Option<String>,
}

/// A conversation summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Conversation {
    /// Conversation id: the peer's Session ID.
    pub id: String,
    /// The peer's Session ID.
    pub peer: String,
    /// Newest message id.
    pub last_message_id: Option<String>,
    /// Newest message time, ms.
    pub last_message_at: i64,
    /// First message time, ms.
    pub created_at: i64,
    /// `accepted`, `pending` (a held message request) or `declined`.
    pub state: String,
    /// Where to get the peer's avatar (`/v1/accounts/{sid}/conversations/{peer}/avatar`), when
    /// their profile named one; filled by the API (issue 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

/// The result of [`Store::enqueue_outgoing`].
#[derive(Clone, Debug)]
pub struct Enqueued {
    /// The stored message (the earlier one when the idempotency key was seen before).
    pub message: Message,
    /// False when an earlier request with the same idempotency key created it.
    pub created: bool,
}

/// The columns [`message_from_row`] reads.
pub(crate) const COLUMNS: &str = "id, account, peer, direction, status, hash, text, timestamp, \
    failure_reason, kind, quote_timestamp, quote_author, quote_text, quote_id, read_at, \
    deleted_at, expires_at";

pub(crate) fn message_from_row(row: &AnyRow) -> Result<Message, StoreError> {
    let account: String = row.try_get("account")?;
    let peer: String = row.try_get("peer")?;
    let direction = parse_direction(&row.try_get::<String, _>("direction")?)?;
    let (from, to) = match direction {
        Direction::Incoming => (peer.clone(), account),
        Direction::Outgoing => (account, peer.clone()),
    };
    Ok(Message {
        id: row.try_get("id")?,
        hash: row.try_get("hash")?,
        from,
        to,
        conversation: peer,
        text: row.try_get("text")?,
        timestamp: row.try_get("timestamp")?,
        direction,
        status: parse_status(&row.try_get::<String, _>("status")?)?,
        failure_reason: row.try_get("failure_reason")?,
        quote: match (
            row.try_get::<Option<i64>, _>("quote_timestamp")?,
            row.try_get::<Option<String>, _>("quote_author")?,
        ) {
            (Some(timestamp), Some(author)) => Some(Quote {
                timestamp,
                author,
                text: row.try_get("quote_text")?,
                id: row.try_get("quote_id")?,
            }),
            _ => None,
        },
        reactions: Vec::new(),
        read_at: row.try_get("read_at")?,
        deleted_at: row.try_get("deleted_at")?,
        expires_at: row.try_get("expires_at")?,
        kind: row.try_get("kind")?,
        attachments: Vec::new(),
    })
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// A fresh message id: UUIDv7, so ids sort by creation time (monotonic within the process),
/// which breaks ties between messages with the same timestamp in history order.
pub fn new_message_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

impl StoreTx {
    /// Inserts a message and updates its conversation. `None` if a message with the same hash
    /// (or idempotency key) already exists for the account: nothing is written then.
    pub async fn insert_message(
        &mut self,
        message: &NewMessage,
        now: i64,
    ) -> Result<Option<Message>, StoreError> {
        let done = sqlx::query(
            "INSERT INTO messages (id, account, peer, direction, status, hash, text, timestamp, \
             idempotency_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT DO NOTHING",
        )
        .bind(&message.id)
        .bind(&message.account)
        .bind(&message.peer)
        .bind(message.direction.as_str())
        .bind(message.status.as_str())
        .bind(message.hash.as_deref())
        .bind(&message.text)
        .bind(message.timestamp)
        .bind(message.idempotency_key.as_deref())
        .bind(now)
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO conversations (account, peer, last_message_id, last_message_at, \
             created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account, peer) DO UPDATE SET \
             last_message_id = excluded.last_message_id, \
             last_message_at = excluded.last_message_at \
             WHERE excluded.last_message_at >= conversations.last_message_at",
        )
        .bind(&message.account)
        .bind(&message.peer)
        .bind(&message.id)
        .bind(message.timestamp)
        .bind(now)
        .execute(self.conn())
        .await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM messages WHERE id = $1"))
            .bind(&message.id)
            .fetch_one(self.conn())
            .await?;
        message_from_row(&row).map(Some)
    }

    /// The fence epoch for the account owning message `id`, when this transaction is fenced.
    async fn message_fence(&mut self, id: &str) -> Result<Option<i64>, StoreError> {
        if self.fences.is_empty() {
            return Ok(None);
        }
        let account: Option<String> = sqlx::query("SELECT account FROM messages WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?
            .map(|row| row.try_get("account"))
            .transpose()?;
        Ok(account.and_then(|a| self.fence_epoch(&a)))
    }

    /// Moves a message to `sent` (with its swarm hash) or `failed` (with a reason). In a fenced
    /// transaction ([`StoreTx::fence`]) the row records the lease epoch, and a row already
    /// written under a newer epoch is left alone (returns false).
    pub async fn set_message_status(
        &mut self,
        id: &str,
        status: MessageStatus,
        hash: Option<&str>,
        failure_reason: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let epoch = self.message_fence(id).await?;
        let done = sqlx::query(
            "UPDATE messages SET status = $1, hash = COALESCE($2, hash), failure_reason = $3, \
             updated_at = $4, fence_epoch = COALESCE($6, fence_epoch) WHERE id = $5 \
             AND ($6 IS NULL OR fence_epoch <= $6)",
        )
        .bind(status.as_str())
        .bind(hash)
        .bind(failure_reason)
        .bind(now)
        .bind(id)
        .bind(epoch)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Advances the poll cursor (last seen swarm hash) of one namespace. In a fenced transaction
    /// ([`StoreTx::fence`]) it records the lease epoch, and fails with
    /// [`StoreError::LeaseLost`] if the cursor was written under a newer epoch.
    pub async fn set_poll_cursor(
        &mut self,
        account: &str,
        namespace: i64,
        last_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let epoch = self.fence_epoch(account);
        let done = sqlx::query(
            "INSERT INTO poll_cursors (account, namespace, last_hash, updated_at, fence_epoch) \
             VALUES ($1, $2, $3, $4, COALESCE($5, 0)) ON CONFLICT (account, namespace) DO UPDATE \
             SET last_hash = excluded.last_hash, updated_at = excluded.updated_at, \
             fence_epoch = COALESCE($5, poll_cursors.fence_epoch) \
             WHERE $5 IS NULL OR poll_cursors.fence_epoch <= $5",
        )
        .bind(account)
        .bind(namespace)
        .bind(last_hash)
        .bind(now)
        .bind(epoch)
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            // Written meanwhile under a newer lease: this replica's view is stale.
            return Err(StoreError::LeaseLost {
                account: account.to_owned(),
                epoch: epoch.unwrap_or(0),
            });
        }
        Ok(())
    }
}

impl Store {
    /// Persists an outgoing message as `queued`, honouring the idempotency key.
    pub async fn enqueue_outgoing(
        &self,
        message: &NewMessage,
        now: i64,
    ) -> Result<Enqueued, StoreError> {
        self.enqueue_outgoing_with(message, None, &[], now).await
    }

    /// As [`Store::enqueue_outgoing`], writing the reply and disappearing columns and the
    /// message's files (issue 5) in the same transaction (the sender may pick the row up the moment it commits).
    pub async fn enqueue_outgoing_with(
        &self,
        message: &NewMessage,
        extras: Option<&super::chat::TextExtras>,
        files: &[super::attachments::NewAttachment],
        now: i64,
    ) -> Result<Enqueued, StoreError> {
        if let Some(existing) = self.find_by_idempotency_key(message).await? {
            return Ok(Enqueued {
                message: existing,
                created: false,
            });
        }
        let mut tx = self.begin().await?;
        // Serialises an account's enqueues (PostgreSQL: concurrent API calls on any replica)
        // and keeps its outgoing timestamps strictly increasing: Session identifies a sender's
        // messages by their sent timestamp (quotes, unsend, sync).
        let timestamp = tx
            .next_outgoing_timestamp(&message.account, message.timestamp)
            .await?;
        let message = &NewMessage {
            timestamp,
            ..message.clone()
        };
        let inserted = match tx.insert_message(message, now).await {
            Ok(Some(stored)) => match extras {
                Some(extras) => tx
                    .set_text_extras(&stored.id, stored.timestamp, extras)
                    .await
                    .map(|()| Some(stored)),
                None => Ok(Some(stored)),
            },
            other => other,
        };
        match inserted {
            Ok(Some(stored)) => {
                // Attachments hook: the files go in with the queued message (issue 5).
                tx.insert_outgoing_attachments(&message.account, &stored.id, files, now)
                    .await?;
                tx.announce_on_commit(Notice::OutgoingQueued {
                    account: message.account.clone(),
                });
                tx.commit().await?;
                Ok(Enqueued {
                    message: stored,
                    created: true,
                })
            }
            Ok(None) => {
                drop(tx);
                self.find_by_idempotency_key(message)
                    .await?
                    .map(|message| Enqueued {
                        message,
                        created: false,
                    })
                    .ok_or_else(|| StoreError::Corrupt("message id collision".into()))
            }
            Err(StoreError::Database(e)) if is_unique_violation(&e) => {
                drop(tx);
                self.find_by_idempotency_key(message)
                    .await?
                    .map(|message| Enqueued {
                        message,
                        created: false,
                    })
                    .ok_or(StoreError::Database(e))
            }
            Err(e) => Err(e),
        }
    }

    async fn find_by_idempotency_key(
        &self,
        message: &NewMessage,
    ) -> Result<Option<Message>, StoreError> {
        let Some(key) = &message.idempotency_key else {
            return Ok(None);
        };
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE account = $1 AND idempotency_key = $2"
        ))
        .bind(&message.account)
        .bind(key)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(message_from_row)
        .transpose()
    }

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
        .fetch_optional(self.pool())
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
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(message_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        self.with_reactions(messages).await
    }

    /// An account's conversations, most recent first.
    pub async fn list_conversations(&self, account: &str) -> Result<Vec<Conversation>, StoreError> {
        sqlx::query(
            "SELECT peer, last_message_id, last_message_at, created_at, state FROM conversations \
             WHERE account = $1 ORDER BY last_message_at DESC, peer",
        )
        .bind(account)
        .fetch_all(self.pool())
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

    /// The last swarm hash seen in one namespace, if any.
    pub async fn poll_cursor(
        &self,
        account: &str,
        namespace: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query("SELECT last_hash FROM poll_cursors WHERE account = $1 AND namespace = $2")
                .bind(account)
                .bind(namespace)
                .fetch_optional(self.pool())
                .await?
                .map(|row| row.try_get("last_hash"))
                .transpose()?,
        )
    }
}
