//! Writes that may be lost in a power failure without breaking a guarantee, committed on
//! SQLite without waiting for the disk.
//!
//! SQLite in WAL mode with `synchronous = FULL` (the gateway's setting for every transaction)
//! syncs the log on each commit: a commit survives a crash of the machine, not only of the
//! process. That sync was about a third of the gateway's CPU per sent message (send bench,
//! issue 16: 8.4 ms with every commit synced, 5.8 ms with none). Some writes need only survive
//! a crash of the process, which `synchronous = NORMAL` still gives (the commit is in the log
//! before the call returns; only the disk's copy lags until the next synced commit or
//! checkpoint, and a later synced commit carries it along):
//!
//! - a webhook delivery's claim: lost, the delivery is simply claimable again;
//! - a webhook attempt's outcome: lost, the event is sent again under the same event id, which
//!   is what at-least-once delivery already promises after a crash mid-attempt;
//! - when an account's config heads were last extended (`user_configs`): lost, they are
//!   extended again on the next poll, which changes nothing on the swarm;
//! - accounts' poll health (`store::health`): a copy of what the replica holds in memory,
//!   rewritten every few seconds; lost, the API shows the previous flush's times until then.
//!
//! Everything a client or a peer was told is stored (a `202`, a cursor advance, an accepted
//! message, an event) stays on synced commits. PostgreSQL is unchanged: its writes go to the
//! pool as before.

use sqlx::any::{AnyArguments, AnyQueryResult};
use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::{Any, AnyPool};

use super::StoreError;

/// SQLite's writer connection, switched to `synchronous = NORMAL` until [`Self::release`]
/// puts the gateway's `FULL` back (set on every connection it opens, `connect::open_sqlite`). No later commit may run unsynced by mistake, so a guard
/// dropped before its release (its caller's future cancelled, as a webhook attempt is at
/// shutdown) hands the connection to a task that restores the setting and then returns it
/// (the pool's `close` waits for that, and the last connection to close removes SQLite's
/// log). Where that cannot run (no runtime, the task itself dropped, the restore failing)
/// the connection is closed instead, and the pool opens a fresh one with the default setting.
struct RelaxedWriter {
    conn: Option<PoolConnection<Any>>,
    /// This guard is the restoring task's: dropped, it closes the connection.
    restoring: bool,
}

impl RelaxedWriter {
    /// The writer connection, to be switched to `NORMAL` by the caller's own statements: the
    /// guard restores `FULL` unless told the caller's statements did ([`Self::synced`]).
    async fn take(pool: &AnyPool) -> Result<Self, StoreError> {
        Ok(Self {
            conn: Some(pool.acquire().await?),
            restoring: false,
        })
    }

    /// The caller's statements put `synchronous = FULL` back: the connection returns to the
    /// pool as it came.
    fn synced(mut self) {
        drop(self.conn.take());
    }

    fn conn(&mut self) -> Result<&mut PoolConnection<Any>, StoreError> {
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::Corrupt("relaxed writer used after release".into()))
    }

    /// Puts `synchronous = FULL` back and returns the connection to the pool.
    async fn release(mut self) -> Result<(), StoreError> {
        sqlx::query("PRAGMA synchronous = FULL")
            .execute(&mut **self.conn()?)
            .await?;
        // Restored: the connection may go back to the pool as it came.
        drop(self.conn.take());
        Ok(())
    }
}

impl Drop for RelaxedWriter {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) if !self.restoring => {
                let guard = Self {
                    conn: Some(conn),
                    restoring: true,
                };
                runtime.spawn(async move {
                    // A failed restore leaves the guard holding the connection: closed.
                    let _ = guard.release().await;
                });
            }
            _ => conn.close_on_drop(),
        }
    }
}

