//! Outgoing attachments: stored with their queued message, uploaded once by the sender.

use super::rows::{stored_from_row, COLUMNS};
use super::{new_attachment_id, NewAttachment, StoredAttachment};
use crate::store::secrets::RecordKind;
use crate::store::{Store, StoreError, StoreTx};

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
            let id = new_attachment_id();
            let sealed = super::rows::sealed_data(&self.master, &id, &file.data);
            sqlx::query(
                "INSERT INTO attachments (id, account, message_id, position, direction, \
                 content_type, file_name, size, status, data, data_sealed, created_at, \
                 updated_at) \
                 VALUES ($1, $2, $3, $4, 'outgoing', $5, $6, $7, 'queued', $8, 1, $9, $9)",
            )
            .bind(&id)
            .bind(account)
            .bind(message_id)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(&file.content_type)
            .bind(file.file_name.as_deref())
            .bind(i64::try_from(file.data.len()).unwrap_or(i64::MAX))
            .bind(&sealed)
            .bind(now)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }
}

impl Store {
    /// The attachments of an outgoing message in order, with plaintext and opened keys.
    pub async fn message_attachments(
        &self,
        message_id: &str,
    ) -> Result<Vec<StoredAttachment>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS}, data, data_sealed FROM attachments WHERE message_id = $1 ORDER BY position"
        ))
        .bind(message_id)
        .fetch_all(self.reads())
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
        let query = sqlx::query(
            "UPDATE attachments SET status = 'uploaded', remote_url = $1, key_sealed = $2, \
             digest = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(url)
        .bind(sealed)
        .bind(digest)
        .bind(now)
        .bind(id);
        self.execute_synced(query).await?;
        Ok(())
    }
}
