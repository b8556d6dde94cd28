//! The swarm cache (`network.md` §3, §3.4): which nodes hold each account's messages. Filled
//! with the pool's members of the swarm its swarm ids predict, or, when the pool names too few
//! of them, by onion `get_swarm` (never a direct request: that would tell the node both who we
//! are and whom we ask about) checked against that prediction; updated by 421 answers that pass
//! the same check. Failing members are dropped.
//!
//! Plain data behind the client's mutex: no I/O here.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};

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

impl SwarmError {
    /// The answer disagrees with the pool's node list about the swarm (another swarm id, or
    /// members the list does not have in it): a lie, or a list out of date, which a refresh
    /// settles (the refresh is rate-limited, so a liar cannot force one per answer).
    pub fn questions_pool(&self) -> bool {
        matches!(self, Self::Unexpected { .. } | Self::NotInPool { .. })
    }
}

/// One swarm's members, shared by every account cached with the same list.
#[derive(Debug)]
struct Members {
    nodes: Vec<ServiceNode>,
    /// The members' Ed25519 keys in hex, as the health board shows them.
    hex: Arc<[String]>,
}

/// One cached swarm.
#[derive(Debug, Clone)]
struct Entry {
    members: Arc<Members>,
    fetched_at_ms: u64,
}

/// Swarms by account. Accounts whose swarms have the same members share one copy of them:
/// a gateway of 10,000 accounts on a network of a few hundred swarms held 10,000 copies of
/// the member lists (~0.35 KiB each, and as much again as hex in the health board).
#[derive(Debug, Default)]
pub struct SwarmCache {
    swarms: HashMap<AccountId, Entry>,
    /// Member lists by their keys in order, while an entry holds them.
    shared: HashMap<Vec<SnodeEd25519>, Weak<Members>>,
    /// `shared`'s size after its last sweep of lists no entry holds.
    swept_at: usize,
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
        self.fresh(account, now_ms).map(|m| m.nodes.clone())
    }

    /// [`Self::get`]'s members as Ed25519 hex, shared with every account of the same swarm.
    pub fn get_hex(&self, account: &AccountId, now_ms: u64) -> Option<Arc<[String]>> {
        self.fresh(account, now_ms).map(|m| m.hex.clone())
    }

    fn fresh(&self, account: &AccountId, now_ms: u64) -> Option<&Members> {
        let e = self.swarms.get(account)?;
        let age = now_ms.saturating_sub(e.fetched_at_ms);
        let size = e.members.nodes.len();
        let stale = age > SWARM_MAX_AGE_MS || (size < MIN_SWARM_SIZE && age > SMALL_SWARM_RETRY_MS);
        (size > 0 && !stale).then_some(&*e.members)
    }

    /// Replaces an account's swarm.
    pub fn set(&mut self, account: AccountId, members: Vec<ServiceNode>, now_ms: u64) {
        let members = self.share(members);
        self.swarms.insert(
            account,
            Entry {
                members,
                fetched_at_ms: now_ms,
            },
        );
    }

    /// The shared copy of `nodes` (made now if no entry holds the same list).
    fn share(&mut self, nodes: Vec<ServiceNode>) -> Arc<Members> {
        let keys: Vec<SnodeEd25519> = nodes.iter().map(|n| n.ed25519).collect();
        if let Some(members) = self.shared.get(&keys).and_then(Weak::upgrade) {
            if members.nodes == nodes {
                return members;
            }
        }
        let hex = nodes.iter().map(|n| n.ed25519.to_hex()).collect();
        let members = Arc::new(Members { nodes, hex });
        self.shared.insert(keys, Arc::downgrade(&members));
        // Lists no entry holds any more go once the map has doubled since the last sweep:
        // amortised, a constant cost per list made.
        if self.shared.len() >= self.swept_at.saturating_mul(2).max(64) {
            self.shared.retain(|_, members| members.strong_count() > 0);
            self.swept_at = self.shared.len();
        }
        members
    }

    /// Rewrites the entries whose members `keep` does not all accept.
    fn retain_in(&mut self, only: Option<&AccountId>, keep: impl Fn(&SnodeEd25519) -> bool) {
        let changed: Vec<(AccountId, Vec<ServiceNode>)> = (self.swarms.iter())
            .filter(|(account, _)| only.is_none_or(|only| only == *account))
            .filter(|(_, e)| e.members.nodes.iter().any(|n| !keep(&n.ed25519)))
            .map(|(account, e)| {
                let kept = e.members.nodes.iter().filter(|n| keep(&n.ed25519));
                (*account, kept.cloned().collect())
            })
            .collect();
        for (account, nodes) in changed {
            let members = self.share(nodes);
            if let Some(e) = self.swarms.get_mut(&account) {
                e.members = members;
            }
        }
    }

    /// Drops a member from one account's swarm.
    pub fn remove_member(&mut self, account: &AccountId, ed: &SnodeEd25519) {
        self.retain_in(Some(account), |n| n != ed);
    }

    /// Drops a node from every swarm (it left the pool).
    pub fn remove_node(&mut self, ed: &SnodeEd25519) {
        self.retain_in(None, |n| n != ed);
    }

    /// Keeps only nodes `keep` accepts (after a pool refresh: nodes gone from the pool).
    pub fn retain_nodes(&mut self, keep: impl Fn(&SnodeEd25519) -> bool) {
        self.retain_in(None, keep);
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

    fn account_n(n: u8) -> AccountId {
        AccountId::from_hex(&format!("05{}", hex::encode([n; 32]))).unwrap()
    }

    // Accounts of one swarm share one copy of its members, before and after a member goes;
    // an account whose own list changed gets its own copy; lists nobody holds are swept.
    #[test]
    fn accounts_of_one_swarm_share_its_members() {
        let mut c = SwarmCache::default();
        let (a, b, d) = (account_n(1), account_n(2), account_n(3));
        let members = members_from(&swarm(7, &[1, 2, 3]), None).unwrap();
        c.set(a, members.clone(), 0);
        c.set(b, members.clone(), 0);
        c.set(d, members_from(&swarm(8, &[4, 5, 6]), None).unwrap(), 0);
        let hex = |c: &SwarmCache, who| c.get_hex(&who, 0).unwrap();
        assert!(
            Arc::ptr_eq(&hex(&c, a), &hex(&c, b)),
            "one copy for a and b"
        );
        assert!(!Arc::ptr_eq(&hex(&c, a), &hex(&c, d)));
        assert_eq!(
            &*hex(&c, a),
            &members
                .iter()
                .map(|n| n.ed25519.to_hex())
                .collect::<Vec<_>>()[..]
        );
        assert_eq!(c.get(&b, 0).unwrap(), members);

        c.remove_member(&a, &SnodeEd25519::from_bytes([1; 32]));
        assert_eq!(
            c.get(&a, 0).unwrap().len(),
            2,
            "a's own list lost the member"
        );
        assert_eq!(c.get(&b, 0).unwrap(), members, "b's did not");
        c.remove_node(&SnodeEd25519::from_bytes([1; 32]));
        assert!(
            Arc::ptr_eq(&hex(&c, a), &hex(&c, b)),
            "the same list again, shared again"
        );
        assert_eq!(c.get(&d, 0).unwrap().len(), 3);

        // 200 lists made and dropped: the map of shared lists does not keep them.
        for i in 0..200u8 {
            let nodes = members_from(&swarm(9, &[10, i.max(11)]), None).unwrap();
            c.set(account_n(200), nodes, 0);
        }
        assert!(c.shared.len() <= 64 + 3, "{} lists kept", c.shared.len());
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
