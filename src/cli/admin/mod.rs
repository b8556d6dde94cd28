//! Admin commands against the configured database (issue 15): `accounts list|export|import`,
//! `api-keys create`, `webhooks replay` and `rotate-master-key`.
//!
//! They load settings exactly as `serve` does (defaults, `--config FILE`, then
//! `SESSION_GATEWAY__*` variables) and open the same database (`database.url`, or SQLite
//! `DATA_DIR/gateway.db`) with the same master key (`security.master_key`, or the
//! `DATA_DIR/master_key` file `serve --devnet` generated). They may run next to a live gateway
//! (SQLite allows a second connection; PostgreSQL tells the replicas through LISTEN/NOTIFY),
//! except `rotate-master-key`, which needs every gateway stopped. Each prints its result on
//! stdout (JSON, or a table for `accounts list`); a failure is one `error: …` line on stderr.

mod accounts;
mod keys;
mod rotate;

use std::path::{Path, PathBuf};

pub use accounts::AccountsCommand;
pub use keys::{ApiKeysCommand, WebhooksCommand};
pub use rotate::RotateArgs;

use crate::config::{ConfigError, Settings};
use crate::identities::IdentityError;
use crate::store::rotation::RotationError;
use crate::store::{MasterKey, SecretsError, Store, StoreError};

/// Where the commands find the gateway's settings and database: the same flags as `serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// TOML settings file (environment variables SESSION_GATEWAY__SECTION__KEY override it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The gateway's data directory (its SQLite database, and `master_key` under --devnet).
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,
}

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The settings did not load.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No master key is configured, and the data directory has none.
    #[error(
        "security.master_key is not set (SESSION_GATEWAY__SECURITY__MASTER_KEY) and {0} does \
         not exist"
    )]
    MissingMasterKey(String),
    /// A master key does not parse.
    #[error("{what}: {source}")]
    BadKey {
        /// Which key.
        what: String,
        /// Why.
        source: SecretsError,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The rotation refused or failed.
    #[error(transparent)]
    Rotation(#[from] RotationError),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The command's input is wrong (a bad Session ID, scope, file…).
    #[error("{0}")]
    Invalid(String),
    /// The account, webhook… does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A phrase or seed does not make an identity.
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

/// An admin command (see the module docs).
#[derive(Debug, Clone)]
pub enum AdminCommand {
    /// `accounts …`
    Accounts(AccountsCommand),
    /// `api-keys …`
    ApiKeys(ApiKeysCommand),
    /// `webhooks …`
    Webhooks(WebhooksCommand),
    /// `rotate-master-key`
    RotateMasterKey(RotateArgs),
}

/// Runs `command` on a fresh runtime; returns what to print on stdout.
pub fn main(command: AdminCommand) -> Result<String, AdminError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| AdminError::Read {
            path: "the async runtime".into(),
            source,
        })?;
    runtime.block_on(run(command))
}

/// Runs `command`; returns what to print on stdout.
pub async fn run(command: AdminCommand) -> Result<String, AdminError> {
    match command {
        AdminCommand::Accounts(command) => accounts::run(command).await,
        AdminCommand::ApiKeys(command) => keys::api_keys(command).await,
        AdminCommand::Webhooks(command) => keys::webhooks(command).await,
        AdminCommand::RotateMasterKey(args) => rotate::run(args).await,
    }
}

impl Target {
    /// The settings, loaded as `serve` loads them.
    pub fn settings(&self) -> Result<Settings, AdminError> {
        Ok(Settings::load(self.config.as_deref())?)
    }

    /// The configured master key, or the one `serve --devnet` generated into the data directory.
    pub fn master_key(&self, settings: &Settings) -> Result<MasterKey, AdminError> {
        let bad = |source| AdminError::BadKey {
            what: "security.master_key".into(),
            source,
        };
        if let Some(key) = &settings.security.master_key {
            return MasterKey::from_base64(key.expose()).map_err(bad);
        }
        let path = self.data_dir.join("master_key");
        match std::fs::read_to_string(&path) {
            Ok(text) => MasterKey::from_base64(&zeroize::Zeroizing::new(text)).map_err(bad),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(AdminError::MissingMasterKey(path.display().to_string()))
            }
            Err(source) => Err(AdminError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// The database URL `serve` would use.
    pub fn database_url(&self, settings: &Settings) -> String {
        settings.database_url(&self.data_dir)
    }

    /// Opens the store as `serve` does (migrations, the master key check).
    pub async fn open(&self) -> Result<Store, AdminError> {
        let settings = self.settings()?;
        let master = self.master_key(&settings)?;
        ensure_sqlite_dir(&settings, &self.data_dir);
        let url = self.database_url(&settings);
        Ok(Store::open(&url, 2, master).await?)
    }
}

/// Creates the data directory for a SQLite database, as `serve` does on its first start.
fn ensure_sqlite_dir(settings: &Settings, data_dir: &Path) {
    if settings.database.url.is_none() {
        // A failure shows as the database failing to open, with its own message.
        let _ = std::fs::create_dir_all(data_dir);
    }
}

/// One line of JSON for stdout.
fn json(value: &impl serde::Serialize) -> Result<String, AdminError> {
    serde_json::to_string(value).map_err(|e| AdminError::Invalid(e.to_string()))
}
