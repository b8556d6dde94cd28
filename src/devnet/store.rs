//! One node's in-memory message store: per account and namespace, messages in insertion order,
//! with a hash index and expiry (network.md §4.6). Expired messages vanish on read and in
//! [`MessageStore::sweep`].

use std::collections::{BTreeMap, HashMap, HashSet};

use super::rpc::params::Account;

/// How many revoked subaccount tokens an account keeps: the storage server's `revoked_autoclean`
/// trigger (`oxenss/storage/database.cpp`, session-foundation/session-storage-server) deletes all
/// but the 50 newest after every insert, so a new revocation always lands and the oldest goes.
pub const MAX_REVOKED: usize = 50;

/// One stored message.
#[derive(Debug, Clone)]
pub struct Message {
    /// §4.5 hash (43 chars).
    pub hash: String,
    /// Namespace it was stored in.
    pub namespace: i16,
    /// Client `timestamp` (ms).
    pub timestamp: u64,
    /// Expiry (ms).
    pub expiry: u64,
    /// Raw data bytes.
    pub data: Vec<u8>,
}

#[derive(Debug, Default)]
struct AccountStore {
    /// namespace → insertion sequence → message
    namespaces: HashMap<i16, BTreeMap<u64, Message>>,
    /// hash → (namespace, sequence)
    index: HashMap<String, (i16, u64)>,
    /// revoked subaccount token → when it was (last) revoked, as a store-wide sequence number;
    /// the server orders by a millisecond timestamp, a sequence keeps same-millisecond
    /// revocations (one request's batch) in request order
    revoked: HashMap<[u8; 36], u64>,
}

/// What a store call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// New message.
    New,
    /// The hash existed; its expiry became the later of the two.
    Already,
}

/// The store of one node.
#[derive(Debug, Default)]
pub struct MessageStore {
    accounts: HashMap<Account, AccountStore>,
    next_seq: u64,
    count: usize,
}

/// Limits of one retrieve call (§4.6 size rules, already resolved to bytes).
#[derive(Debug, Clone, Copy)]
pub struct RetrieveLimits {
    /// Max messages, if any.
    pub max_count: Option<usize>,
    /// Max total data bytes; at least one message is always returned.
    pub max_size: usize,
}

impl MessageStore {
    /// Number of live and not yet swept messages.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Stores `msg`, or extends the expiry of an existing message with the same hash.
    pub fn store(&mut self, account: Account, msg: Message) -> Stored {
        let acct = self.accounts.entry(account).or_default();
        if let Some((ns, seq)) = acct.index.get(&msg.hash).copied() {
            if let Some(old) = acct.namespaces.get_mut(&ns).and_then(|m| m.get_mut(&seq)) {
                old.expiry = old.expiry.max(msg.expiry);
                return Stored::Already;
            }
        }
        self.next_seq += 1;
        let seq = self.next_seq;
        acct.index.insert(msg.hash.clone(), (msg.namespace, seq));
        acct.namespaces
            .entry(msg.namespace)
            .or_default()
            .insert(seq, msg);
        self.count += 1;
        Stored::New
    }

    /// Messages after `last_hash` (all if unknown or absent), skipping expired ones.
    /// Returns the messages and whether more remain.
    pub fn retrieve(
        &self,
        account: &Account,
        namespace: i16,
        last_hash: Option<&str>,
        limits: RetrieveLimits,
        now: u64,
    ) -> (Vec<Message>, bool) {
        let Some(acct) = self.accounts.get(account) else {
            return (Vec::new(), false);
        };
        let Some(msgs) = acct.namespaces.get(&namespace) else {
            return (Vec::new(), false);
        };
        let start = last_hash
            .and_then(|h| acct.index.get(h))
            .filter(|(ns, _)| *ns == namespace)
            .map_or(0, |(_, seq)| seq + 1);
        let mut out = Vec::new();
        let mut size = 0usize;
        let mut more = false;
        for msg in msgs
            .range(start..)
            .map(|(_, m)| m)
            .filter(|m| m.expiry > now)
        {
            let full = limits.max_count.is_some_and(|c| out.len() >= c)
                || (!out.is_empty() && size + msg.data.len() > limits.max_size);
            if full {
                more = true;
                break;
            }
            size += msg.data.len();
            out.push(msg.clone());
        }
        (out, more)
    }

    /// Looks a live message up by hash.
    pub fn get(&self, account: &Account, hash: &str, now: u64) -> Option<&Message> {
        let acct = self.accounts.get(account)?;
        let (ns, seq) = acct.index.get(hash)?;
        acct.namespaces.get(ns)?.get(seq).filter(|m| m.expiry > now)
    }

