//! The gateway service's own sections: the REST API, the database, secrets at rest and
//! several replicas.

use serde::Deserialize;

use super::SecretString;

/// `[api]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// `api.admin_key`: the bearer key with every scope. Required by `serve` (default: none).
    pub admin_key: Option<SecretString>,
    /// `api.max_body_bytes`: largest accepted JSON request body (default 65536); larger → 413.
    pub max_body_bytes: usize,
    /// `api.max_wait_secs`: longest `wait` a client may ask of `GET /v1/events` (default 60).
    pub max_wait_secs: u64,
    /// `api.rate_limit_per_sec`: requests per second each API key may make, and failed
    /// authentications per second each client address may make (default 0 = no limit). The
    /// configured `admin_key` is never limited. Over it → 429 with `Retry-After`.
    pub rate_limit_per_sec: u32,
    /// `api.rate_limit_burst`: requests a key may make at once before the rate applies
    /// (default 0 = the same as `rate_limit_per_sec`).
    pub rate_limit_burst: u32,
    /// `api.sse_heartbeat_ms`: how long `GET /v1/events/stream` may stay silent before it
    /// sends a comment line, so proxies and clients see the connection is alive (default 15000).
    pub sse_heartbeat_ms: u64,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            admin_key: None,
            max_body_bytes: 64 * 1024,
            max_wait_secs: 60,
            rate_limit_per_sec: 0,
            rate_limit_burst: 0,
            sse_heartbeat_ms: 15_000,
        }
    }
}

/// `[database]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `database.url`: `sqlite://PATH` or `postgres://…` (default: `sqlite://DATA_DIR/gateway.db`).
    pub url: Option<String>,
    /// `database.max_connections`: pool size for PostgreSQL (default 10). SQLite writes on one
    /// connection, so writers never race for the file lock, and reads on up to
    /// `min(max_connections, 2)` read-only connections beside it, plus one for the REST API's
    /// reads alone (0: reads share the writer).
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
        }
    }
}

/// `[security]`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySettings {
    /// `security.master_key`: base64 of 32 random bytes; encrypts phrases, seeds and webhook
    /// secrets at rest. Required: the gateway refuses to start without it or with a different
    /// key than the database was created with. Generate one with `openssl rand -base64 32`.
    pub master_key: Option<SecretString>,
}

/// `[replicas]` (design.md §6). Every replica holds leases on about `ceil(accounts / live
/// replicas)` accounts; a replica that stops renewing loses them after `lease_ttl_ms`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicaSettings {
    /// `replicas.id_prefix`: prefix of this replica's id, to which a random suffix is added so
    /// a restarted replica never inherits a predecessor's leases (default: the `HOSTNAME`
    /// environment variable, the pod name on Kubernetes, else `gateway`).
    pub id_prefix: Option<String>,
    /// `replicas.lease_ttl_ms`: how long an account lease and a replica heartbeat last without
    /// renewal: a stopped replica's accounts move within this plus one renewal interval.
    /// Default 0: [`LEASE_TTL_SHARED_MS`] on PostgreSQL, [`LEASE_TTL_ONE_REPLICA_MS`] on
    /// SQLite.
    pub lease_ttl_ms: u64,
    /// `replicas.renew_interval_ms`: how often leases are renewed and rebalanced (default
    /// 0 = a third of `lease_ttl_ms`; larger values are capped at that).
    pub renew_interval_ms: u64,
}

/// The default lease on a database replicas share: a killed replica's accounts move to the
/// others within about this.
pub const LEASE_TTL_SHARED_MS: u64 = 10_000;

/// The default lease on SQLite, one replica by definition: a restart takes its accounts back
/// at once (its predecessor's leases are cleared), so a long lease delays nothing, and it keeps
/// a slow renewal round (10,000 leases behind a busy connection on starved cores took 9 s,
/// issue 16) from making every lease lapse and every account restart.
pub const LEASE_TTL_ONE_REPLICA_MS: u64 = 60_000;

impl ReplicaSettings {
    /// The lease manager's configuration (a fresh replica id each call); `one_replica`: the
    /// database is SQLite.
    pub fn lease_config(&self, one_replica: bool) -> crate::leases::LeaseConfig {
        let prefix = self
            .id_prefix
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "gateway".to_owned());
        let ttl_ms = match (self.lease_ttl_ms, one_replica) {
            (0, true) => LEASE_TTL_ONE_REPLICA_MS,
            (0, false) => LEASE_TTL_SHARED_MS,
            (set, _) => set,
        };
        let ttl = std::time::Duration::from_millis(ttl_ms.max(300));
        let mut config = crate::leases::LeaseConfig::new(&prefix, ttl);
        if self.renew_interval_ms > 0 {
            config.renew_interval = config
                .renew_interval
                .min(std::time::Duration::from_millis(self.renew_interval_ms));
        }
        config
    }
}
