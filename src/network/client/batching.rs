//! Polls of different accounts bound for the same node share one onion request (issue 16).
//!
//! A retrieve is one `batch` of its namespaces' `retrieve` subrequests, each signed by its own
//! account. Instead of sending it at once, [`Inner::send_batched`] puts it in the batch
//! *forming* for that node: the first one opens it and it goes out `batch_window_ms` later, or
//! as soon as it holds [`BATCH_REQUEST_MAX`] subrequests. The node's `results` come back in
//! request order and each caller gets back exactly its own slice, as if it had asked alone: a
//! 421, 401 or tampered item for one account is that account's alone (each slice is checked by
//! its caller, as before). Only a failure of the whole request (path, timeout, bad reply) is
//! shared, and it is counted against the path once.
//!
//! What it costs: the destination learns that the accounts in one batch are polled from one
//! place (it sees them arrive together). Operators who want no node to learn that set
//! `network.path_isolation = per_account`, which turns batching off.
//!
//! The forming batch is sent from a spawned task, never from a caller's future: a caller that
//! gives up (a timeout) must not take the others' requests down with it.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use super::{lock, Inner};
use crate::network::config::PathIsolation;
use crate::network::error::SendError;
use crate::network::node::ServiceNode;
use crate::network::transport::SnodeAnswer;
use crate::protocol::onion::SnodeEd25519;
use crate::protocol::storage::{AccountId, BatchParams, StorageRequest, BATCH_REQUEST_MAX};

type Reply = oneshot::Sender<Result<SnodeAnswer, SendError>>;

/// The batches forming, one per destination node at most.
#[derive(Default)]
pub(in crate::network) struct Batches {
    forming: Mutex<HashMap<SnodeEd25519, Forming>>,
    next_id: AtomicU64,
    /// Onion requests sent by [`Inner::send_batched`] and the caller requests they carried.
    sent: AtomicU64,
    carried: AtomicU64,
}

/// One batch being filled.
struct Forming {
    /// Tells the window's timer whether the batch it opened is still this one.
    id: u64,
    dest: ServiceNode,
    subrequests: Vec<StorageRequest>,
    /// Each caller's reply channel and the range of its subrequests.
    callers: Vec<(Range<usize>, Reply)>,
}

impl Forming {
    fn room_for(&self, count: usize) -> bool {
        self.subrequests.len() + count <= BATCH_REQUEST_MAX
    }

    fn add(&mut self, subrequests: Vec<StorageRequest>, reply: Reply) {
        let start = self.subrequests.len();
        self.subrequests.extend(subrequests);
        self.callers.push((start..self.subrequests.len(), reply));
    }
}

impl Batches {
    /// Nodes with a batch forming that still has room: a retrieve choosing among swarm
    /// members prefers them, so that accounts of one swarm meet in the same batches.
    pub(in crate::network) fn forming_nodes(&self) -> HashSet<SnodeEd25519> {
        lock(&self.forming)
            .iter()
            .filter(|(_, f)| f.subrequests.len() < BATCH_REQUEST_MAX)
            .map(|(ed, _)| *ed)
            .collect()
    }

    /// (onion requests sent, caller requests they carried) so far.
    pub(in crate::network) fn figures(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.carried.load(Ordering::Relaxed),
        )
    }
}

