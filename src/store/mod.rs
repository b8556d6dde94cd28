//! Persistence: sqlx repositories over `Any` connections, SQLite by default (a file in the data
//! directory: one writer and read-only connections, kept out of their pools, [`connections`])
//! or PostgreSQL (`postgres://…`, one pool, for several replicas, design.md §6), chosen by the
//! database URL. The SQL is shared where it is portable (`$n` placeholders, `RETURNING`,
//! `ON CONFLICT`, integer milliseconds for time, TEXT for JSON); the few statements that differ
//! ask [`Backend`] for their PostgreSQL-only clause (row locks, `SKIP LOCKED`, advisory locks).
//!
//! Every write that the poller and sender will need to make atomic goes through a [`StoreTx`]:
//! a message, its conversation, its events (with their webhook deliveries) and the poll cursor
//! commit together or not at all (design.md §2, "never lost"). Committed events wake the
//! long-poll endpoint and the webhook workers through [`Store::subscribe_events`]; other changes
//! another replica must act on (a queued message, an account or webhook change) are announced
//! through [`Store::subscribe_notices`] (LISTEN/NOTIFY on PostgreSQL, in-process on SQLite);
//! both are one mechanism, described in [`notify`].

pub mod accounts;
pub mod api_keys;
pub mod attachments;
pub mod avatars;
pub mod chat;
pub mod communities;
pub mod connect;
mod connections;
pub mod control;
mod error;
pub mod events;
pub mod group_commit;
pub mod group_state;
pub mod groups;
pub mod health;
pub mod leases;
mod log_sync;
pub mod message_state;
pub mod messages;
pub mod modes;
pub mod notify;
pub mod poll_plan;
pub mod prune;
pub mod replays;
pub mod retention;
pub mod rotation;
pub mod secrets;
pub mod send_queue;
mod sql;
pub mod status;
pub mod user_configs;
pub mod webhooks;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row as _};
use tokio::sync::{broadcast, watch};

use connect::Commits;
pub use connect::ConnectFailure;
use connections::{Connections, TxConn};
pub use error::StoreError;
pub use leases::LeaseToken;
use log_sync::LogSync;
pub use notify::Notice;
pub use secrets::{MasterKey, RecordKind, SecretsError};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// How long [`Store::ping`] waits for an answer.
pub const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The check value sealed under the master key at first start.
const CHECK_PLAINTEXT: &[u8] = b"session-gateway master key check v1";

/// Which database the URL chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// One embedded file, one connection, one replica.
    Sqlite,
    /// A shared server for one or more replicas.
    Postgres,
}

impl Backend {
    /// The backend a database URL names, if any.
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// A row-lock clause for `SELECT`s that guard a read-modify-write (`FOR UPDATE` on
    /// PostgreSQL; nothing on SQLite, whose one connection already serialises writers).
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE",
        }
    }

    /// As [`Backend::for_update`], skipping rows another transaction holds: concurrent claimers
    /// each take different rows instead of queueing behind one another.
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// A shared row lock: the row cannot change until this transaction ends.
    pub(crate) fn for_share(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR SHARE",
        }
    }
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
    /// The writer: SQLite's one connection, kept ([`connections`]), or PostgreSQL's pool.
    pool: Connections,
    /// SQLite's group commit: the sync that commits wait for (none in memory or on PostgreSQL).
    log_sync: Option<Arc<LogSync>>,
    /// The enabled webhooks' filters between transactions (kept on SQLite only).
    hook_cache: Arc<events::HookCache>,
    /// The page cap [`Store::set_sqlite_page_cap`] set (0: none), for new connections.
    page_cap: Arc<AtomicU64>,
    /// Where plain reads go: on SQLite, read-only connections beside the one writer
    /// ([`connect::MAX_SQLITE_READERS`]), kept ([`connections`]); otherwise `pool` itself.
    reads: Connections,
    /// The REST API's reads on SQLite: one read-only connection of its own
    /// ([`Store::for_api`]); otherwise `reads`.
    api_reads: Connections,
    backend: Backend,
    master: MasterKey,
    events: watch::Sender<i64>,
    notices: notify::Notifier,
    /// The PostgreSQL LISTEN task; aborted when the last clone is dropped or on `close`.
    listener: Option<Arc<notify::ListenerTask>>,
    /// Queued sends forming groups that share one transaction ([`group_commit`]).
    enqueues: Arc<messages::EnqueueGroups>,
}

