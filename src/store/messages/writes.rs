//! Writing messages: inserts (incoming and sync copies), the idempotent outgoing enqueue,
//! and status changes under the replica lease fence.

use sqlx::Row as _;

use super::{
    inserted_message, message_from_row, Direction, Enqueued, Message, MessageStatus, NewMessage,
    COLUMNS,
};
use crate::store::group_commit::{Groups, Role};
use crate::store::{Backend, Notice, Store, StoreError, StoreTx};

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Inserts a message (`$1`–`$11`, see [`bind_message`]), nothing if one with the same hash or
/// idempotency key is stored already.
const INSERT_MESSAGE: &str = "INSERT INTO messages (id, account, peer, direction, status, hash, \
     text, timestamp, idempotency_key, created_at, updated_at, author) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) ON CONFLICT DO NOTHING";

/// The statement(s) of [`StoreTx::insert_message`]: [`INSERT_MESSAGE`], then, if it inserted
/// the row, the conversation's latest message set to it (unless a later one is there).
///
/// One round trip for both (issue 16: on SQLite each statement is a hand-off to the
/// connection's thread and back). SQLite runs them as one multi-statement query, the second
/// touching the conversation only if the first changed a row (`changes()`), so their changes
/// add up to at least one exactly when the message went in. PostgreSQL, which takes no
/// multi-statement query with parameters, touches it from the message's `RETURNING` in a
/// data-modifying `WITH` and counts the rows inserted. Built once per backend: every sent
/// and received message runs it.
fn insert_message_sql(backend: Backend) -> &'static str {
    use std::sync::OnceLock;
    static SQLITE: OnceLock<String> = OnceLock::new();
    static POSTGRES: OnceLock<String> = OnceLock::new();
    match backend {
        Backend::Sqlite => SQLITE.get_or_init(|| build_insert_message_sql(backend)),
        Backend::Postgres => POSTGRES.get_or_init(|| build_insert_message_sql(backend)),
    }
}

/// [`insert_message_sql`]'s text for `backend`.
fn build_insert_message_sql(backend: Backend) -> String {
    let touch = "INSERT INTO conversations (account, peer, last_message_id, last_message_at, \
                 created_at) SELECT $2, $3, $1, $8, $10";
    let on_conflict = "ON CONFLICT (account, peer) DO UPDATE SET \
                       last_message_id = excluded.last_message_id, \
                       last_message_at = excluded.last_message_at \
                       WHERE excluded.last_message_at >= conversations.last_message_at";
    match backend {
        // (The `WHERE` also keeps SQLite from reading `ON CONFLICT` as part of a join.)
        Backend::Sqlite => {
            format!("{INSERT_MESSAGE}; {touch} WHERE changes() > 0 {on_conflict}")
        }
        Backend::Postgres => format!(
            "WITH inserted AS ({INSERT_MESSAGE} RETURNING id), \
             touched AS ({touch} FROM inserted {on_conflict}) \
             SELECT COUNT(*) AS n FROM inserted"
        ),
    }
}

/// Binds `message` (and `now`, its creation time) to the parameters of [`INSERT_MESSAGE`].
fn bind_message<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    message: &'q NewMessage,
    now: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
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
        .bind(&message.author)
}

