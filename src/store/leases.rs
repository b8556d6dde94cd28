//! Account leases and replica heartbeats (design.md §6), and the fencing check that keeps a
//! replica that lost a lease from committing state for that account.
//!
//! Tables (`migrations/*/0002_leases.sql`):
//! * `replicas (id, started_at, heartbeat_at, expires_at)`: a replica is live while
//!   `expires_at > now`.
//! * `account_leases (account, owner, epoch, acquired_at, expires_at)`: `owner` holds the account
//!   while `expires_at > now`. Every acquisition increments `epoch` (the fencing token), so two
//!   holders of the same account never share an epoch.
//!
//! Time is the database's clock on PostgreSQL ([`Store::db_now`]), so replicas with skewed
//! clocks still agree on expiry; SQLite (one process) uses the local clock. Policy (how many to
//! hold, when to renew) lives in [`crate::leases`]; this module only states the rows.
//!
//! Race safety on PostgreSQL (READ COMMITTED): acquiring an expired lease is an `UPDATE … WHERE
//! expires_at <= now`; a concurrent acquirer blocks on the row and re-checks that condition after
//! the first commits, so exactly one wins. Fresh leases are `INSERT … ON CONFLICT DO NOTHING`.

use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::{Backend, Notice, Store, StoreError, StoreTx};

/// A held lease: the proof a replica presents to write state for the account.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LeaseToken {
    /// The account's Session ID.
    pub account: Arc<str>,
    /// The holding replica. Shared: every token of a replica and every copy of a token (the
    /// lease manager's, its published snapshot, the supervisor's, each actor's) point at one
    /// string, not a copy each (10,000 accounts hold about 50,000 tokens).
    pub owner: Arc<str>,
    /// The fencing token: grows with every acquisition of this account.
    pub epoch: i64,
    /// When this acquisition happened (database clock, ms).
    pub acquired_at: i64,
    /// Held until (database clock, ms); moves forward with each renewal.
    pub expires_at: i64,
}