/// An open transaction; see the module docs. Dropping it without [`StoreTx::commit`] rolls back.
pub struct StoreTx {
    tx: TxConn,
    /// Waited for after the commit (SQLite).
    log_sync: Option<Arc<LogSync>>,
    backend: Backend,
    events: watch::Sender<i64>,
    notices: notify::Notifier,
    /// True once this transaction holds the event-cursor lock (PostgreSQL).
    event_lock: bool,
    /// The enabled webhooks, read at the transaction's first event.
    event_hooks: Option<Arc<[events::HookFilter]>>,
    /// The store's cache of them ([`events::HookCache`]).
    hook_cache: Arc<events::HookCache>,
    /// The transaction changes a webhook ([`StoreTx::writes_webhooks`]).
    writes_webhooks: bool,
    /// An account's chat settings as this transaction read them (a poll's batch asks for each
    /// delivered message), until it writes them.
    chat_settings: Option<(String, Option<chat::ChatSettings>)>,
    /// An account's latest outgoing timestamp, once read ([`StoreTx::next_outgoing_timestamp`]).
    latest_outgoing: Option<(String, i64)>,
    /// Announced after commit (and, on PostgreSQL, NOTIFYed in the transaction).
    on_commit: notify::OnCommit,
    /// Leases this transaction writes under (see [`StoreTx::fence`]).
    fences: Vec<LeaseToken>,
    /// Seals keys written in the transaction (attachment and profile keys).
    master: MasterKey,
}

