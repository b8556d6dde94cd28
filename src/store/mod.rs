//! Persistence: sqlx repositories over one `Any` pool, SQLite by default (a file in the data
//! directory), PostgreSQL later (issue 6) with the same SQL where it is portable: `$n`
//! placeholders, `RETURNING`, integer milliseconds for time, TEXT for JSON.
//!
//! Every write that the poller and sender will need to make atomic goes through a [`StoreTx`]:
//! a message, its conversation, its events (with their webhook deliveries) and the poll cursor
//! commit together or not at all (design.md §2, "never lost"). Committed events wake the
//! long-poll endpoint and the webhook workers through [`Store::subscribe_events`].

pub mod accounts;
pub mod api_keys;
pub mod events;
pub mod messages;
pub mod secrets;
pub mod webhooks;

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row as _, Transaction};
use tokio::sync::watch;

pub use secrets::{MasterKey, RecordKind, SecretsError};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The check value sealed under the master key at first start.
const CHECK_PLAINTEXT: &[u8] = b"session-gateway master key check v1";

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
    /// A sealed secret did not open (altered row, or a record moved to another id).
    #[error("a stored secret could not be opened: {0}")]
    Secret(#[from] SecretsError),
    /// A stored value has an impossible shape (for example invalid JSON in a TEXT column).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database URL names a backend this build cannot use yet.
    #[error("unsupported database URL (expected sqlite://…): {0}")]
    UnsupportedUrl(String),
}

/// Row counts by status (`/metrics`).
#[derive(Debug, Default)]
pub struct StatusCounts {
    /// Accounts by status.
    pub accounts: Vec<(String, i64)>,
    /// Webhook deliveries by status.
    pub deliveries: Vec<(String, i64)>,
}

/// The gateway's database handle. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    master: MasterKey,
    events: watch::Sender<i64>,
}

/// An open transaction; see the module docs. Dropping it without [`StoreTx::commit`] rolls back.
pub struct StoreTx {
    tx: Transaction<'static, Any>,
    events: watch::Sender<i64>,
    last_event: Option<i64>,
}

impl Store {
    /// Connects, applies migrations, and checks (or, on a new database, records) the master key.
    pub async fn open(
        url: &str,
        max_connections: u32,
        master: MasterKey,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        if !url.starts_with("sqlite:") {
            // PostgreSQL needs its own migration set (issue 6); refuse rather than half-work.
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        }
        // One SQLite connection: writers never race for the file lock (no SQLITE_BUSY on lock
        // upgrade), and reads are short. Never acquire a second connection inside a transaction.
        let _ = max_connections;
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA foreign_keys = ON")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout = 5000")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        check_master_key(&pool, &master).await?;
        let latest: Option<i64> = sqlx::query("SELECT MAX(cursor) AS latest FROM events")
            .fetch_one(&pool)
            .await?
            .try_get("latest")?;
        let (events, _) = watch::channel(latest.unwrap_or(0));
        Ok(Self {
            pool,
            master,
            events,
        })
    }

    /// Starts a transaction for writes that must land together.
    pub async fn begin(&self) -> Result<StoreTx, StoreError> {
        Ok(StoreTx {
            tx: self.pool.begin().await?,
            events: self.events.clone(),
            last_event: None,
        })
    }

    /// A receiver whose value is the newest committed event cursor; it changes on every commit
    /// that wrote events.
    pub fn subscribe_events(&self) -> watch::Receiver<i64> {
        self.events.subscribe()
    }

    /// How many receivers are subscribed to event commits (long-polls in flight plus the webhook
    /// dispatcher); lets tests wait until a long-poll is parked.
    pub fn event_subscribers(&self) -> usize {
        self.events.receiver_count()
    }

    /// True when the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Row counts by status for the metrics gauges.
    pub async fn status_counts(&self) -> Result<StatusCounts, StoreError> {
        let mut counts = StatusCounts::default();
        for (table, out) in [
            ("accounts", &mut counts.accounts),
            ("webhook_deliveries", &mut counts.deliveries),
        ] {
            let rows = sqlx::query(&format!(
                "SELECT status, COUNT(*) AS n FROM {table} GROUP BY status"
            ))
            .fetch_all(&self.pool)
            .await?;
            for row in rows {
                out.push((row.try_get("status")?, row.try_get("n")?));
            }
        }
        Ok(counts)
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(crate) fn master(&self) -> &MasterKey {
        &self.master
    }
}

impl StoreTx {
    /// Commits, then wakes event subscribers if this transaction wrote events.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        if let Some(cursor) = self.last_event {
            self.events.send_if_modified(|latest| {
                let newer = cursor > *latest;
                if newer {
                    *latest = cursor;
                }
                newer
            });
        }
        Ok(())
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

async fn check_master_key(pool: &AnyPool, master: &MasterKey) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT value FROM meta WHERE key = 'master_key_check'")
        .fetch_optional(pool)
        .await?;
    match row {
        Some(row) => {
            let sealed: Vec<u8> = row.try_get("value")?;
            match master.open(RecordKind::Check, "", &sealed) {
                Ok(plain) if plain.as_slice() == CHECK_PLAINTEXT => Ok(()),
                _ => Err(StoreError::WrongMasterKey),
            }
        }
        None => {
            let sealed = master.seal(RecordKind::Check, "", CHECK_PLAINTEXT);
            sqlx::query("INSERT INTO meta (key, value) VALUES ('master_key_check', $1)")
                .bind(sealed)
                .execute(pool)
                .await?;
            Ok(())
        }
    }
}

/// Keeps the scheme and host of a URL for error messages, never a password.
fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{}", host.split('/').next().unwrap_or(""))
        }
        None => "<unparseable>".to_owned(),
    }
}

/// Reads a JSON TEXT column.
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &str,
) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// Reads an optional JSON TEXT column.
pub(crate) fn opt_json_column<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &str,
) -> Result<Option<T>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// Serialises a value for a JSON TEXT column.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://user:pw@db.example:5432/gw"),
            "postgres://db.example:5432"
        );
    }
}
