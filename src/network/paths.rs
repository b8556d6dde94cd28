//! Onion paths (`network.md` §7.1, SD `onionPath.ts`; §7.2 libsession): `[guard, r1, r2]`,
//! distinct nodes, relays one per /24 where possible. Guards are tested with a direct `info`
//! (never `get_swarm` of an account: a direct request must not name an account). A path
//! failing [`PATH_FAILURE_THRESHOLD`] times is dropped with its guard; a node reported by
//! `Next node not found` (or struck out) is removed and its paths repaired.
//!
//! [`PathSet`] is plain data behind the client's mutex; [`test_guards`] is the only I/O.

use futures::future::join_all;
use rand::seq::SliceRandom;
use rand::Rng;

use super::clock::{local_now_ms, NetworkClock};
use super::node::ServiceNode;
use super::pool::NodePool;
use super::transport::{PathNodes, Transport};
use crate::protocol::onion::SnodeEd25519;

/// Path failures after which the path and its guard are dropped (SD and libsession: 3).
pub const PATH_FAILURE_THRESHOLD: u32 = 3;

/// Guard test rounds before giving up (SD gives up when `attempts > 5`).
pub const GUARD_TEST_ROUNDS: usize = 6;

/// One path and its failure count.
#[derive(Debug, Clone)]
pub struct Path {
    /// Stable id while the path lives (failures are reported against it).
    pub id: u64,
    /// Guard first.
    pub nodes: PathNodes,
    failures: u32,
}

impl Path {
    fn contains(&self, ed: &SnodeEd25519) -> bool {
        self.nodes.iter().any(|n| n.ed25519 == *ed)
    }
}

/// What a failure report did to the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathVerdict {
    /// The path stays (count below the threshold, or unknown id).
    Kept,
    /// The path reached the threshold: it is gone, and so should its guard be.
    Dropped {
        /// The dropped path's guard.
        guard: SnodeEd25519,
    },
}

/// The live paths.
#[derive(Debug, Default)]
pub struct PathSet {
    paths: Vec<Path>,
    next_id: u64,
}

impl PathSet {
    /// Number of paths.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Every path.
    pub fn paths(&self) -> &[Path] {
        &self.paths
    }

    /// A random path that does not contain `avoid` (the destination, §5.3), preferring one with
    /// no hop in the destination's /24 (one operator's subnet should not see both ends of a
    /// request) when there is one.
    pub fn choose<R: Rng>(&self, rng: &mut R, avoid: Option<&ServiceNode>) -> Option<Path> {
        let usable: Vec<&Path> = self
            .paths
            .iter()
            .filter(|p| avoid.is_none_or(|a| !p.contains(&a.ed25519)))
            .collect();
        let apart: Vec<&Path> = (usable.iter().copied())
            .filter(|p| avoid.is_none_or(|a| p.nodes.iter().all(|n| n.subnet24() != a.subnet24())))
            .collect();
        let pick = if apart.is_empty() { &usable } else { &apart };
        pick.choose(rng).map(|p| (*p).clone())
    }

    /// Every node on some path.
    pub fn used_nodes(&self) -> Vec<SnodeEd25519> {
        self.paths
            .iter()
            .flat_map(|p| p.nodes.iter().map(|n| n.ed25519))
            .collect()
    }

    /// Adds a path built from `guard` and two relays sampled from `pool`, avoiding nodes on
    /// other paths and the `reserved` nodes (guards of paths about to be added) when the pool
    /// allows. Returns false when the pool cannot supply two relays.
    pub fn add_with_guard<R: Rng>(
        &mut self,
        guard: ServiceNode,
        reserved: &[SnodeEd25519],
        pool: &NodePool,
        rng: &mut R,
    ) -> bool {
        let mut exclude = self.used_nodes();
        exclude.push(guard.ed25519);
        exclude.extend_from_slice(reserved);
        // Relays in other /24s than the guard and each other (one operator's subnet should
        // not hold two hops), where the pool allows.
        let taken = [guard.subnet24()];
        let mut relays = pool.sample_hops(rng, &exclude, &taken, 2);
        if relays.len() < 2 {
            // Small pool: share relays with other paths rather than fail.
            relays = pool.sample_hops(rng, &[guard.ed25519], &taken, 2);
        }
        let [r1, r2] = match <[ServiceNode; 2]>::try_from(relays) {
            Ok(r) => r,
            Err(_) => return false,
        };
        self.next_id = self.next_id.wrapping_add(1);
        self.paths.push(Path {
            id: self.next_id,
            nodes: [guard, r1, r2],
            failures: 0,
        });
        true
    }

