//! Group commit of the database's writes (issue 16).
//!
//! Under a send backlog the database's one writer connection is what limits the rate: it is
//! held back to back, and mostly not for the statements themselves (10–70 µs each on SQLite)
//! but for the hand-offs around each one, between the connection's thread and the runtime's
//! (about 0.9 ms a transaction on two busy cores). A transaction of a few statements spends
//! two of its round trips on `BEGIN` and `COMMIT` alone.
//!
//! So writes of one kind and one key (one account's queued sends, one account's send
//! outcomes) that arrive while another of them waits for the writer are done in that one's
//! transaction. The first to arrive *leads*: it begins the transaction and, once it holds the
//! writer, takes every write that queued behind it meanwhile ([`Leader::take`]), does them all
//! after its own and commits once. The others *follow*: they wait for its answer. A group forms
//! only when the writer is contended: a lone write is done at once, as before.
//!
//! Nothing is weaker than one transaction each: a follower's write is durable when its
//! leader's commit is. If a write in a group fails before the commit, none of it is committed
//! and every member does its write on its own, exactly as without grouping, so an error is
//! reported by the write it belongs to ([`Followers::alone`]). A leader dropped halfway (its
//! caller gave up) releases its followers the same way.
//!
//! One case needs the caller's care: a commit that fails, or a leader dropped while its commit
//! waits (SQLite's log sync), leaves the followers unanswered although their writes may be
//! committed. Each then does its write again on its own, so a write done twice must come out
//! as done once: an outcome is only written over a message still queued, and a queued send
//! that finds its own (random) ID already stored answers with that row once the log is
//! synced.
//!
//! Used by `Store::enqueue_outgoing_with` (the `202` of `POST …/messages`) and
//! `actors::outgoing::settle` (`sent` + `message.sent`).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

/// A follower's answer: what its write returned, committed in its leader's transaction. A
/// dropped sender means the follower does its write on its own.
type Answer<R> = oneshot::Sender<R>;

/// A group's followers so far: each write with its answer.
type Members<T, R> = Vec<(T, Answer<R>)>;

/// The groups forming, at most one per key `K`, of writes `T` that answer `R`; and how many
/// writes rode along in another's transaction.
pub struct Groups<K, T, R> {
    forming: Mutex<HashMap<K, Members<T, R>>>,
    followed: AtomicU64,
}

impl<K, T, R> Default for Groups<K, T, R> {
    fn default() -> Self {
        Self {
            forming: Mutex::default(),
            followed: AtomicU64::new(0),
        }
    }
}

impl<K, T, R> std::fmt::Debug for Groups<K, T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Groups")
            .field("followed", &self.followed())
            .finish_non_exhaustive()
    }
}

/// What [`Groups::join`] made of a caller.
pub enum Role<'a, K: Eq + Hash, T, R> {
    /// It leads: it does its own write and, after [`Leader::take`], its followers'.
    Leader(Leader<'a, K, T, R>),
    /// It follows a leader: its write's answer once committed, an error when it must do its
    /// write alone.
    Follower(oneshot::Receiver<R>),
}

impl<K: Eq + Hash + Clone, T, R> Groups<K, T, R> {
    /// Joins the group forming for `key`: the caller follows its leader if there is one (its
    /// write, made by `item`, goes into the leader's transaction), or leads a new one (and
    /// `item` is never called: a lone write needs no copy of itself).
    pub fn join(&self, key: &K, item: impl FnOnce() -> T) -> Role<'_, K, T, R> {
        let mut forming = self.forming.lock().unwrap_or_else(PoisonError::into_inner);
        match forming.get_mut(key) {
            Some(followers) => {
                let (answer, wait) = oneshot::channel();
                followers.push((item(), answer));
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

    /// Followers waiting in the group forming for `key` (for tests).
    pub fn waiting(&self, key: &K) -> usize {
        let forming = self.forming.lock().unwrap_or_else(PoisonError::into_inner);
        forming.get(key).map_or(0, Vec::len)
    }
}

impl<K: Eq + Hash, T, R> Groups<K, T, R> {
    /// Ends the group of `key`: its followers, and the next caller leads a new group.
    fn close(&self, key: &K) -> Members<T, R> {
        let mut forming = self.forming.lock().unwrap_or_else(PoisonError::into_inner);
        forming.remove(key).unwrap_or_default()
    }
}

impl<K, T, R> Groups<K, T, R> {
    /// Writes committed in another's transaction so far.
    pub fn followed(&self) -> u64 {
        self.followed.load(Ordering::Relaxed)
    }
}

/// The leader of a forming group. Dropped without [`Leader::take`], it ends the group and its
/// followers do their writes on their own.
pub struct Leader<'a, K: Eq + Hash, T, R> {
    groups: &'a Groups<K, T, R>,
    key: Option<K>,
}

impl<'a, K: Eq + Hash, T, R> Leader<'a, K, T, R> {
    /// Ends the group (call once the transaction holds the writer): the followers that joined
    /// so far, each with its answer. Later callers lead the next group.
    pub fn take(mut self) -> Followers<'a, T, R> {
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

impl<K: Eq + Hash, T, R> Drop for Leader<'_, K, T, R> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Their answers are dropped with them: each follower does its own write.
            drop(self.groups.close(&key));
        }
    }
}

