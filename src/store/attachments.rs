//! Attachments of messages and avatars (migration `0004_attachments.sql`; messages.md §4, §5).
//!
//! Outgoing: the API stores the plaintext with the queued message in one transaction; the send
//! pipeline uploads it once and records url, key and digest (`uploaded`) so a retried send
//! reuses them. Incoming: the pointers are recorded `queued` with the message in one
//! transaction; the background fetch stores the verified plaintext (`available`) or the reason
//! (`failed`). Pointer and profile keys are sealed with the master key
//! ([`RecordKind::AttachmentKey`], [`RecordKind::OwnProfileKey`]).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row as _;
use zeroize::Zeroizing;

use super::secrets::{MasterKey, RecordKind};
use super::{Store, StoreError, StoreTx};

/// Where an attachment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentStatus {
    /// Outgoing: not uploaded yet. Incoming: not fetched yet.
    Queued,
    /// Outgoing: on the file server (url, key, digest recorded).
    Uploaded,
    /// Incoming: fetched, verified and stored.
    Available,
    /// Incoming: rejected (tampered) or not fetchable; see `failure_reason`.
    Failed,
}

impl AttachmentStatus {
    /// Column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Uploaded => "uploaded",
            Self::Available => "available",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "queued" => Ok(Self::Queued),
            "uploaded" => Ok(Self::Uploaded),
            "available" => Ok(Self::Available),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::Corrupt(format!("attachment status {other:?}"))),
        }
    }
}

/// An attachment as the API and events show it (no key, no bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AttachmentView {
    /// Opaque id (`att_…`).
    pub id: String,
    /// The message it belongs to.
    pub message_id: String,
    /// MIME type.
    pub content_type: String,
    /// Original file name, when the sender gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Plaintext size, bytes.
    pub size: i64,
    /// Status.
    pub status: AttachmentStatus,
    /// Why it failed (status `failed`), e.g. `tampered: bad hmac`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Where to download the plaintext: `/v1/accounts/{sid}/attachments/{id}`.
    pub url: String,
}

/// A file the API accepted for an outgoing message.
#[derive(Clone, Debug)]
pub struct NewAttachment {
    /// MIME type.
    pub content_type: String,
    /// Original file name.
    pub file_name: Option<String>,
    /// The plaintext.
    pub data: Vec<u8>,
}

/// An incoming pointer to record (key still in the clear; sealed on insert).
#[derive(Clone)]
pub struct IncomingPointer {
    /// MIME type (`application/octet-stream` when the sender gave none).
    pub content_type: String,
    /// File name.
    pub file_name: Option<String>,
    /// Declared plaintext size.
    pub size: i64,
    /// The file-server URL.
    pub url: String,
    /// The pointer key (64 or 32 bytes).
    pub key: Zeroizing<Vec<u8>>,
    /// The legacy digest.
    pub digest: Option<Vec<u8>>,
}