/// Runs `query`, one write of the kinds the module lists, on SQLite's writer without syncing
/// its commit to disk; on PostgreSQL as any other write.
///
/// On SQLite the switch to `NORMAL`, the write and the switch back go to the connection as one
/// query of three statements: one round trip to the connection's thread instead of three (two
/// relaxed writes per webhook delivery made the switches a third of its statements). The
/// write's own result is the second of the three: SQLite reports a `PRAGMA` as changing the
/// rows the last write changed, so the sum sqlx would give counts rows twice. If the write
/// fails, the last statement does not run, and the switch back is made on its own.
pub(super) async fn execute<'q>(
    pool: &AnyPool,
    sqlite: bool,
    mut query: Query<'q, Any, AnyArguments<'q>>,
) -> Result<AnyQueryResult, StoreError> {
    use futures::TryStreamExt as _;
    use sqlx::{Execute as _, Executor as _};

    if !sqlite {
        return Ok(query.execute(pool).await?);
    }
    let sql = format!(
        "PRAGMA synchronous = NORMAL; {}; PRAGMA synchronous = FULL",
        query.sql()
    );
    let arguments = query
        .take_arguments()
        .map_err(|e| StoreError::Corrupt(format!("relaxed write arguments: {e}")))?
        .unwrap_or_default();
    let mut writer = RelaxedWriter::take(pool).await?;
    let statements = sqlx::query_with(&sql, arguments);
    #[allow(deprecated)] // execute_many: the one way to read each statement's own result
    let results: Result<Vec<AnyQueryResult>, sqlx::Error> =
        writer.conn()?.execute_many(statements).try_collect().await;
    match results.map(<[AnyQueryResult; 3]>::try_from) {
        Ok(Ok([_, written, _])) => {
            writer.synced(); // the last statement ran: the connection is FULL again
            Ok(written)
        }
        Ok(Err(results)) => {
            writer.release().await?;
            Err(StoreError::Corrupt(format!(
                "relaxed write gave {} results, not 3 (one statement expected)",
                results.len()
            )))
        }
        Err(error) => {
            writer.release().await?;
            Err(error.into())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use sqlx::any::AnyPoolOptions;

    async fn one_connection_pool(dir: &tempfile::TempDir) -> AnyPool {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        pool
    }

    /// The writer switched to `NORMAL`, as a relaxed write leaves it mid-way.
    async fn relaxed_writer(pool: &AnyPool) -> RelaxedWriter {
        let mut writer = RelaxedWriter::take(pool).await.unwrap();
        sqlx::query("PRAGMA synchronous = NORMAL")
            .execute(&mut **writer.conn().unwrap())
            .await
            .unwrap();
        writer
    }

    async fn synchronous(pool: &AnyPool) -> i64 {
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_relaxed_write_lands_and_the_writer_is_synced_again_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let pool = one_connection_pool(&dir).await;
        let before = synchronous(&pool).await;
        assert_eq!(before, 2, "the default: FULL");
        execute(&pool, true, sqlx::query("INSERT INTO t (x) VALUES (1)"))
            .await
            .unwrap();
        assert_eq!(synchronous(&pool).await, before);
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(count, 1);
    }

    #[tokio::test]
    async fn a_writer_dropped_before_its_release_is_restored_before_reuse() {
        let dir = tempfile::tempdir().unwrap();
        let pool = one_connection_pool(&dir).await;
        let writer = relaxed_writer(&pool).await;
        drop(writer);
        // The one connection comes back only after the restoring task ran.
        assert_eq!(synchronous(&pool).await, 2);
    }

    #[tokio::test]
    async fn a_restoring_guard_dropped_closes_its_connection() {
        let dir = tempfile::tempdir().unwrap();
        let pool = one_connection_pool(&dir).await;
        let mut writer = relaxed_writer(&pool).await;
        writer.restoring = true;
        drop(writer);
        // Closed, not returned unsynced: the next connection starts with the default.
        assert_eq!(synchronous(&pool).await, 2);
    }

    #[tokio::test]
    async fn a_cancelled_relaxed_write_leaves_the_pool_closable() {
        let dir = tempfile::tempdir().unwrap();
        let pool = one_connection_pool(&dir).await;
        let writer = relaxed_writer(&pool).await;
        drop(writer);
        pool.close().await;
        // The only connection closed normally: SQLite removed its log.
        let wal = dir.path().join("t.db-wal");
        assert!(!wal.exists(), "the write-ahead log is left behind");
    }

    // A claim is taken when its update changed a row, so a relaxed write must report the rows
    // its own statement changed: SQLite reports each `PRAGMA` around it as changing as many
    // rows as the connection's last write did.
    #[tokio::test]
    async fn a_relaxed_write_reports_the_rows_it_changed_and_no_others() {
        let dir = tempfile::tempdir().unwrap();
        let pool = one_connection_pool(&dir).await;
        let insert = sqlx::query("INSERT INTO t (x) VALUES ($1), ($2), ($3)")
            .bind(1i64)
            .bind(2i64)
            .bind(3i64);
        let done = execute(&pool, true, insert).await.unwrap();
        assert_eq!(done.rows_affected(), 3);
        let none = sqlx::query("UPDATE t SET x = 9 WHERE x = $1").bind(100i64);
        let done = execute(&pool, true, none).await.unwrap();
        assert_eq!(
            done.rows_affected(),
            0,
            "the previous write's rows are not this one's"
        );
        let one = sqlx::query("UPDATE t SET x = 9 WHERE x = $1").bind(2i64);
        let done = execute(&pool, true, one).await.unwrap();
        assert_eq!(done.rows_affected(), 1);
        assert_eq!(synchronous(&pool).await, 2);
    }

    #[tokio::test]
    async fn a_failed_write_still_restores_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let pool = one_connection_pool(&dir).await;
        let failed = execute(&pool, true, sqlx::query("INSERT INTO missing VALUES (1)")).await;
        assert!(failed.is_err());
        assert_eq!(synchronous(&pool).await, 2);
    }
}
