//! Unit tests of path building, choice, failure accounting and repair.

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
        assert!(set.add_with_guard(node_in(1, 1), &[], &p, &mut rng, 0));
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
                built_at_ms: 0,
            },
            Path {
                id: 2,
                nodes: [node_in(2, 1), node_in(5, 4), node_in(8, 5)],
                failures: 0,
                built_at_ms: 0,
            },
        ],
        owned: HashMap::new(),
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
        assert!(probe.add_with_guard(node(1), &reserved, &p, &mut rng, 0));
        assert!(probe.used_nodes().iter().all(|n| !reserved.contains(n)));
    }
    assert!(set.add_with_guard(node(1), &[], &p, &mut rng, 0));
    // Guards come from nodes no path uses (as `build_paths` picks them).
    let second = p.random(&mut rng, &set.used_nodes(), 1).pop().unwrap();
    assert!(set.add_with_guard(second, &[], &p, &mut rng, 0));
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
    set.add_with_guard(node(1), &[], &p, &mut rng, 0);
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
    set.add_with_guard(node(1), &[], &p, &mut rng, 0);
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
    assert!(!set.add_with_guard(node(1), &[], &p, &mut rand::thread_rng(), 0));
}

fn account(i: u8) -> AccountId {
    let mut bytes = [i; 33];
    bytes[0] = 0x05;
    AccountId::from_bytes(&bytes)
}

#[test]
fn expired_paths_get_fresh_relays_and_keep_their_guards() {
    let p = pool(20);
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);
    let mut set = PathSet::default();
    assert!(set.add_with_guard(node(1), &[], &p, &mut rng, 1_000));
    assert!(set.add_with_guard(node(2), &[], &p, &mut rng, 5_000));
    let before: Vec<Path> = set.paths().to_vec();
    // Not yet 10 s old: nothing moves; a max age of 0 never rotates.
    assert_eq!(set.rotate_expired(10_999, 10_000, &p, &mut rng), 0);
    assert_eq!(set.rotate_expired(u64::MAX, 0, &p, &mut rng), 0);
    // The first is 10 s old: rotated with the same guard, a new id and new relays.
    assert_eq!(set.rotate_expired(11_000, 10_000, &p, &mut rng), 1);
    assert_eq!(set.len(), 2);
    let rotated = (set.paths().iter())
        .find(|q| q.nodes[0].ed25519 == node(1).ed25519)
        .unwrap();
    assert_ne!(rotated.id, before[0].id);
    assert_eq!(rotated.failures, 0);
    let old_relays: Vec<_> = before[0].nodes[1..].iter().map(|n| n.ed25519).collect();
    let new_relays: Vec<_> = rotated.nodes[1..].iter().map(|n| n.ed25519).collect();
    assert!(
        new_relays.iter().all(|r| !old_relays.contains(r)),
        "the pool had spare nodes: {old_relays:?} -> {new_relays:?}"
    );
    // A failure reported against the old path's id changes nothing.
    assert_eq!(set.path_failed(before[0].id), PathVerdict::Kept);
    // The second path is untouched.
    assert!(set.paths().iter().any(|q| q.id == before[1].id));
}