impl Store {
    /// Connects, applies migrations, and checks (or, on a new database, records) the master key.
    pub async fn open(
        url: &str,
        max_connections: u32,
        master: MasterKey,
    ) -> Result<Self, StoreError> {
        let page_cap = Arc::new(AtomicU64::new(0));
        let (pool, backend) =
            open_pool(url, max_connections, &page_cap, Commits::GroupSynced).await?;
        let log_sync = match backend {
            Backend::Sqlite => start_log_sync(&pool).await?,
            Backend::Postgres => None,
        };
        check_master_key(&pool, &master).await?;
        // The migrations and a new database's key check, on disk before anything else.
        if let Some(log_sync) = &log_sync {
            log_sync.wait().await?;
        }
        let readers = max_connections.min(connect::MAX_SQLITE_READERS);
        // The gateway's read connections and the REST API's one ([`Store::for_api`]).
        let (reads, api_reads) = match backend {
            Backend::Sqlite => (
                connect::open_sqlite_readers(url, readers).await?,
                connect::open_sqlite_readers(url, readers.min(1)).await?,
            ),
            Backend::Postgres => (None, None),
        };
        let latest = latest_cursor(&pool).await?;
        let writer = match backend {
            Backend::Sqlite => Connections::keep(pool.clone()).await?,
            Backend::Postgres => Connections::Pool(pool.clone()),
        };
        let reads = match reads {
            Some(readers) => Connections::keep(readers).await?,
            None => writer.clone(),
        };
        let api_reads = match api_reads {
            Some(readers) => Connections::keep(readers).await?,
            None => reads.clone(),
        };
        let (events, _) = watch::channel(latest);
        let notices = notify::Notifier::new();
        let listener = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(Arc::new(
                notify::listen(url, pool.clone(), events.clone(), notices.clone()).await?,
            )),
        };
        let hook_cache = Arc::new(events::HookCache::new(backend == Backend::Sqlite));
        Ok(Self {
            pool: writer,
            log_sync,
            hook_cache,
            page_cap,
            reads,
            api_reads,
            backend,
            master,
            events,
            notices,
            listener,
            enqueues: Arc::default(),
        })
    }

    /// Which database this store uses.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction for writes that must land together.
    pub async fn begin(&self) -> Result<StoreTx, StoreError> {
        Ok(StoreTx {
            tx: TxConn::begin(&self.pool).await?,
            log_sync: self.log_sync.clone(),
            backend: self.backend,
            events: self.events.clone(),
            notices: self.notices.clone(),
            event_lock: false,
            event_hooks: None,
            hook_cache: self.hook_cache.clone(),
            writes_webhooks: false,
            chat_settings: None,
            latest_outgoing: None,
            on_commit: notify::OnCommit::default(),
            fences: Vec::new(),
            master: self.master.clone(),
        })
    }

    /// A receiver whose value is the newest committed event cursor; it changes on every commit
    /// that wrote events (on PostgreSQL, also on commits by other replicas).
    pub fn subscribe_events(&self) -> watch::Receiver<i64> {
        self.events.subscribe()
    }

    /// Changes another part of the gateway (on any replica) must act on: see [`Notice`].
    pub fn subscribe_notices(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Announces `notice` to this process and, on PostgreSQL, to every other replica.
    pub async fn announce(&self, notice: Notice) -> Result<(), StoreError> {
        if let (Backend::Postgres, Connections::Pool(pool)) = (self.backend, &self.pool) {
            notify::pg_notify(&mut *pool.acquire().await?, &self.notices, &notice).await?;
        }
        self.notices.send(notice);
        Ok(())
    }

    /// How many receivers are subscribed to event commits (long-polls in flight plus the webhook
    /// dispatcher); lets tests wait until a long-poll is parked.
    pub fn event_subscribers(&self) -> usize {
        self.events.receiver_count()
    }

    /// True when the database answers within [`PING_TIMEOUT`] (for `/readyz`, whose probes
    /// must not wait for the pool's acquire timeout during an outage) and, on SQLite, its log
    /// can still be synced ([`log_sync`]).
    pub async fn ping(&self) -> bool {
        if let Some(failure) = self.log_sync.as_ref().and_then(|sync| sync.failure()) {
            tracing::warn!(%failure, "not ready: the database's log cannot be synced");
            return false;
        }
        let query = sqlx::query("SELECT 1").execute(&self.pool);
        matches!(tokio::time::timeout(PING_TIMEOUT, query).await, Ok(Ok(_)))
    }

    /// Closes the pool (waits for connections to be returned) and stops listening.
    pub async fn close(&self) {
        if let Some(listener) = &self.listener {
            listener.abort();
        }
        // Readers first: SQLite folds the write-ahead log into the database and removes it
        // when the last connection closes, and a read-only connection cannot. Closed after
        // the writer, they left the log behind (a flaky secrets-at-rest test, 1 run in 8).
        self.api_reads.close().await;
        self.reads.close().await;
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
            .fetch_all(&self.reads)
            .await?;
            for row in rows {
                out.push((row.try_get("status")?, row.try_get("n")?));
            }
        }
        Ok(counts)
    }

    /// SQLite only: caps the database file at its current size plus `spare_pages` pages on
    /// the pool's one connection (`PRAGMA max_page_count`), or lifts the cap (`None`). A write
    /// that needs a page past the cap fails exactly as on a full disk (`SQLITE_FULL`), which
    /// is how the disk-full tests rehearse one without a small filesystem. The cap is set on
    /// the connection and applied again to any connection the pool opens in its place.
    /// Returns the cap in pages (`None` on PostgreSQL, where it does nothing).
    pub async fn set_sqlite_page_cap(
        &self,
        spare_pages: Option<u64>,
    ) -> Result<Option<u64>, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        // SQLite's own largest page count (3.45+); a larger value would be clamped to it.
        const NO_CAP: u64 = 4_294_967_294;
        let Connections::Kept(writer) = &self.pool else {
            return Ok(None);
        };
        let mut conn = writer.lend().await?;
        let cap = match spare_pages {
            Some(spare) => {
                let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
                    .fetch_one(&mut *conn)
                    .await?;
                u64::try_from(pages).unwrap_or(0).saturating_add(spare)
            }
            None => NO_CAP,
        };
        let set: i64 = sqlx::query_scalar(&format!("PRAGMA max_page_count = {cap}"))
            .fetch_one(&mut *conn)
            .await?;
        let set = u64::try_from(set).ok();
        self.page_cap.store(
            set.filter(|_| spare_pages.is_some()).unwrap_or(0),
            Ordering::Relaxed,
        );
        Ok(set)
    }

    /// The pool for writes outside a transaction (and reads that must see the writer's
    /// connection, as the lease rounds do).
    pub(crate) fn pool(&self) -> &Connections {
        &self.pool
    }

    /// Returns once the writes this store made so far are on disk: on SQLite, the ones made
    /// outside a transaction on [`Store::pool`] need it ([`log_sync`]); on PostgreSQL every
    /// commit already is.
    pub(crate) async fn synced(&self) -> Result<(), StoreError> {
        match &self.log_sync {
            Some(log_sync) => log_sync.wait().await,
            None => Ok(()),
        }
    }

    /// Runs `query`, one write outside a transaction, and returns once it is on disk
    /// ([`Store::synced`]).
    pub(crate) async fn execute_synced<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<sqlx::any::AnyQueryResult, StoreError> {
        let done = query.execute(&self.pool).await?;
        self.synced().await?;
        Ok(done)
    }

    /// Runs `query`, a write whose loss in a power failure only repeats work (a webhook
    /// delivery's claim or outcome, accounts' poll health), without waiting for SQLite's log
    /// to reach the disk ([`log_sync`] lists them).
    pub(crate) async fn execute_relaxed<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<sqlx::any::AnyQueryResult, StoreError> {
        Ok(query.execute(&self.pool).await?)
    }

    /// This store for the REST API: the same writer, but on SQLite its plain reads go to a
    /// read connection no other part of the gateway uses. The poll cycles of thousands of
    /// accounts read the database thousands of times a second (poll plans, cursors), and a
    /// request's reads queued behind theirs: at 10,000 accounts a `GET` waited up to a second
    /// while a round of polls caught up after start (scale bench, `SCALE_SLOW_MS`). On
    /// PostgreSQL (one pool for everything) it is the same store.
    pub fn for_api(&self) -> Store {
        Store {
            reads: self.api_reads.clone(),
            ..self.clone()
        }
    }

    /// Where plain reads (a `SELECT` outside a transaction) run.
    pub(crate) fn reads(&self) -> &Connections {
        &self.reads
    }

    pub(crate) fn master(&self) -> &MasterKey {
        &self.master
    }
}

