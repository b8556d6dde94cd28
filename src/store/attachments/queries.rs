//! Looking attachments up: one with its bytes, or the views of one message's files.

use super::rows::{stored_from_row, view_from_row, COLUMNS};
use super::{AttachmentView, StoredAttachment};
use crate::store::{Store, StoreError, StoreTx};

/// One message's attachments in order (`$1` account, `$2` message id).
fn views_sql() -> String {
    format!("SELECT {COLUMNS} FROM attachments WHERE account = $1 AND message_id = $2 ORDER BY position")
}

impl StoreTx {
    /// The views of one message's attachments, in order.
    pub async fn attachment_views(
        &mut self,
        account: &str,
        message_id: &str,
    ) -> Result<Vec<AttachmentView>, StoreError> {
        sqlx::query(&views_sql())
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

    /// The views of one message's attachments, in order (a plain read: no transaction, and
    /// on SQLite not the writer's connection).
    pub async fn attachment_views(
        &self,
        account: &str,
        message_id: &str,
    ) -> Result<Vec<AttachmentView>, StoreError> {
        sqlx::query(&views_sql())
            .bind(account)
            .bind(message_id)
            .fetch_all(self.reads())
            .await?
            .iter()
            .map(view_from_row)
            .collect()
    }
}
