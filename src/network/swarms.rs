//! The swarm cache (`network.md` §3, §3.4): which nodes hold each account's messages. Filled
//! by onion `get_swarm` (never a direct request: that would tell the node both who we are and
//! whom we ask about), checked against the swarm the pool's swarm ids predict, and updated by
//! 421 answers that pass the same check. Failing members are dropped.
//!
//! Plain data behind the client's mutex: no I/O here.

use std::collections::{HashMap, HashSet};

use rand::seq::SliceRandom;
use rand::Rng;

use super::node::ServiceNode;
use crate::protocol::onion::SnodeEd25519;
use crate::protocol::storage::response::SwarmInfo;
use crate::protocol::storage::AccountId;
use crate::protocol::swarm::{SwarmId, INVALID_SWARM_ID};

/// A swarm smaller than this is fetched again (SD `minSwarmSnodeCount`).
pub const MIN_SWARM_SIZE: usize = 3;

/// How long a swarm too small to trust is kept before fetching again, ms (stops a swarm whose
/// members keep failing from costing a lookup per request).
pub const SMALL_SWARM_RETRY_MS: u64 = 30_000;

/// How long a swarm is trusted before it is looked up again, ms: swarms change as nodes join
/// and leave, and an entry a lie slipped into must not live for ever.
pub const SWARM_MAX_AGE_MS: u64 = 30 * 60 * 1000;

/// Why a swarm answer was not adopted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwarmError {
    /// No usable member (empty list, `ffffffffffffffff`, or every entry invalid).
    #[error("swarm answer lists no usable node")]
    Empty,
    /// The answer names a different swarm than the pool's swarm ids predict (a lying node).
    #[error("swarm answer names swarm {got}, expected {expected}")]
    Unexpected {
        /// What the answer said.
        got: SwarmId,
        /// What the pool predicts.
        expected: SwarmId,
    },
    /// The answer lists nodes the pool's node list does not have in that swarm (a lying node
    /// steering the account to nodes of its choosing, or an out-of-date pool).
    #[error("swarm answer for {swarm} lists {strangers} node(s) the pool does not have in it")]
    NotInPool {
        /// The swarm named.
        swarm: SwarmId,
        /// How many listed nodes the pool does not know as its members.
        strangers: usize,
    },
}

/// One cached swarm.
#[derive(Debug, Clone)]
struct Entry {
    members: Vec<ServiceNode>,
    fetched_at_ms: u64,
}

/// Swarms by account.
#[derive(Debug, Default)]
pub struct SwarmCache {
    swarms: HashMap<AccountId, Entry>,
}

/// Reads a `get_swarm`/421 answer into members, checking its swarm id against `expected` (the
/// pool's prediction, when the pool knows swarm ids).
pub fn members_from(
    info: &SwarmInfo,
    expected: Option<SwarmId>,
) -> Result<Vec<ServiceNode>, SwarmError> {
    if info.swarm == INVALID_SWARM_ID {
        return Err(SwarmError::Empty);
    }
    if let Some(expected) = expected.filter(|e| *e != info.swarm) {
        return Err(SwarmError::Unexpected {
            got: info.swarm,
            expected,
        });
    }
    let mut members: Vec<ServiceNode> = Vec::new();
    for n in info
        .snodes
        .iter()
        .filter_map(|s| ServiceNode::from_snode_info(s, info.swarm).ok())
    {
        if !members.iter().any(|m| m.ed25519 == n.ed25519) {
            members.push(n);
        }
    }
    if members.is_empty() {
        return Err(SwarmError::Empty);
    }
    Ok(members)
}

impl SwarmCache {
    /// The cached members, unless the entry should be fetched again: missing, older than
    /// [`SWARM_MAX_AGE_MS`], or smaller than [`MIN_SWARM_SIZE`] for longer than
    /// [`SMALL_SWARM_RETRY_MS`].
    pub fn get(&self, account: &AccountId, now_ms: u64) -> Option<Vec<ServiceNode>> {
        let e = self.swarms.get(account)?;
        let age = now_ms.saturating_sub(e.fetched_at_ms);
        let stale = age > SWARM_MAX_AGE_MS
            || (e.members.len() < MIN_SWARM_SIZE && age > SMALL_SWARM_RETRY_MS);
        (!e.members.is_empty() && !stale).then(|| e.members.clone())
    }

    /// Replaces an account's swarm.
    pub fn set(&mut self, account: AccountId, members: Vec<ServiceNode>, now_ms: u64) {
        self.swarms.insert(
            account,
            Entry {
                members,
                fetched_at_ms: now_ms,
            },
        );
    }

    /// Drops a member from one account's swarm.
    pub fn remove_member(&mut self, account: &AccountId, ed: &SnodeEd25519) {
        if let Some(e) = self.swarms.get_mut(account) {
            e.members.retain(|n| n.ed25519 != *ed);
        }
    }

