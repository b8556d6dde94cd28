//! The connections the store's statements run on ([`Connections`]): on SQLite, its connections
//! kept checked out of their sqlx pool for the store's whole life; otherwise a pool as sqlx
//! gives it.
//!
//! Why kept (issue 16): sqlx pings a connection each time it goes back to its pool
//! (`PoolConnection::return_to_pool`, to flush a rollback a dropped transaction may have left).
//! On SQLite a ping is a round trip to the connection's own thread (a channel send, a futex
//! wake, the reply), as dear as the statement before it: an idle account's poll cycle reads
//! once, so half of its hand-offs to the database's threads were these pings, and every
//! transaction and write outside one paid one more. A local file does not drop a connection,
//! and a transaction dropped without a commit queues its rollback on the connection's thread
//! before the connection is lent again ([`KeptTx`]), so the ping has nothing to find:
//! [`Connections`] lends each user a connection no other one holds, and takes it back without
//! one.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream};
use futures::{StreamExt as _, TryStreamExt as _};
use sqlx::any::{AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::pool::PoolConnection;
use sqlx::{
    Any, AnyConnection, AnyPool, Database, Describe, Either, Execute, Executor, TransactionManager,
};
use tokio::sync::{
    Mutex, OwnedMappedMutexGuard, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore, TryAcquireError,
};

/// sqlx's own transaction bookkeeping for `Any` connections.
type Transactions = <Any as Database>::TransactionManager;

/// The connections a kind of statement runs on. Cheap to clone.
#[derive(Clone)]
pub(crate) enum Connections {
    /// A pool: PostgreSQL, or SQLite's writer for reads when the database has no read
    /// connections.
    Pool(AnyPool),
    /// SQLite's connections, kept ([`Kept`]).
    Kept(Arc<Kept>),
}

/// Connections checked out of `pool` once.
pub(crate) struct Kept {
    /// One permit for each connection in `slots` that no one holds.
    free: Arc<Semaphore>,
    /// The connections; `None` once [`Connections::close`] gave them back.
    slots: Vec<Arc<Mutex<Option<PoolConnection<Any>>>>>,
    pool: AnyPool,
    /// Nanoseconds the connections were lent, summed over every loan ([`Connections::held`]).
    held: Arc<AtomicU64>,
}

/// A connection lent to one user, with the permit that counted it as taken; it goes back when
/// this drops.
pub(crate) struct Lent {
    conn: OwnedMappedMutexGuard<Option<PoolConnection<Any>>, AnyConnection>,
    _permit: OwnedSemaphorePermit,
    /// When it was lent, and the sum its loan adds to when it goes back.
    since: Instant,
    held: Arc<AtomicU64>,
}

impl Drop for Lent {
    fn drop(&mut self) {
        let nanos = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.held.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl std::ops::Deref for Lent {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl Connections {
    /// Every connection `pool` may open, checked out and kept.
    pub(crate) async fn keep(pool: AnyPool) -> Result<Self, sqlx::Error> {
        let count = pool.options().get_max_connections().max(1);
        let mut slots = Vec::new();
        for _ in 0..count {
            slots.push(Arc::new(Mutex::new(Some(pool.acquire().await?))));
        }
        Ok(Self::Kept(Arc::new(Kept {
            free: Arc::new(Semaphore::new(slots.len())),
            slots,
            pool,
            held: Arc::default(),
        })))
    }

    /// How long the connections were lent in all, loans in progress left out: for SQLite's one
    /// writer, the time it was busy (or held by a transaction waiting on something else).
    /// `None` for a pool.
    pub(crate) fn held(&self) -> Option<Duration> {
        match self {
            Self::Pool(_) => None,
            Self::Kept(kept) => Some(Duration::from_nanos(kept.held.load(Ordering::Relaxed))),
        }
    }

    /// Gives the connections back and closes the pool; later statements fail as on a closed
    /// pool.
    pub(crate) async fn close(&self) {
        match self {
            Self::Pool(pool) => pool.close().await,
            Self::Kept(kept) => {
                kept.free.close();
                for slot in &kept.slots {
                    drop(slot.lock().await.take());
                }
                kept.pool.close().await;
            }
        }
    }
}

impl super::Store {
    /// How long SQLite's one writer connection has been lent out since the store opened (a
    /// statement, or a transaction from `BEGIN` to its end, each counted once it ends): beside
    /// the wall-clock time, how busy the database's one writer is. `None` on PostgreSQL,
    /// which has a pool.
    pub fn writer_held(&self) -> Option<Duration> {
        self.pool().held()
    }
}

impl Kept {
    /// A connection no one else holds, once one is free.
    pub(crate) async fn lend(&self) -> Result<Lent, sqlx::Error> {
        let (slot, permit) = self.slot().await?;
        Lent::map(slot, permit, &self.held)
    }

    /// As [`Kept::lend`], for a transaction: a connection sqlx counts as inside a transaction
    /// although none holds it is first made safe (see `restore`).
    pub(crate) async fn lend_for_transaction(&self) -> Result<Lent, sqlx::Error> {
        let (mut slot, permit) = self.slot().await?;
        if let Some(conn) = slot.take_if(|conn| Transactions::get_transaction_depth(conn) > 0) {
            // Should this fail, the slot stays empty and its next user opens a fresh
            // connection (see `slot`), as the pool would have.
            *slot = Some(restore(conn, &self.pool).await?);
        }
        Lent::map(slot, permit, &self.held)
    }

    /// A free slot and its permit.
    async fn slot(
        &self,
    ) -> Result<
        (
            OwnedMutexGuard<Option<PoolConnection<Any>>>,
            OwnedSemaphorePermit,
        ),
        sqlx::Error,
    > {
        let permit = match self.free.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::Closed) => return Err(sqlx::Error::PoolClosed),
            // Wait as long as the pool would have: a user that waits for a connection while
            // holding the only one (a transaction reading outside itself) fails, not hangs.
            Err(TryAcquireError::NoPermits) => {
                let wait = self.pool.options().get_acquire_timeout();
                match tokio::time::timeout(wait, self.free.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) => return Err(sqlx::Error::PoolClosed),
                    Err(_) => return Err(sqlx::Error::PoolTimedOut),
                }
            }
        };
        // The permit guarantees a free slot; were none free, waiting for the first is still
        // correct.
        let free = (self.slots.iter()).find_map(|slot| slot.clone().try_lock_owned().ok());
        let mut slot = match free {
            Some(slot) => slot,
            None => match self.slots.first() {
                Some(slot) => slot.clone().lock_owned().await,
                None => return Err(sqlx::Error::PoolClosed),
            },
        };
        // A slot a failed `restore` left empty gets a fresh connection. One `close` emptied
        // stays empty: it closed the permits before it took any slot.
        if slot.is_none() && !self.free.is_closed() {
            *slot = Some(self.pool.acquire().await?);
        }
        Ok((slot, permit))
    }
}

/// Without [`Connections::close`] (the store dropped where no runtime runs, as when an
/// actor thread's runtime shuts down with the last copy), each connection leaves its pool here
/// and closes on its own: given back, it would spawn a task to return itself, which panics
/// without a runtime.
impl Drop for Kept {
    fn drop(&mut self) {
        for slot in &self.slots {
            if let Some(conn) = slot.try_lock().ok().and_then(|mut slot| slot.take()) {
                drop(conn.detach());
            }
        }
    }
}

impl Lent {
    fn map(
        slot: OwnedMutexGuard<Option<PoolConnection<Any>>>,
        permit: OwnedSemaphorePermit,
        held: &Arc<AtomicU64>,
    ) -> Result<Self, sqlx::Error> {
        let conn = OwnedMutexGuard::try_map(slot, |slot| slot.as_deref_mut())
            .map_err(|_| sqlx::Error::PoolClosed)?;
        Ok(Self {
            conn,
            _permit: permit,
            since: Instant::now(),
            held: held.clone(),
        })
    }
}

/// SQLite's writer `conn`, sqlx believing it inside a transaction although no transaction
/// holds it, made safe to begin one on: the connection itself or, when it cannot be trusted,
/// a fresh one in its place.
///
/// A write that fails with `SQLITE_FULL` (or an I/O error) may make SQLite roll the whole
/// transaction back by itself. sqlx's `ROLLBACK` then fails ("no transaction is active") and
/// sqlx keeps counting the transaction as open, so the next transaction it begins is a
/// `SAVEPOINT`, and after one more failure a `ROLLBACK TO SAVEPOINT`, which leaves SQLite's
/// transaction open: every later "commit" stayed inside it, visible to this connection only,
/// and a crash would have lost all of it (found by `tests/sqlite_disk_full.rs` once reads ran
/// on their own connections). A rollback the dropped transaction queued runs first; if sqlx
/// still counts a transaction then, the connection is closed (SQLite rolls back whatever it
/// holds open) and the pool opens another.
async fn restore(
    mut conn: PoolConnection<Any>,
    pool: &AnyPool,
) -> Result<PoolConnection<Any>, sqlx::Error> {
    // Any statement runs after the queued rollback.
    sqlx::query("SELECT 1").execute(&mut *conn).await?;
    if Transactions::get_transaction_depth(&conn) == 0 {
        return Ok(conn);
    }
    tracing::warn!("the database connection lost track of a failed transaction; reopening it");
    conn.close_on_drop();
    drop(conn);
    pool.acquire().await
}

/// A transaction on a kept connection, as sqlx's `Transaction` runs one on a pooled one:
/// dropped without [`KeptTx::commit`], it queues its rollback on the connection's thread, which
/// runs it before any statement of the connection's next user.
pub(crate) struct KeptTx {
    conn: Lent,
    open: bool,
}

impl KeptTx {
    /// Begins a transaction on `conn`.
    pub(crate) async fn begin(mut conn: Lent) -> Result<Self, sqlx::Error> {
        Transactions::begin(&mut conn, None::<Cow<'static, str>>).await?;
        Ok(Self { conn, open: true })
    }

    /// The connection, for the transaction's statements.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }

    /// Commits; the connection goes back when this drops.
    pub(crate) async fn commit(&mut self) -> Result<(), sqlx::Error> {
        Transactions::commit(&mut self.conn).await?;
        self.open = false;
        Ok(())
    }
}

impl Drop for KeptTx {
    fn drop(&mut self) {
        if self.open {
            Transactions::start_rollback(&mut self.conn);
        }
    }
}

impl fmt::Debug for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pool(pool) => f.debug_tuple("Pool").field(pool).finish(),
            Self::Kept(kept) => f
                .debug_struct("Kept")
                .field("connections", &kept.slots.len())
                .finish(),
        }
    }
}