    /// Deletes the given hashes; returns those that existed (live).
    pub fn delete_hashes(&mut self, account: &Account, hashes: &[&str], now: u64) -> Vec<String> {
        let set: HashSet<&str> = hashes.iter().copied().collect();
        self.remove_where(account, now, |m| set.contains(m.hash.as_str()))
    }

    /// Deletes everything in `namespace` (or everywhere) with timestamp ≤ `before`.
    pub fn delete_matching(
        &mut self,
        account: &Account,
        namespace: Option<i16>,
        before: Option<u64>,
        now: u64,
    ) -> Vec<(i16, String)> {
        let acct = match self.accounts.get(account) {
            Some(a) => a,
            None => return Vec::new(),
        };
        let targets: Vec<(i16, String)> = acct
            .namespaces
            .iter()
            .filter(|(ns, _)| namespace.is_none_or(|want| want == **ns))
            .flat_map(|(ns, msgs)| msgs.values().map(move |m| (*ns, m)))
            .filter(|(_, m)| m.expiry > now && before.is_none_or(|b| m.timestamp <= b))
            .map(|(ns, m)| (ns, m.hash.clone()))
            .collect();
        let hashes: HashSet<&str> = targets.iter().map(|(_, h)| h.as_str()).collect();
        self.remove_where(account, now, |m| hashes.contains(m.hash.as_str()));
        targets
    }

    fn remove_where(
        &mut self,
        account: &Account,
        now: u64,
        pred: impl Fn(&Message) -> bool,
    ) -> Vec<String> {
        let Some(acct) = self.accounts.get_mut(account) else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        for msgs in acct.namespaces.values_mut() {
            msgs.retain(|_, m| {
                if pred(m) {
                    if m.expiry > now {
                        removed.push(m.hash.clone());
                    }
                    false
                } else {
                    true
                }
            });
        }
        for hash in &removed {
            acct.index.remove(hash);
        }
        self.count = self.count.saturating_sub(removed.len());
        removed
    }

    /// Sets the expiry of each listed live message (one expiry for all, or one per hash).
    /// `extend_only`/`shorten_only` skip messages whose expiry would move the other way.
    /// Returns the updated (hash, applied expiry) pairs.
    pub fn set_expiries(
        &mut self,
        account: &Account,
        updates: &[(&str, u64)],
        extend_only: bool,
        shorten_only: bool,
        now: u64,
    ) -> Vec<(String, u64)> {
        let Some(acct) = self.accounts.get_mut(account) else {
            return Vec::new();
        };
        let mut updated = Vec::new();
        for (hash, expiry) in updates {
            let Some((ns, seq)) = acct.index.get(*hash).copied() else {
                continue;
            };
            let Some(msg) = acct.namespaces.get_mut(&ns).and_then(|m| m.get_mut(&seq)) else {
                continue;
            };
            if msg.expiry <= now
                || (extend_only && *expiry <= msg.expiry)
                || (shorten_only && *expiry >= msg.expiry)
            {
                continue;
            }
            msg.expiry = *expiry;
            updated.push((msg.hash.clone(), *expiry));
        }
        updated
    }

    /// Shortens every live message (in `namespace` or all) whose expiry is after `expiry`.
    pub fn shorten_all(
        &mut self,
        account: &Account,
        namespace: Option<i16>,
        expiry: u64,
        now: u64,
    ) -> Vec<(i16, String)> {
        let Some(acct) = self.accounts.get_mut(account) else {
            return Vec::new();
        };
        let mut updated = Vec::new();
        for (ns, msgs) in acct.namespaces.iter_mut() {
            if namespace.is_some_and(|want| want != *ns) {
                continue;
            }
            for m in msgs
                .values_mut()
                .filter(|m| m.expiry > now && m.expiry > expiry)
            {
                m.expiry = expiry;
                updated.push((*ns, m.hash.clone()));
            }
        }
        updated
    }

    /// True when `token` is revoked for `account`.
    pub fn is_revoked(&self, account: &Account, token: &[u8; 36]) -> bool {
        self.accounts
            .get(account)
            .is_some_and(|a| a.revoked.contains_key(token))
    }

    /// Revokes tokens, as the storage server does (groups.md §4.5): re-revoking a token makes it
    /// the newest, and past [`MAX_REVOKED`] the oldest revocations are dropped (the server's
    /// `ON CONFLICT … DO UPDATE SET timestamp` upsert and `revoked_autoclean` trigger).
    pub fn revoke(&mut self, account: Account, tokens: &[[u8; 36]]) {
        let acct = self.accounts.entry(account).or_default();
        for t in tokens {
            self.next_seq += 1;
            acct.revoked.insert(*t, self.next_seq);
            if acct.revoked.len() > MAX_REVOKED {
                let oldest = acct
                    .revoked
                    .iter()
                    .min_by_key(|(_, seq)| **seq)
                    .map(|(token, _)| *token);
                if let Some(oldest) = oldest {
                    acct.revoked.remove(&oldest);
                }
            }
        }
    }