/// A closed group's followers, to be answered once the leader's transaction ends.
pub struct Followers<'a, T, R> {
    members: Members<T, R>,
    followed: &'a AtomicU64,
}

impl<T, R> Followers<'_, T, R> {
    /// Their writes, to do in the leader's transaction.
    pub fn items(&self) -> impl Iterator<Item = &T> {
        self.members.iter().map(|(item, _)| item)
    }

    /// Whether any follower joined.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// How many followers joined.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Gives each follower its write's answer, in [`Followers::items`]' order, once the group
    /// is committed. `answers` holds one per follower (a follower left without one would do
    /// its write again on its own).
    pub fn committed(self, answers: impl IntoIterator<Item = R>) {
        let count = u64::try_from(self.members.len()).unwrap_or(u64::MAX);
        self.followed.fetch_add(count, Ordering::Relaxed);
        for ((_, answer), value) in self.members.into_iter().zip(answers) {
            let _ = answer.send(value);
        }
    }

    /// Sends each follower to do its own write (nothing of the group was committed).
    pub fn alone(self) {
        drop(self.members);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Numbers = Groups<&'static str, u32, u32>;

    #[tokio::test]
    async fn writes_that_arrive_behind_a_leader_follow_it() {
        let groups = Numbers::default();
        let Role::Leader(leader) = groups.join(&"a", || 1) else {
            panic!("the first write leads");
        };
        let Role::Follower(second) = groups.join(&"a", || 2) else {
            panic!("the second follows");
        };
        let Role::Follower(third) = groups.join(&"a", || 3) else {
            panic!("the third follows");
        };
        // Another key's write is not in this group.
        assert!(matches!(groups.join(&"b", || 9), Role::Leader(_)));
        assert_eq!(groups.waiting(&"a"), 2);

        let followers = leader.take();
        let items: Vec<u32> = followers.items().copied().collect();
        assert_eq!(items, vec![2, 3]);
        // Closed: the next write leads a new group.
        assert!(matches!(groups.join(&"a", || 4), Role::Leader(_)));
        followers.committed(items.iter().map(|n| n * 10));
        assert_eq!(second.await, Ok(20));
        assert_eq!(third.await, Ok(30));
        assert_eq!(groups.followed(), 2);
    }

    #[tokio::test]
    async fn a_failed_or_dropped_leader_sends_its_followers_alone() {
        let groups = Numbers::default();
        let Role::Leader(leader) = groups.join(&"a", || 1) else {
            panic!("leads");
        };
        let Role::Follower(follower) = groups.join(&"a", || 2) else {
            panic!("follows");
        };
        leader.take().alone();
        assert!(follower.await.is_err(), "alone: no answer");

        let Role::Leader(leader) = groups.join(&"a", || 1) else {
            panic!("leads again");
        };
        let Role::Follower(follower) = groups.join(&"a", || 2) else {
            panic!("follows");
        };
        drop(leader);
        assert!(follower.await.is_err(), "a dropped leader drops the answer");
        assert_eq!(groups.waiting(&"a"), 0);
        assert!(matches!(groups.join(&"a", || 3), Role::Leader(_)));
        assert_eq!(groups.followed(), 0);
    }
}