/// As `&AnyPool` does, with a kept connection in place of one acquired and released.
impl<'c> Executor<'c> for &'c Connections {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self {
            Connections::Pool(pool) => pool.fetch_many(query),
            // Whole, then streamed: the stream cannot hold the lent connection it borrows from.
            Connections::Kept(kept) => {
                let all = async move {
                    let mut lent = kept.lend().await?;
                    let items: Vec<_> = (&mut *lent).fetch_many(query).collect().await;
                    Ok::<_, sqlx::Error>(stream::iter(items))
                };
                Box::pin(stream::once(all).try_flatten())
            }
        }
    }

    fn execute<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<AnyQueryResult, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self {
            Connections::Pool(pool) => pool.execute(query),
            Connections::Kept(kept) => Box::pin(async move {
                let mut lent = kept.lend().await?;
                (&mut *lent).execute(query).await
            }),
        }
    }

    fn fetch_all<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Vec<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self {
            Connections::Pool(pool) => pool.fetch_all(query),
            Connections::Kept(kept) => Box::pin(async move {
                let mut lent = kept.lend().await?;
                (&mut *lent).fetch_all(query).await
            }),
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self {
            Connections::Pool(pool) => pool.fetch_optional(query),
            Connections::Kept(kept) => Box::pin(async move {
                let mut lent = kept.lend().await?;
                (&mut *lent).fetch_optional(query).await
            }),
        }
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        match self {
            Connections::Pool(pool) => pool.prepare_with(sql, parameters),
            Connections::Kept(kept) => Box::pin(async move {
                let mut lent = kept.lend().await?;
                (&mut *lent).prepare_with(sql, parameters).await
            }),
        }
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
    where
        'c: 'e,
    {
        match self {
            Connections::Pool(pool) => pool.describe(sql),
            Connections::Kept(kept) => Box::pin(async move {
                let mut lent = kept.lend().await?;
                (&mut *lent).describe(sql).await
            }),
        }
    }
}