#[test]
fn accounts_get_paths_of_their_own_over_tested_guards() {
    let p = pool(20);
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(5);
    let mut set = PathSet::default();
    // No shared path yet means no tested guard: no owned path either.
    assert!(set
        .owned_path(&account(1), None, &[], &p, &mut rng, (0, 0))
        .is_none());
    assert!(set.add_with_guard(node(1), &[], &p, &mut rng, 0));
    assert!(set.add_with_guard(node(2), &[], &p, &mut rng, 0));
    let guards = [node(1).ed25519, node(2).ed25519];
    let shared = set.used_nodes();
    let mut relays = std::collections::HashSet::new();
    for i in 1..=4 {
        let path = set
            .owned_path(&account(i), None, &[], &p, &mut rng, (0, 0))
            .unwrap();
        assert!(guards.contains(&path.nodes[0].ed25519));
        for relay in &path.nodes[1..] {
            assert!(!shared.contains(&relay.ed25519), "relay of a shared path");
            assert!(relays.insert(relay.ed25519), "relay shared by two accounts");
        }
        // The same account gets the same path again.
        let again = set
            .owned_path(&account(i), None, &[], &p, &mut rng, (0, 0))
            .unwrap();
        assert_eq!(again.id, path.id);
    }
    assert_eq!(set.owned_len(), 4);
    // A destination on the account's path gets a one-off path; the account keeps its own.
    let path = set
        .owned_path(&account(1), None, &[], &p, &mut rng, (0, 0))
        .unwrap();
    let on_it = path.nodes[2].clone();
    let one_off = (set.owned_path(&account(1), Some(&on_it), &[], &p, &mut rng, (0, 0))).unwrap();
    assert_ne!(one_off.id, path.id);
    assert!(!one_off.contains(&on_it.ed25519));
    let again = set
        .owned_path(&account(1), None, &[], &p, &mut rng, (0, 0))
        .unwrap();
    assert_eq!(again.id, path.id);
    // Crossing the account's swarm, or age, gets it a new one.
    let swarm = [path.nodes[1].ed25519];
    let other = set
        .owned_path(&account(1), None, &swarm, &p, &mut rng, (0, 0))
        .unwrap();
    assert_ne!(other.id, path.id);
    assert!(!other.contains(&swarm[0]));
    let aged = set
        .owned_path(&account(1), None, &[], &p, &mut rng, (60_000, 60_000))
        .unwrap();
    assert_ne!(aged.id, other.id);
    // Three failures drop an owned path; a node leaving drops the owned paths through it.
    for _ in 0..2 {
        assert_eq!(set.path_failed(aged.id), PathVerdict::Kept);
    }
    assert!(matches!(
        set.path_failed(aged.id),
        PathVerdict::Dropped { .. }
    ));
    assert_eq!(set.owned_len(), 3);
    let path2 = set
        .owned_path(&account(2), None, &[], &p, &mut rng, (0, 0))
        .unwrap();
    set.remove_node(&path2.nodes[1].ed25519, &p, &mut rng);
    assert_eq!(set.owned_len(), 2);
}

#[test]
fn an_account_whose_swarm_holds_every_guard_still_gets_a_path() {
    let p = pool(24);
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7);
    let mut set = PathSet::default();
    assert!(set.add_with_guard(node(1), &[], &p, &mut rng, 0));
    assert!(set.add_with_guard(node(2), &[], &p, &mut rng, 0));
    let guards = [node(1).ed25519, node(2).ed25519];
    // The account's swarm holds both tested guards: its path starts at one of them anyway,
    // and it keeps that path.
    let swarm = [node(1).ed25519, node(2).ed25519, node(3).ed25519];
    let path = set
        .owned_path(&account(1), None, &swarm, &p, &mut rng, (0, 0))
        .unwrap();
    assert!(guards.contains(&path.nodes[0].ed25519));
    assert!(path.nodes[1..].iter().all(|n| !swarm.contains(&n.ed25519)));
    let again = set
        .owned_path(&account(1), None, &swarm, &p, &mut rng, (0, 0))
        .unwrap();
    assert_eq!(again.id, path.id);
    // The destination is never on the path, even then: the other guard is used.
    let dest = node(1);
    let to_guard = set
        .owned_path(&account(2), Some(&dest), &swarm, &p, &mut rng, (0, 0))
        .unwrap();
    assert_eq!(to_guard.nodes[0].ed25519, node(2).ed25519);
    assert!(!to_guard.contains(&dest.ed25519));
    // A guard outside the swarm is still preferred when there is one.
    let path3 = set
        .owned_path(&account(3), None, &[node(1).ed25519], &p, &mut rng, (0, 0))
        .unwrap();
    assert_eq!(path3.nodes[0].ed25519, node(2).ed25519);
}
