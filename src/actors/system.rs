//! [`ActorSystem`]: the thread the actors run on, and [`ActorsHandle`], what the API holds to
//! tell the actors about new accounts and queued messages.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use actix::prelude::*;

use super::attachments::AvatarError;
use super::pruner::Pruner;
use super::supervisor::{AccountChanged, MessageQueued};
use super::{ActorError, Deps, PathPool, Supervisor, SupervisorCounts};
use crate::ids::SessionIdText;
use crate::leases::LeaseEvent;
use crate::protocol::chat::profile::Avatar;

/// A snapshot of the supervisor's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityCounts {
    /// Identity actors running.
    pub running: usize,
    /// Accounts waiting for a restart.
    pub restarting: usize,
    /// Restarts so far.
    pub restarts: u64,
}

/// Tells the actors about API changes. The default handle (no actors: the API alone, as in
/// tests without a network) ignores everything.
#[derive(Clone, Default)]
pub struct ActorsHandle {
    supervisor: Option<Addr<Supervisor>>,
    counts: Option<Arc<SupervisorCounts>>,
    /// The attachment fetcher and what it needs (re-queued downloads start at once).
    fetcher: Option<(super::attachments::Fetcher, Deps)>,
}

impl std::fmt::Debug for ActorsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorsHandle")
            .field("enabled", &self.supervisor.is_some())
            .finish()
    }
}

impl ActorsHandle {
    /// An account was created, imported, changed or deleted.
    pub fn account_changed(&self, account: &SessionIdText) {
        if let Some(s) = &self.supervisor {
            s.do_send(AccountChanged {
                account: account.clone(),
            });
        }
    }

    /// `account` queued a message to `peer`.
    pub fn message_queued(&self, account: &SessionIdText, peer: &SessionIdText, id: &str) {
        if let Some(s) = &self.supervisor {
            s.do_send(MessageQueued {
                account: account.as_str().to_owned(),
                peer: peer.as_str().to_owned(),
                id: id.to_owned(),
            });
        }
    }

    /// `account` queued a row in the conversation `peer` names (any kind: a Session ID, a
    /// group or a room).
    pub fn queued_in(&self, account: &SessionIdText, peer: &str, id: &str) {
        if let Some(s) = &self.supervisor {
            s.do_send(MessageQueued {
                account: account.as_str().to_owned(),
                peer: peer.to_owned(),
                id: id.to_owned(),
            });
        }
    }

    /// Joins `account` to the room `url` names ([`super::rooms::join_room`]).
    pub async fn join_room(
        &self,
        account: &SessionIdText,
        url: &crate::protocol::community::CommunityUrl,
    ) -> Result<(crate::chat::community::JoinedRoom, bool), super::rooms::JoinError> {
        let (_, deps) = self
            .fetcher
            .as_ref()
            .ok_or(super::rooms::JoinError::NoNetwork)?;
        // The server's lead polls the room from its next cycle on.
        super::rooms::join_room(deps, account, url).await
    }

    /// `account` has incoming attachments queued again: fetch them now.
    pub fn attachments_queued(&self, account: &SessionIdText) {
        if let Some((fetcher, deps)) = &self.fetcher {
            fetcher.kick(deps, account.as_str());
        }
    }

    /// Encrypts `image` under a fresh profile key and uploads it: our new avatar
    /// ([`super::attachments::upload_avatar`]; [`AvatarError::NoNetwork`] without actors).
    pub async fn upload_avatar(&self, image: &[u8]) -> Result<Avatar, AvatarError> {
        super::attachments::upload_avatar(self.network(), image).await
    }

    /// Downloads and decrypts a contact's `avatar` ([`super::attachments::fetch_avatar`]).
    pub async fn fetch_avatar(&self, avatar: &Avatar) -> Result<Vec<u8>, AvatarError> {
        super::attachments::fetch_avatar(self.network(), avatar).await
    }

    /// The network's counts (pool, paths), when actors run.
    pub fn network_stats(&self) -> Option<crate::network::NetworkStats> {
        self.network().map(crate::network::SessionNetwork::stats)
    }