/// How the fetch of an incoming attachment ended.
#[derive(Debug, Clone, Copy)]
pub enum FetchOutcome<'a> {
    /// Downloaded and verified: the plaintext.
    Available(&'a [u8]),
    /// A verdict (tampered, not found, invalid pointer): final.
    Rejected(&'a str),
    /// The network failed after the fetcher's retries: a later request may fetch it again.
    Unreachable(&'a str),
}

impl std::fmt::Debug for IncomingPointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingPointer")
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A stored attachment with what the pipelines need: bytes, remote url, opened key.
pub struct StoredAttachment {
    /// The public view.
    pub view: AttachmentView,
    /// Which way it went (`incoming` / `outgoing`).
    pub direction: String,
    /// The plaintext, when stored.
    pub data: Option<Vec<u8>>,
    /// The file-server URL, once uploaded (outgoing) or as the pointer named it (incoming).
    pub remote_url: Option<String>,
    /// The legacy digest.
    pub digest: Option<Vec<u8>>,
    /// The pointer key, opened.
    pub key: Option<Zeroizing<Vec<u8>>>,
    /// Fetch attempts so far (incoming).
    pub attempts: i64,
}

impl std::fmt::Debug for StoredAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredAttachment")
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

/// Fetch attempts (tries, each network failure counted) after which an unreachable attachment
/// is no longer queued again by itself: about ten rounds of retries at the fetcher's pace.
pub const AUTO_REFETCH_ATTEMPTS: i64 = 60;

/// A fresh attachment id.
pub fn new_attachment_id() -> String {
    format!("att_{}", uuid::Uuid::now_v7().simple())
}

/// The API path of an attachment's bytes.
pub fn download_path(account: &str, id: &str) -> String {
    format!("/v1/accounts/{account}/attachments/{id}")
}

const COLUMNS: &str = "id, account, message_id, direction, content_type, file_name, size, \
                       status, failure_reason, attempts, remote_url, digest, key_sealed";

fn view_from_row(row: &AnyRow) -> Result<AttachmentView, StoreError> {
    let account: String = row.try_get("account")?;
    let id: String = row.try_get("id")?;
    Ok(AttachmentView {
        url: download_path(&account, &id),
        id,
        message_id: row.try_get("message_id")?,
        content_type: row.try_get("content_type")?,
        file_name: row.try_get("file_name")?,
        size: row.try_get("size")?,
        status: AttachmentStatus::parse(&row.try_get::<String, _>("status")?)?,
        failure_reason: row.try_get("failure_reason")?,
    })
}

fn stored_from_row(
    master: &MasterKey,
    row: &AnyRow,
    with_data: bool,
) -> Result<StoredAttachment, StoreError> {
    let view = view_from_row(row)?;
    let key = row
        .try_get::<Option<Vec<u8>>, _>("key_sealed")?
        .map(|sealed| master.open(RecordKind::AttachmentKey, &view.id, &sealed))
        .transpose()?;
    Ok(StoredAttachment {
        direction: row.try_get("direction")?,
        data: if with_data {
            row.try_get("data")?
        } else {
            None
        },
        remote_url: row.try_get("remote_url")?,
        digest: row.try_get("digest")?,
        key,
        attempts: row.try_get("attempts")?,
        view,
    })
}

impl StoreTx {
    /// Records the files of a queued outgoing message (status `queued`, plaintext stored).
    pub async fn insert_outgoing_attachments(
        &mut self,
        account: &str,
        message_id: &str,
        files: &[NewAttachment],
        now: i64,
    ) -> Result<(), StoreError> {
        for (position, file) in files.iter().enumerate() {
            sqlx::query(
                "INSERT INTO attachments (id, account, message_id, position, direction, \
                 content_type, file_name, size, status, data, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'outgoing', $5, $6, $7, 'queued', $8, $9, $9)",
            )
            .bind(new_attachment_id())
            .bind(account)
            .bind(message_id)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(&file.content_type)
            .bind(file.file_name.as_deref())
            .bind(i64::try_from(file.data.len()).unwrap_or(i64::MAX))
            .bind(&file.data)
            .bind(now)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// Records the pointers of an incoming message (status `queued`), keys sealed with the
    /// master key; returns their views for the message event.
    pub async fn insert_incoming_attachments(
        &mut self,
        account: &str,
        message_id: &str,
        pointers: &[IncomingPointer],
        now: i64,
    ) -> Result<Vec<AttachmentView>, StoreError> {
        let mut views = Vec::with_capacity(pointers.len());
        for (position, pointer) in pointers.iter().enumerate() {
            let id = new_attachment_id();
            let sealed = self
                .master
                .seal(RecordKind::AttachmentKey, &id, &pointer.key);
            sqlx::query(
                "INSERT INTO attachments (id, account, message_id, position, direction, \
                 content_type, file_name, size, status, remote_url, digest, key_sealed, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, 'incoming', $5, $6, $7, \
                 'queued', $8, $9, $10, $11, $11)",
            )
            .bind(&id)
            .bind(account)
            .bind(message_id)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(&pointer.content_type)
            .bind(pointer.file_name.as_deref())
            .bind(pointer.size)
            .bind(&pointer.url)
            .bind(pointer.digest.as_deref())
            .bind(sealed)
            .bind(now)
            .execute(self.conn())
            .await?;
            views.push(AttachmentView {
                url: download_path(account, &id),
                id,
                message_id: message_id.to_owned(),
                content_type: pointer.content_type.clone(),
                file_name: pointer.file_name.clone(),
                size: pointer.size,
                status: AttachmentStatus::Queued,
                failure_reason: None,
            });
        }
        Ok(views)
    }

    /// Stores the verified plaintext of a queued incoming attachment (`available`), or the
    /// reason it failed (`failed`). Returns the new view; `None` if it was no longer queued.
    pub async fn settle_incoming_attachment(
        &mut self,
        id: &str,
        outcome: FetchOutcome<'_>,
        now: i64,
    ) -> Result<Option<AttachmentView>, StoreError> {
        let (status, data, reason, retryable) = match outcome {
            FetchOutcome::Available(data) => (AttachmentStatus::Available, Some(data), None, 0_i64),
            FetchOutcome::Rejected(reason) => (AttachmentStatus::Failed, None, Some(reason), 0),
            FetchOutcome::Unreachable(reason) => (AttachmentStatus::Failed, None, Some(reason), 1),
        };
        let done = sqlx::query(
            "UPDATE attachments SET status = $1, data = $2, failure_reason = $3, \
             retryable = $4, attempts = attempts + 1, updated_at = $5 \
             WHERE id = $6 AND status = 'queued'",
        )
        .bind(status.as_str())
        .bind(data)
        .bind(reason)
        .bind(retryable)
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM attachments WHERE id = $1"))
            .bind(id)
            .fetch_one(self.conn())
            .await?;
        view_from_row(&row).map(Some)
    }

    /// The views of one message's attachments, in order.
    pub async fn attachment_views(
        &mut self,
        account: &str,
        message_id: &str,
    ) -> Result<Vec<AttachmentView>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM attachments WHERE account = $1 AND message_id = $2 \
             ORDER BY position"
        ))
        .bind(account)
        .bind(message_id)
        .fetch_all(self.conn())
        .await?
        .iter()
        .map(view_from_row)
        .collect()
    }
}

impl Store {
    /// The attachments of an outgoing message in order, with plaintext and opened keys.
    pub async fn message_attachments(
        &self,
        message_id: &str,
    ) -> Result<Vec<StoredAttachment>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS}, data FROM attachments WHERE message_id = $1 ORDER BY position"
        ))
        .bind(message_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| stored_from_row(self.master(), row, true))
        .collect()
    }

    /// Records an outgoing attachment's upload (url, sealed key, digest): a retried send of
    /// its message reuses them instead of uploading again.
    pub async fn mark_uploaded(
        &self,
        id: &str,
        url: &str,
        key: &[u8],
        digest: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        let sealed = self.master().seal(RecordKind::AttachmentKey, id, key);
        sqlx::query(
            "UPDATE attachments SET status = 'uploaded', remote_url = $1, key_sealed = $2, \
             digest = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(url)
        .bind(sealed)
        .bind(digest)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Incoming attachments of an account still waiting to be fetched, oldest first.
    pub async fn pending_incoming_attachments(
        &self,
        account: &str,
        limit: i64,
    ) -> Result<Vec<StoredAttachment>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM attachments WHERE account = $1 AND direction = 'incoming' \
             AND status = 'queued' ORDER BY created_at, id LIMIT $2"
        ))
        .bind(account)
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| stored_from_row(self.master(), row, false))
        .collect()
    }

    /// Accounts with incoming attachments still waiting to be fetched (picked up at start, so
    /// a crash between recording a pointer and fetching it loses nothing).
    pub async fn accounts_with_pending_attachments(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query(
            "SELECT DISTINCT account FROM attachments WHERE direction = 'incoming' \
             AND status = 'queued' ORDER BY account",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| row.try_get("account").map_err(StoreError::from))
        .collect()
    }

    /// Queues again an incoming attachment that failed for network reasons (never one that
    /// failed a verdict such as tampering). False when `id` is not such an attachment.
    pub async fn requeue_unreachable_attachment(
        &self,
        account: &str,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE attachments SET status = 'queued', failure_reason = NULL, retryable = 0, \
             updated_at = $1 WHERE account = $2 AND id = $3 AND direction = 'incoming' \
             AND status = 'failed' AND retryable = 1",
        )
        .bind(now)
        .bind(account)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Queues again every incoming attachment whose download failed for network reasons at or
    /// before `failed_before` (never a tampered or refused one) and has had fewer than
    /// [`AUTO_REFETCH_ATTEMPTS`] fetch attempts; returns the accounts that got one back, each
    /// once. (A `GET` of the attachment re-queues it whatever its attempts.)
    pub async fn requeue_unreachable_attachments(
        &self,
        failed_before: i64,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.begin().await?;
        let accounts: Vec<String> = sqlx::query(
            "SELECT DISTINCT account FROM attachments WHERE direction = 'incoming' \
             AND status = 'failed' AND retryable = 1 AND updated_at <= $1 AND attempts < $2 \
             ORDER BY account",
        )
        .bind(failed_before)
        .bind(AUTO_REFETCH_ATTEMPTS)
        .fetch_all(tx.conn())
        .await?
        .iter()
        .map(|row| row.try_get("account").map_err(StoreError::from))
        .collect::<Result<_, _>>()?;
        sqlx::query(
            "UPDATE attachments SET status = 'queued', failure_reason = NULL, retryable = 0, \
             updated_at = $1 WHERE direction = 'incoming' AND status = 'failed' \
             AND retryable = 1 AND updated_at <= $2 AND attempts < $3",
        )
        .bind(now)
        .bind(failed_before)
        .bind(AUTO_REFETCH_ATTEMPTS)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(accounts)
    }

    /// Counts a failed fetch attempt (network weather) of a queued incoming attachment.
    pub async fn count_fetch_attempt(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE attachments SET attempts = attempts + 1, updated_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// One attachment of an account, with its bytes.
    pub async fn get_attachment(
        &self,
        account: &str,
        id: &str,
    ) -> Result<Option<StoredAttachment>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS}, data FROM attachments WHERE account = $1 AND id = $2"
        ))
        .bind(account)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(|row| stored_from_row(self.master(), row, true))
        .transpose()
    }

    /// The views of one message's attachments, in order.
    pub async fn attachment_views(
        &self,
        account: &str,
        message_id: &str,
    ) -> Result<Vec<AttachmentView>, StoreError> {
        let mut tx = self.begin().await?;
        let views = tx.attachment_views(account, message_id).await?;
        drop(tx);
        Ok(views)
    }
}
