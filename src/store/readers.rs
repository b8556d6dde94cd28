//! Where plain reads run ([`Readers`]): on SQLite, read-only connections kept checked out of
//! their sqlx pool for the store's whole life; otherwise a pool as sqlx gives it.
//!
//! Why kept (issue 16): sqlx pings a connection each time it goes back to its pool
//! (`PoolConnection::return_to_pool`, to flush a rollback a dropped transaction may have left).
//! On SQLite a ping is a round trip to the connection's own thread (a channel send, a futex
//! wake, the reply), as dear as the read before it. An idle account's poll cycle reads once, so
//! half of its hand-offs to the database's threads were these pings. A read-only connection
//! never holds a transaction and its local file does not drop it, so there is nothing for the
//! ping to find: [`Readers`] lends each read a connection no other read holds and takes it
//! back without one.

use std::fmt;

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream};
use futures::{StreamExt as _, TryStreamExt as _};
use sqlx::any::{AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Describe, Either, Execute, Executor};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard, Semaphore, SemaphorePermit};

/// The connections plain reads run on. Cheap to clone.
#[derive(Clone)]
pub(crate) enum Readers {
    /// A pool: PostgreSQL, or SQLite's writer when the database has no read connections.
    Pool(AnyPool),
    /// SQLite's read-only connections, kept ([`Kept`]).
    Kept(std::sync::Arc<Kept>),
}

/// Read-only connections checked out of `pool` once.
pub(crate) struct Kept {
    /// One permit for each connection in `slots` that no read holds.
    free: Semaphore,
    /// The connections; `None` once [`Readers::close`] gave them back.
    slots: Vec<Mutex<Option<PoolConnection<Any>>>>,
    pool: AnyPool,
}

/// A connection lent to one read, with the permit that counted it as taken.
pub(crate) struct Lent<'a> {
    conn: MappedMutexGuard<'a, AnyConnection>,
    _permit: SemaphorePermit<'a>,
}

impl Readers {
    /// Every connection `pool` may open, checked out and kept.
    pub(crate) async fn keep(pool: AnyPool) -> Result<Self, sqlx::Error> {
        let count = pool.options().get_max_connections().max(1);
        let mut slots = Vec::new();
        for _ in 0..count {
            slots.push(Mutex::new(Some(pool.acquire().await?)));
        }
        Ok(Self::Kept(std::sync::Arc::new(Kept {
            free: Semaphore::new(slots.len()),
            slots,
            pool,
        })))
    }

    /// Gives the connections back and closes the pool; later reads fail as on a closed pool.
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

#[cfg(test)]
impl Readers {
    /// Every kept connection, held until the guards drop, and how many were free before.
    pub(crate) async fn hold_all(&self) -> (Vec<Lent<'_>>, usize) {
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

    /// How many kept connections no read holds.
    pub(crate) fn free(&self) -> usize {
        match self {
            Self::Pool(_) => 0,
            Self::Kept(kept) => kept.free.available_permits(),
        }
    }
}

impl Kept {
    /// A connection no other read holds, once one is free.
    async fn lend(&self) -> Result<Lent<'_>, sqlx::Error> {
        let permit = (self.free.acquire().await).map_err(|_| sqlx::Error::PoolClosed)?;
        // The permit guarantees a free slot; were none free, waiting for the first is still
        // correct.
        let guard = match self.slots.iter().find_map(|slot| slot.try_lock().ok()) {
            Some(guard) => guard,
            None => match self.slots.first() {
                Some(slot) => slot.lock().await,
                None => return Err(sqlx::Error::PoolClosed),
            },
        };
        let conn = MutexGuard::try_map(guard, |slot| slot.as_deref_mut())
            .map_err(|_| sqlx::Error::PoolClosed)?;
        Ok(Lent {
            conn,
            _permit: permit,
        })
    }
}

impl fmt::Debug for Readers {
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
impl<'c> Executor<'c> for &'c Readers {
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
            Readers::Pool(pool) => pool.fetch_many(query),
            // Whole, then streamed: the stream cannot hold the lent connection it borrows from.
            Readers::Kept(kept) => {
                let all = async move {
                    let mut lent = kept.lend().await?;
                    let items: Vec<_> = (&mut *lent.conn).fetch_many(query).collect().await;
                    Ok::<_, sqlx::Error>(stream::iter(items))
                };
                Box::pin(stream::once(all).try_flatten())
            }
        }
    }

    fn fetch_all<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Vec<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self {
            Readers::Pool(pool) => pool.fetch_all(query),
            Readers::Kept(kept) => Box::pin(async move {
                let mut lent = kept.lend().await?;
                (&mut *lent.conn).fetch_all(query).await
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
            Readers::Pool(pool) => pool.fetch_optional(query),
            Readers::Kept(kept) => Box::pin(async move {
                let mut lent = kept.lend().await?;
                (&mut *lent.conn).fetch_optional(query).await
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
            Readers::Pool(pool) => pool.prepare_with(sql, parameters),
            Readers::Kept(kept) => Box::pin(async move {
                let mut lent = kept.lend().await?;
                (&mut *lent.conn).prepare_with(sql, parameters).await
            }),
        }
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
    where
        'c: 'e,
    {
        match self {
            Readers::Pool(pool) => pool.describe(sql),
            Readers::Kept(kept) => Box::pin(async move {
                let mut lent = kept.lend().await?;
                (&mut *lent.conn).describe(sql).await
            }),
        }
    }
}
