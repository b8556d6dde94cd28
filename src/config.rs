//! Settings: built-in defaults, then an optional TOML file (`--config FILE`), then environment
//! variables `SESSION_GATEWAY__SECTION__KEY` (for example `SESSION_GATEWAY__API__ADMIN_KEY`).
//! Lists (`network.seeds`) are comma-separated in the environment.
//!
//! Every setting is documented here and in the README's configuration table. Unknown keys are
//! rejected so a typo never silently falls back to a default.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Mainnet seed nodes (oxend JSON-RPC), from `protocol/network.md` §2.1 (Session Desktop
/// `preload.js`).
pub const MAINNET_SEEDS: [&str; 3] = [
    "https://seed1.getsession.org:4443/",
    "https://seed2.getsession.org:4443/",
    "https://seed3.getsession.org:4443/",
];

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file, an environment variable or a value's type was wrong.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] config::ConfigError),
}

/// A configuration string that must never be printed (keys).
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

/// All settings. Sections mirror the keys: `api.admin_key` is `settings.api.admin_key`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// REST API settings.
    pub api: ApiSettings,
    /// Database settings.
    pub database: DatabaseSettings,
    /// Session network settings.
    pub network: NetworkSettings,
    /// Secrets at rest.
    pub security: SecuritySettings,
    /// Webhook delivery tunables.
    pub webhooks: WebhookSettings,
    /// Swarm polling tunables (used by the Identity actors).
    pub polling: PollingSettings,
    /// Outgoing message retries (used by the Conversation actors).
    pub sending: SendingSettings,
    /// OpenTelemetry traces.
    pub telemetry: TelemetrySettings,
    /// Log output.
    pub logging: LoggingSettings,
    /// Several replicas: account leases and heartbeats.
    pub replicas: ReplicaSettings,
}

/// `[replicas]` (design.md §6). Every replica holds leases on about `ceil(accounts / live
/// replicas)` accounts; a replica that stops renewing loses them after `lease_ttl_ms`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicaSettings {
    /// `replicas.id_prefix`: prefix of this replica's id, to which a random suffix is added so
    /// a restarted replica never inherits a predecessor's leases (default: the `HOSTNAME`
    /// environment variable, the pod name on Kubernetes, else `gateway`).
    pub id_prefix: Option<String>,
    /// `replicas.lease_ttl_ms`: how long an account lease and a replica heartbeat last without
    /// renewal (default 10000): a stopped replica's accounts move within this plus one
    /// renewal interval.
    pub lease_ttl_ms: u64,
    /// `replicas.renew_interval_ms`: how often leases are renewed and rebalanced (default
    /// 0 = a third of `lease_ttl_ms`; larger values are capped at that).
    pub renew_interval_ms: u64,
}

impl Default for ReplicaSettings {
    fn default() -> Self {
        Self {
            id_prefix: None,
            lease_ttl_ms: 10_000,
            renew_interval_ms: 0,
        }
    }
}

impl ReplicaSettings {
    /// The lease manager's configuration (a fresh replica id each call).
    pub fn lease_config(&self) -> crate::leases::LeaseConfig {
        let prefix = self
            .id_prefix
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "gateway".to_owned());
        let ttl = std::time::Duration::from_millis(self.lease_ttl_ms.max(300));
        let mut config = crate::leases::LeaseConfig::new(&prefix, ttl);
        if self.renew_interval_ms > 0 {
            config.renew_interval = config
                .renew_interval
                .min(std::time::Duration::from_millis(self.renew_interval_ms));
        }
        config
    }
}

/// `[telemetry]`: OpenTelemetry traces over OTLP (design.md §8). Without an endpoint no exporter
/// is built and spans cost what `tracing` alone costs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// `telemetry.otlp_endpoint`: an OTLP/HTTP (protobuf) collector, e.g.
    /// `http://otel-collector:4318`; `/v1/traces` is appended unless already there (default:
    /// none, no traces exported).
    pub otlp_endpoint: Option<String>,
    /// `telemetry.service_name`: the `service.name` resource attribute (default
    /// `session-gateway`).
    pub service_name: String,
    /// `telemetry.export_timeout_ms`: one export request (default 10000).
    pub export_timeout_ms: u64,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "session-gateway".to_owned(),
            export_timeout_ms: 10_000,
        }
    }
}

/// `[logging]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingSettings {
    /// `logging.format`: `json` (one object per line) or `text` (default: `json` when stderr is
    /// not a terminal, as in a container, else `text`).
    pub format: Option<LogFormat>,
    /// `logging.level`: which log lines are written, as a `RUST_LOG` directive (default `info`;
    /// `RUST_LOG`, when set, wins). Exported traces do not depend on it.
    pub level: String,
}

