//! Looking attachments up: one with its bytes, or the views of one message's files.

use super::rows::{stored_from_row, view_from_row, COLUMNS};
use super::{AttachmentView, StoredAttachment};
use crate::store::{Store, StoreError, StoreTx};

impl StoreTx {
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
    /// One attachment of an account, with its bytes.
    pub async fn get_attachment(
        &self,
        account: &str,
        id: &str,
    ) -> Result<Option<StoredAttachment>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS}, data, data_sealed FROM attachments WHERE account = $1 AND id = $2"
        ))
        .bind(account)
        .bind(id)
        .fetch_optional(self.reads())
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
