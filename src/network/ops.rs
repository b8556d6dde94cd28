//! The storage operations the actors call (`network.md` §4.6): store, retrieve, delete and
//! info, each over onion paths to swarm members, with retries on other members and paths.
//!
//! Retry rules (SD, libsession): a 421 adopts the swarm its body names (when the pool's swarm
//! ids agree) and retries on a member of it; 406/425 resynchronises the clock through `info`
//! and retries once; 401/403/404 are final; anything else tries another member and path until
//! `max_attempts` is spent.

use std::collections::HashMap;
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use futures::future::join_all;
use rand::rngs::OsRng;
use serde_json::Value;

use super::client::{Inner, SessionNetwork};
use super::error::{NetworkError, SendError};
use super::node::ServiceNode;
use super::swarms::pick_members;
use super::transport::{classify_snode, SnodeAnswer};
use crate::protocol::onion::SnodeEd25519;
use crate::protocol::storage::response::{
    verify_node_signature, BatchResponse, DeleteResponse, InfoResponse, RetrieveResponse,
    RetrievedMessage, StoreResponse, SwarmEntry,
};
use crate::protocol::storage::signing::{delete_response_message, store_response_message};
use crate::protocol::storage::{
    message_hash, AccountId, MessageHash, Namespace, RequestError, Signer, StorageRequest,
};

/// Swarm members a retrieve asks in parallel (SD `RETRIEVE_SNODES_COUNT`).
pub const RETRIEVE_MEMBERS: usize = 2;

/// A store one or more swarm members confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOutcome {
    /// The message hash (computed locally and confirmed by the nodes).
    pub hash: MessageHash,
    /// Members whose entry carried a valid signature over the hash.
    pub confirmed_by: Vec<SnodeEd25519>,
    /// Members that reported failure or sent an entry that did not verify.
    pub unconfirmed: usize,
    /// The expiry the first confirming node applied, ms.
    pub expiry_ms: u64,
    /// Attempts it took (1 = the first member answered).
    pub attempts: u32,
}

/// Messages of one namespace from a retrieve, merged over the members asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceMessages {
    /// The namespace.
    pub namespace: Namespace,
    /// Messages, oldest first by store timestamp; the last hash is the next cursor. Data is
    /// returned as the node sent it: the message layer verifies it.
    pub messages: Vec<RetrievedMessage>,
    /// A member said more messages wait.
    pub more: bool,
}

/// A delete the swarm confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// Hashes some member reported deleted (with a valid signature).
    pub deleted: Vec<MessageHash>,
    /// Members whose entry verified.
    pub confirmed_by: Vec<SnodeEd25519>,
}

/// What an attempt loop does after a failed attempt.
enum Next {
    Retry,
    Fail(NetworkError),
}

impl Inner {
    /// The shared retry policy for one failed attempt on `node`.
    async fn after_failure(
        self: &Arc<Self>,
        account: &AccountId,
        node: &ServiceNode,
        error: &SendError,
        clock_retried: &mut bool,
    ) -> Next {
        match error {
            SendError::Misdirected { node: ed, swarm } => {
                self.misdirected(account, ed, swarm.as_deref());
                Next::Retry
            }
            SendError::ClockOutOfSync { .. } if !*clock_retried => {
                *clock_retried = true;
                self.resync_clock(node).await;
                Next::Retry
            }
            e if !e.is_retryable() => Next::Fail(NetworkError::Rejected(e.clone())),
            _ => Next::Retry,
        }
    }

    /// Runs `attempt` on one swarm member at a time until it succeeds or attempts run out.
    async fn swarm_call<T>(
        self: &Arc<Self>,
        account: &AccountId,
        build: impl Fn(u64) -> Result<StorageRequest, RequestError>,
        accept: impl Fn(&ServiceNode, SnodeAnswer) -> Result<T, SendError>,
    ) -> Result<(T, u32), NetworkError> {
        let mut tried: Vec<SnodeEd25519> = Vec::new();
        let mut clock_retried = false;
        let max = self.config.max_attempts.max(1);
        let mut last = None;
        for attempt in 1..=max {
            let members = self.swarm_for(account).await?;
            let Some(node) = pick_members(&mut OsRng, &members, &tried, 1).pop() else {
                return Err(NetworkError::NoSwarm("swarm is empty".into()));
            };
            tried.push(node.ed25519);
            let request = build(self.clock.now_ms())?;
            let result = self
                .send(&node, &request)
                .await
                .and_then(|a| accept(&node, a));
            match result {
                Ok(v) => return Ok((v, attempt)),
                Err(e) => {
                    tracing::debug!(%node, attempt, error = %e, "swarm request failed");
                    if let Next::Fail(f) = self
                        .after_failure(account, &node, &e, &mut clock_retried)
                        .await
                    {
                        return Err(f);
                    }
                    last = Some(e);
                }
            }
        }
        Err(exhausted(max, last))
    }
}

