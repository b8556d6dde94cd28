//! Settings: built-in defaults, then an optional TOML file (`--config FILE`), then environment
//! variables `SESSION_GATEWAY__SECTION__KEY` (for example `SESSION_GATEWAY__API__ADMIN_KEY`).
//! Lists (`network.seeds`, `webhooks.allowed_hosts`) are comma-separated in the environment.
//!
//! Every setting is documented on its field (one file per group of sections: the service's own
//! in `service.rs`, observability in `observability.rs`, message traffic in `messaging.rs`) and
//! in the README's configuration table. Unknown keys are rejected so a typo never silently
//! falls back to a default.

mod messaging;
mod observability;
mod retention;
mod service;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use messaging::{
    NetworkSettings, PathIsolationSetting, PollingSettings, SendingSettings, WebhookSettings,
    MAINNET_SEEDS,
};
pub use observability::{LogFormat, LoggingSettings, TelemetrySettings};
pub use retention::RetentionSettings;
pub use service::{ApiSettings, DatabaseSettings, ReplicaSettings, SecuritySettings};

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
    /// How long events, deliveries, messages and attachment bytes are kept.
    pub retention: RetentionSettings,
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
            .with_list_parse_key("webhooks.allowed_hosts")
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
