//! The devnet: a whole Session network on 127.0.0.1 (design.md §7, network.md §8).
//!
//! [`Devnet::start`] binds every listener on an ephemeral port (or the requested seed port),
//! so tests run in parallel: a seed (`/json_rpc`), N HTTPS service nodes in swarms, a file
//! server and a community (SOGS) server reachable through onion requests v4, and a control API
//! for faults, route logs, community rooms and moderators, and the devnet clock. Nodes talk to each other in-process through [`net::Network`].

pub mod cli;
pub mod community;
pub mod config;
pub mod control;
pub mod faults;
pub mod fileserver;
pub mod http;
pub mod net;
pub mod node;
pub mod onion;
pub mod rate_limit;
pub mod routes;
pub mod rpc;
pub mod seed;
pub mod store;
pub mod wire;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

pub use config::DevnetConfig;
pub use faults::Faults;
pub use net::{Network, Node, NodeInfo};
pub use routes::{Arrival, RouteEntry};

/// Why a devnet could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// A listener could not be bound or a server not started.
    #[error("cannot start a devnet server: {0}")]
    Io(#[from] std::io::Error),
    /// TLS setup failed.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// HTTP client setup failed.
    #[error("cannot build the proxy HTTP client: {0}")]
    Client(String),
}

/// A running devnet and its handles.
pub struct Devnet {
    net: Arc<Network>,
    seed_url: String,
    control_url: String,
    file_server: Arc<fileserver::FileServer>,
    file_server_url: String,
    community: Arc<community::CommunityServer>,
    community_url: String,
    servers: Vec<actix_web::dev::ServerHandle>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Devnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devnet")
            .field("seed_url", &self.seed_url)
            .finish_non_exhaustive()
    }
}

fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port))
}

impl Devnet {
    /// Starts a devnet. Must run inside a tokio runtime.
    pub async fn start(config: DevnetConfig) -> Result<Self, DevnetError> {
        if config.nodes == 0 || config.swarm_size == 0 {
            return Err(config::ConfigError::Empty.into());
        }
        let swarm_count = config.nodes.div_ceil(config.swarm_size);
        let ids = net::swarm_ids(swarm_count);
        let mut listeners = Vec::with_capacity(config.nodes);
        let mut nodes = Vec::with_capacity(config.nodes);
        for i in 0..config.nodes {
            let l = bind(0)?;
            let port = l.local_addr()?.port();
            let swarm = ids.get(i / config.swarm_size).copied().unwrap_or(0);
            nodes.push(Arc::new(Node::new(i, port, swarm, config.rate_limit)));
            listeners.push(l);
        }
        for (idx, f) in &config.faults {
            let node = nodes
                .get(*idx)
                .ok_or(config::ConfigError::NoSuchNode(*idx, config.nodes))?;
            node.set_faults(f.clone());
        }
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| DevnetError::Client(e.to_string()))?;
        let net = Arc::new(Network {
            nodes,
            clock: net::Clock::default(),
            http,
        });