#[cfg(test)]
impl Connections {
    /// Every kept connection, held until the guards drop, and how many were free before.
    pub(crate) async fn hold_all(&self) -> (Vec<Lent>, usize) {
        let Self::Kept(kept) = self else {
            return (Vec::new(), 0);
        };
        let free = kept.free.available_permits();
        let mut held = Vec::new();
        for _ in 0..kept.slots.len() {
            held.push(kept.lend().await.expect("a kept connection"));
        }
        (held, free)
    }

    /// How many kept connections no one holds.
    pub(crate) fn free(&self) -> usize {
        match self {
            Self::Pool(_) => 0,
            Self::Kept(kept) => kept.free.available_permits(),
        }
    }
}

/// A [`StoreTx`](super::StoreTx)'s transaction: sqlx's on a pooled connection (PostgreSQL), or
/// a [`KeptTx`] (SQLite).
pub(crate) enum TxConn {
    Pool(sqlx::Transaction<'static, Any>),
    Kept(KeptTx),
}

impl TxConn {
    /// Begins a transaction on one of `connections`.
    pub(crate) async fn begin(connections: &Connections) -> Result<Self, sqlx::Error> {
        Ok(match connections {
            Connections::Pool(pool) => Self::Pool(pool.begin().await?),
            Connections::Kept(kept) => {
                Self::Kept(KeptTx::begin(kept.lend_for_transaction().await?).await?)
            }
        })
    }

