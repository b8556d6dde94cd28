//! The shared state of a running devnet: every node's keys, store, faults and route log, the
//! swarm layout, and the devnet clock. Nodes reach each other through this registry (the
//! "internal transport" the issue allows) instead of OxenMQ.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use x25519_dalek::StaticSecret;

use super::faults::{Faults, CLOCK_LIE_MS};
use super::rate_limit::{RateLimit, RateLimiter};
use super::routes::RouteLog;
use super::store::MessageStore;
use super::wire;

/// Hardfork the devnet reports (`hf` field): 19.4, so multi-expiry `expire` is on.
pub const HARDFORK: [u64; 2] = [19, 4];
/// Storage server version the devnet reports.
pub const VERSION: [u64; 3] = [2, 8, 0];

/// The devnet clock: wall time plus an offset tests can advance (controlled time, habit 8).
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Now in ms since the epoch, as the nodes see it.
    pub fn now_ms(&self) -> u64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        wall.saturating_add_signed(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the devnet clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// Public facts about a node (what the seed and `get_swarm` publish).
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Position in the devnet (0-based); fault specs and the control API use it.
    pub index: usize,
    /// Always `127.0.0.1`.
    pub ip: String,
    /// HTTPS port.
    pub port: u16,
    /// Ed25519 public key.
    pub ed25519: [u8; 32],
    /// X25519 public key (derived from the Ed25519 key, as on real nodes).
    pub x25519: [u8; 32],
    /// Swarm id.
    pub swarm_id: u64,
}

impl NodeInfo {
    /// `ip:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

/// One service node's state.
pub struct Node {
    /// Public facts.
    pub info: NodeInfo,
    /// Ed25519 signing key (swarm entry signatures).
    pub ed_key: SigningKey,
    /// X25519 secret (onion hops).
    pub x_key: StaticSecret,
    /// Messages and revocations.
    store: Mutex<MessageStore>,
    faults: Mutex<Faults>,
    /// Route log.
    pub routes: RouteLog,
    /// Per-client token buckets for direct storage RPCs (429).
    rate_limiter: Mutex<RateLimiter>,
    /// The most bytes one `huge_reply` answer got out before its reader stopped.
    huge_reply_max: AtomicU64,
    /// How many times one of its faults changed what it did (see [`Node::count_fault`]).
    faults_fired: AtomicU64,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A node with fresh random keys.
    pub fn new(index: usize, port: u16, swarm_id: u64, rate_limit: RateLimit) -> Self {
        let ed_key = SigningKey::generate(&mut rand::rngs::OsRng);
        let x_key = StaticSecret::from(ed_key.to_scalar_bytes());
        let info = NodeInfo {
            index,
            ip: "127.0.0.1".into(),
            port,
            ed25519: ed_key.verifying_key().to_bytes(),
            x25519: ed_key.verifying_key().to_montgomery().to_bytes(),
            swarm_id,
        };
        Self {
            info,
            ed_key,
            x_key,
            store: Mutex::default(),
            faults: Mutex::default(),
            routes: RouteLog::default(),
            rate_limiter: Mutex::new(RateLimiter::new(rate_limit)),
            huge_reply_max: AtomicU64::new(0),
            faults_fired: AtomicU64::new(0),
        }
    }

    /// This node's time: the devnet clock, or [`CLOCK_LIE_MS`] ahead of it under `clock_lie`.
    pub fn now_ms(&self, clock: &Clock) -> u64 {
        let now = clock.now_ms();
        if self.faults().clock_lie {
            self.count_fault();
            now.saturating_add(CLOCK_LIE_MS)
        } else {
            now
        }
    }

    /// Records that one `huge_reply` answer got `bytes` out.
    pub fn record_huge_reply(&self, bytes: u64) {
        self.huge_reply_max.fetch_max(bytes, Ordering::Relaxed);
    }

    /// The most bytes one `huge_reply` answer of this node got out (what a client read, plus
    /// what the sockets buffered).
    pub fn huge_reply_max(&self) -> u64 {
        self.huge_reply_max.load(Ordering::Relaxed)
    }

    /// Records that one of this node's faults changed what it did: a request dropped, delayed
    /// or refused, a reply corrupted, a lie told. Tests read the count to know a fault was
    /// exercised, not merely switched on.
    pub fn count_fault(&self) {
        self.faults_fired.fetch_add(1, Ordering::Relaxed);
    }

    /// How many times this node's faults fired (see [`Node::count_fault`]).
    pub fn faults_fired(&self) -> u64 {
        self.faults_fired.load(Ordering::Relaxed)
    }

    /// Spends one of `client`'s rate-limit tokens; `false` means answer 429.
    pub fn rate_limit_allows(&self, client: std::net::IpAddr, now_ms: u64) -> bool {
        self.rate_limiter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .allow(client, now_ms)
    }

    /// Locks the store (never held across an await).
    pub fn store(&self) -> MutexGuard<'_, MessageStore> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Current faults.
    pub fn faults(&self) -> Faults {
        self.faults.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Replaces the faults.
    pub fn set_faults(&self, faults: Faults) {
        if let Ok(mut f) = self.faults.lock() {
            *f = faults;
        }
    }

    /// Ed25519 hex.
    pub fn ed_hex(&self) -> String {
        hex::encode(self.info.ed25519)
    }
}

/// The whole devnet as nodes see it.
#[derive(Debug)]
pub struct Network {
    /// All nodes, by index.
    pub nodes: Vec<Arc<Node>>,
    /// The devnet clock.
    pub clock: Clock,
    /// HTTP client for proxying onion requests to servers (file server).
    pub http: reqwest::Client,
}

impl Network {
    /// Distinct swarm ids in use.
    pub fn swarm_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.nodes.iter().map(|n| n.info.swarm_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The swarm serving a 33-byte account id (§3.2), if any.
    pub fn swarm_for(&self, account: &[u8; 33]) -> Option<u64> {
        let mut key = [0u8; 32];
        key.copy_from_slice(&account[1..]);
        wire::closest_swarm(wire::swarm_space(&key), &self.swarm_ids())
    }

    /// Members of a swarm, by index order.
    pub fn members(&self, swarm: u64) -> Vec<Arc<Node>> {
        self.nodes
            .iter()
            .filter(|n| n.info.swarm_id == swarm)
            .cloned()
            .collect()
    }

    /// Finds a node by Ed25519 key.
    pub fn by_ed25519(&self, ed: &[u8; 32]) -> Option<Arc<Node>> {
        self.nodes.iter().find(|n| &n.info.ed25519 == ed).cloned()
    }

    /// Finds a node by index or Ed25519 hex (control API addressing).
    pub fn lookup(&self, id: &str) -> Option<Arc<Node>> {
        if let Ok(i) = id.parse::<usize>() {
            return self.nodes.get(i).cloned();
        }
        let ed: [u8; 32] = hex::decode(id).ok()?.try_into().ok()?;
        self.by_ed25519(&ed)
    }
}

/// Evenly spread swarm ids for `count` swarms over the u64 space.
pub fn swarm_ids(count: usize) -> Vec<u64> {
    let step = u64::MAX / (count.max(1) as u64);
    (0..count as u64).map(|i| i * step + step / 2).collect()
}
