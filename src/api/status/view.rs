//! `GET /status.json`: what the status page shows, as one typed document (this replica's
//! network and identities; every replica's accounts, webhook queues and failures, from the
//! database).

use serde::Serialize;

use crate::api::{ApiError, ApiState};
use crate::clock::now_ms;
use crate::store::accounts::AccountStatus;
use crate::store::health::FLUSH_MS;
use crate::store::status::{Failure, WebhookQueue};

/// Most accounts listed (stale ones first); the counts cover all of them.
const MAX_ACCOUNTS: i64 = 500;
/// Failures listed.
const MAX_FAILURES: i64 = 20;

/// The status page's data.
#[derive(Debug, Serialize)]
pub struct StatusView {
    /// When this was read, ms.
    pub generated_at: i64,
    /// The Session network as the replica that answered sees it (`null` without actors).
    pub network: Option<NetworkView>,
    /// That replica's Identity actors (`null` without actors).
    pub identities: Option<IdentitiesView>,
    /// Accounts in the database.
    pub accounts_total: i64,
    /// Active accounts not polled within three intervals.
    pub accounts_stale: usize,
    /// Up to 500 accounts, stale ones first, then oldest first.
    pub accounts: Vec<AccountRow>,
    /// Every webhook's delivery queue.
    pub webhooks: Vec<WebhookQueue>,
    /// The newest failures (sends, deliveries, polls), newest first.
    pub failures: Vec<Failure>,
}

/// The network figures and this replica's onion paths.
#[derive(Debug, Serialize)]
pub struct NetworkView {
    /// Service nodes in the pool.
    pub pool: usize,
    /// Live onion paths.
    pub paths: usize,
    /// Requests can go out.
    pub usable: bool,
    /// Accounts whose swarm is cached.
    pub cached_swarms: usize,
    /// Clock offset local − network, ms.
    pub clock_offset_ms: i64,
    /// Each path's hops, guard first (Ed25519 hex).
    pub path_hops: Vec<[String; 3]>,
}

/// Identity actor counts.
#[derive(Debug, Serialize)]
pub struct IdentitiesView {
    /// Running.
    pub running: usize,
    /// Waiting to restart.
    pub restarting: usize,
}

/// One account's row.
#[derive(Debug, Serialize)]
pub struct AccountRow {
    /// Its Session ID.
    pub session_id: String,
    /// Its display name.
    pub display_name: Option<String>,
    /// `active` or `paused`.
    pub status: AccountStatus,
    /// Not polled within three intervals (active accounts).
    pub stale: bool,
    /// Last poll, ms.
    pub last_poll_at: Option<i64>,
    /// Since then, ms.
    pub poll_lag_ms: Option<i64>,
    /// Its poll interval, ms.
    pub poll_interval_ms: i64,
    /// The last poll error.
    pub last_error: Option<String>,
    /// When, ms.
    pub last_error_at: Option<i64>,
    /// The replica holding its lease.
    pub replica: Option<String>,
    /// Its swarm (Ed25519 hex of the members), as last polled.
    pub swarm: Vec<String>,
}

/// Reads everything the page shows.
pub(super) async fn read(state: &ApiState) -> Result<StatusView, ApiError> {
    let now = now_ms();
    let slack = i64::try_from(FLUSH_MS).unwrap_or(0);
    let mut accounts: Vec<AccountRow> = state
        .store
        .accounts_overview(MAX_ACCOUNTS)
        .await?
        .into_iter()
        .map(|o| AccountRow {
            stale: o.account.status == AccountStatus::Active
                && o.health.poll.is_stale(o.account.created_at, now, slack),
            session_id: o.account.session_id.as_str().to_owned(),
            display_name: o.account.display_name,
            status: o.account.status,
            last_poll_at: o.health.poll.last_poll_at,
            poll_lag_ms: o.health.poll.last_poll_at.map(|at| (now - at).max(0)),
            poll_interval_ms: o.health.poll.poll_interval_ms,
            last_error: o.health.poll.last_error,
            last_error_at: o.health.poll.last_error_at,
            replica: o.health.replica,
            swarm: o.health.poll.swarm.to_vec(),
        })
        .collect();
    // Stale first; the sort is stable, so each group stays oldest first.
    accounts.sort_by_key(|a| !a.stale);
    let network = state.actors.network_stats().map(|s| NetworkView {
        pool: s.pool_size,
        paths: s.paths,
        usable: s.paths > 0,
        cached_swarms: s.cached_swarms,
        clock_offset_ms: s.clock_offset_ms,
        path_hops: state.actors.network_paths().unwrap_or_default(),
    });
    Ok(StatusView {
        generated_at: now,
        network,
        identities: state.actors.counts().map(|c| IdentitiesView {
            running: c.running,
            restarting: c.restarting,
        }),
        accounts_total: state.store.count_accounts().await?,
        accounts_stale: state.store.stale_accounts(now, slack).await?.len(),
        accounts,
        webhooks: state.store.webhook_queues().await?,
        failures: state.store.recent_failures(MAX_FAILURES).await?,
    })
}