fn exhausted(attempts: u32, last: Option<SendError>) -> NetworkError {
    match last {
        Some(last) => NetworkError::Exhausted { attempts, last },
        None => NetworkError::NoSwarm("no attempt made".into()),
    }
}

fn invalid(node: &ServiceNode, what: &'static str) -> SendError {
    SendError::InvalidBody {
        node: node.ed25519.to_hex(),
        what,
    }
}

/// Entry keys that are valid Ed25519 keys, with their entries.
fn signed_entries<E>(
    swarm: &std::collections::BTreeMap<String, SwarmEntry<E>>,
) -> (Vec<(SnodeEd25519, VerifyingKey, &E)>, usize) {
    let mut ok = Vec::new();
    let mut failed = 0;
    for (key, entry) in swarm {
        let parsed = SnodeEd25519::from_hex(key)
            .ok()
            .and_then(|ed| Some((ed, VerifyingKey::from_bytes(ed.as_bytes()).ok()?)));
        match (entry, parsed) {
            (SwarmEntry::Ok(e), Some((ed, vk))) => ok.push((ed, vk, e)),
            _ => failed += 1,
        }
    }
    (ok, failed)
}

/// Accepts a store answer: at least one entry whose node signed the expected hash.
fn accept_store(
    node: &ServiceNode,
    answer: SnodeAnswer,
    hash: &MessageHash,
) -> Result<(Vec<SnodeEd25519>, usize, u64), SendError> {
    let resp: StoreResponse =
        serde_json::from_value(answer.body).map_err(|_| invalid(node, "store"))?;
    let (entries, mut failed) = signed_entries(&resp.swarm);
    let message = store_response_message(hash);
    let mut confirmed = Vec::new();
    let mut expiry = 0;
    for (ed, vk, e) in entries {
        if e.hash == *hash && verify_node_signature(&vk, &message, &e.signature) {
            if confirmed.is_empty() {
                expiry = e.expiry;
            }
            confirmed.push(ed);
        } else {
            failed += 1;
        }
    }
    if confirmed.is_empty() {
        return Err(SendError::Destination {
            node: node.ed25519.to_hex(),
            status: 500,
            message: "no swarm member confirmed the store".into(),
        });
    }
    Ok((confirmed, failed, expiry))
}

/// One member's retrieve answer: per-namespace responses in request order.
fn accept_retrieve(
    node: &ServiceNode,
    answer: SnodeAnswer,
    count: usize,
) -> Result<Vec<RetrieveResponse>, SendError> {
    let batch: BatchResponse =
        serde_json::from_value(answer.body).map_err(|_| invalid(node, "batch"))?;
    if batch.results.len() != count {
        return Err(invalid(node, "batch"));
    }
    let mut out = Vec::with_capacity(count);
    for r in batch.results {
        if !(200..300).contains(&r.code) {
            // LSQ treats a batch whose subrequests fail as that failure; we do so for any
            // failing subrequest (its body classifies it: 421 swarm, 406 clock, …).
            let body = match r.body {
                Value::String(s) => s,
                other => other.to_string(),
            };
            return Err(classify_snode(node, r.code, &body)
                .err()
                .unwrap_or_else(|| invalid(node, "retrieve")));
        }
        out.push(serde_json::from_value(r.body).map_err(|_| invalid(node, "retrieve"))?);
    }
    Ok(out)
}

/// Sends one retrieve `request` (a batch of `count` namespaces) to every node of `nodes` at
/// once; each member's answer or error, in the order of `nodes`.
async fn ask_members(
    inner: &Arc<Inner>,
    nodes: &[ServiceNode],
    request: &StorageRequest,
    count: usize,
) -> Vec<Result<Vec<RetrieveResponse>, SendError>> {
    join_all(nodes.iter().map(|node| async move {
        inner
            .send(node, request)
            .await
            .and_then(|a| accept_retrieve(node, a, count))
    }))
    .await
}

/// Whether the base64 data of `m` hashes to its hash in `ns`.
fn is_intact(account: &AccountId, ns: Namespace, m: &RetrievedMessage) -> bool {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(&m.data)
        .is_ok_and(|d| message_hash(account, ns, &d) == m.hash)
}