    /// Counts a failure of path `id` (SD: a non-200 from the guard, a timeout).
    pub fn path_failed(&mut self, id: u64) -> PathVerdict {
        let Some(pos) = self.paths.iter().position(|p| p.id == id) else {
            return PathVerdict::Kept;
        };
        let Some(path) = self.paths.get_mut(pos) else {
            return PathVerdict::Kept;
        };
        path.failures = path.failures.saturating_add(1);
        if path.failures < PATH_FAILURE_THRESHOLD {
            return PathVerdict::Kept;
        }
        let guard = path.nodes[0].ed25519;
        self.paths.remove(pos);
        PathVerdict::Dropped { guard }
    }

    /// A path's failure count.
    pub fn failures(&self, id: u64) -> Option<u32> {
        self.paths.iter().find(|p| p.id == id).map(|p| p.failures)
    }

    /// Removes `ed` from every path: a path it guards is dropped (returns how many); a path it
    /// relays for gets a fresh relay from `pool` (or is dropped when there is none).
    pub fn remove_node<R: Rng>(
        &mut self,
        ed: &SnodeEd25519,
        pool: &NodePool,
        rng: &mut R,
    ) -> usize {
        let before = self.paths.len();
        self.paths.retain(|p| p.nodes[0].ed25519 != *ed);
        let mut exclude = self.used_nodes();
        exclude.push(*ed);
        let mut unrepairable = Vec::new();
        for path in self.paths.iter_mut().filter(|p| p.contains(ed)) {
            let own: Vec<SnodeEd25519> = path.nodes.iter().map(|n| n.ed25519).collect();
            let taken: Vec<[u8; 3]> = (path.nodes.iter())
                .filter(|n| n.ed25519 != *ed)
                .map(ServiceNode::subnet24)
                .collect();
            let mut fresh = pool.sample_hops(rng, &exclude, &taken, 1);
            if fresh.is_empty() {
                let mut minimal = own.clone();
                minimal.push(*ed);
                fresh = pool.sample_hops(rng, &minimal, &taken, 1);
            }
            match (
                fresh.pop(),
                path.nodes.iter_mut().find(|n| n.ed25519 == *ed),
            ) {
                (Some(new), Some(slot)) => {
                    exclude.push(new.ed25519);
                    *slot = new;
                }
                _ => unrepairable.push(path.id),
            }
        }
        self.paths.retain(|p| !unrepairable.contains(&p.id));
        before - self.paths.len()
    }
}

