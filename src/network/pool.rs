//! The service-node pool (`network.md` §2.3, §7.1): the public node list, when it was fetched,
//! and a failure count per node. A node reaching [`FAILURE_THRESHOLD`] failures is dropped
//! (SD `snodeFailureThreshold = 3`). Sampling for path hops takes one node per IPv4 /24 where
//! the pool allows it, so one operator's subnet rarely holds two hops of a path.
//!
//! Plain data behind the client's mutex: no I/O here.

use std::collections::{HashMap, HashSet};

use rand::seq::SliceRandom;
use rand::Rng;

use super::node::ServiceNode;
use crate::protocol::onion::SnodeEd25519;
use crate::protocol::swarm::{closest_swarm, SwarmId};

/// Failures after which a node is dropped (SD and libsession: 3).
pub const FAILURE_THRESHOLD: u32 = 3;

/// Nodes an `oxend_request` refresh needs in the intersection of 3 answers (SD: 24).
pub const REQUIRED_FOR_AGREEMENT: usize = 24;

/// Least time between two refreshes forced by swarm answers that disagree with the pool, ms:
/// a lying node must not turn every lookup into a pool refresh.
pub const FORCED_REFRESH_INTERVAL_MS: u64 = 60_000;

/// The node list and per-node failure counts.
#[derive(Debug, Default)]
pub struct NodePool {
    nodes: Vec<ServiceNode>,
    /// The list as last fetched, before failures dropped anyone: what swarm answers are
    /// checked against (a member this client struck is still a member).
    listed: HashMap<SnodeEd25519, ServiceNode>,
    failures: HashMap<SnodeEd25519, u32>,
    refreshed_at_ms: Option<u64>,
    /// A swarm answer disagreed with the list: refresh at the next chance.
    stale: bool,
    forced_at_ms: Option<u64>,
}

impl NodePool {
    /// Replaces the list (a refresh) and resets failure counts, as SD does.
    pub fn replace(&mut self, nodes: Vec<ServiceNode>, now_ms: u64) {
        self.listed = nodes.iter().map(|n| (n.ed25519, n.clone())).collect();
        self.nodes = nodes;
        self.failures.clear();
        self.refreshed_at_ms = Some(now_ms);
        self.stale = false;
    }

    /// Whether to refresh: `min` nodes or fewer, never fetched, older than `max_age_ms`, or
    /// marked stale by [`Self::request_refresh`].
    pub fn needs_refresh(&self, now_ms: u64, min: usize, max_age_ms: u64) -> bool {
        match self.refreshed_at_ms {
            None => true,
            Some(at) => {
                self.stale || self.nodes.len() <= min || now_ms.saturating_sub(at) > max_age_ms
            }
        }
    }

    /// Marks the list stale (a swarm answer disagreed with it), at most once per
    /// [`FORCED_REFRESH_INTERVAL_MS`]; true when it did.
    pub fn request_refresh(&mut self, now_ms: u64) -> bool {
        if self
            .forced_at_ms
            .is_some_and(|at| now_ms.saturating_sub(at) < FORCED_REFRESH_INTERVAL_MS)
        {
            return false;
        }
        self.forced_at_ms = Some(now_ms);
        self.stale = true;
        true
    }

    /// Whether the last fetched list has `node` (same key, address and port) in `swarm`.
    /// With no list yet, or a list without swarm ids, only what it knows is checked.
    pub fn lists_member(&self, node: &ServiceNode, swarm: SwarmId) -> bool {
        if self.listed.is_empty() {
            return true;
        }
        self.listed.get(&node.ed25519).is_some_and(|l| {
            l.ip == node.ip
                && l.storage_port == node.storage_port
                && l.swarm_id.is_none_or(|id| id == swarm)
        })
    }