/// Connects and applies the migrations (no master key check: [`Store::open`] and the
/// key rotation, [`rotation`], each check it their own way).
async fn open_pool(
    url: &str,
    max_connections: u32,
    page_cap: &Arc<AtomicU64>,
    commits: Commits,
) -> Result<(AnyPool, Backend), StoreError> {
    sqlx::any::install_default_drivers();
    let backend =
        Backend::from_url(url).ok_or_else(|| StoreError::UnsupportedUrl(redact_url(url)))?;
    let pool = match backend {
        Backend::Sqlite => connect::open_sqlite(url, page_cap.clone(), commits).await?,
        Backend::Postgres => connect::open_postgres(url, max_connections).await?,
    };
    Ok((pool, backend))
}

/// The group commit of the SQLite database `pool` writes to, or `None` when it has no log file
/// (in memory).
async fn start_log_sync(pool: &AnyPool) -> Result<Option<Arc<LogSync>>, StoreError> {
    let file: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(pool)
            .await?;
    if file.is_empty() {
        return Ok(None);
    }
    let log = std::path::PathBuf::from(format!("{file}-wal"));
    let log_sync = LogSync::start(log)
        .map_err(|e| StoreError::LogSync(format!("cannot start the log's sync thread: {e}")))?;
    Ok(Some(Arc::new(log_sync)))
}

async fn latest_cursor(pool: &AnyPool) -> Result<i64, StoreError> {
    let latest: Option<i64> = sqlx::query("SELECT MAX(cursor) AS latest FROM events")
        .fetch_one(pool)
        .await?
        .try_get("latest")?;
    Ok(latest.unwrap_or(0))
}

