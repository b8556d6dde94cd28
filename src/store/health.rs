//! Per-account health (migration `0015_account_health.sql`): when the replica running an
//! account last finished a poll of it, at what interval it polls, its last poll error and the
//! swarm it polls, written in batches by that replica ([`Store::put_health`]) and read by any
//! replica with the lease's owner ([`Store::account_health`]). An account is *stale* when its
//! last poll is older than three of its intervals (plus `slack_ms` for the batching).

use sqlx::Row as _;

use super::sql::placeholders;
use super::{Store, StoreError};

/// How often the replica running an account writes its health here (`actors::health`); also
/// the slack readers allow before the account counts as stale (its last poll may be this much
/// older here than in that replica's memory).
pub const FLUSH_MS: u64 = 5_000;

/// What the running replica saw of an account's polls.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollHealth {
    /// When the last poll cycle finished, ms (`None`: never).
    pub last_poll_at: Option<i64>,
    /// The interval it polls at now, ms.
    pub poll_interval_ms: i64,
    /// The last failed poll's error (kept after later successes, with its time).
    pub last_error: Option<String>,
    /// When that error happened, ms.
    pub last_error_at: Option<i64>,
    /// The swarm members it polls (Ed25519 hex), as last known: shared with the other
    /// accounts of the swarm (`network::swarms::SwarmCache`).
    pub swarm: std::sync::Arc<[String]>,
}

impl PollHealth {
    /// Whether an active account created at `created_at` with this health is stale at `now`:
    /// the rule [`Store::stale_accounts`] applies in SQL (`STALE`), for one account.
    pub fn is_stale(&self, created_at: i64, now: i64, slack_ms: i64) -> bool {
        match self.last_poll_at {
            Some(at) => at + 3 * self.poll_interval_ms + slack_ms < now,
            None => created_at + slack_ms < now,
        }
    }
}

/// [`PollHealth`] with the account's lease owner, as the API shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountHealth {
    /// The poll facts (default when never flushed).
    pub poll: PollHealth,
    /// The replica holding the account's lease, if any.
    pub replica: Option<String>,
}

impl Store {
    /// Writes the health of each `(account, health)`; an account deleted meanwhile is skipped.
    /// Rows go in statements of up to 50 ([`HEALTH_STATEMENT_ROWS`]; a replica writes a row
    /// per polled account every flush, and a statement each cost a round trip per poll), each
    /// statement on its own and without a disk sync ([`Store::execute_relaxed`]): health is a
    /// copy of what the replica holds in memory, rewritten every flush, so a power failure
    /// can only lose a few seconds of it, and 10,000 rows in one synced transaction held the
    /// one SQLite writer for long enough to show in the API's write latency.
    pub async fn put_health(
        &self,
        rows: &[(String, PollHealth)],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut rest = rows;
        while !rest.is_empty() {
            let (size, sql) = put_health_sql(rest.len());
            let (chunk, after) = rest.split_at(size);
            rest = after;
            let mut query = sqlx::query(sql).bind(now);
            for (account, health) in chunk {
                query = query
                    .bind(account)
                    .bind(health.last_poll_at)
                    .bind(health.poll_interval_ms)
                    .bind(&health.last_error)
                    .bind(health.last_error_at)
                    .bind(serde_json::to_string(&*health.swarm).unwrap_or_else(|_| "[]".into()));
            }
            self.execute_relaxed(query).await?;
        }
        Ok(())
    }
}

/// The row counts of a health upsert statement, largest first: a write of `n` rows is cut into
/// these, so each connection prepares (and caches) at most four statements. 6 parameters a row.
/// Not more: sqlx binds each of a SQLite statement's parameters by looking up its name, and
/// SQLite finds a name by walking the statement's list of them, so binding costs the square of
/// the parameter count (at 200 rows, 1,201 parameters, it was about 1.5 % of an idle
/// gateway's CPU; issue 16).
const HEALTH_STATEMENT_ROWS: [usize; 4] = [50, 10, 3, 1];

