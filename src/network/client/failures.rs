//! Failure accounting as Session Desktop and libsession do it (`network.md` §7.1, §7.2): which
//! error strikes which node, when a path counts as failed, and what leaves the pool, the swarm
//! cache and the paths when a node or path goes.

use rand::rngs::OsRng;

use super::{lock, Inner};
use crate::network::error::SendError;
use crate::network::paths::{Path, PathVerdict};
use crate::protocol::onion::SnodeEd25519;

impl Inner {
    /// SD/libsession failure accounting (§7.1, §7.2).
    pub(super) fn account_failure(
        &self,
        path: &Path,
        dest: Option<&SnodeEd25519>,
        error: &SendError,
    ) {
        match error {
            SendError::NextNodeNotFound { missing, .. } => {
                self.drop_node(missing);
                // Also a path failure: a lying relay that names honest nodes would otherwise
                // empty the pool one node per request; this way it goes after three.
                self.path_failed(path);
            }
            SendError::Timeout { .. } | SendError::Unreachable { .. } | SendError::Path { .. } => {
                if let SendError::Path {
                    status: 503 | 504,
                    message,
                    ..
                } = error
                {
                    // A relay reports the next hop (or the destination) not ready or silent.
                    match named_node(message) {
                        Some(ed) => self.strike(&ed),
                        None => {
                            if let Some(d) = dest {
                                self.strike(d);
                            }
                        }
                    }
                }
                for relay in path.nodes.iter().skip(1) {
                    self.strike(&relay.ed25519);
                }
                self.path_failed(path);
            }
            SendError::BadReply { .. } | SendError::InvalidBody { .. } => {
                if let Some(d) = dest {
                    self.strike(d);
                }
            }
            SendError::Destination { status, .. } if *status >= 500 => {
                if let Some(d) = dest {
                    self.strike(d);
                }
            }
            _ => {}
        }
    }

    /// Counts a path failure; at the threshold the path goes, and its guard with it.
    pub(super) fn path_failed(&self, path: &Path) {
        if let Some(observer) = self.observer.get() {
            observer.path_failure();
        }
        let verdict = lock(&self.paths).path_failed(path.id);
        if let PathVerdict::Dropped { guard } = verdict {
            tracing::info!(%guard, "path dropped after repeated failures");
            self.drop_node(&guard);
        }
    }

    /// Counts a node failure; at the threshold the node leaves the pool, swarms and paths.
    pub(in crate::network) fn strike(&self, ed: &SnodeEd25519) {
        let dropped = lock(&self.pool).strike(ed);
        if dropped {
            self.forget(ed);
        }
    }

    /// Drops a node at once from the pool, every swarm and every path.
    pub(in crate::network) fn drop_node(&self, ed: &SnodeEd25519) {
        lock(&self.pool).drop_node(ed);
        self.forget(ed);
    }

    pub(super) fn forget(&self, ed: &SnodeEd25519) {
        lock(&self.swarms).remove_node(ed);
        let pool = lock(&self.pool);
        lock(&self.paths).remove_node(ed, &pool, &mut OsRng);
    }
}

/// The node a relay error names: `Snode not ready: <ed>`.
fn named_node(message: &str) -> Option<SnodeEd25519> {
    let hex = message.strip_prefix("Snode not ready: ")?;
    SnodeEd25519::from_hex(hex.get(..64)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_errors_name_nodes() {
        let hex = "ab".repeat(32);
        assert_eq!(
            named_node(&format!("Snode not ready: {hex}")),
            Some(SnodeEd25519::from_bytes([0xab; 32]))
        );
        assert_eq!(named_node("Snode not ready"), None);
        assert_eq!(named_node("Snode not ready: zz"), None);
    }
}
