//! Looking attachments up: one with its bytes, or the views of one message's files.

use super::rows::{stored_from_row, view_from_row, COLUMNS};
use super::{AttachmentView, StoredAttachment};
use crate::store::{Store, StoreError, StoreTx};

/// The views of one message's attachments in order, read through `executor` (a transaction
/// or a pool).
async fn fetch_views<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    account: &str,
    message_id: &str,
) -> Result<Vec<AttachmentView>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM attachments WHERE account = $1 AND message_id = $2 \
         ORDER BY position"
    ))
    .bind(account)
    .bind(message_id)
    .fetch_all(executor)
    .await?
    .iter()
    .map(view_from_row)
    .collect()
}

impl StoreTx {
    /// The views of one message's attachments, in order.
    pub async fn attachment_views(
        &mut self,
        account: &str,
        message_id: &str,
    ) -> Result<Vec<AttachmentView>, StoreError> {
        fetch_views(self.conn(), account, message_id).await
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

    /// The views of one message's attachments, in order (a plain read: no transaction, and
    /// on SQLite not the writer's connection).
    pub async fn attachment_views(
        &self,
        account: &str,
        message_id: &str,
    ) -> Result<Vec<AttachmentView>, StoreError> {
        fetch_views(self.reads(), account, message_id).await
    }
}
