//! Why a store operation failed ([`StoreError`]), and which failures are the database's
//! weather (unavailable, full) rather than a bug.

use super::connect::{self, ConnectFailure};
use super::SecretsError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database rejected a query or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying `migrations/` failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database was created with another master key; starting would strand every secret.
    #[error("security.master_key does not match the key this database was created with")]
    WrongMasterKey,
    /// `rotate-master-key` began re-sealing the secrets and has not finished: some open only
    /// with the old key, some only with the new one.
    #[error(
        "a master key rotation is unfinished: run `session-gateway rotate-master-key` again \
         (with the old key as security.master_key and the same new key) to finish it"
    )]
    RotationUnfinished,
    /// A sealed secret did not open (altered row, or a record moved to another id).
    #[error("a stored secret could not be opened: {0}")]
    Secret(#[from] SecretsError),
    /// A stored value has an impossible shape (for example invalid JSON in a TEXT column).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database could not be reached at start-up, or refused us: the cause, named.
    #[error("cannot connect to the database at {url}: {failure}")]
    Connect {
        /// The URL without credentials.
        url: String,
        /// Why.
        failure: ConnectFailure,
    },
    /// The database URL names a backend this build cannot use.
    #[error("unsupported database URL (expected sqlite://… or postgres://…): {0}")]
    UnsupportedUrl(String),
    /// SQLite's write-ahead log could not be synced to disk ([`super::log_sync`]): writes since the
    /// last good sync may not survive a power failure, and none is accepted until a restart.
    #[error("the database's log cannot be synced to disk: {0}")]
    LogSync(String),
    /// A fenced transaction's lease is no longer held under its epoch: another replica owns the
    /// account now, so this replica's state change must not land.
    #[error("the lease on account {account} was lost (epoch {epoch} is stale)")]
    LeaseLost {
        /// The account's Session ID.
        account: String,
        /// The stale epoch.
        epoch: i64,
    },
}

impl StoreError {
    /// The database could not be used at all (see [`connect::is_unavailable`]): a retry may
    /// succeed unchanged once it is back.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Database(error) => connect::is_unavailable(error),
            Self::Connect { .. } => true,
            // Until a restart; `/readyz` says so meanwhile.
            Self::LogSync(_) => true,
            _ => false,
        }
    }

    /// The database is out of space (see [`connect::is_full`]): the write may succeed
    /// unchanged once space returns.
    pub fn is_full(&self) -> bool {
        match self {
            Self::Database(error) => connect::is_full(error),
            _ => false,
        }
    }
}
