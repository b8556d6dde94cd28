//! Finding an account's swarm: the cache, the pool's own grouping by its swarm ids (the
//! prediction, used when it names enough members), else an onion `get_swarm` checked against
//! that prediction, and what a 421 (misdirected) answer changes.

use std::sync::Arc;

use rand::rngs::OsRng;

use super::{lock, Inner, SWARM_LOOKUP_TRIES};
use crate::network::clock::local_now_ms;
use crate::network::error::NetworkError;
use crate::network::node::ServiceNode;
use crate::network::swarms::{members_from, SwarmError};
use crate::protocol::onion::SnodeEd25519;
use crate::protocol::storage::response::SwarmInfo;
use crate::protocol::storage::{AccountId, StorageRequest};

/// Pooled members a predicted swarm needs to be used without asking the network: Session
/// Desktop refetches a cached swarm of fewer than 3 nodes (`network.md` §3.3), and a poll reads
/// from two members with a third to fall back on.
const MIN_PREDICTED_MEMBERS: usize = 3;

impl Inner {
    /// The account's swarm: cached, or the pool's own grouping when it names at least
    /// [`MIN_PREDICTED_MEMBERS`] members of the swarm the pool's swarm ids predict (§3.2, as
    /// libsession's `Network::get_swarm` computes it from its node cache), else looked up with
    /// onion `get_swarm` on random pool nodes (checked against the same prediction).
    ///
    /// A lookup's answer is adopted only when it names the predicted swarm and lists members
    /// the pool lists in it, so the prediction rests on the same trust: the pool's node lists,
    /// which must agree on every node's swarm ([`crate::network::pool::intersect`]). It spares
    /// an onion request per account on a cold cache (issue 16: a restart with 10,000 accounts
    /// made 10,000 lookups before the first polls). A pool that has gone stale shows in a 421,
    /// whose answer is checked and adopted as before, and which asks for a pool refresh when it
    /// disagrees with the prediction ([`Inner::misdirected`]).
    pub(in crate::network) async fn swarm_for(
        self: &Arc<Self>,
        account: &AccountId,
    ) -> Result<Vec<ServiceNode>, NetworkError> {
        if let Some(members) = lock(&self.swarms).get(account, local_now_ms()) {
            return Ok(members);
        }
        // Boxed: a cache miss is rare, and every poll in flight would carry the pool refresh's
        // and the lookup's states inline otherwise (issue 16: memory per poll in flight).
        Box::pin(self.predict_or_lookup_swarm(account)).await
    }

    async fn predict_or_lookup_swarm(
        self: &Arc<Self>,
        account: &AccountId,
    ) -> Result<Vec<ServiceNode>, NetworkError> {
        self.ensure_pool().await?;
        let predicted = lock(&self.pool).predicted_members(account.swarm_space());
        if predicted.len() >= MIN_PREDICTED_MEMBERS {
            lock(&self.swarms).set(*account, predicted.clone(), local_now_ms());
            return Ok(predicted);
        }
        self.lookup_swarm(account).await
    }

    /// Asks the network for the account's swarm (ignoring the cache) and caches the answer:
    /// every member the network lists, including members this client dropped from its pool
    /// after failures (a retrieve that got only tampered copies must reach all of them).
    ///
    /// An answer is adopted only when it names the swarm the pool predicts and every member
    /// it lists is in the pool's last node list as a member of that swarm: a lying node
    /// cannot steer an account's stores to nodes of its choosing. An answer that disagrees
    /// with the pool asks for a pool refresh (the pool may be out of date) and is checked
    /// again against the fresh list before the node is counted as lying.
    pub(in crate::network) async fn lookup_swarm(
        self: &Arc<Self>,
        account: &AccountId,
    ) -> Result<Vec<ServiceNode>, NetworkError> {
        self.ensure_pool().await?;
        let request = StorageRequest::get_swarm(account);
        let mut last = String::from("no node to ask");
        let mut tried = Vec::new();
        for _ in 0..SWARM_LOOKUP_TRIES {
            let Some(target) = lock(&self.pool).random(&mut OsRng, &tried, 1).pop() else {
                break;
            };
            tried.push(target.ed25519);
            let answer = match self.send(Some(account), &target, &request).await {
                Ok(a) => a,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let Ok(info) = serde_json::from_value::<SwarmInfo>(answer.body) else {
                last = SwarmError::Empty.to_string();
                self.strike(&target.ed25519);
                continue;
            };
            let mut checked = self.checked_members(account, &info);
            let disputed = checked.as_ref().is_err_and(SwarmError::questions_pool);
            if disputed && lock(&self.pool).request_refresh(local_now_ms()) {
                if let Err(e) = self.ensure_pool().await {
                    tracing::debug!(error = %e, "pool refresh after a disputed swarm failed");
                }
                checked = self.checked_members(account, &info);
            }
            match checked {
                Ok(members) => {
                    lock(&self.swarms).set(*account, members.clone(), local_now_ms());
                    return Ok(members);
                }
                Err(e) => {
                    tracing::debug!(node = %target, error = %e, "swarm answer rejected");
                    last = e.to_string();
                    self.strike(&target.ed25519);
                }
            }
        }
        let fallback = lock(&self.pool).predicted_members(account.swarm_space());
        if fallback.is_empty() {
            return Err(NetworkError::NoSwarm(last));
        }
        lock(&self.swarms).set(*account, fallback.clone(), local_now_ms());
        Ok(fallback)
    }

    /// Reads a `get_swarm`/421 answer about `account`, checked against the pool: the swarm id
    /// it predicts, and each member listed in that swarm.
    fn checked_members(
        &self,
        account: &AccountId,
        info: &SwarmInfo,
    ) -> Result<Vec<ServiceNode>, SwarmError> {
        let pool = lock(&self.pool);
        let expected = pool.expected_swarm(account.swarm_space());
        let members = members_from(info, expected)?;
        let strangers = members
            .iter()
            .filter(|m| !pool.lists_member(m, info.swarm))
            .count();
        if strangers > 0 {
            return Err(SwarmError::NotInPool {
                swarm: info.swarm,
                strangers,
            });
        }
        Ok(members)
    }

    /// Handles a 421 from `node` about `account` (§3.4): adopt the named swarm if it passes the
    /// pool's checks, else count the node as lying and drop it from the swarm. A swarm whose
    /// members the pool does not know asks for a pool refresh before the next lookup.
    pub(in crate::network) fn misdirected(
        &self,
        account: &AccountId,
        node: &SnodeEd25519,
        swarm: Option<&SwarmInfo>,
    ) {
        match swarm.map(|s| self.checked_members(account, s)) {
            Some(Ok(members)) => lock(&self.swarms).set(*account, members, local_now_ms()),
            other => {
                // The pool may be out of date (a new swarm, moved members): refresh it, at
                // most once a minute whoever asks.
                if let Some(Err(error)) = &other {
                    if error.questions_pool() {
                        lock(&self.pool).request_refresh(local_now_ms());
                    }
                }
                lock(&self.swarms).remove_member(account, node);
                self.strike(node);
            }
        }
    }
}

#[cfg(test)]
mod misdirect_tests {
    use super::*;
    use crate::network::client::SessionNetwork;
    use crate::network::config::NetworkConfig;
    use crate::protocol::storage::response::SnodeInfo;
    use crate::protocol::swarm::SwarmId;
    use serde_json::json;

