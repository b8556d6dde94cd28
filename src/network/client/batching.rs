//! Requests of different callers bound for the same node share one onion request (issue 16):
//! polls of different accounts, and stores.
//!
//! A retrieve is one `batch` of its namespaces' `retrieve` subrequests, each signed by its own
//! account; a store is one `store`. Instead of sending it at once, [`Inner::send_batched`] (a
//! retrieve) or [`Inner::send_store_batched`] (a store) puts it in the batch *forming* for
//! that node, retrieves and stores apart ([`Carries`]): the first one opens it, and it goes
//! out when its window ends (`batch_window_ms` for retrieves, `store_window_ms` for stores),
//! or as soon as it holds [`BATCH_REQUEST_MAX`] subrequests. The node's `results` come back in
//! request order and each caller gets back exactly its own, as if it had asked alone: a 421,
//! 401 or tampered item for one account is that account's alone (each caller checks its own
//! answer, as before: a store, the swarm's signatures over its own hash). Only a failure of
//! the whole request (path, timeout, bad reply) is shared, and it is counted against the path
//! once.
//!
//! Why stores: each onion request costs the gateway three ephemeral keys, three key
//! agreements, a TLS write and the reply's decryption, whatever it carries, and every relay
//! and the destination pay their share too. Under a send backlog a 1:1 message's two stores
//! (the recipient's swarm, the sync copy in the sender's) ride with others: the sync copies
//! all go to the sender's swarm. A store waits at most its window (default 25 ms) for company:
//! a delay nobody sees, next to the seconds a recipient's poll takes to find the message.
//!
//! What it costs: the destination learns that the requests in one batch were sent from one
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
use crate::network::transport::{classify_snode, classify_subresult, SnodeAnswer};
use crate::protocol::onion::SnodeEd25519;
use crate::protocol::storage::{AccountId, BatchParams, StorageRequest, BATCH_REQUEST_MAX};

type Reply = oneshot::Sender<Result<SnodeAnswer, SendError>>;

/// What a forming batch carries. Polls and stores form batches of their own, each with its own
/// window: a store never waits out a poll's window, and a node's route log tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(in crate::network) enum Carries {
    /// Retrieves, `batch_window_ms`.
    Retrieves,
    /// Stores, `store_window_ms`.
    Stores,
}

/// The batches forming, one per destination node and kind at most.
#[derive(Default)]
pub(in crate::network) struct Batches {
    forming: Mutex<HashMap<(SnodeEd25519, Carries), Forming>>,
    next_id: AtomicU64,
    /// Onion requests sent from forming batches, and the retrieves and stores they carried.
    sent: AtomicU64,
    retrieves: AtomicU64,
    stores: AtomicU64,
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
    /// Nodes with a batch of `kind` forming that still has room: a retrieve (a store) choosing
    /// among swarm members prefers them, so that requests for one swarm meet in one batch.
    pub(in crate::network) fn forming_nodes(&self, kind: Carries) -> HashSet<SnodeEd25519> {
        lock(&self.forming)
            .iter()
            .filter(|((_, k), f)| *k == kind && f.subrequests.len() < BATCH_REQUEST_MAX)
            .map(|((ed, _), _)| *ed)
            .collect()
    }

    /// (onion requests sent from forming batches, retrieves they carried, stores they
    /// carried) so far.
    pub(in crate::network) fn figures(&self) -> (u64, u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.retrieves.load(Ordering::Relaxed),
            self.stores.load(Ordering::Relaxed),
        )
    }
}