    /// Every node.
    pub fn nodes(&self) -> &[ServiceNode] {
        &self.nodes
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node with this key, if pooled.
    pub fn get(&self, ed: &SnodeEd25519) -> Option<&ServiceNode> {
        self.nodes.iter().find(|n| n.ed25519 == *ed)
    }

    /// Counts a failure; returns true when the node reached the threshold and was dropped.
    pub fn strike(&mut self, ed: &SnodeEd25519) -> bool {
        let count = self.failures.entry(*ed).or_insert(0);
        *count = count.saturating_add(1);
        if *count >= FAILURE_THRESHOLD {
            self.drop_node(ed);
            true
        } else {
            false
        }
    }

    /// A node's failure count.
    pub fn failures(&self, ed: &SnodeEd25519) -> u32 {
        self.failures.get(ed).copied().unwrap_or(0)
    }

    /// Removes a node at once (`Next node not found`, a guard whose path failed).
    pub fn drop_node(&mut self, ed: &SnodeEd25519) {
        self.nodes.retain(|n| n.ed25519 != *ed);
        self.failures.remove(ed);
    }

    /// Up to `count` random nodes not in `exclude`.
    pub fn random<R: Rng>(
        &self,
        rng: &mut R,
        exclude: &[SnodeEd25519],
        count: usize,
    ) -> Vec<ServiceNode> {
        let mut pick: Vec<&ServiceNode> = self
            .nodes
            .iter()
            .filter(|n| !exclude.contains(&n.ed25519))
            .collect();
        pick.shuffle(rng);
        pick.into_iter().take(count).cloned().collect()
    }

    /// Up to `count` random nodes not in `exclude`, at most one per /24 and none in the
    /// `taken` subnets (a path's guard) while the pool has enough subnets; topped up from the
    /// rest when it does not (e.g. a devnet on 127.0.0.1).
    pub fn sample_hops<R: Rng>(
        &self,
        rng: &mut R,
        exclude: &[SnodeEd25519],
        taken: &[[u8; 3]],
        count: usize,
    ) -> Vec<ServiceNode> {
        let mut candidates: Vec<&ServiceNode> = self
            .nodes
            .iter()
            .filter(|n| !exclude.contains(&n.ed25519))
            .collect();
        candidates.shuffle(rng);
        let mut seen: HashSet<[u8; 3]> = taken.iter().copied().collect();
        let (mut first, mut rest): (Vec<&ServiceNode>, Vec<&ServiceNode>) = candidates
            .into_iter()
            .partition(|n| seen.insert(n.subnet24()));
        first.truncate(count);
        rest.truncate(count.saturating_sub(first.len()));
        first.extend(rest);
        first.into_iter().cloned().collect()
    }

    /// The known swarm ids, sorted (nodes without one are skipped): those of the list as last
    /// fetched, so a swarm whose members this client struck out is still a swarm (its accounts
    /// must not be predicted into a neighbour's).
    pub fn swarm_ids(&self) -> Vec<SwarmId> {
        let listed = self.listed.values().filter_map(|n| n.swarm_id);
        let pooled = self.nodes.iter().filter_map(|n| n.swarm_id);
        let mut ids: Vec<SwarmId> = if self.listed.is_empty() {
            pooled.collect()
        } else {
            listed.collect()
        };
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The swarm an account with `swarm_space` belongs to, by the pool's swarm ids (§3.2).
    pub fn expected_swarm(&self, swarm_space: u64) -> Option<SwarmId> {
        closest_swarm(swarm_space, &self.swarm_ids())
    }

    /// The pooled members of the swarm an account with `swarm_space` belongs to, by the pool's
    /// swarm ids (empty when the pool knows none, or has struck out every member).
    pub fn predicted_members(&self, swarm_space: u64) -> Vec<ServiceNode> {
        self.expected_swarm(swarm_space)
            .map(|id| self.swarm_members(id))
            .unwrap_or_default()
    }

    /// Pooled members of a swarm.
    pub fn swarm_members(&self, id: SwarmId) -> Vec<ServiceNode> {
        self.nodes
            .iter()
            .filter(|n| n.swarm_id == Some(id))
            .cloned()
            .collect()
    }
}

/// The nodes present in every list with the same Ed25519 and X25519 keys, IP, port and swarm
/// id, in the first list's order (SD `getSnodePoolFromSnodes`; libsession drops the refresh
/// if any list is empty). The swarm id must agree too: accounts' swarms are predicted from
/// these labels ([`NodePool::expected_swarm`]), so one lying list must not be able to move a
/// node of its choosing into an account's swarm; a node the lists disagree about stays out.
pub fn intersect(lists: &[Vec<ServiceNode>]) -> Vec<ServiceNode> {
    let Some((first, others)) = lists.split_first() else {
        return Vec::new();
    };
    // `ServiceNode`'s equality is exactly that: keys, address, port and swarm id.
    first
        .iter()
        .filter(|n| others.iter().all(|l| l.contains(n)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn node(i: u8, ip: &str, swarm: u64) -> ServiceNode {
        ServiceNode::from_json(&json!({"ip": ip, "port_https": 1000 + u16::from(i),
            "pubkey_ed25519": hex::encode([i; 32]), "pubkey_x25519": hex::encode([i; 32]),
            "swarm_id": swarm}))
        .unwrap()
    }

    #[test]
    fn three_strikes_drop_a_node() {
        let mut p = NodePool::default();
        assert!(p.needs_refresh(0, 8, 1000));
        p.replace(vec![node(1, "1.1.1.1", 5), node(2, "1.1.1.2", 5)], 0);
        assert!(p.needs_refresh(0, 8, 1000));
        assert!(!p.needs_refresh(0, 1, 1000));
        assert!(p.needs_refresh(1001, 1, 1000));
        let ed = node(1, "1.1.1.1", 5).ed25519;
        assert!(!p.strike(&ed));
        assert!(!p.strike(&ed));
        assert_eq!(p.failures(&ed), 2);
        assert!(p.strike(&ed));
        assert!(p.get(&ed).is_none());
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn hops_spread_over_subnets() {
        let mut p = NodePool::default();
        let mut nodes = Vec::new();
        for i in 0..10 {
            nodes.push(node(i, &format!("10.0.{}.{}", i % 3, i), 1));
        }
        p.replace(nodes, 0);
        let mut rng = rand::thread_rng();
        for _ in 0..50 {
            let hops = p.sample_hops(&mut rng, &[], &[], 3);
            let subnets: HashSet<_> = hops.iter().map(ServiceNode::subnet24).collect();
            assert_eq!((hops.len(), subnets.len()), (3, 3));
        }
        // Only three subnets: a fourth hop must share one, and is still given.
        assert_eq!(p.sample_hops(&mut rng, &[], &[], 4).len(), 4);
        let excluded = node(0, "10.0.0.0", 1).ed25519;
        assert!(p
            .sample_hops(&mut rng, &[excluded], &[], 10)
            .iter()
            .all(|n| n.ed25519 != excluded));
    }

    #[test]
    fn swarms_and_intersections() {
        let mut p = NodePool::default();
        p.replace(
            vec![
                node(1, "1.1.1.1", 100),
                node(2, "1.1.1.2", 200),
                node(3, "1.1.1.3", 200),
            ],
            0,
        );
        assert_eq!(p.swarm_ids(), vec![SwarmId(100), SwarmId(200)]);
        assert_eq!(p.expected_swarm(190), Some(SwarmId(200)));
        assert_eq!(p.swarm_members(SwarmId(200)).len(), 2);
        let a = vec![node(1, "1.1.1.1", 1), node(2, "1.1.1.2", 1)];
        let b = vec![node(2, "1.1.1.2", 1), node(3, "1.1.1.3", 1)];
        let moved = vec![node(2, "9.9.9.9", 1)];
        assert!(p.lists_member(&node(2, "1.1.1.2", 200), SwarmId(200)));
        assert!(!p.lists_member(&node(2, "1.1.1.2", 200), SwarmId(100)));
        assert!(!p.lists_member(&node(2, "9.9.9.9", 200), SwarmId(200)));
        assert!(!p.lists_member(&node(9, "1.1.1.9", 200), SwarmId(200)));
        p.drop_node(&node(2, "1.1.1.2", 200).ed25519);
        assert!(
            p.lists_member(&node(2, "1.1.1.2", 200), SwarmId(200)),
            "struck, still listed"
        );
        assert!(p.request_refresh(10));
        assert!(p.needs_refresh(10, 0, 1000));
        assert!(!p.request_refresh(20), "rate-limited");
        assert_eq!(intersect(&[a.clone(), b.clone()]).len(), 1);
        assert!(intersect(&[a, b, moved]).is_empty());
        assert!(intersect(&[]).is_empty());
    }

    /// A list that relabels a node's swarm cannot put it into another swarm: the lists
    /// disagree about it, so it stays out of the pool, whichever list comes first.
    #[test]
    fn a_node_the_lists_place_in_different_swarms_stays_out() {
        let honest = vec![node(1, "1.1.1.1", 100), node(2, "1.1.1.2", 200)];
        let relabelled = vec![node(1, "1.1.1.1", 100), node(2, "1.1.1.2", 100)];
        for lists in [[honest.clone(), relabelled.clone()], [relabelled, honest]] {
            let agreed = intersect(&lists);
            assert_eq!(agreed, vec![node(1, "1.1.1.1", 100)]);
        }
    }

    /// Swarms are predicted from the list as fetched: striking out every pooled member of a
    /// swarm does not move its accounts into a neighbour's, it leaves them without members
    /// (the client then asks the network).
    #[test]
    fn a_struck_out_swarm_is_still_predicted() {
        let mut p = NodePool::default();
        p.replace(vec![node(1, "1.1.1.1", 100), node(2, "1.1.1.2", 200)], 0);
        p.drop_node(&node(2, "1.1.1.2", 200).ed25519);
        assert_eq!(p.expected_swarm(190), Some(SwarmId(200)));
        assert!(p.swarm_members(SwarmId(200)).is_empty());
    }
}