    fn node(i: u8, swarm: u64) -> ServiceNode {
        ServiceNode::from_json(&json!({"ip": format!("10.0.0.{i}"), "port_https": 1,
            "pubkey_ed25519": hex::encode([i; 32]), "pubkey_x25519": hex::encode([i; 32]),
            "swarm_id": swarm}))
        .unwrap()
    }

    fn info(nodes: &[ServiceNode], swarm: u64) -> SwarmInfo {
        SwarmInfo {
            snodes: nodes
                .iter()
                .map(|n| SnodeInfo {
                    address: String::new(),
                    pubkey_legacy: String::new(),
                    pubkey_x25519: hex::encode(n.x25519.as_bytes()),
                    pubkey_ed25519: n.ed25519.to_hex(),
                    port: "1".into(),
                    port_https: 1,
                    port_omq: 0,
                    port_quic: 0,
                    ip: n.ip.to_string(),
                })
                .collect(),
            swarm: SwarmId(swarm),
            t: None,
            hf: None,
        }
    }

    /// A 421 naming the swarm the pool predicts is adopted; one naming another swarm is a lie:
    /// the node is struck and leaves the cached swarm.
    #[test]
    fn misdirected_answers_are_checked_against_the_pool() {
        let net = SessionNetwork::new(NetworkConfig::default()).unwrap();
        let inner = &net.inner;
        let (a, b) = ([node(1, 100), node(2, 100)], [node(3, 200), node(4, 200)]);
        lock(&inner.pool).replace(a.iter().chain(&b).cloned().collect(), local_now_ms());
        // 05 + zeros…0064: swarm space 100, so swarm 100 is right.
        let acct = AccountId::from_hex(&format!("05{}{:016x}", "0".repeat(48), 100)).unwrap();
        lock(&inner.swarms).set(acct, b.to_vec(), local_now_ms());

        inner.misdirected(&acct, &b[0].ed25519, Some(&info(&a, 100)));
        let members = lock(&inner.swarms).get(&acct, local_now_ms()).unwrap();
        assert_eq!(
            members.iter().map(|n| n.ed25519).collect::<Vec<_>>(),
            vec![a[0].ed25519, a[1].ed25519]
        );

        inner.misdirected(&acct, &a[0].ed25519, Some(&info(&b, 200)));
        let members = lock(&inner.swarms).get(&acct, local_now_ms()).unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(lock(&inner.pool).failures(&a[0].ed25519), 1);

        inner.misdirected(&acct, &a[1].ed25519, None);
        assert!(lock(&inner.swarms).get(&acct, local_now_ms()).is_none());

        // The right swarm id with another swarm's members (attack 2): not adopted, the node
        // is struck, and the pool is to be refreshed in case it is the one out of date.
        lock(&inner.swarms).set(acct, a.to_vec(), local_now_ms());
        inner.misdirected(&acct, &b[1].ed25519, Some(&info(&b, 100)));
        let members = lock(&inner.swarms).get(&acct, local_now_ms()).unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(lock(&inner.pool).failures(&b[1].ed25519), 1);
        assert!(lock(&inner.pool).needs_refresh(local_now_ms(), 0, u64::MAX));
    }
}
