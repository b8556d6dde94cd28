//! Group commit for SQLite: one disk sync of the write-ahead log shared by every commit that
//! waits for it.
//!
//! SQLite in WAL mode with `synchronous = FULL` syncs its log inside each commit, on the one
//! writer connection: every other write queues behind the disk, and each commit pays a sync of
//! its own (a sent message's two commits were about 0.7 ms of the gateway's 4.2 ms of CPU per
//! message, send bench, issue 16). The gateway's writer runs with `synchronous = NORMAL`
//! instead: a commit has written its pages to the log (the kernel's page cache) when it
//! returns, which survives a crash of the process. A commit that must also survive a crash of
//! the machine then waits for [`LogSync::wait`]: a thread of its own syncs the log file
//! (`fdatasync`), and one sync covers every commit that returned before it started. Commits
//! that come together share a sync, as in PostgreSQL's group commit, and the writer goes on to
//! the next transaction while the disk works.
//!
//! Why this is as durable as `FULL`: a sync of the file through any descriptor writes all of
//! its cached pages (the kernel syncs the file, not the descriptor), and SQLite syncs the log
//! itself before a checkpoint copies it into the database, so the database file is never ahead
//! of a durable log. The log file is opened afresh for each sync: SQLite removes it when its
//! last connection closes, after folding it into the database and syncing that, so a log that
//! is not there holds nothing to sync.
//!
//! What changes: a commit is visible to the gateway's read connections from the moment it
//! returns, a sync before it is durable. A read in that window may show a row a power failure
//! then takes back. Nothing acts on a commit before its sync: its notices and event wake-ups
//! are sent after it ([`super::StoreTx::commit`]) and no client is answered before it (a `202`
//! waits for the commit).
//!
//! Writes that do not wait for a sync ([`super::Store::execute_relaxed`]) are the ones whose
//! loss in a power failure only repeats work:
//!
//! - a webhook delivery's claim: lost, the delivery is simply claimable again;
//! - a webhook attempt's outcome: lost, the event is sent again under the same event id, which
//!   is what at-least-once delivery already promises after a crash mid-attempt;
//! - when an account's config heads were last extended (`user_configs`): lost, they are
//!   extended again on the next poll, which changes nothing on the swarm;
//! - accounts' poll health (`store::health`): a copy of what the replica holds in memory,
//!   rewritten every few seconds; lost, the API shows the previous flush's times until then;
//! - the lease rounds (`store::leases`): SQLite has one replica, which takes every lease over
//!   when it starts.
//!
//! A later sync carries them along: the log is replayed in order up to its last intact commit,
//! so a power failure can only take back the newest commits, never one from before a commit
//! that survived. A failed sync is final: Linux may drop the pages it could
//! not write and clear the error, so a later sync that succeeds proves nothing about them. The
//! gateway then fails every write that waits (and `/readyz`) until it is restarted, when
//! SQLite recovers the log as it finds it. PostgreSQL does the same on such a failure.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::StoreError;

/// The log's sync thread and the commits waiting for it; the thread ends when this is dropped.
pub(super) struct LogSync {
    shared: Arc<Shared>,
}

struct Shared {
    requests: Mutex<Requests>,
    /// Wakes the sync thread when a commit asks for a sync (or this is dropped).
    wake: Condvar,
    synced: watch::Sender<Synced>,
}

/// Sync requests, numbered in the order they came.
#[derive(Default)]
struct Requests {
    latest: u64,
    closed: bool,
}

#[derive(Default)]
struct Synced {
    /// Every request numbered up to this is on disk.
    through: u64,
    /// How many syncs ran (tests and the figures in the module docs).
    syncs: u64,
    /// The failure that stopped the syncs, if one did.
    failure: Option<Arc<str>>,
}

impl LogSync {
    /// Starts the sync thread of the database whose write-ahead log is `log`.
    pub(super) fn start(log: PathBuf) -> io::Result<Self> {
        Self::with_sync(move || sync_log(&log))
    }

    /// Starts the sync thread with `sync` in place of the log file's sync (tests).
    pub(super) fn with_sync(
        sync: impl Fn() -> io::Result<()> + Send + 'static,
    ) -> io::Result<Self> {
        let (synced, _) = watch::channel(Synced::default());
        let shared = Arc::new(Shared {
            requests: Mutex::new(Requests::default()),
            wake: Condvar::new(),
            synced,
        });
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("sqlite-log-sync".into())
            .spawn(move || run(&thread_shared, sync))?;
        Ok(Self { shared })
    }

    /// Returns once every commit that returned before this call is on disk.
    pub(super) async fn wait(&self) -> Result<(), StoreError> {
        let mut synced = self.shared.synced.subscribe();
        let ticket = {
            let mut requests = lock(&self.shared.requests);
            requests.latest += 1;
            requests.latest
        };
        self.shared.wake.notify_one();
        let stopped = || StoreError::LogSync("the log's sync thread stopped".into());
        let synced = synced
            .wait_for(|s| s.through >= ticket || s.failure.is_some())
            .await
            .map_err(|_| stopped())?;
        if synced.through >= ticket {
            return Ok(());
        }
        Err(StoreError::LogSync(
            synced.failure.as_deref().unwrap_or("unknown").to_owned(),
        ))
    }

