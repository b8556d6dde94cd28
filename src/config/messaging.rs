//! How messages move: the Session network, swarm polling, sending retries and webhook
//! delivery.

use serde::Deserialize;

/// Mainnet seed nodes (oxend JSON-RPC), from `protocol/network.md` §2.1 (Session Desktop
/// `preload.js`).
pub const MAINNET_SEEDS: [&str; 3] = [
    "https://seed1.getsession.org:4443/",
    "https://seed2.getsession.org:4443/",
    "https://seed3.getsession.org:4443/",
];
/// `[network]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSettings {
    /// `network.seeds`: seed node URLs (default: mainnet's three, `protocol/network.md` §2.1;
    /// comma-separated in the environment). A devnet's printed seed URL works here.
    pub seeds: Vec<String>,
    /// `network.enabled`: connect to the Session network (default true). With `false` the
    /// gateway serves the API only: accounts are kept, messages stay queued.
    pub enabled: bool,
    /// `network.request_timeout_ms`: one onion request (default 10000, as Session Desktop).
    pub request_timeout_ms: u64,
    /// `network.path_check_ms`: how often the path pool is checked and rebuilt (default 30000).
    pub path_check_ms: u64,
    /// `network.file_server_url`: where attachments and avatars are uploaded (unset: mainnet's,
    /// `http://filev2.getsession.org`). A standalone devnet prints its own.
    pub file_server_url: Option<String>,
    /// `network.file_server_x25519`: that server's X25519 key, 64 hex digits (unset: mainnet's).
    pub file_server_x25519: Option<String>,
    /// `network.allow_insecure_seeds`: accept plain `http://` seeds that are not on loopback
    /// (default false). A seed's answer picks every node the gateway talks to, so seeds are
    /// read over verified TLS; only loopback seeds (a devnet) may use plain HTTP otherwise.
    pub allow_insecure_seeds: bool,
    /// `network.path_max_age_ms`: an onion path's relays are replaced (its guard kept) once it
    /// is this old (default 600000, Tor's 10-minute circuits; 0 = never).
    pub path_max_age_ms: u64,
    /// `network.path_isolation`: `shared` (default; accounts share paths and their polls
    /// share requests) or `per_account` (each account its own path, no batching).
    pub path_isolation: PathIsolationSetting,
    /// `network.batch_window_ms`: how long a poll waits for others bound for the same node to
    /// share its onion request (default 100; 0 = never batch).
    pub batch_window_ms: u64,
    /// `network.store_window_ms`: how long a store waits for others bound for the same node
    /// to share its onion request (default 25; 0 = never).
    pub store_window_ms: u64,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        Self {
            seeds: MAINNET_SEEDS.iter().map(|s| (*s).to_owned()).collect(),
            enabled: true,
            request_timeout_ms: 10_000,
            path_check_ms: 30_000,
            file_server_url: None,
            file_server_x25519: None,
            allow_insecure_seeds: false,
            path_max_age_ms: 600_000,
            path_isolation: PathIsolationSetting::Shared,
            batch_window_ms: 100,
            store_window_ms: 25,
        }
    }
}

/// `network.path_isolation` (the network client's own type is `network::PathIsolation`;
/// settings do not depend on the network layer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathIsolationSetting {
    /// Accounts share onion paths, and polls of one swarm share requests.
    #[default]
    Shared,
    /// Each account has its own path; no request carries two accounts.
    PerAccount,
}

/// `[polling]` (Session Desktop polls every 5 s while active, 60 s / 120 s when quiet).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PollingSettings {
    /// `polling.active_interval_ms`: poll interval while a conversation is active (default 5000).
    pub active_interval_ms: u64,
    /// `polling.quiet_interval_ms`: after a few quiet minutes (default 60000).
    pub quiet_interval_ms: u64,
    /// `polling.idle_interval_ms`: after a quiet hour (default 120000).
    pub idle_interval_ms: u64,
    /// `polling.active_window_ms`: traffic keeps an account active this long (default 120000).
    pub active_window_ms: u64,
    /// `polling.quiet_window_ms`: quiet (not yet idle) this long after traffic (default 3600000).
    pub quiet_window_ms: u64,
    /// `polling.attachment_retry_ms`: a received attachment whose download failed for network
    /// reasons is fetched again this long after the failure (default 60000).
    pub attachment_retry_ms: u64,
}