/// Tests guard candidates with a direct `info`, `want` at a time in parallel, for up to
/// [`GUARD_TEST_ROUNDS`] rounds; returns the nodes that answered (at most `want`) and the
/// ones that failed. Each answer's `t` feeds the clock.
pub async fn test_guards(
    transport: &Transport,
    clock: &NetworkClock,
    candidates: Vec<ServiceNode>,
    want: usize,
) -> (Vec<ServiceNode>, Vec<SnodeEd25519>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut queue = candidates.into_iter();
    for _ in 0..GUARD_TEST_ROUNDS {
        let need = want.saturating_sub(good.len());
        if need == 0 {
            break;
        }
        let batch: Vec<ServiceNode> = queue.by_ref().take(need).collect();
        if batch.is_empty() {
            break;
        }
        let results = join_all(batch.iter().map(|n| transport.direct_info(n))).await;
        for (node, result) in batch.into_iter().zip(results) {
            match result {
                Ok(info) => {
                    clock.observe(info.t.unwrap_or(info.timestamp), local_now_ms());
                    good.push(node);
                }
                Err(e) => {
                    tracing::debug!(guard = %node, error = %e, "guard test failed");
                    bad.push(node.ed25519);
                }
            }
        }
    }
    (good, bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(i: u8) -> ServiceNode {
        ServiceNode::from_json(&json!({"ip": format!("10.{i}.0.1"), "port_https": 1,
            "pubkey_ed25519": hex::encode([i; 32]), "pubkey_x25519": hex::encode([i; 32])}))
        .unwrap()
    }

    /// Node `i` at 10.`subnet`.0.`i`.
    fn node_in(i: u8, subnet: u8) -> ServiceNode {
        ServiceNode::from_json(&json!({"ip": format!("10.{subnet}.0.{i}"), "port_https": 1,
            "pubkey_ed25519": hex::encode([i; 32]), "pubkey_x25519": hex::encode([i; 32])}))
        .unwrap()
    }

    #[test]
    fn hops_avoid_the_guards_subnet_and_paths_the_destinations() {
        // Three subnets of three nodes: 1-3 in 10.1, 4-6 in 10.2, 7-9 in 10.3.
        let mut p = NodePool::default();
        p.replace((1..=9).map(|i| node_in(i, (i - 1) / 3 + 1)).collect(), 0);
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7);
        for _ in 0..50 {
            let mut set = PathSet::default();
            assert!(set.add_with_guard(node_in(1, 1), &[], &p, &mut rng));
            let path = &set.paths()[0];
            let subnets: std::collections::HashSet<[u8; 3]> =
                path.nodes.iter().map(ServiceNode::subnet24).collect();
            assert_eq!(subnets.len(), 3, "{:?}", path.nodes);
        }
        // Two paths, one with a hop in the destination's subnet: the other is always chosen;
        // a destination in a subnet both cross falls back to any path without it.
        let set = PathSet {
            paths: vec![
                Path {
                    id: 1,
                    nodes: [node_in(1, 1), node_in(4, 2), node_in(7, 3)],
                    failures: 0,
                },
                Path {
                    id: 2,
                    nodes: [node_in(2, 1), node_in(5, 4), node_in(8, 5)],
                    failures: 0,
                },
            ],
            next_id: 2,
        };
        let in_subnet_2 = node_in(30, 2);
        let in_subnet_1 = node_in(31, 1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..40 {
            assert_eq!(set.choose(&mut rng, Some(&in_subnet_2)).unwrap().id, 2);
            seen.insert(set.choose(&mut rng, Some(&in_subnet_1)).unwrap().id);
        }
        assert_eq!(seen.len(), 2, "both paths cross 10.1: either may be used");
    }

    fn pool(n: u8) -> NodePool {
        let mut p = NodePool::default();
        p.replace((1..=n).map(node).collect(), 0);
        p
    }

    #[test]
    fn paths_are_distinct_and_avoid_the_destination() {
        let p = pool(10);
        let mut rng = rand::thread_rng();
        let mut set = PathSet::default();
        for _ in 0..20 {
            let mut probe = PathSet::default();
            let reserved = [node(2).ed25519, node(3).ed25519];
            assert!(probe.add_with_guard(node(1), &reserved, &p, &mut rng));
            assert!(probe.used_nodes().iter().all(|n| !reserved.contains(n)));
        }
        assert!(set.add_with_guard(node(1), &[], &p, &mut rng));
        // Guards come from nodes no path uses (as `build_paths` picks them).
        let second = p.random(&mut rng, &set.used_nodes(), 1).pop().unwrap();
        assert!(set.add_with_guard(second, &[], &p, &mut rng));
        let used = set.used_nodes();
        let mut dedup = used.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(
            dedup.len(),
            6,
            "two paths share no node when the pool allows"
        );
        let on_first = set.paths()[0].nodes[2].clone();
        for _ in 0..20 {
            let chosen = set.choose(&mut rng, Some(&on_first)).unwrap();
            assert!(!chosen.contains(&on_first.ed25519));
        }
    }

    #[test]
    fn three_failures_drop_the_path_and_name_its_guard() {
        let p = pool(6);
        let mut rng = rand::thread_rng();
        let mut set = PathSet::default();
        set.add_with_guard(node(1), &[], &p, &mut rng);
        let id = set.paths()[0].id;
        assert_eq!(set.path_failed(id), PathVerdict::Kept);
        assert_eq!(set.path_failed(id), PathVerdict::Kept);
        assert_eq!(
            set.path_failed(id),
            PathVerdict::Dropped {
                guard: node(1).ed25519
            }
        );
        assert!(set.is_empty());
        assert_eq!(set.path_failed(id), PathVerdict::Kept);
    }

    #[test]
    fn removed_relays_are_replaced_and_removed_guards_drop_paths() {
        let mut p = pool(8);
        let mut rng = rand::thread_rng();
        let mut set = PathSet::default();
        set.add_with_guard(node(1), &[], &p, &mut rng);
        let relay = set.paths()[0].nodes[1].ed25519;
        p.drop_node(&relay);
        assert_eq!(set.remove_node(&relay, &p, &mut rng), 0);
        let path = &set.paths()[0];
        assert!(!path.contains(&relay));
        let mut eds: Vec<_> = path.nodes.iter().map(|n| n.ed25519).collect();
        eds.dedup();
        assert_eq!(eds.len(), 3);
        assert_eq!(set.remove_node(&node(1).ed25519, &p, &mut rng), 1);
        assert!(set.is_empty());
    }

    #[test]
    fn tiny_pools_cannot_build() {
        let p = pool(2);
        let mut set = PathSet::default();
        assert!(!set.add_with_guard(node(1), &[], &p, &mut rand::thread_rng()));
    }
}