    /// Drops a node from every swarm (it left the pool).
    pub fn remove_node(&mut self, ed: &SnodeEd25519) {
        for e in self.swarms.values_mut() {
            e.members.retain(|n| n.ed25519 != *ed);
        }
    }

    /// Keeps only nodes `keep` accepts (after a pool refresh: nodes gone from the pool).
    pub fn retain_nodes(&mut self, keep: impl Fn(&SnodeEd25519) -> bool) {
        for e in self.swarms.values_mut() {
            e.members.retain(|n| keep(&n.ed25519));
        }
    }

    /// Number of cached accounts.
    pub fn len(&self) -> usize {
        self.swarms.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.swarms.is_empty()
    }
}

/// Up to `count` random members, preferring ones not in `tried`.
pub fn pick_members<R: Rng>(
    rng: &mut R,
    members: &[ServiceNode],
    tried: &[SnodeEd25519],
    count: usize,
) -> Vec<ServiceNode> {
    pick_members_preferring(rng, members, tried, count, &HashSet::new())
}

/// As [`pick_members`], but among the untried (and then among the tried) the `preferred`
/// members come first, each group in random order.
pub fn pick_members_preferring<R: Rng>(
    rng: &mut R,
    members: &[ServiceNode],
    tried: &[SnodeEd25519],
    count: usize,
    preferred: &HashSet<SnodeEd25519>,
) -> Vec<ServiceNode> {
    let mut order: Vec<&ServiceNode> = members.iter().collect();
    order.shuffle(rng);
    // A stable sort keeps the shuffle's order inside each group.
    order.sort_by_key(|m| (tried.contains(&m.ed25519), !preferred.contains(&m.ed25519)));
    order.into_iter().take(count).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::storage::response::SnodeInfo;

    fn info(i: u8) -> SnodeInfo {
        SnodeInfo {
            address: String::new(),
            pubkey_legacy: String::new(),
            pubkey_x25519: hex::encode([i; 32]),
            pubkey_ed25519: hex::encode([i; 32]),
            port: "1".into(),
            port_https: 1,
            port_omq: 0,
            port_quic: 0,
            ip: if i == 0 {
                "0.0.0.0".into()
            } else {
                format!("10.0.0.{i}")
            },
        }
    }

    fn swarm(id: u64, nodes: &[u8]) -> SwarmInfo {
        SwarmInfo {
            snodes: nodes.iter().map(|i| info(*i)).collect(),
            swarm: SwarmId(id),
            t: None,
            hf: None,
        }
    }

    fn account() -> AccountId {
        AccountId::from_hex(&format!("05{}", "ab".repeat(32))).unwrap()
    }

    #[test]
    fn answers_are_checked() {
        let members = members_from(&swarm(7, &[1, 2, 0, 2]), None).unwrap();
        assert_eq!(members.len(), 2, "0.0.0.0 and duplicates dropped");
        assert_eq!(members[0].swarm_id, Some(SwarmId(7)));
        assert_eq!(
            members_from(&swarm(7, &[1]), Some(SwarmId(7)))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            members_from(&swarm(7, &[1]), Some(SwarmId(8))),
            Err(SwarmError::Unexpected {
                got: SwarmId(7),
                expected: SwarmId(8)
            })
        );
        assert_eq!(
            members_from(&swarm(u64::MAX, &[1]), None),
            Err(SwarmError::Empty)
        );
        assert_eq!(members_from(&swarm(7, &[0]), None), Err(SwarmError::Empty));
    }

    #[test]
    fn small_swarms_are_refetched_later() {
        let mut c = SwarmCache::default();
        let a = account();
        c.set(a, members_from(&swarm(7, &[1, 2, 3]), None).unwrap(), 0);
        assert_eq!(c.get(&a, 0).unwrap().len(), 3);
        c.remove_member(&a, &SnodeEd25519::from_bytes([1; 32]));
        assert_eq!(c.get(&a, 1).unwrap().len(), 2);
        assert!(c.get(&a, SMALL_SWARM_RETRY_MS + 1).is_none());
        c.set(a, members_from(&swarm(7, &[1, 2, 3]), None).unwrap(), 0);
        assert!(c.get(&a, SWARM_MAX_AGE_MS).is_some());
        assert!(c.get(&a, SWARM_MAX_AGE_MS + 1).is_none(), "swarms expire");
        c.remove_member(&a, &SnodeEd25519::from_bytes([1; 32]));
        c.remove_node(&SnodeEd25519::from_bytes([2; 32]));
        c.retain_nodes(|_| false);
        assert!(c.get(&a, 1).is_none());
    }

    #[test]
    fn picks_untried_members_first() {
        let members = members_from(&swarm(7, &[1, 2, 3]), None).unwrap();
        let tried = [members[0].ed25519, members[1].ed25519];
        let mut rng = rand::thread_rng();
        let pick = pick_members(&mut rng, &members, &tried, 2);
        assert_eq!(pick[0].ed25519, members[2].ed25519);
        assert_eq!(pick.len(), 2);
    }
}
