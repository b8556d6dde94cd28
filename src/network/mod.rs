//! The network client (design.md §3, `network.md` §2–§5, §7): seed bootstrap, the service-node
//! pool, onion paths, the swarm cache, the clock offset and the storage operations, over
//! HTTPS onion requests. Async I/O with tokio + reqwest; no actors (they wrap this).
//!
//! Privacy (design.md §2, the seed's threat model): every request naming an account goes
//! through a 3-hop onion path to a destination that is not on the path. The only direct
//! requests are `info` to guard candidates (no account named) and seed queries.
//!
//! Entry point: [`SessionNetwork`] (share one per process behind its internal `Arc`).

mod client;
pub mod clock;
pub mod community;
pub mod config;
pub mod error;
mod files;
pub mod node;
pub mod observer;
mod ops;
pub mod paths;
pub mod pool;
pub mod reply_budget;
mod seed_tls;
pub mod seeds;
pub mod swarms;
pub mod transport;

pub use client::{NetworkStats, SessionNetwork};
pub use config::{FileServerConfig, NetworkConfig, OnionCipher, PathIsolation};
pub use error::{NetworkError, SendError};
pub use files::{file_id, read_upload_answer, FileUpload, MAX_FILE_SIZE};
pub use node::ServiceNode;
pub use observer::NetworkObserver;
pub use ops::{
    accept_retrieve, cursors_after, DeleteOutcome, ExpireOutcome, ItemData, MemberPage,
    NamespaceCursor, NamespaceMessages, RetrievedItem, StoreOutcome, RETRIEVE_MEMBERS,
};