fn lease_from_row(row: &AnyRow, owner: &Arc<str>) -> Result<LeaseToken, StoreError> {
    Ok(LeaseToken {
        account: Arc::from(row.try_get::<String, _>("account")?),
        owner: owner.clone(),
        epoch: row.try_get("epoch")?,
        acquired_at: row.try_get("acquired_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

/// [`Store::db_now`] over a bare pool (the key rotation has no `Store`).
pub(super) async fn db_clock<'c>(
    pool: impl sqlx::Executor<'c, Database = sqlx::Any>,
    backend: Backend,
) -> Result<i64, StoreError> {
    match backend {
        Backend::Sqlite => Ok(crate::clock::now_ms()),
        Backend::Postgres => Ok(sqlx::query(
            "SELECT CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT) AS now",
        )
        .fetch_one(pool)
        .await?
        .try_get("now")?),
    }
}

const RETURNING: &str = "RETURNING account, epoch, acquired_at, expires_at";

/// Leases renewed per statement ([`Store::renew_leases`]).
const RENEW_CHUNK: i64 = 500;

impl Store {
    /// The current time by the database's clock (PostgreSQL), or this process's (SQLite).
    pub async fn db_now(&self) -> Result<i64, StoreError> {
        db_clock(self.pool(), self.backend).await
    }

    /// Records that `replica` is alive until `expires_at`. True when the row is new (it joined).
    pub async fn heartbeat(
        &self,
        replica: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let updated =
            sqlx::query("UPDATE replicas SET heartbeat_at = $1, expires_at = $2 WHERE id = $3")
                .bind(now)
                .bind(expires_at)
                .bind(replica)
                .execute(self.pool())
                .await?
                .rows_affected();
        if updated > 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO replicas (id, started_at, heartbeat_at, expires_at) \
             VALUES ($1, $2, $2, $3) ON CONFLICT (id) DO UPDATE SET \
             heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at",
        )
        .bind(replica)
        .bind(now)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(true)
    }

    /// Replicas whose heartbeat has not expired at `now`, sorted.
    pub async fn live_replicas(&self, now: i64) -> Result<Vec<String>, StoreError> {
        sqlx::query("SELECT id FROM replicas WHERE expires_at > $1 ORDER BY id")
            .bind(now)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| Ok(row.try_get("id")?))
            .collect()
    }

    /// Forgets `replica` (a clean stop) and stale replica rows expired before `stale_before`.
    pub async fn remove_replica(&self, replica: &str, stale_before: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM replicas WHERE id = $1 OR expires_at < $2")
            .bind(replica)
            .bind(stale_before)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// How many accounts exist (the lease manager spreads all of them).
    pub async fn count_accounts(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM accounts")
            .fetch_one(self.pool())
            .await?
            .try_get("n")?)
    }

    /// Extends every lease `owner` still holds at `now` to `expires_at`; returns them. A lease
    /// missing from the answer expired (and may already belong to another replica).
    ///
    /// In statements of [`RENEW_CHUNK`] leases (in account order), not one: with one SQLite
    /// connection, a single `UPDATE` of 10,000 rows held it for seconds on a busy machine and
    /// every API request waited behind it (issue 16).
    pub async fn renew_leases(
        &self,
        owner: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<Vec<LeaseToken>, StoreError> {
        let shared: Arc<str> = Arc::from(owner); // one copy for every token made here
        let mut renewed = Vec::new();
        let mut after = String::new();
        loop {
            let chunk: Vec<LeaseToken> = sqlx::query(&format!(
                "UPDATE account_leases SET expires_at = $1 WHERE owner = $2 AND expires_at > $3 \
                 AND account IN (SELECT account FROM account_leases WHERE owner = $2 \
                 AND expires_at > $3 AND account > $4 ORDER BY account LIMIT $5) {RETURNING}"
            ))
            .bind(expires_at)
            .bind(owner)
            .bind(now)
            .bind(&after)
            .bind(RENEW_CHUNK)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| lease_from_row(row, &shared))
            .collect::<Result<_, _>>()?;
            let Some(last) = chunk.iter().map(|l| &*l.account).max() else {
                break;
            };
            after = last.to_owned();
            let full = chunk.len() >= usize::try_from(RENEW_CHUNK).unwrap_or(usize::MAX);
            renewed.extend(chunk);
            if !full {
                break;
            }
        }
        Ok(renewed)
    }

    /// Takes up to `limit` accounts nobody holds at `now` (never leased, expired or released),
    /// until `expires_at`, each under a new epoch.
    pub async fn acquire_leases(
        &self,
        owner: &str,
        now: i64,
        expires_at: i64,
        limit: i64,
    ) -> Result<Vec<LeaseToken>, StoreError> {
        let shared: Arc<str> = Arc::from(owner); // one copy for every token made here
                                                 // Random order: replicas acquiring at the same moment mostly pick different rows.
        let mut taken: Vec<LeaseToken> = sqlx::query(&format!(
            "INSERT INTO account_leases (account, owner, epoch, acquired_at, expires_at) \
             SELECT a.session_id, $1, 1, $2, $3 FROM accounts a WHERE NOT EXISTS \
             (SELECT 1 FROM account_leases l WHERE l.account = a.session_id) \
             ORDER BY random() LIMIT $4 ON CONFLICT (account) DO NOTHING {RETURNING}"
        ))
        .bind(owner)
        .bind(now)
        .bind(expires_at)
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| lease_from_row(row, &shared))
        .collect::<Result<_, _>>()?;
        let rest = limit.saturating_sub(i64::try_from(taken.len()).unwrap_or(limit));
        if rest > 0 {
            let expired = sqlx::query(&format!(
                "UPDATE account_leases SET owner = $1, epoch = epoch + 1, acquired_at = $2, \
                 expires_at = $3 WHERE account IN (SELECT account FROM account_leases \
                 WHERE expires_at <= $2 ORDER BY random() LIMIT $4{}) AND expires_at <= $2 \
                 {RETURNING}",
                self.backend.skip_locked()
            ))
            .bind(owner)
            .bind(now)
            .bind(expires_at)
            .bind(rest)
            .fetch_all(self.pool())
            .await?;
            for row in &expired {
                taken.push(lease_from_row(row, &shared)?);
            }
        }
        Ok(taken)
    }

    /// Gives a lease up at `now` so another replica may take it at once. False if it was no
    /// longer held under that epoch.
    pub async fn release_lease(&self, lease: &LeaseToken, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE account_leases SET expires_at = $1 WHERE account = $2 AND owner = $3 \
             AND epoch = $4 AND expires_at > $1",
        )
        .bind(now)
        .bind(&*lease.account)
        .bind(&*lease.owner)
        .bind(lease.epoch)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Hands `lease` to `owner` in one step, under a new epoch, until `expires_at` (a planned
    /// handover: no moment where the account is free for a third replica to take). `None` if
    /// `lease` was no longer held under its epoch.
    pub async fn hand_over_lease(
        &self,
        lease: &LeaseToken,
        owner: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<Option<LeaseToken>, StoreError> {
        let owner_shared: Arc<str> = Arc::from(owner);
        sqlx::query(&format!(
            "UPDATE account_leases SET owner = $1, epoch = epoch + 1, acquired_at = $2, \
             expires_at = $3 WHERE account = $4 AND owner = $5 AND epoch = $6 {RETURNING}"
        ))
        .bind(owner)
        .bind(now)
        .bind(expires_at)
        .bind(&*lease.account)
        .bind(&*lease.owner)
        .bind(lease.epoch)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(|row| lease_from_row(row, &owner_shared))
        .transpose()
    }

    /// SQLite only (one replica by definition): forgets other replicas and expires their
    /// leases, so this process takes every account on its first round instead of waiting out
    /// leases left by a previous run.
    pub async fn take_over_single_replica(&self, replica: &str) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        sqlx::query("DELETE FROM replicas WHERE id <> $1")
            .bind(replica)
            .execute(self.pool())
            .await?;
        sqlx::query("UPDATE account_leases SET expires_at = 0 WHERE owner <> $1")
            .bind(replica)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every lease row (tests and diagnostics).
    pub async fn all_leases(&self) -> Result<Vec<LeaseToken>, StoreError> {
        sqlx::query("SELECT account, owner, epoch, acquired_at, expires_at FROM account_leases")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                let owner: Arc<str> = Arc::from(row.try_get::<String, _>("owner")?);
                lease_from_row(row, &owner)
            })
            .collect()
    }

    /// A transaction that writes state for `lease.account` only while `lease` is still held
    /// (see [`StoreTx::fence`]).
    pub async fn begin_fenced(&self, lease: &LeaseToken) -> Result<StoreTx, StoreError> {
        let mut tx = self.begin().await?;
        tx.fence(lease).await?;
        Ok(tx)
    }

    /// Announces that leases moved (a release, a join, a clean stop).
    pub async fn announce_leases_changed(&self) -> Result<(), StoreError> {
        self.announce(Notice::LeasesChanged).await
    }
}