impl StoreTx {
    /// Commits, then wakes event subscribers if this transaction wrote events and announces its
    /// notices. On PostgreSQL the notices (and the newest cursor) are NOTIFYed inside the
    /// transaction, so other replicas hear of them exactly when the data becomes visible.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            self.on_commit
                .notify_in(self.tx.conn(), &self.notices)
                .await?;
        }
        self.tx.commit().await?;
        if self.writes_webhooks {
            self.hook_cache.invalidate();
        }
        if let Some(log_sync) = &self.log_sync {
            log_sync.wait().await?;
        }
        self.on_commit.committed(&self.notices, &self.events);
        Ok(())
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        self.tx.conn()
    }

    /// Which database this transaction runs on.
    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// Queues `notice` for announcement when (and only if) this transaction commits.
    pub(crate) fn announce_on_commit(&mut self, notice: Notice) {
        self.on_commit.push(notice);
    }
}

async fn check_master_key(pool: &AnyPool, master: &MasterKey) -> Result<(), StoreError> {
    if rotation::in_progress(pool).await? {
        return Err(StoreError::RotationUnfinished);
    }
    let row = sqlx::query("SELECT value FROM meta WHERE key = 'master_key_check'")
        .fetch_optional(pool)
        .await?;
    match row {
        Some(row) => {
            let sealed: Vec<u8> = row.try_get("value")?;
            if opens_check(master, &sealed) {
                Ok(())
            } else {
                Err(StoreError::WrongMasterKey)
            }
        }
        None => {
            // Replicas starting together on a new database race here: the first check value
            // wins and every replica (this one included) verifies against it.
            let sealed = master.seal(RecordKind::Check, "", CHECK_PLAINTEXT);
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ('master_key_check', $1) \
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(sealed)
            .execute(pool)
            .await?;
            Box::pin(check_master_key(pool, master)).await
        }
    }
}

/// Whether `sealed` is the check value sealed under `master`.
fn opens_check(master: &MasterKey, sealed: &[u8]) -> bool {
    matches!(master.open(RecordKind::Check, "", sealed), Ok(plain) if plain.as_slice() == CHECK_PLAINTEXT)
}