/// The largest upsert of at most `pending` (≥ 1) health rows: its row count and its SQL,
/// `$1` the write time, then six parameters per row. A `VALUES` list names its columns
/// `column1`… on both SQLite and PostgreSQL.
fn put_health_sql(pending: usize) -> (usize, &'static str) {
    use std::sync::OnceLock;
    static SQL: [OnceLock<String>; HEALTH_STATEMENT_ROWS.len()] =
        [const { OnceLock::new() }; HEALTH_STATEMENT_ROWS.len()];
    let at = (HEALTH_STATEMENT_ROWS.iter())
        .position(|&rows| rows <= pending)
        .unwrap_or(HEALTH_STATEMENT_ROWS.len() - 1);
    let rows = HEALTH_STATEMENT_ROWS[at];
    let sql = SQL[at].get_or_init(|| {
        let values: Vec<String> = (0..rows)
            .map(|r| format!("({})", placeholders(2 + r * 6, 6)))
            .collect();
        format!(
            "INSERT INTO account_health (account, last_poll_at, poll_interval_ms, last_error, \
             last_error_at, swarm, updated_at) \
             SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, $1 \
             FROM (VALUES {}) AS v WHERE EXISTS \
             (SELECT 1 FROM accounts WHERE session_id = v.column1) \
             ON CONFLICT (account) DO UPDATE SET last_poll_at = excluded.last_poll_at, \
             poll_interval_ms = excluded.poll_interval_ms, last_error = excluded.last_error, \
             last_error_at = excluded.last_error_at, swarm = excluded.swarm, \
             updated_at = excluded.updated_at",
            values.join(", ")
        )
    });
    (rows, sql)
}

/// The columns [`health_from_row`] reads, with `accounts a`, `account_health h` and
/// `account_leases l` joined.
pub(super) const HEALTH_COLUMNS: &str =
    "h.last_poll_at, h.poll_interval_ms, h.last_error, h.last_error_at, h.swarm, l.owner";

/// An account's health from a row of [`HEALTH_COLUMNS`] (every column NULL: never flushed).
pub(super) fn health_from_row(row: &sqlx::any::AnyRow) -> Result<AccountHealth, StoreError> {
    let swarm: Option<String> = row.try_get("swarm")?;
    Ok(AccountHealth {
        poll: PollHealth {
            last_poll_at: row.try_get("last_poll_at")?,
            poll_interval_ms: row
                .try_get::<Option<i64>, _>("poll_interval_ms")?
                .unwrap_or(0),
            last_error: row.try_get("last_error")?,
            last_error_at: row.try_get("last_error_at")?,
            // A list we wrote; anything else reads as unknown.
            swarm: swarm
                .and_then(|s| serde_json::from_str::<Vec<String>>(&s).ok())
                .map(Into::into)
                .unwrap_or_default(),
        },
        replica: row.try_get("owner")?,
    })
}

/// The `WHERE` clause of an active account whose last poll is older than three intervals.
const STALE: &str = "a.status = 'active' AND (h.last_poll_at IS NULL \
    OR h.last_poll_at + 3 * h.poll_interval_ms + $2 < $1)";

impl Store {
    /// `account`'s health and lease owner (default when nothing was flushed yet).
    pub async fn account_health(&self, account: &str) -> Result<AccountHealth, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {HEALTH_COLUMNS} FROM accounts a \
             LEFT JOIN account_health h ON h.account = a.session_id \
             LEFT JOIN account_leases l ON l.account = a.session_id WHERE a.session_id = $1"
        ))
        .bind(account)
        .fetch_optional(self.reads())
        .await?;
        match row {
            Some(row) => health_from_row(&row),
            None => Ok(AccountHealth::default()),
        }
    }

    /// Active accounts not polled within three of their intervals (plus `slack_ms`) at `now`,
    /// by Session ID; an account never polled counts once it is `slack_ms` old.
    pub async fn stale_accounts(&self, now: i64, slack_ms: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT a.session_id FROM accounts a LEFT JOIN account_health h \
             ON h.account = a.session_id WHERE {STALE} AND a.created_at + $2 < $1 \
             ORDER BY a.session_id"
        ))
        .bind(now)
        .bind(slack_ms)
        .fetch_all(self.reads())
        .await?;
        rows.iter()
            .map(|row| row.try_get("session_id").map_err(StoreError::from))
            .collect()
    }
}