impl StoreTx {
    /// Inserts a message and updates its conversation. `None` if a message with the same hash
    /// (or idempotency key) already exists for the account: nothing is written then.
    pub async fn insert_message(
        &mut self,
        message: &NewMessage,
        now: i64,
    ) -> Result<Option<Message>, StoreError> {
        // Neither `INSERT … RETURNING` nor a read after it: the row is known
        // ([`inserted_message`]). Measured on SQLite (send bench, receive phase, nine
        // interleaved pairs), the insert with its row returned cost more CPU than the insert
        // and the read after it, in eight pairs of nine; no read costs less than either.
        let query = bind_message(
            sqlx::query(insert_message_sql(self.backend())),
            message,
            now,
        );
        let inserted = match self.backend() {
            Backend::Sqlite => query.execute(self.conn()).await?.rows_affected() > 0,
            Backend::Postgres => {
                let row = query.fetch_one(self.conn()).await?;
                row.try_get::<i64, _>("n")? > 0
            }
        };
        if message.direction == Direction::Outgoing {
            self.saw_outgoing(&message.account, message.timestamp);
        }
        if !inserted {
            return Ok(None);
        }
        Ok(Some(inserted_message(message)))
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
    /// message's files (issue 5) in the same transaction (the sender may pick the row up the
    /// moment it commits).
    ///
    /// Enqueues of one account without files that arrive while another of them waits for the
    /// database's writer share its transaction ([`crate::store::group_commit`]); a group that
    /// fails is written again one message at a time, each with the checks below. A message
    /// with files is always written alone: its files can be megabytes.
    pub async fn enqueue_outgoing_with(
        &self,
        message: &NewMessage,
        extras: Option<&crate::store::chat::TextExtras>,
        files: &[crate::store::attachments::NewAttachment],
        now: i64,
    ) -> Result<Enqueued, StoreError> {
        if let Some(existing) = self.find_by_idempotency_key(message).await? {
            return Ok(Enqueued {
                message: existing,
                created: false,
            });
        }
        if !files.is_empty() {
            let tx = self.begin().await?;
            return self.enqueue_in(tx, message, extras, files, now).await;
        }
        let job = || QueuedText {
            message: message.clone(),
            extras: extras.cloned(),
            now,
        };
        let leader = match self.enqueues.join(&message.account, job) {
            Role::Leader(leader) => leader,
            Role::Follower(answer) => {
                if let Ok(enqueued) = answer.await {
                    return Ok(enqueued);
                }
                let tx = self.begin().await?;
                return self.enqueue_in(tx, message, extras, files, now).await;
            }
        };
        let mut tx = self.begin().await?;
        // The transaction has begun (on SQLite it holds the one writer): whoever queued meanwhile
        // rides along.
        let followers = leader.take();
        if followers.is_empty() {
            return self.enqueue_in(tx, message, extras, files, now).await;
        }
        let own = tx.queue_text(message, extras, files, now).await;
        let mut answers = Vec::with_capacity(followers.len());
        if let Ok(Some(_)) = &own {
            for job in followers.items() {
                match tx
                    .queue_text(&job.message, job.extras.as_ref(), &[], job.now)
                    .await
                {
                    Ok(Some(stored)) => answers.push(Enqueued {
                        message: stored,
                        created: true,
                    }),
                    _ => break,
                }
            }
        }
        match own {
            Ok(Some(stored)) if answers.len() == followers.len() => {
                if let Err(error) = tx.commit().await {
                    // Whether the commit took effect is unknown: the leader fails as a lone
                    // enqueue would, and each follower finds out on its own (below).
                    followers.alone();
                    return Err(error);
                }
                followers.committed(answers);
                Ok(Enqueued {
                    message: stored,
                    created: true,
                })
            }
            _ => {
                // Nothing of the group was committed: each message on its own, with its own
                // checks (the transaction ends first: SQLite's one writer would wait for it).
                drop(tx);
                followers.alone();
                let tx = self.begin().await?;
                self.enqueue_in(tx, message, extras, files, now).await
            }
        }
    }

    /// One enqueue in `tx`, committed, with what a conflict means: an earlier request with the
    /// same idempotency key stored it already.
    async fn enqueue_in(
        &self,
        mut tx: StoreTx,
        message: &NewMessage,
        extras: Option<&crate::store::chat::TextExtras>,
        files: &[crate::store::attachments::NewAttachment],
        now: i64,
    ) -> Result<Enqueued, StoreError> {
        match tx.queue_text(message, extras, files, now).await {
            Ok(Some(stored)) => {
                tx.commit().await?;
                Ok(Enqueued {
                    message: stored,
                    created: true,
                })
            }
            Ok(None) => {
                drop(tx);
                // This request's own ID (random): a group whose leader committed it but did
                // not live to answer (its caller gave up). It is queued; answered once durable.
                if let Some(stored) = self.get_message(&message.account, &message.id).await? {
                    if let Some(log_sync) = &self.log_sync {
                        log_sync.wait().await?;
                    }
                    return Ok(Enqueued {
                        message: stored,
                        created: true,
                    });
                }
                let collision = StoreError::Corrupt("message id collision".into());
                self.earlier_send(message, collision).await
            }
            Err(StoreError::Database(e)) if is_unique_violation(&e) => {
                drop(tx);
                self.earlier_send(message, StoreError::Database(e)).await
            }
            Err(e) => Err(e),
        }
    }

    /// The send an earlier request stored under `message`'s idempotency key (a retry of it);
    /// `missing` when there is none (the conflict had another cause).
    async fn earlier_send(
        &self,
        message: &NewMessage,
        missing: StoreError,
    ) -> Result<Enqueued, StoreError> {
        let earlier = self
            .find_by_idempotency_key(message)
            .await?
            .ok_or(missing)?;
        Ok(Enqueued {
            message: earlier,
            created: false,
        })
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
        .fetch_optional(self.reads())
        .await?
        .as_ref()
        .map(message_from_row)
        .transpose()
    }
}

/// A queued send without files, as it waits to ride along in another's transaction.
#[derive(Clone, Debug)]
pub struct QueuedText {
    message: NewMessage,
    extras: Option<crate::store::chat::TextExtras>,
    now: i64,
}

/// Queued sends forming groups, one per account ([`Store::enqueue_outgoing_with`]).
pub type EnqueueGroups = Groups<String, QueuedText, Enqueued>;

impl Store {
    /// Queued sends forming groups that share one transaction (for tests: who waits, how many
    /// rode along).
    pub fn enqueue_groups(&self) -> &EnqueueGroups {
        &self.enqueues
    }
}

impl StoreTx {
    /// Writes `message` as queued, with its extras and files, under the account's next
    /// outgoing timestamp, and announces it on commit. `None`: a message with its ID exists.
    async fn queue_text(
        &mut self,
        message: &NewMessage,
        extras: Option<&crate::store::chat::TextExtras>,
        files: &[crate::store::attachments::NewAttachment],
        now: i64,
    ) -> Result<Option<Message>, StoreError> {
        // Serialises an account's enqueues (PostgreSQL: concurrent API calls on any replica)
        // and keeps its outgoing timestamps strictly increasing: Session identifies a sender's
        // messages by their sent timestamp (quotes, unsend, sync).
        let timestamp = self
            .next_outgoing_timestamp(&message.account, message.timestamp)
            .await?;
        let message = &NewMessage {
            timestamp,
            ..message.clone()
        };
        let Some(stored) = self.insert_message(message, now).await? else {
            return Ok(None);
        };
        let stored = match extras {
            Some(extras) => (self
                .set_text_extras(&stored.id, stored.timestamp, extras)
                .await?)
                .unwrap_or(stored),
            None => stored,
        };
        // Attachments hook: the files go in with the queued message (issue 5).
        self.insert_outgoing_attachments(&message.account, &stored.id, files, now)
            .await?;
        self.announce_on_commit(Notice::OutgoingQueued {
            account: message.account.clone(),
            peer: Some(message.peer.clone()),
            id: Some(stored.id.clone()),
        });
        Ok(Some(stored))
    }
}