    /// Why the log can no longer be synced, once a sync failed.
    pub(super) fn failure(&self) -> Option<Arc<str>> {
        self.shared.synced.borrow().failure.clone()
    }

    /// How many syncs ran.
    #[cfg(test)]
    pub(super) fn syncs(&self) -> u64 {
        self.shared.synced.borrow().syncs
    }
}

impl std::fmt::Debug for LogSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSync").finish_non_exhaustive()
    }
}

impl Drop for LogSync {
    fn drop(&mut self) {
        lock(&self.shared.requests).closed = true;
        self.shared.wake.notify_one();
    }
}

/// The sync thread: waits for requests, syncs, and tells the waiters up to which request the
/// sync reached (the latest one when it started). Ends when its [`LogSync`] is dropped and no
/// request is left, or at the first failure.
fn run(shared: &Shared, sync: impl Fn() -> io::Result<()>) {
    let mut through = 0;
    loop {
        let target = {
            let mut requests = lock(&shared.requests);
            while requests.latest == through && !requests.closed {
                requests = shared
                    .wake
                    .wait(requests)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if requests.latest == through {
                return; // closed, and nothing left to sync
            }
            requests.latest
        };
        let outcome = sync();
        let failed = outcome.is_err();
        shared.synced.send_modify(|synced| {
            synced.syncs += 1;
            match outcome {
                Ok(()) => synced.through = target,
                Err(error) => {
                    tracing::error!(%error, "syncing SQLite's write-ahead log failed: every write that must be durable fails until the gateway is restarted");
                    synced.failure = Some(format!("syncing the write-ahead log failed: {error}").into());
                }
            }
        });
        if failed {
            return;
        }
        through = target;
    }
}

/// Syncs the log file's data to disk; a log that is not there has nothing to sync (see the
/// module docs).
fn sync_log(log: &Path) -> io::Result<()> {
    match std::fs::File::open(log) {
        Ok(file) => file.sync_data(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// The lock, whatever a panicking holder left (no code that can panic runs under it).
fn lock(requests: &Mutex<Requests>) -> MutexGuard<'_, Requests> {
    requests.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// A sync that reports when it starts and finishes only when released.
    fn gated() -> (
        Arc<LogSync>,
        mpsc::Receiver<()>,
        mpsc::SyncSender<io::Result<()>>,
    ) {
        let (started_tx, started) = mpsc::channel();
        let (release, release_rx) = mpsc::sync_channel::<io::Result<()>>(0);
        let sync = LogSync::with_sync(move || {
            let _ = started_tx.send(());
            // The test over (its sender dropped), the sync simply succeeds.
            release_rx.recv().unwrap_or(Ok(()))
        })
        .unwrap();
        (Arc::new(sync), started, release)
    }

    /// A commit waiting for `sync`, on a task of its own.
    fn waiter(sync: &Arc<LogSync>) -> tokio::task::JoinHandle<Result<(), StoreError>> {
        let sync = sync.clone();
        tokio::spawn(async move { sync.wait().await })
    }

    /// Blocks the test thread (not the runtime's) until the sync thread started a sync.
    async fn sync_started(started: &mpsc::Receiver<()>) {
        tokio::task::block_in_place(|| started.recv_timeout(Duration::from_secs(30)).unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_that_wait_together_share_one_sync_and_none_is_released_early() {
        let (sync, started, release) = gated();
        let first = waiter(&sync);
        sync_started(&started).await;
        // Nine more commits ask while the first sync runs: it started before they asked, so
        // it must not release them.
        let later: Vec<_> = (0..9).map(|_| waiter(&sync)).collect();
        while lock(&sync.shared.requests).latest < 10 {
            tokio::task::yield_now().await;
        }
        tokio::task::block_in_place(|| release.send(Ok(())).unwrap());
        first.await.unwrap().unwrap();
        sync_started(&started).await; // the second sync, for all nine
        assert!(later.iter().all(|waiter| !waiter.is_finished()));
        tokio::task::block_in_place(|| release.send(Ok(())).unwrap());
        for waiter in later {
            waiter.await.unwrap().unwrap();
        }
        assert_eq!(sync.syncs(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_sync_fails_its_waiters_and_every_later_one() {
        let (sync, started, release) = gated();
        let failing = waiter(&sync);
        sync_started(&started).await;
        let error = io::Error::other("disk gone");
        tokio::task::block_in_place(|| release.send(Err(error)).unwrap());
        let failed = failing.await.unwrap().unwrap_err();
        assert!(failed.to_string().contains("disk gone"), "{failed}");
        assert!(sync.failure().is_some());
        let later = sync.wait().await.unwrap_err();
        assert!(later.to_string().contains("disk gone"), "{later}");
    }

    #[tokio::test]
    async fn a_real_log_is_synced_and_a_missing_one_needs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("t.db-wal");
        std::fs::write(&log, b"frames").unwrap();
        let sync = LogSync::start(log.clone()).unwrap();
        sync.wait().await.unwrap();
        std::fs::remove_file(&log).unwrap();
        sync.wait().await.unwrap();
        assert_eq!(sync.syncs(), 2);
    }
}