    /// The connection, for the transaction's statements.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        match self {
            Self::Pool(tx) => tx,
            Self::Kept(tx) => tx.conn(),
        }
    }

    /// Commits.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Pool(tx) => tx.commit().await,
            Self::Kept(mut tx) => tx.commit().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn kept_memory() -> Arc<Kept> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        match Connections::keep(pool).await.unwrap() {
            Connections::Kept(kept) => kept,
            Connections::Pool(_) => unreachable!("keep keeps"),
        }
    }

    // A slot left empty (a `restore` that failed after taking the connection out) is refilled
    // from the pool by its next user; a slot `close` emptied is not.
    #[tokio::test]
    async fn an_emptied_slot_is_refilled_until_the_connections_are_closed() {
        let kept = kept_memory().await;
        drop(kept.slots[0].lock().await.take());
        let mut lent = kept.lend().await.unwrap();
        let one: i64 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut *lent)
            .await
            .unwrap();
        assert_eq!(one, 1);
        drop(lent);
        Connections::Kept(kept.clone()).close().await;
        assert!(matches!(kept.lend().await, Err(sqlx::Error::PoolClosed)));
        assert!(kept.slots[0].lock().await.is_none());
    }

    // The last copy of the connections dropped where no runtime runs: no panic (giving a
    // connection back to its pool spawns a task).
    #[test]
    fn kept_connections_drop_without_a_runtime() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let kept = runtime.block_on(kept_memory());
        drop(runtime);
        drop(kept);
    }
}
