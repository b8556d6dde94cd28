//! Opening the pool: one probe connection first, so that a database that cannot be reached
//! fails start-up within [`CONNECT_TIMEOUT`] with the cause named ([`ConnectFailure`]), then
//! the pool itself and the migrations.
//!
//! Why the probe: a pool hides the cause. `PoolOptions::connect` retries a refused or failed
//! connection until its acquire timeout and then reports only "pool timed out while waiting
//! for an open connection", so an operator with a wrong port, host, password or URL waited
//! 30 s for a message that named none of them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool, Connection as _};

use super::{redact_url, StoreError, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

/// How long a query waits for a pooled PostgreSQL connection before it fails as unavailable
/// (an API request answers 503). While the server is down, every new connection is refused and
/// the pool retries until this deadline, so it is what a request waits during an outage.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the start-up probe waits for the database to answer (a host that drops packets
/// never refuses; this bounds the wait for it).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the start-up connection failed, named for what an operator fixes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectFailure {
    /// Nothing listens at the address (wrong port, or the server is down).
    #[error("connection refused (is the database running and listening there?)")]
    Refused,
    /// The host name does not resolve.
    #[error("unknown host ({0})")]
    UnknownHost(String),
    /// The server refused the credentials.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The URL does not parse or names an option the driver does not know.
    #[error("invalid database URL: {0}")]
    BadUrl(String),
    /// No answer within [`CONNECT_TIMEOUT`].
    #[error("no answer within {} s", CONNECT_TIMEOUT.as_secs())]
    Timeout,
    /// Anything else the driver or server said (a missing database, a file that cannot be
    /// opened, TLS), in its own words.
    #[error("{0}")]
    Other(String),
}

impl ConnectFailure {
    /// Names the cause of a failed connection attempt.
    pub fn of(error: &sqlx::Error) -> Self {
        match error {
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                Self::Refused
            }
            // tokio reports a failed name lookup as an untyped I/O error with this text.
            sqlx::Error::Io(io) if io.to_string().contains("lookup address") => {
                Self::UnknownHost(io.to_string())
            }
            sqlx::Error::Io(io) => Self::Other(io.to_string()),
            sqlx::Error::Configuration(e) => Self::BadUrl(e.to_string()),
            // PostgreSQL SQLSTATE class 28: invalid authorisation (28P01 wrong password,
            // 28000 no pg_hba.conf entry or unknown role).
            sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("28")) => {
                Self::Auth(db.message().to_owned())
            }
            sqlx::Error::Database(db) => Self::Other(db.message().to_owned()),
            other => Self::Other(other.to_string()),
        }
    }
}

/// Whether `error` means the database could not be used at all (down, restarting, connections
/// lost, out of resources), as opposed to refusing one statement: the same request can succeed
/// once the database is back, so the API answers 503, not 500.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE 08 connection exception, 53 insufficient resources (disk full, out of
        // memory, too many connections), 57P01-57P03 the server shutting down or starting up.
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("53") || c.starts_with("57P")),
        _ => false,
    }
}

/// Whether `error` means the database has no room left for a write: SQLite's `SQLITE_FULL`
/// (13: the disk is full, or the file reached its `max_page_count`) or PostgreSQL's
/// `disk_full` (SQLSTATE 53100). Reads still work and the same write succeeds once space
/// returns, so the API answers 507, not 500 (and not a plain 503: an operator has to act).
pub fn is_full(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c == "13" || c == "53100"),
        _ => false,
    }
}

/// Connects once, with [`CONNECT_TIMEOUT`], and closes again: the cause of a failure, or
/// nothing.
async fn probe(url: &str) -> Result<(), StoreError> {
    let failure = match tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect(url)).await {
        Ok(Ok(conn)) => {
            // A failed close only means the server went away in between; the pool will say so.
            let _ = conn.close().await;
            return Ok(());
        }
        Ok(Err(error)) => ConnectFailure::of(&error),
        Err(_) => ConnectFailure::Timeout,
    };
    Err(StoreError::Connect {
        url: redact_url(url),
        failure,
    })
}