impl Inner {
    /// Whether requests of different callers may share onion requests (module comment).
    fn batching_allowed(&self) -> bool {
        self.config.path_isolation != PathIsolation::PerAccount
    }

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
        let subrequests = match request {
            StorageRequest::Batch(BatchParams { requests })
                if window > 0 && self.batching_allowed() && requests.len() < BATCH_REQUEST_MAX =>
            {
                requests
            }
            // Boxed: a batched caller waits on its reply only, and its future (one per swarm
            // member asked, for every poll in flight) stays a few hundred bytes instead of
            // carrying the whole send's state inline (issue 16: memory per account).
            alone => return Box::pin(self.send(Some(owner), dest, &alone)).await,
        };
        self.batches.retrieves.fetch_add(1, Ordering::Relaxed);
        self.share(dest, Carries::Retrieves, subrequests, window)
            .await
    }

    /// Sends `request` (one `store`) to `dest`, sharing the onion request with other stores
    /// bound for `dest` within the store window (module comment). The answer is this store's
    /// own, as if it had been sent alone: its result's 2xx body, or the error its status
    /// means (421, 406, …); a node that answers it with a 5xx or garbage is struck, as alone.
    pub(in crate::network) async fn send_store_batched(
        self: &Arc<Self>,
        owner: &AccountId,
        dest: &ServiceNode,
        request: StorageRequest,
    ) -> Result<SnodeAnswer, SendError> {
        let window = self.config.store_window_ms;
        if window == 0 || !self.batching_allowed() || matches!(request, StorageRequest::Batch(_)) {
            return self.send(Some(owner), dest, &request).await;
        }
        self.batches.stores.fetch_add(1, Ordering::Relaxed);
        let answer = self
            .share(dest, Carries::Stores, vec![request], window)
            .await?;
        let result = results_of(dest, answer, 1)
            .and_then(|mut results| subresult(dest, results.pop().unwrap_or_default()));
        if let Err(error) = &result {
            self.destination_failure(&dest.ed25519, error);
        }
        result
    }

    /// Adds `subrequests` to `dest`'s forming batch of `kind`, to go out within `window_ms` of
    /// the batch's opening, and waits for the answer: `{"results": [...]}` with this caller's
    /// results only.
    async fn share(
        self: &Arc<Self>,
        dest: &ServiceNode,
        kind: Carries,
        subrequests: Vec<StorageRequest>,
        window_ms: u64,
    ) -> Result<SnodeAnswer, SendError> {
        let (reply, answer) = oneshot::channel();
        let (full, opened) = self.join_batch(dest, kind, subrequests, reply);
        if let Some(full) = full {
            let this = self.clone();
            let span = tracing::Span::current();
            tokio::spawn(tracing::Instrument::instrument(this.flush(full), span));
        }
        if let Some(id) = opened {
            let this = self.clone();
            let key = (dest.ed25519, kind);
            // The request stays in the trace of the caller that opened the batch.
            let span = tracing::Span::current();
            let flush = async move {
                tokio::time::sleep(Duration::from_millis(window_ms)).await;
                let due = {
                    let mut forming = lock(&this.batches.forming);
                    match forming.get(&key) {
                        Some(f) if f.id == id => forming.remove(&key),
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

    /// Adds a caller to `dest`'s forming batch of `kind`, or opens one. Returns a batch to send
    /// now (a full one, or the one without room that this caller's replaces) and the id of the
    /// batch it opened, whose window timer the caller starts.
    fn join_batch(
        &self,
        dest: &ServiceNode,
        kind: Carries,
        subrequests: Vec<StorageRequest>,
        reply: Reply,
    ) -> (Option<Forming>, Option<u64>) {
        let key = (dest.ed25519, kind);
        let mut forming = lock(&self.batches.forming);
        if let Some(f) = forming.get_mut(&key) {
            if f.room_for(subrequests.len()) {
                f.add(subrequests, reply);
                let full = f.subrequests.len() >= BATCH_REQUEST_MAX;
                return (full.then(|| forming.remove(&key)).flatten(), None);
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
        (forming.insert(key, opened), Some(id))
    }

    /// Sends a formed batch and hands each caller its slice of the results (or the shared
    /// failure). A reply that is not one result per subrequest strikes the node, as a bad
    /// answer to a request sent alone does.
    async fn flush(self: Arc<Self>, batch: Forming) {
        let Forming {
            dest,
            subrequests,
            callers,
            ..
        } = batch;
        self.batches.sent.fetch_add(1, Ordering::Relaxed);
        let count = subrequests.len();
        // At most BATCH_REQUEST_MAX subrequests (`join_batch` keeps it so), each a store or
        // from a caller's checked batch, so none is a meta-method: a valid `batch`.
        let request = StorageRequest::Batch(BatchParams {
            requests: subrequests,
        });
        let results = self.send(None, &dest, &request).await.and_then(|answer| {
            let status = answer.status;
            results_of(&dest, answer, count)
                .inspect_err(|error| self.destination_failure(&dest.ed25519, error))
                .map(|results| (status, results))
        });
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

/// The `count` subresults of a batch answer.
fn results_of(
    dest: &ServiceNode,
    answer: SnodeAnswer,
    count: usize,
) -> Result<Vec<Value>, SendError> {
    match answer.body {
        Value::Object(mut body) => match body.remove("results") {
            Some(Value::Array(results)) if results.len() == count => Ok(results),
            _ => Err(invalid_batch(dest)),
        },
        _ => Err(invalid_batch(dest)),
    }
}

/// One subresult (`{"code": …, "body": …}`) as the answer its request would have had alone
/// ([`classify_subresult`]).
fn subresult(dest: &ServiceNode, result: Value) -> Result<SnodeAnswer, SendError> {
    let Value::Object(mut result) = result else {
        return Err(invalid_batch(dest));
    };
    let status = result
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|code| u16::try_from(code).ok())
        .ok_or_else(|| invalid_batch(dest))?;
    match result.remove("body") {
        Some(body) => classify_subresult(dest, status, body),
        None => classify_snode(dest, status, ""),
    }
}

fn invalid_batch(dest: &ServiceNode) -> SendError {
    SendError::InvalidBody {
        node: dest.ed25519.to_hex(),
        what: "batch",
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

#[cfg(test)]
mod answer_tests {
    use super::*;
    use crate::network::client::SessionNetwork;
    use crate::network::config::NetworkConfig;
    use crate::network::ops::tests::node;
    use serde_json::json;

    fn request() -> StorageRequest {
        StorageRequest::info()
    }

    /// Polls and stores bound for one node form batches of their own; a full batch goes out
    /// at once, and the next caller opens a new one.
    #[test]
    fn polls_and_stores_form_batches_of_their_own() {
        let net = SessionNetwork::new(NetworkConfig::default()).unwrap();
        let inner = &net.inner;
        let dest = node();
        let reply = || oneshot::channel().0;
        let (none, poll) = inner.join_batch(&dest, Carries::Retrieves, vec![request()], reply());
        assert!(none.is_none() && poll.is_some());
        let (none, store) = inner.join_batch(&dest, Carries::Stores, vec![request()], reply());
        assert!(none.is_none() && store.is_some() && store != poll);
        assert_eq!(
            inner.batches.forming_nodes(Carries::Stores),
            HashSet::from([dest.ed25519])
        );
        let fill = vec![request(); BATCH_REQUEST_MAX - 1];
        let (full, joined) = inner.join_batch(&dest, Carries::Stores, fill, reply());
        let full = full.unwrap();
        assert_eq!(
            (Some(full.id), full.subrequests.len()),
            (store, BATCH_REQUEST_MAX)
        );
        assert!(joined.is_none(), "it joined the batch it filled");
        assert!(inner.batches.forming_nodes(Carries::Stores).is_empty());
        assert_eq!(
            inner.batches.forming_nodes(Carries::Retrieves),
            HashSet::from([dest.ed25519])
        );
    }

    #[test]
    fn a_stores_result_is_answered_as_if_it_was_sent_alone() {
        let dest = node();
        let ok = subresult(&dest, json!({"code": 200, "body": {"swarm": {}}})).unwrap();
        assert_eq!((ok.status, ok.body), (200, json!({"swarm": {}})));
        let text = subresult(&dest, json!({"code": 200, "body": "{\"t\": 5}"})).unwrap();
        assert_eq!(text.body, json!({"t": 5}));
        assert!(matches!(
            subresult(&dest, json!({"code": 421, "body": "not in swarm"})),
            Err(SendError::Misdirected { .. })
        ));
        assert!(matches!(
            subresult(&dest, json!({"code": 406, "body": "clock"})),
            Err(SendError::ClockOutOfSync { status: 406, .. })
        ));
        assert!(matches!(
            subresult(&dest, json!({"code": 500, "body": {"error": "x"}})),
            Err(SendError::Destination { status: 500, .. })
        ));
        for junk in [
            json!(5),
            json!({"body": {}}),
            json!({"code": -1, "body": {}}),
        ] {
            assert!(matches!(
                subresult(&dest, junk),
                Err(SendError::InvalidBody { .. })
            ));
        }
    }

    #[test]
    fn a_batch_answer_needs_one_result_per_subrequest() {
        let dest = node();
        let answer = |body| SnodeAnswer { status: 200, body };
        assert_eq!(
            results_of(&dest, answer(json!({"results": [1, 2]})), 2).unwrap(),
            vec![json!(1), json!(2)]
        );
        assert!(results_of(&dest, answer(json!({"results": [1]})), 2).is_err());
        assert!(results_of(&dest, answer(json!([1, 2])), 2).is_err());
    }
}
