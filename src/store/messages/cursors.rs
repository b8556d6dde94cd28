//! Poll cursors: the last swarm hash seen per service node, subject (account or group) and
//! namespace ([`StoreTx::set_node_cursors`]), and the older per-account cursor kept as the
//! fallback for a node with no cursor of its own.

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
                .fetch_optional(self.reads())
                .await?
                .map(|row| row.try_get("last_hash"))
                .transpose()?,
        )
    }
}

/// Cursor rows kept per subject and namespace: a swarm has up to about ten members, and a row
/// of a member that left is useless; past this many, the least recently advanced go.
pub const NODE_CURSORS_KEPT: i64 = 24;

impl StoreTx {
    /// Advances the per-node cursors (`(node ed25519 hex, last hash)`) of `subject`'s
    /// `namespace` (an account's Session ID or a group's ID), then prunes the rows of that
    /// subject and namespace to the [`NODE_CURSORS_KEPT`] most recently advanced. In a fenced
    /// transaction ([`StoreTx::fence`]) it records the lease epoch, and fails with
    /// [`StoreError::LeaseLost`] if a row was written under a newer epoch.
    pub async fn set_node_cursors(
        &mut self,
        subject: &str,
        namespace: i64,
        cursors: &[(String, String)],
        now: i64,
    ) -> Result<(), StoreError> {
        if cursors.is_empty() {
            return Ok(());
        }
        let epoch = self.fence_epoch(subject);
        for (node, last_hash) in cursors {
            let done = sqlx::query(
                "INSERT INTO node_cursors \
                 (subject, namespace, node, last_hash, updated_at, fence_epoch) \
                 VALUES ($1, $2, $3, $4, $5, COALESCE($6, 0)) \
                 ON CONFLICT (subject, namespace, node) DO UPDATE \
                 SET last_hash = excluded.last_hash, updated_at = excluded.updated_at, \
                 fence_epoch = COALESCE($6, node_cursors.fence_epoch) \
                 WHERE $6 IS NULL OR node_cursors.fence_epoch <= $6",
            )
            .bind(subject)
            .bind(namespace)
            .bind(node)
            .bind(last_hash)
            .bind(now)
            .bind(epoch)
            .execute(self.conn())
            .await?;
            if done.rows_affected() == 0 {
                // Written meanwhile under a newer lease: this replica's view is stale.
                return Err(StoreError::LeaseLost {
                    account: subject.to_owned(),
                    epoch: epoch.unwrap_or(0),
                });
            }
        }
        sqlx::query(
            "DELETE FROM node_cursors WHERE subject = $1 AND namespace = $2 AND node NOT IN \
             (SELECT node FROM node_cursors WHERE subject = $1 AND namespace = $2 \
              ORDER BY updated_at DESC, node LIMIT $3)",
        )
        .bind(subject)
        .bind(namespace)
        .bind(NODE_CURSORS_KEPT)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// The per-node cursors of `subject`'s `namespace`: `(node ed25519 hex, last hash)`.
    pub async fn node_cursors(
        &self,
        subject: &str,
        namespace: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query(
            "SELECT node, last_hash FROM node_cursors WHERE subject = $1 AND namespace = $2 \
             ORDER BY node",
        )
        .bind(subject)
        .bind(namespace)
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(|row| Ok((row.try_get("node")?, row.try_get("last_hash")?)))
        .collect()
    }
}