/// The writer reads the database file through a memory map of up to 256 MiB (address space,
/// not memory: the pages are the kernel's page cache). Its own page cache stays valid, since
/// no other connection writes, so the map serves the pages it has not cached yet.
///
/// The read connections do not map the file (SQLite's default, `pread`). In WAL mode a
/// connection drops its whole page cache whenever another one committed since its last read,
/// and with a map it also unmaps the file (`unixUnfetch`): the next read faults every page it
/// touches back in, and the unmap interrupts the process's threads on the other core to flush
/// their TLBs. Under a send backlog the readers meet a new commit at nearly every read. Send
/// bench, issue 16, stop 30 (1,000 messages, the SQL log's time per statement): a reader's
/// statements took 57–96 µs with the map and 18–42 µs without; the gateway's CPU per sent
/// message fell 3–8 % in three A/B pairs; the 2,000-account scale bench did not move. (Commit
/// 11ba16c had measured the map as a gain for every connection, on the code of its day.)
const MMAP_PRAGMA: &str = "PRAGMA mmap_size = 268435456";

/// SQLite connections are not pinged each time the pool hands one out (sqlx's default). A
/// ping is a round trip to the connection's worker thread (a channel send, a futex wake, the
/// reply), as dear as the statement that follows it, and it can only find that the worker
/// thread is gone: a local file does not drop connections the way a server does. The 2,000
/// account scale profile had these pings among its largest wake-up costs. PostgreSQL
/// connections are still tested.
const TEST_SQLITE_BEFORE_ACQUIRE: bool = false;

/// How the commits of an SQLite writer reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Commits {
    /// Each commit syncs the log itself (`synchronous = FULL`): for a tool that writes without
    /// a [`super::log_sync::LogSync`] (the master key rotation).
    SyncedEach,
    /// A commit returns once it is in the log; a [`super::log_sync::LogSync`] syncs the log for
    /// the commits that wait for it (`synchronous = NORMAL`; the gateway's store).
    GroupSynced,
}

impl Commits {
    fn pragma(self) -> &'static str {
        match self {
            Self::SyncedEach => "PRAGMA synchronous = FULL",
            Self::GroupSynced => "PRAGMA synchronous = NORMAL",
        }
    }
}

