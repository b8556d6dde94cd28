//! Onion paths (`network.md` §7.1, SD `onionPath.ts`; §7.2 libsession): `[guard, r1, r2]`,
//! distinct nodes, relays one per /24 where possible. Guards are tested with a direct `info`
//! (never `get_swarm` of an account: a direct request must not name an account). A path
//! failing [`PATH_FAILURE_THRESHOLD`] times is dropped with its guard; a node reported by
//! `Next node not found` (or struck out) is removed and its paths repaired.
//!
//! Linking accounts (issue 13, attack 7): a path lives at most `path_max_age_ms` (default 10
//! minutes, Tor's circuit lifetime): then its relays are replaced and its guard kept, as Tor
//! keeps its guards (a new guard is one more node that learns the gateway's IP). With
//! `path_isolation = per_account` each account's requests use a path of their own
//! ([`PathSet::owned_path`]): its relays shared with no other account while the pool allows, so
//! no node sees two accounts' requests arrive over the same path.
//!
//! [`PathSet`] is plain data behind the client's mutex; [`test_guards`] is the only I/O.

use std::collections::{HashMap, HashSet};

use futures::future::join_all;
use rand::seq::SliceRandom;
use rand::Rng;

use super::clock::{local_now_ms, NetworkClock};
use super::node::ServiceNode;
use super::pool::NodePool;
use super::transport::{PathNodes, Transport};
use crate::protocol::onion::SnodeEd25519;
use crate::protocol::storage::AccountId;

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
    /// When it was built (or its relays last replaced), local ms.
    built_at_ms: u64,
}

impl Path {
    fn contains(&self, ed: &SnodeEd25519) -> bool {
        self.nodes.iter().any(|n| n.ed25519 == *ed)
    }

