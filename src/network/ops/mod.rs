//! The storage operations the actors call (`network.md` §4.6): store, retrieve, delete and
//! info, each over onion paths to swarm members, with retries on other members and paths.
//!
//! Retry rules (SD, libsession): a 421 adopts the swarm its body names (when the pool's swarm
//! ids agree) and retries on a member of it; 406/425 resamples the clock from several nodes'
//! `info` and retries (once, unless the others showed the refusing node to be the one off); 401/403/404 are final; anything else tries another member and path until
//! `max_attempts` is spent. Retrieve, with its one hash check per copy, is in `retrieve.rs`.

use std::collections::HashSet;
use std::sync::Arc;

use rand::rngs::OsRng;

use super::client::{Carries, ClockVerdict, Inner, SessionNetwork};
use super::error::{NetworkError, SendError};
use super::node::ServiceNode;
use super::swarms::pick_members_preferring;
use super::transport::SnodeAnswer;
use crate::protocol::key_cache::verifying_key;
use crate::protocol::onion::SnodeEd25519;
use crate::protocol::storage::response::{
    verify_node_signature, DeleteResponse, InfoResponse, StoreResponse, SwarmEntry,
};
use crate::protocol::storage::signing::{delete_response_message, store_response_message};
use crate::protocol::storage::{
    message_hash, AccountId, MessageHash, Namespace, RequestError, Signer, StorageRequest,
};

mod retrieve;
mod upkeep;

pub use retrieve::{
    accept_retrieve, cursors_after, ItemData, MemberPage, NamespaceCursor, NamespaceMessages,
    RetrievedItem, RETRIEVE_MEMBERS,
};
pub use upkeep::ExpireOutcome;