/// One SQLite connection: writers never race for the file lock (no SQLITE_BUSY on lock
/// upgrade), and reads are short. Never acquire a second connection inside a transaction.
pub(super) async fn open_sqlite(
    url: &str,
    page_cap: Arc<AtomicU64>,
    commits: Commits,
) -> Result<AnyPool, StoreError> {
    probe(url).await?;
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(TEST_SQLITE_BEFORE_ACQUIRE)
        .after_connect(move |conn, _meta| {
            let page_cap = page_cap.load(Ordering::Relaxed);
            Box::pin(async move {
                if page_cap > 0 {
                    let _: i64 = sqlx::query_scalar(&format!("PRAGMA max_page_count = {page_cap}"))
                        .fetch_one(&mut *conn)
                        .await?;
                }
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(commits.pragma()).execute(&mut *conn).await?;
                sqlx::query("PRAGMA foreign_keys = ON")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("PRAGMA busy_timeout = 5000")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(MMAP_PRAGMA).execute(&mut *conn).await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    SQLITE_MIGRATIONS.run(&pool).await?;
    Ok(pool)
}

/// Read connections to SQLite beside the one writer, at most: reads (the poll plan, the API's
/// lists) run in parallel with each other and with the writer (WAL readers see every commit
/// made before their statement began), instead of queueing behind every write on the one
/// connection. Found by the scale bench at 10,000 accounts, where that queue was the limit.
/// Two, measured there: polls achieved 51 % with none, 76 % with one, 85 % with two, 76 % with
/// four (each connection's thread adds hand-offs, and the gateway becomes CPU-bound).
pub const MAX_SQLITE_READERS: u32 = 2;

/// `readers` read-only connections to the SQLite database at `url` (already migrated by the
/// writer), or `None` when the database is in memory (another connection would open another,
/// empty database) or `readers` is 0: then reads share the writer's connection.
pub(super) async fn open_sqlite_readers(
    url: &str,
    readers: u32,
) -> Result<Option<AnyPool>, StoreError> {
    let Some(url) = read_only_url(url).filter(|_| readers > 0) else {
        return Ok(None);
    };
    let pool = AnyPoolOptions::new()
        .max_connections(readers)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(TEST_SQLITE_BEFORE_ACQUIRE)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                sqlx::query("PRAGMA busy_timeout = 5000")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    Ok(Some(pool))
}

/// `url` opened read-only (`mode=ro` in place of any `mode`), or `None` for an in-memory
/// database.
fn read_only_url(url: &str) -> Option<String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("mode="))
        .collect();
    let in_memory = base.contains(":memory:") || query.split('&').any(|p| p == "mode=memory");
    if in_memory {
        return None;
    }
    params.push("mode=ro");
    Some(format!("{base}?{}", params.join("&")))
}

/// A pool of `max_connections` (at least 2: a transaction and a read may overlap), keeping
/// one idle connection warm. Migrations take PostgreSQL's advisory lock, so replicas starting
/// together apply them once.
pub(super) async fn open_postgres(url: &str, max_connections: u32) -> Result<AnyPool, StoreError> {
    probe(url).await?;
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections.max(2))
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .idle_timeout(Duration::from_secs(600))
        .connect(url)
        .await?;
    POSTGRES_MIGRATIONS.run(&pool).await?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_open_the_same_file_read_only() {
        assert_eq!(
            read_only_url("sqlite:///data/gateway.db?mode=rwc").as_deref(),
            Some("sqlite:///data/gateway.db?mode=ro")
        );
        assert_eq!(
            read_only_url("sqlite://gw.db").as_deref(),
            Some("sqlite://gw.db?mode=ro")
        );
        assert_eq!(
            read_only_url("sqlite://gw.db?cache=shared&mode=rw").as_deref(),
            Some("sqlite://gw.db?cache=shared&mode=ro")
        );
        assert_eq!(read_only_url("sqlite::memory:"), None);
        assert_eq!(read_only_url("sqlite://x?mode=memory"), None);
    }

    #[test]
    fn causes_are_named() {
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(ConnectFailure::of(&refused), ConnectFailure::Refused);
        let lookup = sqlx::Error::Io(std::io::Error::other(
            "failed to lookup address information: Name or service not known",
        ));
        assert!(matches!(
            ConnectFailure::of(&lookup),
            ConnectFailure::UnknownHost(_)
        ));
        let url = sqlx::Error::Configuration("relative URL without a base".into());
        assert_eq!(
            ConnectFailure::of(&url).to_string(),
            "invalid database URL: relative URL without a base"
        );
    }

    /// A database error with only a code, as a driver reports one.
    #[derive(Debug)]
    struct Coded(&'static str);

    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "error {}", self.0)
        }
    }

    impl std::error::Error for Coded {}

    impl sqlx::error::DatabaseError for Coded {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    #[test]
    fn a_full_database_is_told_from_an_unavailable_one() {
        let coded = |c| sqlx::Error::Database(Box::new(Coded(c)));
        // SQLite SQLITE_FULL, PostgreSQL disk_full.
        for code in ["13", "53100"] {
            assert!(is_full(&coded(code)), "{code}");
        }
        // Too many connections, a lost connection, a constraint: not full.
        for code in ["53300", "08006", "23505", "1"] {
            assert!(!is_full(&coded(code)), "{code}");
        }
        assert!(!is_full(&sqlx::Error::PoolTimedOut));
        // 53100 is in the "unavailable" class too; the API asks `is_full` first.
        assert!(is_unavailable(&coded("53100")));
    }

    #[tokio::test]
    async fn a_closed_port_is_refused_at_once() {
        sqlx::any::install_default_drivers();
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let url = format!("postgres://user:secret@127.0.0.1:{port}/db");
        let started = std::time::Instant::now();
        let error = probe(&url).await.unwrap_err();
        assert!(started.elapsed() < CONNECT_TIMEOUT);
        let text = error.to_string();
        assert!(text.contains("connection refused"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }
}