/// Whether any merged message is a copy that does not match its hash.
fn has_unverified(account: &AccountId, merged: &[NamespaceMessages]) -> bool {
    merged.iter().any(|slot| {
        slot.messages
            .iter()
            .any(|m| !is_intact(account, slot.namespace, m))
    })
}

/// Merges members' answers by hash. A copy whose data hashes to its hash wins over one that
/// does not (a tampering node cannot hide the honest copy); unverifiable copies are still
/// returned when no better one exists, for the message layer to reject and count.
fn merge(
    account: &AccountId,
    cursors: &[(Namespace, Option<MessageHash>)],
    answers: &[Vec<RetrieveResponse>],
) -> Vec<NamespaceMessages> {
    let intact = |ns: Namespace, m: &RetrievedMessage| is_intact(account, ns, m);
    let mut out: Vec<NamespaceMessages> = cursors
        .iter()
        .map(|(ns, _)| NamespaceMessages {
            namespace: *ns,
            messages: Vec::new(),
            more: false,
        })
        .collect();
    for answer in answers {
        for (slot, resp) in out.iter_mut().zip(answer) {
            slot.more |= resp.more;
            let mut index: HashMap<MessageHash, usize> = slot
                .messages
                .iter()
                .enumerate()
                .map(|(i, m)| (m.hash.clone(), i))
                .collect();
            for m in &resp.messages {
                match index.get(&m.hash).and_then(|i| slot.messages.get_mut(*i)) {
                    Some(existing) => {
                        if !intact(slot.namespace, existing) && intact(slot.namespace, m) {
                            *existing = m.clone();
                        }
                    }
                    None => {
                        index.insert(m.hash.clone(), slot.messages.len());
                        slot.messages.push(m.clone());
                    }
                }
            }
        }
    }
    for slot in &mut out {
        slot.messages.sort_by_key(|m| m.timestamp);
    }
    out
}

impl SessionNetwork {
    /// Stores `data` for `account` in `ns` with `ttl_ms`. Public-inbox namespaces (0) need no
    /// signer; others do. Retries on other swarm members and paths until one confirms.
    #[tracing::instrument(name = "network.store", skip_all)]
    pub async fn store(
        &self,
        account: &AccountId,
        ns: Namespace,
        data: &[u8],
        ttl_ms: u64,
        signer: Option<&Signer<'_>>,
    ) -> Result<StoreOutcome, NetworkError> {
        let hash = message_hash(account, ns, data);
        // Fail fast on requests no node could accept.
        StorageRequest::store(account, ns, data, ttl_ms, 0, signer)?;
        let ((confirmed_by, unconfirmed, expiry_ms), attempts) = self
            .inner
            .swarm_call(
                account,
                |now| StorageRequest::store(account, ns, data, ttl_ms, now, signer),
                |node, answer| accept_store(node, answer, &hash),
            )
            .await?;
        Ok(StoreOutcome {
            hash,
            confirmed_by,
            unconfirmed,
            expiry_ms,
            attempts,
        })
    }