    /// This replica's live onion paths, guard first (Ed25519 hex of each hop), when actors run.
    pub fn network_paths(&self) -> Option<Vec<[String; 3]>> {
        self.network()
            .map(|n| n.paths().iter().map(|p| p.map(|n| n.to_hex())).collect())
    }

    /// The network the actors use, when they run.
    fn network(&self) -> Option<&crate::network::SessionNetwork> {
        self.fetcher.as_ref().map(|(_, deps)| &deps.network)
    }

    /// The supervisor's counts, when actors run.
    pub fn counts(&self) -> Option<IdentityCounts> {
        self.counts.as_ref().map(|c| IdentityCounts {
            running: c.running.load(Ordering::Relaxed),
            restarting: c.restarting.load(Ordering::Relaxed),
            restarts: c.restarts.load(Ordering::Relaxed),
        })
    }
}

/// The running actor system. Dropping it stops every actor at once (a crash, as far as the
/// database is concerned); [`ActorSystem::shutdown`] also waits for the thread to end.
pub struct ActorSystem {
    system: actix::System,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Kept so the path supervisor lives as long as the system.
    _path_pool: Addr<PathPool>,
    _pruner: Addr<Pruner>,
    _refetcher: Addr<super::attachments::Refetcher>,
    _health: Addr<super::health::HealthFlusher>,
    _retainer: Addr<super::retention::Retainer>,
    handle: ActorsHandle,
}

impl ActorSystem {
    /// Starts the thread, the [`Supervisor`] (which starts every active account) and the
    /// [`PathPool`]. Must be called inside the I/O runtime (`deps.io`). With `leases` (the lease
    /// manager's events) the supervisor runs only the accounts this replica holds.
    pub async fn start(
        deps: Deps,
        leases: Option<tokio::sync::mpsc::UnboundedReceiver<LeaseEvent>>,
    ) -> Result<Self, ActorError> {
        let fetcher = (deps.attachments.clone(), deps.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        let counts = Arc::new(SupervisorCounts::default());
        let shared = counts.clone();
        let thread = std::thread::Builder::new()
            .name("session-actors".into())
            .spawn(move || {
                let runner = actix::System::new();
                let started = runner.block_on(async move {
                    let path_pool = PathPool::new(deps.clone()).start();
                    let pruner = Pruner::new(deps.clone()).start();
                    let refetcher = super::attachments::Refetcher::new(deps.clone()).start();
                    let flusher = super::health::HealthFlusher::new(deps.clone()).start();
                    let retainer = super::retention::Retainer::new(deps.clone()).start();
                    let supervisor = match leases {
                        Some(events) => Supervisor::with_leases(deps, shared, events),
                        None => Supervisor::new(deps, shared),
                    }
                    .start();
                    (
                        actix::System::current(),
                        supervisor,
                        path_pool,
                        (pruner, refetcher, flusher, retainer),
                    )
                });
                if tx.send(started).is_ok() {
                    let _ = runner.run();
                }
            })
            .map_err(|e| ActorError::System(e.to_string()))?;
        let (system, supervisor, path_pool, pruner) = rx
            .await
            .map_err(|_| ActorError::System("actor thread ended during start".into()))?;
        Ok(Self {
            system,
            thread: Some(thread),
            _path_pool: path_pool,
            _pruner: pruner.0,
            _refetcher: pruner.1,
            _health: pruner.2,
            _retainer: pruner.3,
            handle: ActorsHandle {
                supervisor: Some(supervisor),
                counts: Some(counts),
                fetcher: Some(fetcher),
            },
        })
    }

    /// The handle the API uses.
    pub fn handle(&self) -> ActorsHandle {
        self.handle.clone()
    }

    /// Stops every actor and waits for the thread.
    pub async fn shutdown(mut self) {
        self.system.stop();
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for ActorSystem {
    fn drop(&mut self) {
        self.system.stop();
    }
}