/// Keeps the scheme and host of a URL for error messages, never a password. A SQLite URL
/// holds no credentials and its path is what an operator needs to see: it is kept whole.
fn redact_url(url: &str) -> String {
    if url.starts_with("sqlite:") {
        return url.to_owned();
    }
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
    fn the_url_chooses_the_backend() {
        assert_eq!(Backend::from_url("sqlite://x.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::from_url("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::from_url("postgres://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("postgresql://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::from_url("mysql://u@h/db"), None);
        assert_eq!(Backend::from_url("gateway.db"), None);
    }

    // The writer commits with `synchronous = NORMAL` and each transaction's commit returns
    // only after a sync of the log that started after it (`log_sync`); the key rotation's
    // writer still syncs each commit itself.
    #[tokio::test]
    async fn sqlite_commits_wait_for_a_sync_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("g.db").display());
        let store = Store::open(&url, 2, MasterKey::generate()).await.unwrap();
        let mode: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(mode, 1, "NORMAL");
        let log_sync = store.log_sync.clone().expect("a file database has a log");
        let before = log_sync.syncs();
        let mut tx = store.begin().await.unwrap();
        sqlx::query("INSERT INTO meta (key, value) VALUES ('t', x'00')")
            .execute(tx.conn())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(log_sync.syncs() > before, "the commit waited for a sync");
        store.close().await;

        let (pool, _) = open_pool(&url, 2, &Default::default(), Commits::SyncedEach)
            .await
            .unwrap();
        let mode: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(mode, 2, "FULL");
        pool.close().await;
    }

    // A failed sync is final: the commit that waited for it and every later one fail as
    // "unavailable" (the API's 503), and `/readyz` says not ready.
    #[tokio::test]
    async fn after_a_failed_sync_commits_fail_and_the_store_is_not_ready() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("g.db").display());
        let mut store = Store::open(&url, 2, MasterKey::generate()).await.unwrap();
        assert!(store.ping().await);
        let failing = LogSync::with_sync(|| Err(std::io::Error::other("device gone"))).unwrap();
        store.log_sync = Some(Arc::new(failing));
        for _ in 0..2 {
            let failed = store.begin().await.unwrap().commit().await.unwrap_err();
            assert!(matches!(failed, StoreError::LogSync(_)), "{failed}");
            assert!(failed.is_unavailable());
            assert!(failed.to_string().contains("device gone"), "{failed}");
        }
        assert!(!store.ping().await);
    }

    #[tokio::test]
    async fn a_database_in_memory_has_no_log_to_sync() {
        let store = Store::open("sqlite::memory:", 2, MasterKey::generate())
            .await
            .unwrap();
        assert!(store.log_sync.is_none());
        store.begin().await.unwrap().commit().await.unwrap();
    }

    // SQLite's writer is kept out of its pool ([`connections`]): a transaction dropped without
    // a commit still rolls back before the next user of the connection, whose transaction is a
    // real one (not a savepoint inside the dropped one), and a transaction waiting for the
    // writer gets it once the holder commits.
    #[tokio::test]
    async fn the_kept_writer_rolls_back_a_dropped_transaction_and_serves_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("g.db").display());
        let master = MasterKey::generate();
        let store = Store::open(&url, 4, master.clone()).await.unwrap();
        let insert = |key: &'static str| {
            sqlx::query("INSERT INTO meta (key, value) VALUES ($1, x'00')").bind(key)
        };
        let mut dropped = store.begin().await.unwrap();
        insert("dropped").execute(dropped.conn()).await.unwrap();
        drop(dropped);
        let mut held = store.begin().await.unwrap();
        insert("held").execute(held.conn()).await.unwrap();
        let waiting = tokio::spawn({
            let store = store.clone();
            async move {
                let mut tx = store.begin().await.unwrap();
                insert("waited").execute(tx.conn()).await.unwrap();
                tx.commit().await.unwrap();
            }
        });
        held.commit().await.unwrap();
        waiting.await.unwrap();
        let keys = |store: Store| async move {
            let mut keys: Vec<String> = sqlx::query_scalar(
                "SELECT key FROM meta WHERE key IN ('dropped', 'held', 'waited')",
            )
            .fetch_all(store.reads())
            .await
            .unwrap();
            keys.sort();
            store.close().await;
            keys
        };
        assert_eq!(
            keys(store).await,
            ["held", "waited"],
            "the dropped insert rolled back"
        );
        // Committed for real, not inside a transaction left open: a fresh store reads them.
        let store = Store::open(&url, 4, master).await.unwrap();
        assert_eq!(keys(store).await, ["held", "waited"]);
    }

    // The REST API's reads never wait for the gateway's read connections: with every one of
    // them held (as a burst of poll reads holds them), the API's store still reads at once.
    // Before `for_api`, this read waited for a connection until the pool's 30 s timeout.
    #[tokio::test]
    async fn the_api_reads_on_a_connection_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("g.db").display());
        let store = Store::open(&url, 10, MasterKey::generate()).await.unwrap();
        let (held, free) = store.reads().hold_all().await;
        assert_eq!(
            free,
            connect::MAX_SQLITE_READERS as usize,
            "all kept, none in use"
        );
        assert_eq!(held.len(), free);
        assert_eq!(
            store.reads().free(),
            0,
            "every gateway read connection is held"
        );
        let api = store.for_api();
        let wait = std::time::Duration::from_secs(20);
        let read = tokio::time::timeout(wait, api.list_webhooks()).await;
        assert!(
            matches!(read, Ok(Ok(ref hooks)) if hooks.is_empty()),
            "{read:?}"
        );
        drop(held);
        store.close().await;
        assert!(
            !dir.path().join("g.db-wal").exists(),
            "closing the store closes the API's connection too (SQLite removes its log)"
        );
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://user:pw@db.example:5432/gw"),
            "postgres://db.example:5432"
        );
    }
}
