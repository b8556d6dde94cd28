//! [`SessionNetwork`]: the one object the actors share (behind an `Arc`; every method takes
//! `&self`). It owns the pool, the paths, the swarm cache and the clock, each behind its own
//! `std::sync::Mutex` that is never held across an `.await`. Pool refreshes and path builds are
//! single-flight: concurrent callers await one shared future instead of each doing the I/O.
//!
//! This folder holds the machinery, one concept per file: keeping the pool and paths ready
//! (`upkeep.rs`), sending one request (`sending.rs`), failure accounting (`failures.rs`) and
//! swarm lookup (`swarm_lookup.rs`). The storage operations are in `../ops/`, the file server
//! in `../files.rs`.

mod batching;
mod failures;
mod sending;
mod swarm_lookup;
mod upkeep;

pub(in crate::network) use batching::Carries;
pub(in crate::network) use sending::ClockVerdict;

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};

use super::clock::NetworkClock;
use super::config::NetworkConfig;
use super::error::NetworkError;
use super::node::ServiceNode;
use super::observer::NetworkObserver;
use super::paths::PathSet;
use super::pool::NodePool;
use super::seed_tls::SeedClients;
use super::swarms::SwarmCache;
use super::transport::Transport;
use crate::protocol::onion::{EncType, ServerTarget, SnodeEd25519};

/// Nodes a request needs: three path hops and a destination.
const MIN_NODES: usize = 4;

/// Swarm lookups tried on different nodes before falling back to the pool's swarm ids.
const SWARM_LOOKUP_TRIES: usize = 3;

type Flight = Shared<BoxFuture<'static, Result<(), NetworkError>>>;

/// Counts and figures for health checks and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkStats {
    /// Nodes in the pool.
    pub pool_size: usize,
    /// Live shared onion paths.
    pub paths: usize,
    /// Accounts' own paths (`path_isolation = per_account`).
    pub owned_paths: usize,
    /// Onion requests sent from forming batches (`batching.rs`), and the retrieves and the
    /// stores they carried (the ratio is how many callers shared one request).
    pub batched_requests: u64,
    /// See `batched_requests`.
    pub batched_retrieves: u64,
    /// See `batched_requests`.
    pub batched_stores: u64,
    /// Accounts with a cached swarm.
    pub cached_swarms: usize,
    /// Clock offset `local − network`, ms.
    pub clock_offset_ms: i64,
}

/// The network client. Cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct SessionNetwork {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for SessionNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionNetwork")
            .field("stats", &self.stats())
            .finish()
    }
}

pub(super) struct Inner {
    pub(super) config: NetworkConfig,
    pub(super) enc: EncType,
    pub(super) transport: Transport,
    pub(super) seed_clients: SeedClients,
    pub(super) file_server: ServerTarget,
    pub(super) file_server_base: String,
    pub(super) clock: NetworkClock,
    pool: Mutex<NodePool>,
    paths: Mutex<PathSet>,
    swarms: Mutex<SwarmCache>,
    refresh_flight: Mutex<Option<Flight>>,
    build_flight: Mutex<Option<Flight>>,
    /// Retrieves and stores waiting to share an onion request (`batching.rs`).
    pub(super) batches: batching::Batches,
    /// Who is told of request latencies and failures (set once by the gateway).
    observer: OnceLock<Arc<dyn NetworkObserver>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data that is still consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Joins the running flight in `slot`, or starts `make()` as the new one.
fn join_flight(
    slot: &Mutex<Option<Flight>>,
    make: impl FnOnce() -> BoxFuture<'static, Result<(), NetworkError>>,
) -> Flight {
    let mut g = lock(slot);
    if let Some(f) = g.as_ref().filter(|f| f.peek().is_none()) {
        return f.clone();
    }
    let f = make().shared();
    *g = Some(f.clone());
    f
}

impl SessionNetwork {
    /// A client for `config`. No I/O until the first request (or [`Self::bootstrap`]).
    pub fn new(config: NetworkConfig) -> Result<Self, NetworkError> {
        let (file_server, file_server_base) = super::files::parse_server(&config.file_server)?;
        let transport = Transport::new(Duration::from_millis(config.request_timeout_ms))?;
        let clock = NetworkClock::new(config.max_clock_offset_ms);
        super::seeds::check_seed_urls(&config.seeds, config.allow_insecure_seeds)?;
        let seed_clients = SeedClients::new()?;
        Ok(Self {
            inner: Arc::new(Inner {
                enc: config.enc_type.into(),
                config,
                transport,
                seed_clients,
                file_server,
                file_server_base,
                clock,
                pool: Mutex::default(),
                paths: Mutex::default(),
                swarms: Mutex::default(),
                refresh_flight: Mutex::default(),
                build_flight: Mutex::default(),
                batches: batching::Batches::default(),
                observer: OnceLock::new(),
            }),
        })
    }

    /// Reports onion request latencies and failures, and path failures, to `observer` from
    /// now on. The first call wins (a client shared by two gateways reports to the first).
    pub fn attach_observer(&self, observer: Arc<dyn NetworkObserver>) {
        let _ = self.inner.observer.set(observer);
    }

    /// Fetches the pool and builds paths now (otherwise the first request does).
    pub async fn bootstrap(&self) -> Result<(), NetworkError> {
        self.inner.ensure_paths().await
    }

    /// Network time in ms: what every signature timestamp uses.
    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// Clock offset `local − network`, ms.
    pub fn clock_offset_ms(&self) -> i64 {
        self.inner.clock.offset_ms()
    }

    /// Current counts.
    pub fn stats(&self) -> NetworkStats {
        let (batched_requests, batched_retrieves, batched_stores) = self.inner.batches.figures();
        // Never hold `paths` while taking `pool` (everywhere else: pool, then paths).
        let pool_size = lock(&self.inner.pool).len();
        let paths = lock(&self.inner.paths);
        NetworkStats {
            pool_size,
            paths: paths.len(),
            owned_paths: paths.owned_len(),
            batched_requests,
            batched_retrieves,
            batched_stores,
            cached_swarms: lock(&self.inner.swarms).len(),
            clock_offset_ms: self.inner.clock.offset_ms(),
        }
    }

    /// The live paths' nodes, guard first (for diagnostics and tests).
    pub fn paths(&self) -> Vec<[SnodeEd25519; 3]> {
        lock(&self.inner.paths)
            .paths()
            .iter()
            .map(|p| p.nodes.clone().map(|n| n.ed25519))
            .collect()
    }

    /// The cached swarm of `account` (Ed25519 hex of its members), empty when none is cached;
    /// one copy shared by the accounts of the same swarm.
    pub fn cached_swarm(&self, account: &crate::protocol::storage::AccountId) -> Arc<[String]> {
        // The cache ages by local time, as `swarm_for` reads it: network time (`now_ms`) is
        // off by the clock offset, and a client an hour off saw its cache as expired here.
        lock(&self.inner.swarms)
            .get_hex(account, super::clock::local_now_ms())
            .unwrap_or_default()
    }

    /// The pooled nodes.
    pub fn pool(&self) -> Vec<ServiceNode> {
        lock(&self.inner.pool).nodes().to_vec()
    }
}