        let mut servers = Vec::new();
        let mut spawn = |server: actix_web::dev::Server| {
            servers.push(server.handle());
            tokio::spawn(async move {
                let _ = server.await;
            })
        };
        let mut tasks = Vec::new();
        for (node, l) in net.nodes.iter().zip(listeners) {
            let tls = node::tls_config().map_err(DevnetError::Tls)?;
            tasks.push(spawn(node::serve(net.clone(), node.clone(), l, tls)?));
        }
        let seed_l = bind(config.seed_port.unwrap_or(0))?;
        let seed_tls = match config.seed_tls {
            true => Some(node::tls_config().map_err(DevnetError::Tls)?),
            false => None,
        };
        let scheme = if seed_tls.is_some() { "https" } else { "http" };
        let seed_port = seed_l.local_addr()?.port();
        let seed_url = format!("{scheme}://127.0.0.1:{seed_port}/json_rpc");
        tasks.push(spawn(seed::serve(net.clone(), seed_l, seed_tls)?));
        let fs = Arc::new(fileserver::FileServer::new(net.clone()));
        let fs_l = bind(0)?;
        let file_server_url = format!("http://127.0.0.1:{}", fs_l.local_addr()?.port());
        tasks.push(spawn(fileserver::serve(fs.clone(), fs_l)?));
        let community = Arc::new(community::CommunityServer::new(net.clone()));
        let community_l = bind(0)?;
        let community_url = format!("http://127.0.0.1:{}", community_l.local_addr()?.port());
        tasks.push(spawn(community::serve(community.clone(), community_l)?));
        let control_l = bind(0)?;
        let control_url = format!("http://127.0.0.1:{}", control_l.local_addr()?.port());
        let control = control::Control {
            net: net.clone(),
            community: community.clone(),
            community_url: community_url.clone(),
        };
        tasks.push(spawn(control::serve(control, control_l)?));
        tasks.push(tokio::spawn(sweeper(net.clone())));
        Ok(Self {
            net,
            seed_url,
            control_url,
            file_server: fs,
            file_server_url,
            community,
            community_url,
            servers,
            tasks,
        })
    }

    /// `http://127.0.0.1:P/json_rpc` (`https://` with [`DevnetConfig::seed_tls`]).
    pub fn seed_url(&self) -> &str {
        &self.seed_url
    }

    /// Control API base URL.
    pub fn control_url(&self) -> &str {
        &self.control_url
    }

    /// File server base URL (`http://127.0.0.1:P`); clients reach it only through onion v4.
    pub fn file_server_url(&self) -> &str {
        &self.file_server_url
    }

    /// The file server (its faults and upload counter).
    pub fn file_server(&self) -> &Arc<fileserver::FileServer> {
        &self.file_server
    }

    /// File server X25519 public key.
    pub fn file_server_x25519(&self) -> [u8; 32] {
        self.file_server.x25519
    }

    /// Community server base URL (`http://127.0.0.1:P`); clients reach it only through onion v4.
    pub fn community_url(&self) -> &str {
        &self.community_url
    }

    /// The community server (rooms, moderators, route log).
    pub fn community(&self) -> &Arc<community::CommunityServer> {
        &self.community
    }

    /// Community server X25519 public key (the `public_key` of its join URLs).
    pub fn community_x25519(&self) -> [u8; 32] {
        self.community.x25519
    }

    /// The join URL of the room created at start (`http://127.0.0.1:P/lobby?public_key=…`).
    pub fn community_join_url(&self) -> String {
        self.community
            .join_url(&self.community_url, community::DEFAULT_ROOM)
    }

    /// The `community` entry of the summary and of `serve --devnet`'s ready line.
    pub fn community_summary(&self) -> Value {
        json!({
            "url": self.community_url,
            "pubkey_x25519": hex::encode(self.community.x25519),
            "default_room": community::DEFAULT_ROOM,
            "join_url": self.community_join_url(),
        })
    }

    /// The shared network state (nodes, clock).
    pub fn network(&self) -> &Arc<Network> {
        &self.net
    }

    /// Public facts of every node.
    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.net.nodes.iter().map(|n| n.info.clone()).collect()
    }

    /// Sets a node's faults.
    pub fn set_faults(&self, index: usize, faults: Faults) {
        if let Some(n) = self.net.nodes.get(index) {
            n.set_faults(faults);
        }
    }

    /// How many times a node's faults fired: changed what it did (0 for an unknown index).
    pub fn faults_fired(&self, index: usize) -> u64 {
        self.net.nodes.get(index).map_or(0, |n| n.faults_fired())
    }

    /// A node's route log.
    pub fn routes(&self, index: usize) -> Vec<RouteEntry> {
        self.net
            .nodes
            .get(index)
            .map(|n| n.routes.entries())
            .unwrap_or_default()
    }

    /// Moves the devnet clock forward (expiry tests without sleeping).
    pub fn advance_clock(&self, ms: i64) {
        self.net.clock.advance(ms);
        for n in &self.net.nodes {
            n.store().sweep(self.net.clock.now_ms());
        }
    }

    /// The one-line JSON the CLI prints.
    pub fn summary(&self) -> Value {
        let nodes: Vec<Value> = self
            .net
            .nodes
            .iter()
            .map(|n| {
                json!({
                    "ip": n.info.ip,
                    "storage_port": n.info.port,
                    "pubkey_ed25519": hex::encode(n.info.ed25519),
                    "pubkey_x25519": hex::encode(n.info.x25519),
                    "swarm_id": n.info.swarm_id,
                })
            })
            .collect();
        json!({
            "seed": self.seed_url,
            "nodes": nodes,
            "file_server": {"url": self.file_server_url, "pubkey_x25519": hex::encode(self.file_server.x25519)},
            "community": self.community_summary(),
            "control": self.control_url,
        })
    }

    /// Stops every server and background task.
    pub async fn shutdown(self) {
        for s in &self.servers {
            s.stop(false).await;
        }
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Drops expired messages every second.
async fn sweeper(net: Arc<Network>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = net.clock.now_ms();
        for n in &net.nodes {
            n.store().sweep(now);
        }
    }
}