impl Inner {
    /// Sends `request` (one account's `batch`, each subrequest signed by it) to `dest`,
    /// sharing the onion request with other callers' bound for `dest` within the batch window
    /// (module comment); the answer holds this caller's `results` only.
    pub(in crate::network) async fn send_batched(
        self: &Arc<Self>,
        owner: &AccountId,
        dest: &ServiceNode,
        request: StorageRequest,
    ) -> Result<SnodeAnswer, SendError> {
        let window = self.config.batch_window_ms;
        let isolated = self.config.path_isolation == PathIsolation::PerAccount;
        let subrequests = match request {
            StorageRequest::Batch(BatchParams { requests })
                if window > 0 && !isolated && requests.len() < BATCH_REQUEST_MAX =>
            {
                requests
            }
            // Boxed: a batched caller waits on its reply only, and its future (one per swarm
            // member asked, for every poll in flight) stays a few hundred bytes instead of
            // carrying the whole send's state inline (issue 16: memory per account).
            alone => return Box::pin(self.send(Some(owner), dest, &alone)).await,
        };
        let (reply, answer) = oneshot::channel();
        let (full, opened) = self.join_batch(dest, subrequests, reply);
        if let Some(full) = full {
            let this = self.clone();
            let span = tracing::Span::current();
            tokio::spawn(tracing::Instrument::instrument(this.flush(full), span));
        }
        if let Some(id) = opened {
            let this = self.clone();
            let ed = dest.ed25519;
            // The request stays in the trace of the poll that opened the batch.
            let span = tracing::Span::current();
            let flush = async move {
                tokio::time::sleep(Duration::from_millis(window)).await;
                let due = {
                    let mut forming = lock(&this.batches.forming);
                    match forming.get(&ed) {
                        Some(f) if f.id == id => forming.remove(&ed),
                        _ => None,
                    }
                };
                if let Some(due) = due {
                    this.flush(due).await;
                }
            };
            tokio::spawn(tracing::Instrument::instrument(flush, span));
        }
        answer.await.unwrap_or_else(|_| {
            Err(SendError::Unreachable {
                node: dest.ed25519,
                reason: "the shared request was abandoned".into(),
            })
        })
    }

    /// Adds a caller to `dest`'s forming batch, or opens one. Returns a batch to send now (a
    /// full one, or the one without room that this caller's replaces) and the id of the batch
    /// it opened, whose window timer the caller starts.
    fn join_batch(
        &self,
        dest: &ServiceNode,
        subrequests: Vec<StorageRequest>,
        reply: Reply,
    ) -> (Option<Forming>, Option<u64>) {
        let mut forming = lock(&self.batches.forming);
        if let Some(f) = forming.get_mut(&dest.ed25519) {
            if f.room_for(subrequests.len()) {
                f.add(subrequests, reply);
                let full = f.subrequests.len() >= BATCH_REQUEST_MAX;
                return (full.then(|| forming.remove(&dest.ed25519)).flatten(), None);
            }
        }
        let id = self.batches.next_id.fetch_add(1, Ordering::Relaxed);
        let mut opened = Forming {
            id,
            dest: dest.clone(),
            subrequests: Vec::new(),
            callers: Vec::new(),
        };
        opened.add(subrequests, reply);
        (forming.insert(dest.ed25519, opened), Some(id))
    }

    /// Sends a formed batch and hands each caller its slice of the results (or the shared
    /// failure).
    async fn flush(self: Arc<Self>, batch: Forming) {
        let Forming {
            dest,
            subrequests,
            callers,
            ..
        } = batch;
        self.batches.sent.fetch_add(1, Ordering::Relaxed);
        (self.batches.carried).fetch_add(callers.len() as u64, Ordering::Relaxed);
        let count = subrequests.len();
        // At most BATCH_REQUEST_MAX subrequests (`join_batch` keeps it so), each from a
        // caller's checked batch, so none is a meta-method: a valid `batch`.
        let request = StorageRequest::Batch(BatchParams {
            requests: subrequests,
        });
        let result = self.send(None, &dest, &request).await;
        let results =
            result.and_then(
                |answer| match answer.body.get("results").and_then(Value::as_array) {
                    Some(results) if results.len() == count => Ok((answer.status, results.clone())),
                    _ => Err(SendError::InvalidBody {
                        node: dest.ed25519.to_hex(),
                        what: "batch",
                    }),
                },
            );
        for (range, reply) in callers {
            let mine = match &results {
                Ok((status, results)) => Ok(SnodeAnswer {
                    status: *status,
                    body: serde_json::json!({ "results": results.get(range).unwrap_or_default() }),
                }),
                Err(e) => Err(e.clone()),
            };
            // A caller that gave up no longer listens; nothing to do for it.
            let _ = reply.send(mine);
        }
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    fn future_size<F, R>(_: F) -> usize
    where
        F: FnOnce(
            &'static Arc<Inner>,
            &'static AccountId,
            &'static ServiceNode,
            StorageRequest,
        ) -> R,
    {
        std::mem::size_of::<R>()
    }

    /// A poll waits on one of these per swarm member it asks: the unbatched send stays boxed,
    /// out of the waiting state (2.4 KiB before, in a debug build; about 0.7 KiB after).
    #[test]
    fn a_batched_caller_waits_small() {
        let size = future_size(Inner::send_batched);
        assert!(size <= 1024, "a batched caller's future is {size} bytes");
    }
}