impl Default for LoggingSettings {
    fn default() -> Self {
        Self {
            format: None,
            level: "info".to_owned(),
        }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (containers, log shippers).
    Json,
    /// Human-readable lines.
    Text,
}

impl LoggingSettings {
    /// The configured format, or `json` unless `stderr_is_terminal`.
    pub fn resolve(&self, stderr_is_terminal: bool) -> LogFormat {
        self.format.unwrap_or(if stderr_is_terminal {
            LogFormat::Text
        } else {
            LogFormat::Json
        })
    }
}

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
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            admin_key: None,
            max_body_bytes: 64 * 1024,
            max_wait_secs: 60,
        }
    }
}

/// `[database]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `database.url`: `sqlite://PATH` or `postgres://…` (default: `sqlite://DATA_DIR/gateway.db`).
    pub url: Option<String>,
    /// `database.max_connections`: pool size for PostgreSQL (default 10). SQLite always uses one
    /// connection, so writers never race for the file lock.
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
}

impl Default for NetworkSettings {
    fn default() -> Self {
        Self {
            seeds: MAINNET_SEEDS.iter().map(|s| (*s).to_owned()).collect(),
            enabled: true,
            request_timeout_ms: 10_000,
            path_check_ms: 30_000,
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
        }
    }
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
}

impl Default for SendingSettings {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff_ms: 1_000,
            max_backoff_ms: 60_000,
            deadline_ms: 3_600_000,
        }
    }
}

impl Settings {
    /// Loads defaults, then `file` (TOML) if given, then `SESSION_GATEWAY__*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given explicitly (tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            builder = builder.add_source(
                config::File::from(path.to_path_buf()).format(config::FileFormat::Toml),
            );
        }
        let vars: config::Map<String, String> = env
            .into_iter()
            .filter(|(key, _)| key.starts_with("SESSION_GATEWAY__"))
            .collect();
        let environment = config::Environment::with_prefix("SESSION_GATEWAY")
            .prefix_separator("__")
            .separator("__")
            .list_separator(",")
            .with_list_parse_key("network.seeds")
            .try_parsing(true)
            .source(Some(vars));
        Ok(builder.add_source(environment).build()?.try_deserialize()?)
    }

    /// The database URL: the configured one, or SQLite `gateway.db` inside `data_dir`.
    pub fn database_url(&self, data_dir: &Path) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("gateway.db").display()
            ),
        }
    }
}

/// The default data directory (`./data`).
pub fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_point_at_mainnet_and_have_no_keys() {
        let settings = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(settings.network.seeds.len(), 3);
        assert!(settings.api.admin_key.is_none());
        assert!(settings.security.master_key.is_none());
        assert_eq!(settings.webhooks.max_in_flight, 4);
    }

    #[test]
    fn environment_overrides_and_splits_seed_lists() {
        let settings = Settings::load_from(
            None,
            env(&[
                ("SESSION_GATEWAY__API__ADMIN_KEY", "k3y"),
                ("SESSION_GATEWAY__NETWORK__SEEDS", "http://a:1/,http://b:2/"),
                ("SESSION_GATEWAY__WEBHOOKS__TIMEOUT_MS", "250"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.api.admin_key.unwrap().expose(), "k3y");
        assert_eq!(settings.network.seeds, vec!["http://a:1/", "http://b:2/"]);
        assert_eq!(settings.webhooks.timeout_ms, 250);
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.toml");
        std::fs::write(
            &path,
            "[api]\nadmin_key = \"from-file\"\n[database]\nurl = \"sqlite://x.db\"\n",
        )
        .unwrap();
        let settings = Settings::load_from(
            Some(&path),
            env(&[("SESSION_GATEWAY__API__ADMIN_KEY", "from-env")]),
        )
        .unwrap();
        assert_eq!(
            settings.api.admin_key.as_ref().unwrap().expose(),
            "from-env"
        );
        assert_eq!(settings.database_url(Path::new("d")), "sqlite://x.db");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let result = Settings::load_from(None, env(&[("SESSION_GATEWAY__API__ADMIN_KYE", "x")]));
        assert!(result.is_err());
    }

    #[test]
    fn telemetry_and_log_format_from_the_environment() {
        let settings = Settings::load_from(None, env(&[])).unwrap();
        assert!(settings.telemetry.otlp_endpoint.is_none());
        assert_eq!(settings.logging.resolve(false), LogFormat::Json);
        assert_eq!(settings.logging.resolve(true), LogFormat::Text);
        let settings = Settings::load_from(
            None,
            env(&[
                ("SESSION_GATEWAY__TELEMETRY__OTLP_ENDPOINT", "http://c:4318"),
                ("SESSION_GATEWAY__LOGGING__FORMAT", "text"),
            ]),
        )
        .unwrap();
        assert_eq!(
            settings.telemetry.otlp_endpoint.as_deref(),
            Some("http://c:4318")
        );
        assert_eq!(settings.logging.resolve(false), LogFormat::Text);
        let bad = Settings::load_from(None, env(&[("SESSION_GATEWAY__LOGGING__FORMAT", "xml")]));
        assert!(bad.is_err());
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let secret = SecretString::new("hunter2".into());
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
