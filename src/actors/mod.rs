//! The gateway's actors (design.md §3): a [`Supervisor`] that runs one [`Identity`] per
//! account, each owning one [`Conversation`] per conversation with queued outgoing messages or
//! fresh arrivals (messages come in through [`sources`] and leave through [`transports`]), and a
//! [`PathPool`] that keeps the network client's onion paths built and reports their health.
//!
//! Threading: the actors live on one dedicated thread running an actix `System`
//! ([`ActorSystem`]). They never block it: every database or network call runs as a tokio task
//! on the gateway's I/O runtime ([`Services::io`]) and comes back to the actor as the output of a
//! future the actor awaits (`ctx.spawn(task.into_actor(self))`). A task is aborted when the
//! actor that started it is dropped ([`Task`]), so stopping the system is a clean crash: what
//! was committed stays, nothing half-written remains (every write is one transaction).
//!
//! Paths and the node pool: `network::SessionNetwork` already owns the pool, the paths, the
//! swarm cache and their failure accounting behind its own locks, so there is no actor per path
//! duplicating that; [`PathPool`] is the thin supervising actor on top (periodic rebuild and
//! metrics).

pub mod attachments;
pub mod conversation;
pub mod error;
pub mod health;
pub mod identity;
pub mod inbox;
pub mod keys;
pub mod outgoing;
pub mod path_pool;
mod poll_cycle;
pub mod pruner;
pub mod retention;
pub mod rooms;
pub mod schedule;
pub mod sources;
pub mod supervisor;
pub mod system;
pub mod ticker;
pub mod transports;

use std::sync::Arc;

pub use conversation::Conversation;
pub use error::ActorError;
pub use identity::Identity;
pub use path_pool::PathPool;
pub use supervisor::{Supervisor, SupervisorCounts};
pub use system::{ActorSystem, ActorsHandle};

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::network::SessionNetwork;
use crate::store::Store;

/// Timing of polls and sends, from `[polling]` and `[sending]` in the settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorSettings {
    /// Poll interval while the account is active, ms.
    pub poll_active_ms: u64,
    /// Poll interval after `active_window_ms` without traffic, ms.
    pub poll_quiet_ms: u64,
    /// Poll interval after `quiet_window_ms` without traffic, ms.
    pub poll_idle_ms: u64,
    /// How long after traffic the account counts as active, ms.
    pub active_window_ms: u64,
    /// How long after traffic the account counts as quiet rather than idle, ms.
    pub quiet_window_ms: u64,
    /// Attempts per outgoing message before it fails.
    pub send_max_attempts: u32,
    /// First retry delay cap, ms; doubles per attempt up to `send_max_backoff_ms`.
    pub send_initial_backoff_ms: u64,
    /// Largest retry delay cap, ms.
    pub send_max_backoff_ms: u64,
    /// A message still unsent this long after it was accepted fails, ms.
    pub send_deadline_ms: u64,
    /// How often the path pool is checked and rebuilt if needed, ms.
    pub path_check_ms: u64,
    /// First restart delay of a crashed Identity, ms (doubles up to 60 s).
    pub restart_backoff_ms: u64,
    /// A received attachment that failed for network reasons is fetched again after this, ms.
    pub attachment_retry_ms: u64,
    /// What the retention job prunes, from `[retention]`.
    pub retention: crate::store::prune::RetentionPolicy,
    /// How often the retention job runs, ms.
    pub retention_interval_ms: u64,
}