    /// Lived `max_age_ms` or longer (never, when `max_age_ms` is 0).
    fn expired(&self, now_ms: u64, max_age_ms: u64) -> bool {
        max_age_ms > 0 && now_ms.saturating_sub(self.built_at_ms) >= max_age_ms
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

/// The live paths: the shared ones, and each account's own under per-account isolation.
#[derive(Debug, Default)]
pub struct PathSet {
    paths: Vec<Path>,
    owned: HashMap<AccountId, Path>,
    next_id: u64,
}

impl PathSet {
    /// Number of shared paths.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Number of accounts' own paths (per-account isolation).
    pub fn owned_len(&self) -> usize {
        self.owned.len()
    }

    /// True when there is no shared path.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Every shared path.
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

    /// Every node on some shared path.
    pub fn used_nodes(&self) -> Vec<SnodeEd25519> {
        self.paths
            .iter()
            .flat_map(|p| p.nodes.iter().map(|n| n.ed25519))
            .collect()
    }

    /// Adds a path built (at `now_ms`) from `guard` and two relays sampled from `pool`,
    /// avoiding nodes on other paths and the `reserved` nodes (guards of paths about to be
    /// added) when the pool allows. Returns false when the pool cannot supply two relays.
    pub fn add_with_guard<R: Rng>(
        &mut self,
        guard: ServiceNode,
        reserved: &[SnodeEd25519],
        pool: &NodePool,
        rng: &mut R,
        now_ms: u64,
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
        let path = self.new_path([guard, r1, r2], now_ms);
        self.paths.push(path);
        true
    }

    fn new_path(&mut self, nodes: PathNodes, now_ms: u64) -> Path {
        self.next_id = self.next_id.wrapping_add(1);
        Path {
            id: self.next_id,
            nodes,
            failures: 0,
            built_at_ms: now_ms,
        }
    }

    /// Replaces every shared path older than `max_age_ms` by a path over the same guard and
    /// fresh relays (the guard stays: see the module comment). Requests already on an old path
    /// finish on it; failures reported against its id are ignored. Returns how many rotated.
    pub fn rotate_expired<R: Rng>(
        &mut self,
        now_ms: u64,
        max_age_ms: u64,
        pool: &NodePool,
        rng: &mut R,
    ) -> usize {
        let expired: Vec<(u64, ServiceNode)> = (self.paths.iter())
            .filter(|p| p.expired(now_ms, max_age_ms))
            .map(|p| (p.id, p.nodes[0].clone()))
            .collect();
        for (id, guard) in &expired {
            self.paths.retain(|p| p.id != *id);
            if !self.add_with_guard(guard.clone(), &[], pool, rng, now_ms) {
                tracing::warn!(pool = pool.len(), "pool too small to rotate a path");
            }
        }
        expired.len()
    }

    /// The path `owner`'s requests take under per-account isolation: its own, built on first
    /// use over one of the shared paths' (tested) guards and two relays that no other path
    /// uses while the pool has enough nodes, in other /24s than the guard. It keeps off
    /// `keep_off` (the owner's swarm, its usual destinations) and is rebuilt when it is older
    /// than `max_age_ms` or crosses `keep_off`. A `dest` on it gets a one-off path for that
    /// request, built the same way. `None` when there is no shared path (no tested guard) or
    /// the pool is too small.
    pub fn owned_path<R: Rng>(
        &mut self,
        owner: &AccountId,
        dest: Option<&ServiceNode>,
        keep_off: &[SnodeEd25519],
        pool: &NodePool,
        rng: &mut R,
        (now_ms, max_age_ms): (u64, u64),
    ) -> Option<Path> {
        let guards: Vec<SnodeEd25519> = (self.owned_guards(None, keep_off).iter())
            .map(|g| g.ed25519)
            .collect();
        let kept = self.owned.get(owner).filter(|p| {
            !p.expired(now_ms, max_age_ms)
                && guards.contains(&p.nodes[0].ed25519)
                && keep_off
                    .iter()
                    .all(|ed| !p.nodes[1..].iter().any(|n| n.ed25519 == *ed))
        });
        match kept {
            Some(path) if dest.is_none_or(|d| !path.contains(&d.ed25519)) => {
                return Some(path.clone())
            }
            Some(_) => return self.build_owned(dest, keep_off, pool, rng, now_ms),
            None => {}
        }
        self.owned.remove(owner);
        let path = self.build_owned(dest, keep_off, pool, rng, now_ms)?;
        self.owned.insert(*owner, path.clone());
        Some(path)
    }

    /// The tested guards (the shared paths' first hops) an account's own path may start from:
    /// those that are neither `dest` nor in `keep_off`. When every one is in `keep_off` (a
    /// small network, or an account whose swarm happens to hold them all), those that are not
    /// `dest`: keeping off the account's swarm is a preference, keeping off the destination is
    /// not. (Found by `tests/network_batching.rs`: with 2 guards among 24 nodes, about one run
    /// in 40 gave an account whose swarm of 4 held both, and every request of that account
    /// failed with "no guard".)
    fn owned_guards(
        &self,
        dest: Option<&ServiceNode>,
        keep_off: &[SnodeEd25519],
    ) -> Vec<&ServiceNode> {
        let guards: Vec<&ServiceNode> = (self.paths.iter())
            .map(|p| &p.nodes[0])
            .filter(|g| dest.is_none_or(|d| d.ed25519 != g.ed25519))
            .collect();
        let preferred: Vec<&ServiceNode> = (guards.iter().copied())
            .filter(|g| !keep_off.contains(&g.ed25519))
            .collect();
        if preferred.is_empty() {
            guards
        } else {
            preferred
        }
    }

    /// A path for one account (see [`Self::owned_path`]), not yet recorded.
    fn build_owned<R: Rng>(
        &mut self,
        dest: Option<&ServiceNode>,
        keep_off: &[SnodeEd25519],
        pool: &NodePool,
        rng: &mut R,
        now_ms: u64,
    ) -> Option<Path> {
        let guard = (*self.owned_guards(dest, keep_off).choose(rng)?).clone();
        let mut exclude: HashSet<SnodeEd25519> = self.used_nodes().into_iter().collect();
        exclude.extend(dest.map(|d| d.ed25519));
        exclude.extend(keep_off.iter().copied());
        // Relays of no other account's path, while the pool can spare them (a large fleet on a
        // small network shares relays rather than fail).
        let spare = pool
            .len()
            .saturating_sub(exclude.len() + 2 * self.owned.len());
        if spare >= 2 {
            exclude.extend(
                self.owned
                    .values()
                    .flat_map(|p| p.nodes.iter().map(|n| n.ed25519)),
            );
        }
        let exclude: Vec<SnodeEd25519> = exclude.into_iter().collect();
        let mut taken = vec![guard.subnet24()];
        taken.extend(dest.map(ServiceNode::subnet24));
        let mut relays = pool.sample_hops(rng, &exclude, &taken, 2);
        if relays.len() < 2 {
            let minimal: Vec<SnodeEd25519> = std::iter::once(guard.ed25519)
                .chain(dest.map(|d| d.ed25519))
                .collect();
            relays = pool.sample_hops(rng, &minimal, &taken, 2);
        }
        let [r1, r2] = <[ServiceNode; 2]>::try_from(relays).ok()?;
        Some(self.new_path([guard, r1, r2], now_ms))
    }

    /// Counts a failure of path `id` (SD: a non-200 from the guard, a timeout).
    pub fn path_failed(&mut self, id: u64) -> PathVerdict {
        if let Some((owner, path)) = self.owned.iter_mut().find(|(_, p)| p.id == id) {
            path.failures = path.failures.saturating_add(1);
            if path.failures < PATH_FAILURE_THRESHOLD {
                return PathVerdict::Kept;
            }
            let (owner, guard) = (*owner, path.nodes[0].ed25519);
            self.owned.remove(&owner);
            return PathVerdict::Dropped { guard };
        }
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
        (self.paths.iter().chain(self.owned.values()))
            .find(|p| p.id == id)
            .map(|p| p.failures)
    }

    /// Removes `ed` from every path: a shared path it guards is dropped (returns how many); a
    /// shared path it relays for gets a fresh relay from `pool` (or is dropped when there is
    /// none). Accounts' own paths holding it are dropped (rebuilt on their next request).
    pub fn remove_node<R: Rng>(
        &mut self,
        ed: &SnodeEd25519,
        pool: &NodePool,
        rng: &mut R,
    ) -> usize {
        self.owned.retain(|_, p| !p.contains(ed));
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
mod tests;
