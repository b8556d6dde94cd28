//! Assembles a running gateway: settings → store (migrations, master-key check) → webhook
//! dispatcher → HTTP server. Used by `serve` and, on port 0 with a temp data dir, by the tests.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::{web, HttpServer};
use tokio::task::JoinHandle;

use crate::actors::system::IdentityCounts;
use crate::actors::{ActorSettings, ActorSystem, Deps, Services};
use crate::api::{auth::hash_key, ApiState};
use crate::config::Settings;
use crate::identities::IdentityProvider;
use crate::leases::{LeaseHandle, LeaseManager};
use crate::metrics::Metrics;
use crate::network::SessionNetwork;
use crate::store::{MasterKey, SecretsError, Store, StoreError};
use crate::webhooks::targets::TargetPolicy;
use crate::webhooks::{self, WebhookHandle};

/// Why the gateway refused to start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `api.admin_key` is not set (and no devnet generated one).
    #[error("api.admin_key is not set (SESSION_GATEWAY__API__ADMIN_KEY)")]
    MissingAdminKey,
    /// `security.master_key` is not set.
    #[error("security.master_key is not set (SESSION_GATEWAY__SECURITY__MASTER_KEY, base64 of 32 bytes)")]
    MissingMasterKey,
    /// `security.master_key` does not parse (the error names the setting).
    #[error(transparent)]
    BadMasterKey(#[from] SecretsError),
    /// The data directory cannot be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database failed to open, migrate, or check the master key.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `webhooks.allowed_hosts` has an entry that is no host, address or range.
    #[error(transparent)]
    WebhookTargets(#[from] crate::webhooks::targets::TargetError),
    /// The actor system did not start.
    #[error("cannot start the actors: {0}")]
    Actors(#[from] crate::actors::ActorError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What to start.
pub struct GatewayOptions {
    /// Settings (already merged from defaults, file and environment).
    pub settings: Settings,
    /// Where the SQLite database (and generated keys) live.
    pub data_dir: PathBuf,
    /// `host:port`; port 0 picks a free one.
    pub listen: String,
    /// Creates and restores identities.
    pub identities: Arc<dyn IdentityProvider>,
}

/// A running gateway.
pub struct Gateway {
    addr: SocketAddr,
    store: Store,
    metrics: Metrics,
    server: actix_web::dev::ServerHandle,
    server_task: JoinHandle<std::io::Result<()>>,
    webhooks_task: JoinHandle<()>,
    actors: Option<ActorSystem>,
    shutdown: tokio::sync::watch::Sender<bool>,
    leases: Option<LeaseHandle>,
}

impl Gateway {
    /// Opens the store, starts the webhook dispatcher and the HTTP server: the API alone, with
    /// no connection to the Session network (accounts are stored, messages stay queued).
    pub async fn start(options: GatewayOptions) -> Result<Self, StartError> {
        Self::start_inner(options, None).await
    }

    /// As [`Gateway::start`], plus the actors that poll every account's swarm and send queued
    /// messages through `network`.
    pub async fn start_with_network(
        options: GatewayOptions,
        network: SessionNetwork,
    ) -> Result<Self, StartError> {
        Self::start_inner(options, Some(network)).await
    }

    async fn start_inner(
        options: GatewayOptions,
        network: Option<SessionNetwork>,
    ) -> Result<Self, StartError> {
        crate::memory::disable_transparent_huge_pages();
        let settings = Arc::new(options.settings);
        let admin_key = settings
            .api
            .admin_key
            .as_ref()
            .ok_or(StartError::MissingAdminKey)?;
        let master = settings
            .security
            .master_key
            .as_ref()
            .ok_or(StartError::MissingMasterKey)?;
        let master = MasterKey::from_base64(master.expose())?;
        std::fs::create_dir_all(&options.data_dir).map_err(|source| StartError::DataDir {
            path: options.data_dir.clone(),
            source,
        })?;
        let targets = Arc::new(TargetPolicy::new(&settings.webhooks)?);
        let url = settings.database_url(&options.data_dir);
        let store = Store::open(&url, settings.database.max_connections, master).await?;

        let metrics = Metrics::new();
        let handle = WebhookHandle::default();
        // Which accounts this replica runs; the Supervisor follows `leases().take_events()`.
        let one_replica = store.backend() == crate::store::Backend::Sqlite;
        let lease_config = settings.replicas.lease_config(one_replica);
        let mut leases = LeaseManager::spawn(store.clone(), lease_config);
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let webhooks_task = webhooks::spawn(
            store.clone(),
            settings.webhooks.clone(),
            targets.clone(),
            metrics.clone(),
            handle.clone(),
            shutdown_rx.clone(),
        );
        let actors = match network {
            Some(network) => {
                network.attach_observer(Arc::new(metrics.clone()));
                let deps = Deps::new(Services {
                    store: store.clone(),
                    network,
                    metrics: metrics.clone(),
                    settings: Arc::new(ActorSettings::from_settings(&settings)),
                    io: tokio::runtime::Handle::current(),
                    attachments: Default::default(),
                    startups: crate::actors::startup_permits(),
                    health: Default::default(),
                    own_copies: Default::default(),
                    settles: Default::default(),
                });
                // Attachments recorded but not fetched before a restart (issue 5).
                deps.attachments.sweep(&deps);
                Some(ActorSystem::start(deps, leases.take_events()).await?)
            }
            None => None,
        };
        let state = web::Data::new(ApiState {
            store: store.for_api(),
            admin_key_hash: hash_key(admin_key.expose()),
            settings: settings.clone(),
            identities: options.identities,
            metrics: metrics.clone(),
            webhooks: handle,
            webhook_targets: targets,
            actors: actors.as_ref().map(ActorSystem::handle).unwrap_or_default(),
            limits: crate::api::rate_limit::RateLimits::new(&settings),
            shutdown: shutdown_rx,
        });
        let bind_error = |source| StartError::Bind {
            addr: options.listen.clone(),
            source,
        };
        let listener = TcpListener::bind(&options.listen).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
        let server = HttpServer::new(move || crate::api::app(state.clone()))
            .workers(workers)
            .disable_signals()
            .listen(listener)
            .map_err(bind_error)?
            .run();
        let server_handle = server.handle();
        let server_task = tokio::spawn(server);
        Ok(Self {
            addr,
            store,
            metrics,
            server: server_handle,
            server_task,
            webhooks_task,
            actors,
            shutdown,
            leases: Some(leases),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// This replica's account leases (the Supervisor takes its events stream).
    pub fn leases(&mut self) -> Option<&mut LeaseHandle> {
        self.leases.as_mut()
    }

    /// The store (tests insert events through it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The metric families (tests read counters from them).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The supervisor's counts, when the actors run.
    pub fn identity_counts(&self) -> Option<IdentityCounts> {
        self.actors.as_ref().and_then(|a| a.handle().counts())
    }

    /// Stops the actors, stops accepting requests, answers parked long-polls, finishes
    /// in-flight requests, stops webhook workers, closes the database.
    pub async fn stop(mut self) {
        if let Some(actors) = self.actors.take() {
            actors.shutdown().await;
        }
        self.shutdown.send_replace(true);
        self.server.stop(true).await;
        let _ = self.server_task.await;
        // `shutdown` (sent above) stops the dispatcher, its workers and their attempts.
        let _ = self.webhooks_task.await;
        if let Some(leases) = self.leases.take() {
            leases.shutdown().await;
        }
        self.store.close().await;
    }
}

impl Gateway {
    /// Stops everything at once without finishing anything, as a crash would (tests restart on
    /// the same data directory to prove nothing is lost). The database file is left as the
    /// last committed transaction left it.
    pub async fn kill(self) {
        drop(self.actors);
        self.shutdown.send_replace(true);
        self.webhooks_task.abort();
        self.server_task.abort();
        let _ = self.webhooks_task.await;
        let _ = self.server_task.await;
        self.store.close().await;
    }
}
