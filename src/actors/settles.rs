//! Group commit of send outcomes (issue 16).
//!
//! Under a send backlog the database's one writer connection is what limits the rate: it is
//! held back to back, and mostly not for the statements themselves (10–70 µs each on SQLite)
//! but for the hand-offs around each one, between the connection's thread and the runtime's
//! (about 0.9 ms a transaction, two cores busy). Recording one outcome is a transaction of six
//! round trips: begin, the lease fence, the status, the event, its webhook deliveries, commit.
//!
//! So outcomes of one account that arrive while another of its outcomes waits for the writer
//! are written in that one's transaction. The first to arrive *leads*: it begins the (fenced)
//! transaction and, once it holds the writer, takes every outcome that queued behind it
//! meanwhile, writes them all after its own and commits once. The others *follow*: they wait
//! for its answer. A group shares one begin, one fence and one commit, and forms only when the
//! writer is contended: a lone outcome is written at once, as before.
//!
//! Nothing is weaker than one transaction each: a follower's outcome is durable when its
//! leader's commit is, and every outcome in a group is written under the same lease (the group
//! key holds the lease's owner and epoch). If anything in a group fails, none of it is
//! committed and every member writes its outcome on its own, exactly as without grouping, so an
//! error is reported by the outcome it belongs to. A leader dropped halfway (its actor stopped)
//! releases its followers the same way.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::store::LeaseToken;

/// Which outcomes may share a transaction: one account's, under one lease (or none).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupKey {
    account: String,
    lease: Option<(Arc<str>, i64)>,
}

impl GroupKey {
    /// The group of `account`'s outcomes written under `lease`.
    pub fn new(account: &str, lease: Option<&LeaseToken>) -> Self {
        Self {
            account: account.to_owned(),
            lease: lease.map(|l| (l.owner.clone(), l.epoch)),
        }
    }
}

/// A follower's answer: `true` when its outcome was committed in its leader's transaction,
/// `false` (or a dropped sender) when it must write it on its own.
type Answer = oneshot::Sender<bool>;

/// The groups forming, at most one per key, and how many outcomes rode along in one.
pub struct SettleGroups<T> {
    forming: Mutex<HashMap<GroupKey, Vec<(T, Answer)>>>,
    followed: AtomicU64,
}

impl<T> Default for SettleGroups<T> {
    fn default() -> Self {
        Self {
            forming: Mutex::default(),
            followed: AtomicU64::new(0),
        }
    }
}

/// What [`SettleGroups::join`] made of a caller.
pub enum Role<'a, T> {
    /// It leads: it writes its own outcome and, after [`Leader::take`], its followers'.
    Leader(Leader<'a, T>),
    /// It follows a leader: `true` once its outcome is committed, `false` or an error when it
    /// must write it alone.
    Follower(oneshot::Receiver<bool>),
}

impl<T> SettleGroups<T> {
    /// Joins the group forming for `key`: the caller follows its leader if there is one (its
    /// `item` goes into the leader's transaction), or leads a new one.
    pub fn join(&self, key: &GroupKey, item: T) -> Role<'_, T> {
        let mut forming = self.forming.lock().unwrap_or_else(PoisonError::into_inner);
        match forming.get_mut(key) {
            Some(followers) => {
                let (answer, wait) = oneshot::channel();
                followers.push((item, answer));
                Role::Follower(wait)
            }
            None => {
                forming.insert(key.clone(), Vec::new());
                Role::Leader(Leader {
                    groups: self,
                    key: Some(key.clone()),
                })
            }
        }
    }

    /// Followers waiting in the group forming for `key` (for tests and metrics).
    pub fn waiting(&self, key: &GroupKey) -> usize {
        let forming = self.forming.lock().unwrap_or_else(PoisonError::into_inner);
        forming.get(key).map_or(0, Vec::len)
    }

    /// Outcomes committed in another's transaction so far.
    pub fn followed(&self) -> u64 {
        self.followed.load(Ordering::Relaxed)
    }

    /// Ends the group of `key`: its followers, and the next caller leads a new group.
    fn close(&self, key: &GroupKey) -> Vec<(T, Answer)> {
        let mut forming = self.forming.lock().unwrap_or_else(PoisonError::into_inner);
        forming.remove(key).unwrap_or_default()
    }
}

/// The leader of a forming group. Dropped without [`Leader::take`], it ends the group and its
/// followers write their outcomes on their own.
pub struct Leader<'a, T> {
    groups: &'a SettleGroups<T>,
    key: Option<GroupKey>,
}

