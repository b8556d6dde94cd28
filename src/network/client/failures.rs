//! Failure accounting as Session Desktop and libsession do it (`network.md` §7.1, §7.2): which
//! error strikes which node, when a path counts as failed, and what leaves the pool, the swarm
//! cache and the paths when a node or path goes.

use rand::rngs::OsRng;

use super::{lock, Inner};
use crate::network::error::SendError;
use crate::network::paths::{Path, PathVerdict};
use crate::protocol::onion::SnodeEd25519;

impl Inner {
    /// Failure accounting after SD/libsession (§7.1, §7.2), but attributing a failure to a
    /// node only on evidence that node cannot have been framed by another (issue 13, attack 6):
    ///
    /// * Plain-text errors from the path (`Next node not found: <ed>`, `Snode not ready`, a
    ///   relay's 502/503/504) are unauthenticated: any hop, or the guard, may have written
    ///   them, naming whom it likes. They count against the path only; a path that reaches
    ///   the threshold is rebuilt, and nobody (its guard included) is struck. SD and
    ///   libsession drop the named node, which let a lying relay empty the pool of honest
    ///   nodes, one per request, and get honest guards dropped.
    /// * A timeout or a failed connection strikes the relays and counts against the path (SD),
    ///   whose guard goes at the threshold: we talked to the guard directly.
    /// * A reply the destination encrypted (bad body, 5xx) strikes the destination; a server's
    ///   reply that does not open counts against the path (its exit may have altered it).
    pub(super) fn account_failure(
        &self,
        path: &Path,
        dest: Option<&SnodeEd25519>,
        error: &SendError,
    ) {
        match error {
            SendError::NextNodeNotFound { missing, .. } => {
                tracing::debug!(%missing, "a hop says a node is unknown (unauthenticated; not counted against it)");
                self.path_failed(path, false);
            }
            SendError::Path { message, .. } => {
                if let Some(ed) = named_node(message) {
                    tracing::debug!(%ed, "a hop says a node is not ready (unauthenticated; not counted against it)");
                }
                self.path_failed(path, false);
            }
            SendError::Timeout { .. } | SendError::Unreachable { .. } => {
                for relay in path.nodes.iter().skip(1) {
                    self.strike(&relay.ed25519);
                }
                self.path_failed(path, true);
            }
            SendError::BadReply { .. } | SendError::InvalidBody { .. } => match dest {
                Some(d) => self.destination_failure(d, error),
                // A server request's reply is encrypted by the server and proxied back by the
                // path's last hop: bytes that do not open were altered on the way (or by the
                // server), and nobody can be blamed. The path counts as failed, so a path whose
                // exit corrupts replies is rebuilt instead of failing every request (found by
                // the malicious node matrix: both paths through corrupting exits failed every
                // file and community request until the paths aged out).
                None if matches!(error, SendError::BadReply { .. }) => {
                    self.path_failed(path, false);
                }
                None => {}
            },
            SendError::Destination { .. } => {
                if let Some(d) = dest {
                    self.destination_failure(d, error);
                }
            }
            _ => {}
        }
    }

    /// Strikes `dest` if `error` is an answer it wrote and is to blame for: a reply that does
    /// not open or parse, or a 5xx. A batched request's own result (`batching.rs`) comes here
    /// too: the request as a whole went through, only the destination's answer to it failed.
    pub(super) fn destination_failure(&self, dest: &SnodeEd25519, error: &SendError) {
        match error {
            SendError::BadReply { .. } | SendError::InvalidBody { .. } => self.strike(dest),
            SendError::Destination { status, .. } if *status >= 500 => self.strike(dest),
            _ => {}
        }
    }

    /// Counts a path failure; at the threshold the path goes, and its guard with it when
    /// `blame_guard` (the failure is one the guard itself answers for).
    pub(super) fn path_failed(&self, path: &Path, blame_guard: bool) {
        if let Some(observer) = self.observer.get() {
            observer.path_failure();
        }
        let verdict = lock(&self.paths).path_failed(path.id);
        if let PathVerdict::Dropped { guard } = verdict {
            if blame_guard {
                tracing::info!(%guard, "path dropped after repeated failures, with its guard");
                self.drop_node(&guard);
            } else {
                tracing::info!(%guard, "path dropped after repeated relay errors; guard kept");
            }
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
