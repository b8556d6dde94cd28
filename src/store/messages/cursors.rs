//! Poll cursors: the last swarm hash seen per account and namespace.

use sqlx::Row as _;

use crate::store::{Store, StoreError, StoreTx};

impl StoreTx {
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