    /// Retrieves each `(namespace, last_hash)` in one signed `batch`, from two random swarm
    /// members in parallel, merged by hash (SD `swarmPolling.ts`). At most 20 namespaces.
    #[tracing::instrument(name = "network.retrieve", skip_all)]
    pub async fn retrieve(
        &self,
        account: &AccountId,
        signer: &Signer<'_>,
        cursors: &[(Namespace, Option<MessageHash>)],
    ) -> Result<Vec<NamespaceMessages>, NetworkError> {
        if cursors.is_empty() {
            return Ok(Vec::new());
        }
        let inner = &self.inner;
        let build = |now| {
            let subs = cursors
                .iter()
                .map(|(ns, last)| {
                    StorageRequest::retrieve(account, *ns, last.clone(), None, now, signer)
                })
                .collect();
            StorageRequest::batch(subs)
        };
        build(0)?;
        let mut tried = Vec::new();
        let mut clock_retried = false;
        let max = inner.config.max_attempts.max(1);
        let mut last = None;
        // Aim for two members' answers (a member that missed a store answers "nothing"
        // successfully); a failed member is replaced by an untried one in the next round.
        let mut answers = Vec::new();
        for _ in 0..max {
            let members = inner.swarm_for(account).await?;
            let want = RETRIEVE_MEMBERS.saturating_sub(answers.len());
            let mut picked = pick_members(&mut OsRng, &members, &tried, want);
            if !answers.is_empty() {
                picked.retain(|n| !tried.contains(&n.ed25519));
            }
            if picked.is_empty() {
                if answers.is_empty() {
                    return Err(NetworkError::NoSwarm("swarm is empty".into()));
                }
                break;
            }
            tried.extend(picked.iter().map(|n| n.ed25519));
            let request = build(inner.clock.now_ms())?;
            let results = ask_members(inner, &picked, &request, cursors.len()).await;
            let mut fatal = None;
            for (node, result) in picked.iter().zip(results) {
                match result {
                    Ok(a) => answers.push(a),
                    Err(e) => {
                        tracing::debug!(%node, error = %e, "retrieve failed");
                        if let Next::Fail(f) = inner
                            .after_failure(account, node, &e, &mut clock_retried)
                            .await
                        {
                            fatal = Some(f);
                        }
                        last = Some(e);
                    }
                }
            }
            if answers.len() >= RETRIEVE_MEMBERS {
                break;
            }
            if let Some(f) = fatal.filter(|_| answers.is_empty()) {
                return Err(f);
            }
        }
        if answers.is_empty() {
            return Err(exhausted(max, last));
        }
        let merged = merge(account, cursors, &answers);
        if !has_unverified(account, &merged) {
            return Ok(merged);
        }
        // Some message came back only as copies that do not match their hash: a dishonest
        // member tampered with it. Ask every member not asked yet before handing it on, so
        // one honest member is enough to deliver it (threat model: nodes may modify data).
        // The swarm is looked up afresh: failures on paths through other nodes can have
        // dropped an honest member from this client's pool and cached swarm.
        let Ok(members) = inner.lookup_swarm(account).await else {
            return Ok(merged);
        };
        let rest: Vec<ServiceNode> = members
            .into_iter()
            .filter(|m| !tried.contains(&m.ed25519))
            .collect();
        if rest.is_empty() {
            return Ok(merged);
        }
        tracing::debug!(
            others = rest.len(),
            "tampered copies; asking the other members"
        );
        let request = build(inner.clock.now_ms())?;
        let results = ask_members(inner, &rest, &request, cursors.len()).await;
        for (node, result) in rest.iter().zip(results) {
            match result {
                Ok(a) => answers.push(a),
                Err(e) => tracing::debug!(%node, error = %e, "retrieve failed"),
            }
        }
        Ok(merge(account, cursors, &answers))
    }

    /// Deletes `hashes` from the account's swarm (signed `delete`).
    pub async fn delete(
        &self,
        account: &AccountId,
        signer: &Signer<'_>,
        hashes: Vec<MessageHash>,
    ) -> Result<DeleteOutcome, NetworkError> {
        StorageRequest::delete(account, hashes.clone(), signer)?;
        let accept = |node: &ServiceNode, answer: SnodeAnswer| {
            let resp: DeleteResponse =
                serde_json::from_value(answer.body).map_err(|_| invalid(node, "delete"))?;
            let (entries, _) = signed_entries(&resp.swarm);
            let mut deleted: Vec<MessageHash> = Vec::new();
            let mut confirmed_by = Vec::new();
            for (ed, vk, e) in entries {
                let message = delete_response_message(account, &hashes, &e.deleted);
                if verify_node_signature(&vk, &message, &e.signature) {
                    confirmed_by.push(ed);
                    deleted.extend(e.deleted.iter().cloned());
                }
            }
            if confirmed_by.is_empty() {
                return Err(invalid(node, "delete"));
            }
            deleted.sort();
            deleted.dedup();
            Ok(DeleteOutcome {
                deleted,
                confirmed_by,
            })
        };
        let (outcome, _) = self
            .inner
            .swarm_call(
                account,
                |_| StorageRequest::delete(account, hashes.clone(), signer),
                accept,
            )
            .await?;
        Ok(outcome)
    }