    /// Un-revokes tokens; returns how many were revoked before.
    pub fn unrevoke(&mut self, account: &Account, tokens: &[[u8; 36]]) -> usize {
        let Some(acct) = self.accounts.get_mut(account) else {
            return 0;
        };
        tokens
            .iter()
            .filter(|t| acct.revoked.remove(*t).is_some())
            .count()
    }

    /// Drops every message expired at `now`; returns how many went.
    pub fn sweep(&mut self, now: u64) -> usize {
        let mut gone = 0;
        for acct in self.accounts.values_mut() {
            let mut dead = Vec::new();
            for msgs in acct.namespaces.values_mut() {
                msgs.retain(|_, m| {
                    let keep = m.expiry > now;
                    if !keep {
                        dead.push(m.hash.clone());
                    }
                    keep
                });
            }
            for h in &dead {
                acct.index.remove(h);
            }
            gone += dead.len();
        }
        self.count = self.count.saturating_sub(gone);
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(i: u64, expiry: u64) -> Message {
        Message {
            hash: format!("h{i}"),
            namespace: 0,
            timestamp: i,
            expiry,
            data: vec![0; 10],
        }
    }

    #[test]
    fn holds_100k_messages_and_pages_through_them() {
        let mut s = MessageStore::default();
        let acct = Account([5; 33]);
        for i in 0..100_000 {
            s.store(acct, msg(i, 1_000));
        }
        assert_eq!(s.len(), 100_000);
        let limits = RetrieveLimits {
            max_count: Some(1000),
            max_size: usize::MAX,
        };
        let (page, more) = s.retrieve(&acct, 0, Some("h98999"), limits, 0);
        assert_eq!(page.len(), 1000);
        assert_eq!(page[0].hash, "h99000");
        assert!(!more);
        let gone = s.delete_matching(&acct, None, Some(49_999), 0);
        assert_eq!(gone.len(), 50_000);
        assert_eq!(s.sweep(1_000), 50_000);
        assert!(s.is_empty());
    }

    #[test]
    fn expired_messages_vanish_on_read() {
        let mut s = MessageStore::default();
        let acct = Account([5; 33]);
        s.store(acct, msg(1, 50));
        s.store(acct, msg(2, 500));
        let limits = RetrieveLimits {
            max_count: None,
            max_size: usize::MAX,
        };
        let (page, _) = s.retrieve(&acct, 0, None, limits, 100);
        assert_eq!(page.len(), 1);
        assert!(s.get(&acct, "h1", 100).is_none());
    }

    #[test]
    fn duplicate_store_extends_expiry() {
        let mut s = MessageStore::default();
        let acct = Account([5; 33]);
        assert_eq!(s.store(acct, msg(1, 50)), Stored::New);
        assert_eq!(s.store(acct, msg(1, 80)), Stored::Already);
        assert_eq!(s.get(&acct, "h1", 0).map(|m| m.expiry), Some(80));
    }

    fn token(i: u8) -> [u8; 36] {
        let mut t = [i; 36];
        t[0] = 0x03;
        t
    }

    #[test]
    fn revoked_list_keeps_the_newest_and_drops_the_oldest() {
        let mut s = MessageStore::default();
        let acct = Account([3; 33]);
        let first: Vec<[u8; 36]> = (0..50).map(token).collect();
        s.revoke(acct, &first);
        assert!(first.iter().all(|t| s.is_revoked(&acct, t)));
        // Re-revoking token 0 makes it the newest, so token 1 is now the oldest.
        s.revoke(acct, &[token(0)]);
        s.revoke(acct, &[token(50)]);
        assert!(
            s.is_revoked(&acct, &token(50)),
            "a revocation past the cap lands"
        );
        assert!(
            !s.is_revoked(&acct, &token(1)),
            "the oldest revocation is dropped"
        );
        assert!(s.is_revoked(&acct, &token(0)) && s.is_revoked(&acct, &token(2)));
        // A full batch of new ones replaces everything older.
        let batch: Vec<[u8; 36]> = (100..150).map(token).collect();
        s.revoke(acct, &batch);
        assert!(batch.iter().all(|t| s.is_revoked(&acct, t)));
        assert!(!(0..=50).any(|i| s.is_revoked(&acct, &token(i))));
        assert_eq!(s.unrevoke(&acct, &[token(100), token(0)]), 1);
    }
}