impl Default for PollingSettings {
    fn default() -> Self {
        Self {
            active_interval_ms: 5_000,
            quiet_interval_ms: 60_000,
            idle_interval_ms: 120_000,
            active_window_ms: 120_000,
            quiet_window_ms: 3_600_000,
            attachment_retry_ms: 60_000,
        }
    }
}

/// `[sending]`: how outgoing messages are retried before they fail.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SendingSettings {
    /// `sending.max_attempts`: store attempts per message (each already tries several swarm
    /// members and paths) before it fails (default 8).
    pub max_attempts: u32,
    /// `sending.initial_backoff_ms`: first retry delay cap (default 1000); doubles per attempt.
    pub initial_backoff_ms: u64,
    /// `sending.max_backoff_ms`: largest retry delay cap (default 60000).
    pub max_backoff_ms: u64,
    /// `sending.deadline_ms`: a message still unsent this long after it was accepted fails
    /// (default 3600000, one hour).
    pub deadline_ms: u64,
    /// `sending.max_per_minute`: messages each account may be asked to send per minute
    /// through `POST …/messages` (default 0 = no limit); more → 429 with `Retry-After`.
    pub max_per_minute: u32,
}

impl Default for SendingSettings {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff_ms: 1_000,
            max_backoff_ms: 60_000,
            deadline_ms: 3_600_000,
            max_per_minute: 0,
        }
    }
}

/// `[webhooks]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// `webhooks.timeout_ms`: per-attempt HTTP timeout (default 10000).
    pub timeout_ms: u64,
    /// `webhooks.initial_backoff_ms`: backoff cap after the first failure (default 5000); doubles
    /// each attempt up to `max_backoff_ms`; the actual delay is uniform in [0, cap] (full jitter).
    pub initial_backoff_ms: u64,
    /// `webhooks.max_backoff_ms`: largest backoff cap (default 3600000, one hour).
    pub max_backoff_ms: u64,
    /// `webhooks.dead_after_secs`: a delivery still failing this long after its first attempt is
    /// dead-lettered (default 93600, 26 hours; replay re-queues it).
    pub dead_after_secs: u64,
    /// `webhooks.max_in_flight`: concurrent requests per endpoint (default 4). Deliveries of one
    /// conversation are never concurrent, so order per conversation holds.
    pub max_in_flight: usize,
    /// `webhooks.rotation_grace_secs`: how long the previous secret keeps signing after
    /// `rotate-secret` (default 86400).
    pub rotation_grace_secs: u64,
    /// `webhooks.allowed_hosts`: when set, the only hosts webhooks may call: host names,
    /// IP addresses or CIDR ranges (default empty: any host `deny_private` allows;
    /// comma-separated in the environment). Listed hosts may be private or loopback.
    pub allowed_hosts: Vec<String>,
    /// `webhooks.deny_private`: refuse webhook targets that are or resolve to loopback,
    /// private, shared, link-local (cloud metadata) or unspecified addresses unless listed
    /// in `allowed_hosts` (default true; `serve --devnet` makes it false unless set).
    pub deny_private: Option<bool>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            timeout_ms: 10_000,
            initial_backoff_ms: 5_000,
            max_backoff_ms: 3_600_000,
            dead_after_secs: 26 * 3600,
            max_in_flight: 4,
            rotation_grace_secs: 86_400,
            allowed_hosts: Vec::new(),
            deny_private: None,
        }
    }
}