    /// `info` from a random pool node through the onion (version and clock).
    pub async fn info(&self) -> Result<InfoResponse, NetworkError> {
        let inner = &self.inner;
        inner.ensure_pool().await?;
        let max = inner.config.max_attempts.max(1);
        let mut tried = Vec::new();
        let mut last = None;
        for _ in 0..max {
            let Some(node) = inner.pool_random(&tried) else {
                break;
            };
            tried.push(node.ed25519);
            match inner.send(&node, &StorageRequest::info()).await {
                Ok(a) => {
                    return serde_json::from_value(a.body)
                        .map_err(|_| NetworkError::Rejected(invalid(&node, "info")));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(exhausted(max, last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer as _, SigningKey};
    use proptest::prelude::*;
    use serde_json::json;

    fn node() -> ServiceNode {
        ServiceNode::from_json(&json!({"ip":"1.2.3.4","port":"1",
            "pubkey_ed25519":"ab".repeat(32),"pubkey_x25519":"cd".repeat(32)}))
        .unwrap()
    }

    fn account() -> AccountId {
        AccountId::from_hex(&format!("05{}", "ee".repeat(32))).unwrap()
    }

    fn answer(body: Value) -> SnodeAnswer {
        SnodeAnswer { status: 200, body }
    }

    #[test]
    fn stores_count_only_verified_entries() {
        let acct = account();
        let hash = message_hash(&acct, Namespace(0), b"x");
        let good = SigningKey::from_bytes(&[1; 32]);
        let liar = SigningKey::from_bytes(&[2; 32]);
        let sig = |k: &SigningKey| {
            crate::protocol::storage::response::encode_signature(
                &k.sign(&store_response_message(&hash)),
            )
        };
        let body = json!({"swarm": {
            hex::encode(good.verifying_key().as_bytes()): {"hash": hash, "signature": sig(&good), "expiry": 5},
            hex::encode(liar.verifying_key().as_bytes()): {"hash": hash, "signature": sig(&good), "expiry": 6},
            "zz": {"hash": hash, "signature": sig(&good), "expiry": 7},
            "cc".repeat(32): {"failed": true, "timeout": true}
        }});
        let (confirmed, unconfirmed, expiry) = accept_store(&node(), answer(body), &hash).unwrap();
        assert_eq!(
            confirmed,
            vec![SnodeEd25519::from_bytes(good.verifying_key().to_bytes())]
        );
        assert_eq!((unconfirmed, expiry), (3, 5));
        let none = json!({"swarm": {"cc".repeat(32): {"failed": true}}});
        assert!(accept_store(&node(), answer(none), &hash).is_err());
    }

    #[test]
    fn failing_subrequests_are_classified() {
        let swarm = json!({"snodes": [], "swarm": "64"});
        let body = json!({"results": [{"code": 421, "body": swarm}]});
        assert!(matches!(
            accept_retrieve(&node(), answer(body), 1),
            Err(SendError::Misdirected { swarm: Some(_), .. })
        ));
        let body = json!({"results": [{"code": 406, "body": "clock"}]});
        assert!(matches!(
            accept_retrieve(&node(), answer(body), 1),
            Err(SendError::ClockOutOfSync { .. })
        ));
        let body = json!({"results": [{"code": 200, "body": {"messages": [], "more": false}}]});
        assert!(
            accept_retrieve(&node(), answer(body.clone()), 2).is_err(),
            "result count must match"
        );
        assert_eq!(accept_retrieve(&node(), answer(body), 1).unwrap().len(), 1);
    }

    #[test]
    fn merge_prefers_intact_copies_and_orders_by_time() {
        use base64::Engine as _;
        let acct = account();
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        let msg = |data: &[u8], served: &[u8], ts: u64| RetrievedMessage {
            hash: message_hash(&acct, Namespace(0), data),
            timestamp: ts,
            expiration: ts + 1,
            data: b64(served),
        };
        let resp = |messages, more| RetrieveResponse {
            messages,
            more,
            t: None,
            hf: None,
        };
        let a = vec![resp(vec![msg(b"two", b"tampered", 2)], false)];
        let b = vec![resp(
            vec![msg(b"one", b"one", 1), msg(b"two", b"two", 2)],
            true,
        )];
        let merged = merge(&acct, &[(Namespace(0), None)], &[a, b]);
        let m = &merged[0];
        assert!(m.more);
        assert_eq!(m.messages.len(), 2);
        assert_eq!(m.messages[0].data, b64(b"one"));
        assert_eq!(
            m.messages[1].data,
            b64(b"two"),
            "intact copy replaced the tampered one"
        );
    }

    proptest! {
        #[test]
        fn junk_answers_never_panic(text in ".{0,400}", count in 0usize..4) {
            if let Ok(body) = serde_json::from_str::<Value>(&text) {
                let hash = message_hash(&account(), Namespace(0), b"x");
                let _ = accept_store(&node(), answer(body.clone()), &hash);
                let _ = accept_retrieve(&node(), answer(body), count);
            }
        }

        #[test]
        fn junk_batches_never_panic(code in any::<u16>(), body in ".{0,100}", n in 0usize..3) {
            let b = json!({"results": vec![json!({"code": code, "body": body}); n]});
            let _ = accept_retrieve(&node(), answer(b), n);
        }
    }
}