/// A store one or more swarm members confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOutcome {
    /// The message hash (computed locally and confirmed by the nodes).
    pub hash: MessageHash,
    /// The member whose entry confirmed the hash with a valid signature: the first in the
    /// answer that does (the others' entries are not checked, see `accept_store`).
    pub confirmed_by: Vec<SnodeEd25519>,
    /// Entries that confirmed nothing: failure markers, non-members, and the entries checked
    /// before the confirming one that did not verify.
    pub unconfirmed: usize,
    /// The expiry the first confirming node applied, ms.
    pub expiry_ms: u64,
    /// Attempts it took (1 = the first member answered).
    pub attempts: u32,
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
                // The refusal itself is the node's word; the clock moves only if several
                // other nodes agree (issue 13, attack 6). A node refusing a clock the others
                // accept is struck, and the retry on another member costs no clock retry.
                // Boxed: rare, and kept out of the state of every call in flight.
                match Box::pin(self.resync_clock(node)).await {
                    ClockVerdict::RefuserWrong => self.strike(&node.ed25519),
                    ClockVerdict::Corrected | ClockVerdict::Unknown => *clock_retried = true,
                }
                Next::Retry
            }
            e if !e.is_retryable() => Next::Fail(NetworkError::Rejected(e.clone())),
            _ => Next::Retry,
        }
    }

    /// Runs `attempt` on one swarm member at a time until it succeeds or attempts run out.
    /// `accept` gets the swarm's members too: only their signatures confirm anything.
    async fn swarm_call<T>(
        self: &Arc<Self>,
        account: &AccountId,
        build: impl Fn(u64) -> Result<StorageRequest, RequestError>,
        accept: impl Fn(&ServiceNode, &[ServiceNode], SnodeAnswer) -> Result<T, SendError>,
    ) -> Result<(T, u32), NetworkError> {
        self.swarm_call_as(Sending::Alone, account, account, build, accept)
            .await
    }

    /// [`Self::swarm_call`] to `account`'s swarm on behalf of `owner` (whose path it takes
    /// under `per_account` isolation), each attempt sent as `sending` says.
    async fn swarm_call_as<T>(
        self: &Arc<Self>,
        sending: Sending,
        owner: &AccountId,
        account: &AccountId,
        build: impl Fn(u64) -> Result<StorageRequest, RequestError>,
        accept: impl Fn(&ServiceNode, &[ServiceNode], SnodeAnswer) -> Result<T, SendError>,
    ) -> Result<(T, u32), NetworkError> {
        let mut tried: Vec<SnodeEd25519> = Vec::new();
        let mut clock_retried = false;
        let max = self.config.max_attempts.max(1);
        let mut last = None;
        for attempt in 1..=max {
            let members = self.swarm_for(account).await?;
            // A store prefers a member with a batch forming: stores to one swarm meet there.
            let preferred = match sending {
                Sending::Alone => HashSet::new(),
                Sending::Batched => self.batches.forming_nodes(Carries::Stores),
            };
            let picked = pick_members_preferring(&mut OsRng, &members, &tried, 1, &preferred);
            let Some(node) = picked.into_iter().next() else {
                return Err(NetworkError::NoSwarm("swarm is empty".into()));
            };
            tried.push(node.ed25519);
            let request = build(self.clock.now_ms())?;
            let answer = match sending {
                Sending::Alone => self.send(Some(owner), &node, &request).await,
                Sending::Batched => self.send_store_batched(owner, &node, request).await,
            };
            let result = answer.and_then(|a| accept(&node, &members, a));
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

/// How a swarm call's attempts go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sending {
    /// Each in an onion request of its own.
    Alone,
    /// A store, sharing an onion request with others bound for its node
    /// ([`Inner::send_store_batched`]).
    Batched,
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

/// Entries whose keys are members of the account's swarm, with their entries, and how many
/// others there were (failure markers, non-members). A signature from any other node confirms
/// nothing: a node that lied the account's swarm to us could otherwise sign its own
/// "confirmation" (issue 13, attack 2).
fn signed_entries<'a, E>(
    swarm: &'a std::collections::BTreeMap<String, SwarmEntry<E>>,
    members: &[ServiceNode],
) -> (Vec<(SnodeEd25519, &'a E)>, usize) {
    let mut ok = Vec::new();
    let mut failed = 0;
    for (key, entry) in swarm {
        let member = SnodeEd25519::from_hex(key)
            .ok()
            .filter(|ed| members.iter().any(|m| m.ed25519 == *ed));
        match (entry, member) {
            (SwarmEntry::Ok(e), Some(ed)) => ok.push((ed, e)),
            _ => failed += 1,
        }
    }
    (ok, failed)
}

/// Whether `node` signed `message` with `signature_b64`. The key is decompressed only for the
/// entries that get checked, once per node ([`verifying_key`]).
fn signed_by(node: &SnodeEd25519, message: &[u8], signature_b64: &str) -> bool {
    verifying_key(node.as_bytes())
        .is_some_and(|key| verify_node_signature(&key, message, signature_b64))
}

/// Accepts a store answer: an entry whose node, a member of the swarm, signed the expected
/// hash. Entries are checked in the answer's order up to the first that confirms: one valid
/// confirmation is what acceptance needs, and checking the other members' too cost two
/// curve operations each (issue 16: about a fifth of a sent message's CPU). The count of
/// `unconfirmed` covers failure markers, non-members and the entries checked before it.
fn accept_store(
    node: &ServiceNode,
    members: &[ServiceNode],
    answer: SnodeAnswer,
    hash: &MessageHash,
) -> Result<(Vec<SnodeEd25519>, usize, u64), SendError> {
    let resp: StoreResponse =
        serde_json::from_value(answer.body).map_err(|_| invalid(node, "store"))?;
    let (entries, mut failed) = signed_entries(&resp.swarm, members);
    let message = store_response_message(hash);
    for (ed, e) in entries {
        if e.hash == *hash && signed_by(&ed, &message, &e.signature) {
            return Ok((vec![ed], failed, e.expiry));
        }
        failed += 1;
    }
    Err(SendError::Destination {
        node: node.ed25519.to_hex(),
        status: 500,
        message: "no swarm member confirmed the store".into(),
    })
}

impl SessionNetwork {
    /// Stores `data` for `account` in `ns` with `ttl_ms`, on the account's own behalf (see
    /// [`Self::store_for`]).
    pub async fn store(
        &self,
        account: &AccountId,
        ns: Namespace,
        data: &[u8],
        ttl_ms: u64,
        signer: Option<&Signer<'_>>,
    ) -> Result<StoreOutcome, NetworkError> {
        self.store_for(account, account, ns, data, ttl_ms, signer)
            .await
    }

    /// Stores `data` for `account` in `ns` with `ttl_ms`, sent by `sender` (a local account:
    /// under `per_account` isolation the store takes the sender's path, so a message to a
    /// contact goes over its sender's path, not one of the contact's). Public-inbox namespaces
    /// (0) need no signer; others do. Retries on other swarm members and paths until one
    /// confirms.
    #[tracing::instrument(name = "network.store", skip_all)]
    pub async fn store_for(
        &self,
        sender: &AccountId,
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
            .swarm_call_as(
                Sending::Batched,
                sender,
                account,
                |now| StorageRequest::store(account, ns, data, ttl_ms, now, signer),
                |node, members, answer| accept_store(node, members, answer, &hash),
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

    /// Deletes `hashes` from the account's swarm (signed `delete`).
    pub async fn delete(
        &self,
        account: &AccountId,
        signer: &Signer<'_>,
        hashes: Vec<MessageHash>,
    ) -> Result<DeleteOutcome, NetworkError> {
        StorageRequest::delete(account, hashes.clone(), signer)?;
        let accept = |node: &ServiceNode, members: &[ServiceNode], answer: SnodeAnswer| {
            let resp: DeleteResponse =
                serde_json::from_value(answer.body).map_err(|_| invalid(node, "delete"))?;
            let (entries, _) = signed_entries(&resp.swarm, members);
            let mut deleted: Vec<MessageHash> = Vec::new();
            let mut confirmed_by = Vec::new();
            for (ed, e) in entries {
                let message = delete_response_message(account, &hashes, &e.deleted);
                if signed_by(&ed, &message, &e.signature) {
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
            match inner.send(None, &node, &StorageRequest::info()).await {
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
pub(super) mod tests {
    use super::*;
    use ed25519_dalek::{Signer as _, SigningKey};
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// A node for tests of the network layer that need one but never reach it.
    pub(in crate::network) fn node() -> ServiceNode {
        ServiceNode::from_json(&json!({"ip":"1.2.3.4","port":"1",
            "pubkey_ed25519":"ab".repeat(32),"pubkey_x25519":"cd".repeat(32)}))
        .unwrap()
    }

    pub(super) fn account() -> AccountId {
        AccountId::from_hex(&format!("05{}", "ee".repeat(32))).unwrap()
    }

    pub(super) fn answer(body: Value) -> SnodeAnswer {
        SnodeAnswer { status: 200, body }
    }

    #[test]
    fn stores_count_only_verified_entries() {
        let acct = account();
        let hash = message_hash(&acct, Namespace(0), b"x");
        let good = SigningKey::from_bytes(&[1; 32]);
        let liar = SigningKey::from_bytes(&[2; 32]);
        let stranger = SigningKey::from_bytes(&[3; 32]);
        let member = |k: &SigningKey| {
            ServiceNode::from_json(&json!({"ip":"1.2.3.4","port":"1",
                "pubkey_ed25519": hex::encode(k.verifying_key().as_bytes()),
                "pubkey_x25519":"cd".repeat(32)}))
            .unwrap()
        };
        let members = [member(&good), member(&liar)];
        let sig = |k: &SigningKey| {
            crate::protocol::storage::response::encode_signature(
                &k.sign(&store_response_message(&hash)),
            )
        };
        let body = json!({"swarm": {
            hex::encode(good.verifying_key().as_bytes()): {"hash": hash, "signature": sig(&good), "expiry": 5},
            hex::encode(liar.verifying_key().as_bytes()): {"hash": hash, "signature": sig(&good), "expiry": 6},
            hex::encode(stranger.verifying_key().as_bytes()): {"hash": hash, "signature": sig(&stranger), "expiry": 8},
            "zz": {"hash": hash, "signature": sig(&good), "expiry": 7},
            "cc".repeat(32): {"failed": true, "timeout": true}
        }});
        let (confirmed, unconfirmed, expiry) =
            accept_store(&node(), &members, answer(body.clone()), &hash).unwrap();
        assert_eq!(
            confirmed,
            vec![SnodeEd25519::from_bytes(good.verifying_key().to_bytes())]
        );
        assert_eq!(expiry, 5);
        // The stranger (its valid signature counts not), "zz" and the failure always; the liar
        // when its entry came before the good one.
        assert!((3..=4).contains(&unconfirmed), "{unconfirmed}");
        let none = json!({"swarm": {"cc".repeat(32): {"failed": true}}});
        assert!(accept_store(&node(), &members, answer(none), &hash).is_err());
        // Only a stranger signed: nothing is confirmed.
        assert!(accept_store(&node(), &members[1..], answer(body), &hash).is_err());
    }

    proptest! {
        #[test]
        fn junk_answers_never_panic(text in ".{0,400}") {
            if let Ok(body) = serde_json::from_str::<Value>(&text) {
                let hash = message_hash(&account(), Namespace(0), b"x");
                let _ = accept_store(&node(), &[node()], answer(body), &hash);
            }
        }
    }
}
