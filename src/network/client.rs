//! [`SessionNetwork`]: the one object the actors share (behind an `Arc`; every method takes
//! `&self`). It owns the pool, the paths, the swarm cache and the clock, each behind its own
//! `std::sync::Mutex` that is never held across an `.await`. Pool refreshes and path builds are
//! single-flight: concurrent callers await one shared future instead of each doing the I/O.
//!
//! This file holds the machinery (bootstrap, path choice, sending, failure accounting, swarm
//! lookup); the storage operations are in `ops.rs`, the file server in `files.rs`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::join_all;
use futures::future::{BoxFuture, FutureExt, Shared};
use rand::rngs::OsRng;
use tracing::Instrument as _;

use super::clock::{local_now_ms, NetworkClock};
use super::config::NetworkConfig;
use super::error::{NetworkError, SendError};
use super::node::{parse_node_list, ServiceNode};
use super::paths::{test_guards, Path, PathSet, PathVerdict, GUARD_TEST_ROUNDS};
use super::pool::{intersect, NodePool, REQUIRED_FOR_AGREEMENT};
use super::seeds;
use super::swarms::{members_from, SwarmCache};
use super::transport::{answer_time, SnodeAnswer, Transport};
use crate::protocol::onion::{EncType, ServerTarget, SnodeEd25519};
use crate::protocol::storage::response::SwarmInfo;
use crate::protocol::storage::{AccountId, StorageRequest};

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
    /// Live onion paths.
    pub paths: usize,
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
    pub(super) file_server: ServerTarget,
    pub(super) file_server_base: String,
    pub(super) clock: NetworkClock,
    pool: Mutex<NodePool>,
    paths: Mutex<PathSet>,
    swarms: Mutex<SwarmCache>,
    refresh_flight: Mutex<Option<Flight>>,
    build_flight: Mutex<Option<Flight>>,
    /// Where request latencies and failures are counted (set once by the gateway).
    metrics: std::sync::OnceLock<crate::metrics::Metrics>,
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
        Ok(Self {
            inner: Arc::new(Inner {
                enc: config.enc_type.into(),
                config,
                transport,
                file_server,
                file_server_base,
                clock: NetworkClock::default(),
                pool: Mutex::default(),
                paths: Mutex::default(),
                swarms: Mutex::default(),
                refresh_flight: Mutex::default(),
                build_flight: Mutex::default(),
                metrics: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Counts onion request latencies and failures, and path failures, in `metrics` from now
    /// on. The first call wins (a client shared by two gateways reports to the first).
    pub fn attach_metrics(&self, metrics: &crate::metrics::Metrics) {
        let _ = self.inner.metrics.set(metrics.clone());
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
        NetworkStats {
            pool_size: lock(&self.inner.pool).len(),
            paths: lock(&self.inner.paths).len(),
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

    /// The pooled nodes.
    pub fn pool(&self) -> Vec<ServiceNode> {
        lock(&self.inner.pool).nodes().to_vec()
    }
}

impl Inner {
    /// Refreshes the pool when it is empty, small or stale (single-flight). A failed refresh
    /// with a usable pool is logged, not returned.
    pub(super) async fn ensure_pool(self: &Arc<Self>) -> Result<(), NetworkError> {
        let (needed, usable) = {
            let pool = lock(&self.pool);
            let c = &self.config;
            (
                pool.needs_refresh(local_now_ms(), c.min_pool_size, c.pool_max_age_ms),
                pool.len() >= MIN_NODES,
            )
        };
        if !needed {
            return Ok(());
        }
        let this = self.clone();
        let flight = join_flight(&self.refresh_flight, move || {
            async move { this.refresh_pool().await }.boxed()
        });
        match flight.await {
            Err(e) if usable => {
                tracing::warn!(error = %e, "pool refresh failed; keeping the old pool");
                Ok(())
            }
            other => other,
        }
    }

    async fn refresh_pool(self: Arc<Self>) -> Result<(), NetworkError> {
        let from_snodes = self.config.refresh_from_snodes
            && lock(&self.pool).len() >= 16
            && !lock(&self.paths).is_empty();
        let nodes = match from_snodes {
            true => match self.nodes_from_snodes().await {
                Ok(nodes) => nodes,
                Err(e) => {
                    tracing::debug!(error = %e, "refresh from snodes failed; asking a seed");
                    self.nodes_from_seeds().await?
                }
            },
            false => self.nodes_from_seeds().await?,
        };
        let mut pool = lock(&self.pool);
        pool.replace(nodes, local_now_ms());
        let pool = &*pool;
        lock(&self.swarms).retain_nodes(|ed| pool.get(ed).is_some());
        Ok(())
    }

    async fn nodes_from_seeds(&self) -> Result<Vec<ServiceNode>, NetworkError> {
        let c = &self.config;
        seeds::fetch_nodes(
            self.transport.http(),
            &c.seeds,
            Duration::from_millis(c.seed_timeout_ms),
            c.seed_retries,
            Duration::from_millis(c.seed_backoff_ms),
        )
        .await
    }

    /// §2.3: `get_service_nodes` from 3 random pool nodes through onion paths; the
    /// intersection must hold at least 24 nodes.
    ///
    /// Returns a boxed future: this sits on a cycle (send → paths → pool refresh → send) that
    /// the compiler can only prove `Send` through a named type.
    fn nodes_from_snodes(
        self: &Arc<Self>,
    ) -> BoxFuture<'static, Result<Vec<ServiceNode>, NetworkError>> {
        let this = self.clone();
        async move {
            let targets = lock(&this.pool).random(&mut OsRng, &[], 3);
            let request = StorageRequest::get_service_nodes();
            let paths: Vec<Option<Path>> = {
                let set = lock(&this.paths);
                targets
                    .iter()
                    .map(|t| set.choose(&mut OsRng, Some(&t.ed25519)))
                    .collect()
            };
            if targets.len() < 3 {
                return Err(NetworkError::NotEnoughNodes {
                    need: 3,
                    have: targets.len(),
                });
            }
            let answers = join_all(targets.iter().zip(paths).map(|(t, p)| {
                let this = &this;
                let request = &request;
                async move {
                    match p {
                        Some(p) => this.send_via(&p, t, request).await,
                        None => Err(SendError::Unreachable {
                            node: t.ed25519,
                            reason: "no path avoids this node".into(),
                        }),
                    }
                }
            }))
            .await;
            let mut lists = Vec::new();
            for answer in answers {
                let answer = answer.map_err(|e| NetworkError::Seeds(e.to_string()))?;
                let result = answer.body.get("result").cloned().unwrap_or_default();
                let (nodes, _) =
                    parse_node_list(&result).map_err(|e| NetworkError::Seeds(e.to_string()))?;
                lists.push(nodes);
            }
            let agreed = intersect(&lists);
            if agreed.len() < REQUIRED_FOR_AGREEMENT {
                return Err(NetworkError::NotEnoughNodes {
                    need: REQUIRED_FOR_AGREEMENT,
                    have: agreed.len(),
                });
            }
            Ok(agreed)
        }
        .boxed()
    }

    /// Makes sure `path_count` paths exist (single-flight build).
    pub(super) async fn ensure_paths(self: &Arc<Self>) -> Result<(), NetworkError> {
        self.ensure_pool().await?;
        if lock(&self.paths).len() >= self.config.path_count.max(1) {
            return Ok(());
        }
        let this = self.clone();
        join_flight(&self.build_flight, move || {
            async move { this.build_paths().await }.boxed()
        })
        .await
    }

    async fn build_paths(self: Arc<Self>) -> Result<(), NetworkError> {
        let (candidates, missing) = {
            let pool = lock(&self.pool);
            let paths = lock(&self.paths);
            if pool.len() < MIN_NODES {
                return Err(NetworkError::NotEnoughNodes {
                    need: MIN_NODES,
                    have: pool.len(),
                });
            }
            let missing = self.config.path_count.max(1).saturating_sub(paths.len());
            let candidates =
                pool.random(&mut OsRng, &paths.used_nodes(), missing * GUARD_TEST_ROUNDS);
            (candidates, missing)
        };
        let (guards, failed) = test_guards(&self.transport, &self.clock, candidates, missing).await;
        let mut pool = lock(&self.pool);
        for ed in &failed {
            pool.strike(ed);
        }
        let mut paths = lock(&self.paths);
        let reserved: Vec<SnodeEd25519> = guards.iter().map(|g| g.ed25519).collect();
        for guard in guards {
            if !paths.add_with_guard(guard, &reserved, &pool, &mut OsRng) {
                tracing::warn!(pool = pool.len(), "pool too small for another path");
            }
        }
        if paths.is_empty() {
            return Err(NetworkError::NoGuards);
        }
        Ok(())
    }

    /// A random path that avoids `dest`; rebuilds paths first when some are missing.
    async fn path_avoiding(
        self: &Arc<Self>,
        dest: Option<&SnodeEd25519>,
    ) -> Result<Path, NetworkError> {
        self.ensure_paths().await?;
        if let Some(p) = lock(&self.paths).choose(&mut OsRng, dest) {
            return Ok(p);
        }
        Err(NetworkError::NoGuards)
    }

    /// One storage RPC to `dest` over a random path, with failure accounting. The answer's
    /// `t` feeds the clock.
    pub(super) async fn send(
        self: &Arc<Self>,
        dest: &ServiceNode,
        request: &StorageRequest,
    ) -> Result<SnodeAnswer, SendError> {
        let path =
            self.path_avoiding(Some(&dest.ed25519))
                .await
                .map_err(|e| SendError::NoPath {
                    reason: e.to_string(),
                })?;
        self.send_via(&path, dest, request).await
    }

    /// [`Self::send`] over a given path, without touching the pool (a pool refresh uses it:
    /// going through `send` would wait on the refresh itself).
    async fn send_via(
        &self,
        path: &Path,
        dest: &ServiceNode,
        request: &StorageRequest,
    ) -> Result<SnodeAnswer, SendError> {
        let span = tracing::info_span!(
            "onion.request",
            kind = "snode",
            outcome = tracing::field::Empty
        );
        let started = std::time::Instant::now();
        let result = self
            .transport
            .snode(&path.nodes, dest, request, self.enc)
            .instrument(span.clone())
            .await;
        self.observe(&span, started, result.as_ref().err());
        match &result {
            Ok(answer) => {
                if let Some(t) = answer_time(&answer.body) {
                    self.clock.observe(t, local_now_ms());
                }
            }
            Err(e) => self.account_failure(path, Some(&dest.ed25519), e),
        }
        result
    }

    /// One v4 request to the file server over a random path.
    pub(super) async fn send_server(
        self: &Arc<Self>,
        request: &crate::protocol::onion::V4Request,
    ) -> Result<crate::protocol::onion::V4Response, SendError> {
        let path = self
            .path_avoiding(None)
            .await
            .map_err(|e| SendError::NoPath {
                reason: e.to_string(),
            })?;
        let span = tracing::info_span!(
            "onion.request",
            kind = "server",
            outcome = tracing::field::Empty
        );
        let started = std::time::Instant::now();
        let result = self
            .transport
            .server(&path.nodes, &self.file_server, request, self.enc)
            .instrument(span.clone())
            .await;
        self.observe(&span, started, result.as_ref().err());
        if let Err(e) = &result {
            self.account_failure(&path, None, e);
        }
        result
    }

    /// Records one onion request's latency and outcome in the metrics and on its span.
    fn observe(
        &self,
        span: &tracing::Span,
        started: std::time::Instant,
        error: Option<&SendError>,
    ) {
        let labels = error.map(SendError::metric_labels);
        span.record("outcome", labels.map_or("ok", |(kind, _)| kind));
        if let Some(metrics) = self.metrics.get() {
            metrics.onion_request(started.elapsed().as_secs_f64(), labels);
        }
    }

    /// SD/libsession failure accounting (§7.1, §7.2).
    fn account_failure(&self, path: &Path, dest: Option<&SnodeEd25519>, error: &SendError) {
        match error {
            SendError::NextNodeNotFound { missing, .. } => {
                self.drop_node(missing);
                // Also a path failure: a lying relay that names honest nodes would otherwise
                // empty the pool one node per request; this way it goes after three.
                self.path_failed(path);
            }
            SendError::Timeout { .. } | SendError::Unreachable { .. } | SendError::Path { .. } => {
                if let SendError::Path {
                    status: 503 | 504,
                    message,
                    ..
                } = error
                {
                    // A relay reports the next hop (or the destination) not ready or silent.
                    match named_node(message) {
                        Some(ed) => self.strike(&ed),
                        None => {
                            if let Some(d) = dest {
                                self.strike(d);
                            }
                        }
                    }
                }
                for relay in path.nodes.iter().skip(1) {
                    self.strike(&relay.ed25519);
                }
                self.path_failed(path);
            }
            SendError::BadReply { .. } | SendError::InvalidBody { .. } => {
                if let Some(d) = dest {
                    self.strike(d);
                }
            }
            SendError::Destination { status, .. } if *status >= 500 => {
                if let Some(d) = dest {
                    self.strike(d);
                }
            }
            _ => {}
        }
    }

    /// Counts a path failure; at the threshold the path goes, and its guard with it.
    fn path_failed(&self, path: &Path) {
        if let Some(metrics) = self.metrics.get() {
            metrics.path_failures.inc();
        }
        let verdict = lock(&self.paths).path_failed(path.id);
        if let PathVerdict::Dropped { guard } = verdict {
            tracing::info!(%guard, "path dropped after repeated failures");
            self.drop_node(&guard);
        }
    }

    /// Counts a node failure; at the threshold the node leaves the pool, swarms and paths.
    pub(super) fn strike(&self, ed: &SnodeEd25519) {
        let dropped = lock(&self.pool).strike(ed);
        if dropped {
            self.forget(ed);
        }
    }

    /// Drops a node at once from the pool, every swarm and every path.
    pub(super) fn drop_node(&self, ed: &SnodeEd25519) {
        lock(&self.pool).drop_node(ed);
        self.forget(ed);
    }

    fn forget(&self, ed: &SnodeEd25519) {
        lock(&self.swarms).remove_node(ed);
        let pool = lock(&self.pool);
        lock(&self.paths).remove_node(ed, &pool, &mut OsRng);
    }

    /// The account's swarm: cached, or looked up with onion `get_swarm` on random pool nodes
    /// (checked against the pool's swarm ids), falling back to the pool's own grouping.
    pub(super) async fn swarm_for(
        self: &Arc<Self>,
        account: &AccountId,
    ) -> Result<Vec<ServiceNode>, NetworkError> {
        if let Some(members) = lock(&self.swarms).get(account, local_now_ms()) {
            return Ok(members);
        }
        self.lookup_swarm(account).await
    }

    /// Asks the network for the account's swarm (ignoring the cache) and caches the answer:
    /// every member the network lists, including members this client dropped from its pool
    /// after failures (a retrieve that got only tampered copies must reach all of them).
    pub(super) async fn lookup_swarm(
        self: &Arc<Self>,
        account: &AccountId,
    ) -> Result<Vec<ServiceNode>, NetworkError> {
        self.ensure_pool().await?;
        let expected = lock(&self.pool).expected_swarm(account.swarm_space());
        let request = StorageRequest::get_swarm(account);
        let mut last = String::from("no node to ask");
        let mut tried = Vec::new();
        for _ in 0..SWARM_LOOKUP_TRIES {
            let Some(target) = lock(&self.pool).random(&mut OsRng, &tried, 1).pop() else {
                break;
            };
            tried.push(target.ed25519);
            let answer = match self.send(&target, &request).await {
                Ok(a) => a,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let parsed = serde_json::from_value::<SwarmInfo>(answer.body)
                .map_err(|_| super::swarms::SwarmError::Empty)
                .and_then(|info| members_from(&info, expected));
            match parsed {
                Ok(members) => {
                    lock(&self.swarms).set(*account, members.clone(), local_now_ms());
                    return Ok(members);
                }
                Err(e) => {
                    last = e.to_string();
                    self.strike(&target.ed25519);
                }
            }
        }
        let fallback = expected
            .map(|id| lock(&self.pool).swarm_members(id))
            .unwrap_or_default();
        if fallback.is_empty() {
            return Err(NetworkError::NoSwarm(last));
        }
        lock(&self.swarms).set(*account, fallback.clone(), local_now_ms());
        Ok(fallback)
    }

    /// Handles a 421 from `node` about `account` (§3.4): adopt the named swarm if it passes the
    /// pool's check, else count the node as lying and drop it from the swarm.
    pub(super) fn misdirected(
        &self,
        account: &AccountId,
        node: &SnodeEd25519,
        swarm: Option<&SwarmInfo>,
    ) {
        let expected = lock(&self.pool).expected_swarm(account.swarm_space());
        match swarm.map(|s| members_from(s, expected)) {
            Some(Ok(members)) => lock(&self.swarms).set(*account, members, local_now_ms()),
            _ => {
                lock(&self.swarms).remove_member(account, node);
                self.strike(node);
            }
        }
    }

    /// A random pooled node not in `exclude`.
    pub(super) fn pool_random(&self, exclude: &[SnodeEd25519]) -> Option<ServiceNode> {
        lock(&self.pool).random(&mut OsRng, exclude, 1).pop()
    }

    /// Asks `node` for `info` through the onion (feeds the clock); used after a 406/425.
    /// The window is cleared first: after a rejection its old offsets are wrong, and a median
    /// over them would ignore the fresh answer.
    pub(super) async fn resync_clock(self: &Arc<Self>, node: &ServiceNode) {
        self.clock.reset();
        if let Err(e) = self.send(node, &StorageRequest::info()).await {
            tracing::debug!(%node, error = %e, "clock resync failed");
        }
    }
}

/// The node a relay error names: `Snode not ready: <ed>`.
fn named_node(message: &str) -> Option<SnodeEd25519> {
    let hex = message.strip_prefix("Snode not ready: ")?;
    SnodeEd25519::from_hex(hex.get(..64)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_errors_name_nodes() {
        let hex = "ab".repeat(32);
        assert_eq!(
            named_node(&format!("Snode not ready: {hex}")),
            Some(SnodeEd25519::from_bytes([0xab; 32]))
        );
        assert_eq!(named_node("Snode not ready"), None);
        assert_eq!(named_node("Snode not ready: zz"), None);
    }
}

#[cfg(test)]
mod misdirect_tests {
    use super::*;
    use crate::network::config::NetworkConfig;
    use crate::protocol::storage::response::SnodeInfo;
    use crate::protocol::swarm::SwarmId;
    use serde_json::json;

    fn node(i: u8, swarm: u64) -> ServiceNode {
        ServiceNode::from_json(&json!({"ip": format!("10.0.0.{i}"), "port_https": 1,
            "pubkey_ed25519": hex::encode([i; 32]), "pubkey_x25519": hex::encode([i; 32]),
            "swarm_id": swarm}))
        .unwrap()
    }

    fn info(nodes: &[ServiceNode], swarm: u64) -> SwarmInfo {
        SwarmInfo {
            snodes: nodes
                .iter()
                .map(|n| SnodeInfo {
                    address: String::new(),
                    pubkey_legacy: String::new(),
                    pubkey_x25519: hex::encode(n.x25519.as_bytes()),
                    pubkey_ed25519: n.ed25519.to_hex(),
                    port: "1".into(),
                    port_https: 1,
                    port_omq: 0,
                    port_quic: 0,
                    ip: n.ip.to_string(),
                })
                .collect(),
            swarm: SwarmId(swarm),
            t: None,
            hf: None,
        }
    }

    /// A 421 naming the swarm the pool predicts is adopted; one naming another swarm is a lie:
    /// the node is struck and leaves the cached swarm.
    #[test]
    fn misdirected_answers_are_checked_against_the_pool() {
        let net = SessionNetwork::new(NetworkConfig::default()).unwrap();
        let inner = &net.inner;
        let (a, b) = ([node(1, 100), node(2, 100)], [node(3, 200), node(4, 200)]);
        lock(&inner.pool).replace(a.iter().chain(&b).cloned().collect(), local_now_ms());
        // 05 + zeros…0064: swarm space 100, so swarm 100 is right.
        let acct = AccountId::from_hex(&format!("05{}{:016x}", "0".repeat(48), 100)).unwrap();
        lock(&inner.swarms).set(acct, b.to_vec(), local_now_ms());

        inner.misdirected(&acct, &b[0].ed25519, Some(&info(&a, 100)));
        let members = lock(&inner.swarms).get(&acct, local_now_ms()).unwrap();
        assert_eq!(
            members.iter().map(|n| n.ed25519).collect::<Vec<_>>(),
            vec![a[0].ed25519, a[1].ed25519]
        );

        inner.misdirected(&acct, &a[0].ed25519, Some(&info(&b, 200)));
        let members = lock(&inner.swarms).get(&acct, local_now_ms()).unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(lock(&inner.pool).failures(&a[0].ed25519), 1);

        inner.misdirected(&acct, &a[1].ed25519, None);
        assert!(lock(&inner.swarms).get(&acct, local_now_ms()).is_none());
    }
}
