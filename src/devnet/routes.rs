//! The per-node route log: for each storage RPC handled, whether it came directly or as an onion
//! final destination, and from where. The gateway's privacy tests read it through the control
//! API to prove the gateway never talks to a swarm directly.

use std::sync::Mutex;

use serde::Serialize;

/// How many entries a node keeps (oldest dropped first).
const MAX_ENTRIES: usize = 10_000;

/// How a request reached the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum Arrival {
    /// `POST /storage_rpc/v1` from this peer address.
    Direct {
        /// Client `ip:port`.
        peer: String,
    },
    /// Final destination of an onion request.
    Onion {
        /// The relaying node's Ed25519 hex, or `None` when the client sent the onion request
        /// straight to this node (it was its own guard).
        relay: Option<String>,
        /// Address the last hop came from (relay node's `ip:port`, or the client's).
        peer: String,
    },
}

/// One route log entry.
#[derive(Debug, Clone, Serialize)]
pub struct RouteEntry {
    /// Devnet clock at arrival (ms).
    pub time_ms: u64,
    /// Method names (a batch lists its subrequests: `batch[retrieve,retrieve]`).
    pub method: String,
    /// Account pubkeys (66 hex) named in the request, if any.
    pub pubkeys: Vec<String>,
    /// How it arrived.
    #[serde(flatten)]
    pub arrival: Arrival,
}

/// A node's log.
#[derive(Debug, Default)]
pub struct RouteLog(Mutex<Vec<RouteEntry>>);

impl RouteLog {
    /// Appends an entry.
    pub fn push(&self, entry: RouteEntry) {
        if let Ok(mut log) = self.0.lock() {
            if log.len() >= MAX_ENTRIES {
                log.remove(0);
            }
            log.push(entry);
        }
    }

    /// A copy of all entries, oldest first.
    pub fn entries(&self) -> Vec<RouteEntry> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Empties the log.
    pub fn clear(&self) {
        if let Ok(mut log) = self.0.lock() {
            log.clear();
        }
    }
}