impl<'a, T> Leader<'a, T> {
    /// Ends the group (call once the transaction holds the writer): the followers that joined
    /// so far, each with its answer. Later callers lead the next group.
    pub fn take(mut self) -> Followers<'a, T> {
        let members = match self.key.take() {
            Some(key) => self.groups.close(&key),
            None => Vec::new(),
        };
        Followers {
            members,
            followed: &self.groups.followed,
        }
    }
}

impl<T> Drop for Leader<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Their answers are dropped with them: each follower writes its own outcome.
            drop(self.groups.close(&key));
        }
    }
}

/// A closed group's followers, to be answered once the leader's transaction ends.
pub struct Followers<'a, T> {
    members: Vec<(T, Answer)>,
    followed: &'a AtomicU64,
}

impl<T> Followers<'_, T> {
    /// Their outcomes, to write in the leader's transaction.
    pub fn items(&self) -> impl Iterator<Item = &T> {
        self.members.iter().map(|(item, _)| item)
    }

    /// Whether any follower joined.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Tells each follower its outcome is committed.
    pub fn committed(self) {
        let count = u64::try_from(self.members.len()).unwrap_or(u64::MAX);
        self.followed.fetch_add(count, Ordering::Relaxed);
        for (_, answer) in self.members {
            let _ = answer.send(true);
        }
    }

    /// Tells each follower to write its own outcome (nothing of the group was committed).
    pub fn alone(self) {
        for (_, answer) in self.members {
            let _ = answer.send(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(account: &str) -> GroupKey {
        GroupKey::new(account, None)
    }

    #[tokio::test]
    async fn outcomes_that_arrive_behind_a_leader_follow_it() {
        let groups = SettleGroups::<u32>::default();
        let Role::Leader(leader) = groups.join(&key("a"), 1) else {
            panic!("the first outcome leads");
        };
        let Role::Follower(second) = groups.join(&key("a"), 2) else {
            panic!("the second follows");
        };
        let Role::Follower(third) = groups.join(&key("a"), 3) else {
            panic!("the third follows");
        };
        // Another account's outcome is not in this group.
        assert!(matches!(groups.join(&key("b"), 9), Role::Leader(_)));
        assert_eq!(groups.waiting(&key("a")), 2);

        let followers = leader.take();
        assert_eq!(followers.items().copied().collect::<Vec<_>>(), vec![2, 3]);
        // Closed: the next outcome leads a new group.
        assert!(matches!(groups.join(&key("a"), 4), Role::Leader(_)));
        followers.committed();
        assert_eq!(second.await, Ok(true));
        assert_eq!(third.await, Ok(true));
        assert_eq!(groups.followed(), 2);
    }

    #[tokio::test]
    async fn a_failed_or_dropped_leader_sends_its_followers_alone() {
        let groups = SettleGroups::<u32>::default();
        let Role::Leader(leader) = groups.join(&key("a"), 1) else {
            panic!("leads");
        };
        let Role::Follower(follower) = groups.join(&key("a"), 2) else {
            panic!("follows");
        };
        leader.take().alone();
        assert_eq!(follower.await, Ok(false));

        let Role::Leader(leader) = groups.join(&key("a"), 1) else {
            panic!("leads again");
        };
        let Role::Follower(follower) = groups.join(&key("a"), 2) else {
            panic!("follows");
        };
        drop(leader);
        assert!(follower.await.is_err(), "a dropped leader drops the answer");
        assert_eq!(groups.waiting(&key("a")), 0);
        assert!(matches!(groups.join(&key("a"), 3), Role::Leader(_)));
        assert_eq!(groups.followed(), 0);
    }

    #[test]
    fn outcomes_under_different_leases_never_share_a_transaction() {
        let lease = |epoch| LeaseToken {
            account: "a".into(),
            owner: "replica".into(),
            epoch,
            acquired_at: 0,
            expires_at: 0,
        };
        let groups = SettleGroups::<u32>::default();
        let (one, two) = (lease(1), lease(2));
        let _leader = groups.join(&GroupKey::new("a", Some(&one)), 1);
        assert!(matches!(
            groups.join(&GroupKey::new("a", Some(&two)), 2),
            Role::Leader(_)
        ));
        assert!(matches!(
            groups.join(&GroupKey::new("a", None), 3),
            Role::Leader(_)
        ));
        assert!(matches!(
            groups.join(&GroupKey::new("a", Some(&one)), 4),
            Role::Follower(_)
        ));
    }
}