impl StoreTx {
    /// Makes this transaction write under `lease`: fails with [`StoreError::LeaseLost`] unless
    /// `lease.owner` still holds the account under `lease.epoch`. On PostgreSQL the lease row is
    /// then share-locked until commit, so no other replica can acquire it before this
    /// transaction's writes land (the check holds at commit); SQLite's one connection gives
    /// the same. Poll cursors and message statuses written afterwards record the epoch and
    /// refuse to overwrite a row written under a newer one.
    pub async fn fence(&mut self, lease: &LeaseToken) -> Result<(), StoreError> {
        let held = sqlx::query(&format!(
            "SELECT epoch FROM account_leases WHERE account = $1 AND owner = $2 AND epoch = $3{}",
            self.backend().for_share()
        ))
        .bind(&*lease.account)
        .bind(&*lease.owner)
        .bind(lease.epoch)
        .fetch_optional(self.conn())
        .await?;
        if held.is_none() {
            return Err(StoreError::LeaseLost {
                account: lease.account.to_string(),
                epoch: lease.epoch,
            });
        }
        self.fences.retain(|f| f.account != lease.account);
        self.fences.push(lease.clone());
        Ok(())
    }

    /// The epoch this transaction writes `account` under, if fenced.
    pub(crate) fn fence_epoch(&self, account: &str) -> Option<i64> {
        self.fences
            .iter()
            .find(|f| &*f.account == account)
            .map(|f| f.epoch)
    }
}