impl ActorSettings {
    /// The actor timings in `settings`.
    pub fn from_settings(settings: &Settings) -> Self {
        let polling = &settings.polling;
        let sending = &settings.sending;
        Self {
            poll_active_ms: polling.active_interval_ms.max(1),
            poll_quiet_ms: polling.quiet_interval_ms.max(1),
            poll_idle_ms: polling.idle_interval_ms.max(1),
            active_window_ms: polling.active_window_ms,
            quiet_window_ms: polling.quiet_window_ms,
            send_max_attempts: sending.max_attempts.max(1),
            send_initial_backoff_ms: sending.initial_backoff_ms.max(1),
            send_max_backoff_ms: sending.max_backoff_ms.max(1),
            send_deadline_ms: sending.deadline_ms,
            path_check_ms: settings.network.path_check_ms.max(100),
            restart_backoff_ms: 1_000,
            attachment_retry_ms: polling.attachment_retry_ms.max(100),
            retention: retention_policy(&settings.retention),
            retention_interval_ms: settings.retention.interval_ms.max(10),
        }
    }
}

/// The store's [`RetentionPolicy`](crate::store::prune::RetentionPolicy) for `[retention]`.
fn retention_policy(
    retention: &crate::config::RetentionSettings,
) -> crate::store::prune::RetentionPolicy {
    use crate::config::RetentionSettings as R;
    crate::store::prune::RetentionPolicy {
        events: R::days(retention.events_days),
        deliveries: R::days(retention.deliveries_days),
        messages: R::days(retention.messages_days),
        attachment_bytes: R::days(retention.attachment_bytes_days),
        batch: retention.batch.max(1),
    }
}

/// What every actor shares: one copy behind an `Arc`, so an actor holds a pointer to it (a
/// copy of each part was 312 bytes in every Identity actor, of 10,000 at scale) and a clone,
/// made for each poll's and each send's futures, is one reference count, not twenty.
#[derive(Clone)]
pub struct Deps(Arc<Services>);

impl Deps {
    /// Shares `services` between the actors.
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for Deps {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The parts of [`Deps`].
pub struct Services {
    /// The database.
    pub store: Store,
    /// The onion network client.
    pub network: SessionNetwork,
    /// Metric families.
    pub metrics: Metrics,
    /// Timings.
    pub settings: Arc<ActorSettings>,
    /// The runtime database and network futures run on (never the actors' own thread).
    pub io: tokio::runtime::Handle,
    /// Background downloads of incoming attachments.
    pub attachments: attachments::Fetcher,
    /// Limits how many Identity actors load their account at once ([`STARTUP_CONCURRENCY`]).
    pub startups: Arc<tokio::sync::Semaphore>,
    /// What this replica's Identity actors saw of their polls ([`health`]).
    pub health: health::HealthBoard,
    /// The copies this replica stored on its accounts' own swarms, which their polls pass
    /// over unopened ([`sources::own_swarm::OwnCopies`]).
    pub own_copies: Arc<sources::own_swarm::OwnCopies>,
    /// Send outcomes forming groups that share one transaction
    /// ([`crate::store::group_commit`]).
    pub settles: Arc<outgoing::SettleGroups>,
}

/// Identity start-ups that read the database at the same time. SQLite has one connection: when
/// 10,000 accounts started at once, their 30,000 reads queued in front of everything else for
/// over 30 s, API requests timed out waiting for the connection (503) and the lease renewal
/// came too late, so every lease was reported lost (`benches/scale.rs`). A few at a time keep
/// the queue short; start-up is not slower, the reads were serialised anyway.
pub const STARTUP_CONCURRENCY: usize = 4;

/// A fresh [`Services::startups`] semaphore.
pub fn startup_permits() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(STARTUP_CONCURRENCY))
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A future running on the I/O runtime, aborted when dropped (so an actor that stops takes its
/// in-flight work with it). Resolves to `Err` if the task panicked or was aborted.
pub struct Task<T>(tokio::task::JoinHandle<T>);

impl<T: Send + 'static> Task<T> {
    /// Spawns `future` on `deps.io`.
    pub fn spawn(
        deps: &Deps,
        future: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Self {
        Self(deps.io.spawn(future))
    }
}

impl<T> std::future::Future for Task<T> {
    type Output = Result<T, ActorError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.map_err(|e| ActorError::TaskFailed(e.to_string())))
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
