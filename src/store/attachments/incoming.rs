//! Incoming attachments: pointers recorded with their message, then fetched, settled and
//! re-queued after network failures.

use sqlx::Row as _;

use super::rows::{stored_from_row, view_from_row, COLUMNS};
use super::{
    download_path, new_attachment_id, AttachmentStatus, AttachmentView, FetchOutcome,
    IncomingPointer, StoredAttachment, AUTO_REFETCH_ATTEMPTS,
};
use crate::store::secrets::RecordKind;
use crate::store::{Store, StoreError, StoreTx};

impl StoreTx {
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
            FetchOutcome::Available(data) => {
                let sealed = super::rows::sealed_data(&self.master, id, data);
                (AttachmentStatus::Available, Some(sealed), None, 0_i64)
            }
            FetchOutcome::Rejected(reason) => (AttachmentStatus::Failed, None, Some(reason), 0),
            FetchOutcome::Unreachable(reason) => (AttachmentStatus::Failed, None, Some(reason), 1),
        };
        let done = sqlx::query(
            "UPDATE attachments SET status = $1, data = $2, data_sealed = 1, failure_reason = $3, \
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
}

impl Store {
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
        .fetch_all(self.reads())
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
        .fetch_all(self.reads())
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
        let query = sqlx::query(
            "UPDATE attachments SET status = 'queued', failure_reason = NULL, retryable = 0, \
             updated_at = $1 WHERE account = $2 AND id = $3 AND direction = 'incoming' \
             AND status = 'failed' AND retryable = 1",
        )
        .bind(now)
        .bind(account)
        .bind(id);
        let done = self.execute_synced(query).await?;
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
        let query = sqlx::query(
            "UPDATE attachments SET attempts = attempts + 1, updated_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(id);
        self.execute_synced(query).await?;
        Ok(())
    }
}
