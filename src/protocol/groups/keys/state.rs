//! What a member or admin holds after loading a group's keys messages (groups.md §2.3; LSU
//! `Keys::load_key_message`, `insert_key`, `remove_expired`, `needs_rekey`).
//!
//! * Keys are kept sorted by (generation, timestamp, key). A key already held for its
//!   generation only records the message hash.
//! * A generation is dropped once the next generation's earliest key is more than
//!   [`KEY_EXPIRY_MS`] older than the newest key. Time only enters as the timestamps passed
//!   in (the storage server's, for full messages; `t`, for supplemental ones): no clock.
//! * Message hashes are tracked per generation ("active hashes", whose TTL clients extend);
//!   a message with nothing for us still records its `G`, and nothing is tracked for
//!   generations older than the oldest key held (so nothing at all while no key is held).
//! * An admin's own rekey is *pending* until it (or a newer generation) is loaded back from
//!   the swarm; the pending key encrypts first and decrypts first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::message::{build_rekey, build_supplement, KeysMessage, KeysReader, Rekey};
use super::{GroupEncKey, KeyInfo, KeysError, KEY_EXPIRY_MS};
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::{Ed25519PublicKey, SessionId};

/// An admin's rekey not yet seen back from the swarm.
#[derive(Clone)]
struct Pending {
    generation: i64,
    key: GroupEncKey,
    message: Vec<u8>,
}

/// A group's keys as one member or admin holds them. `Debug` shows generations only.
#[derive(Clone)]
pub struct GroupKeys {
    group: Ed25519PublicKey,
    keys: Vec<KeyInfo>,
    pending: Option<Pending>,
    active: BTreeMap<i64, BTreeSet<String>>,
}

impl fmt::Debug for GroupKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let generations: Vec<i64> = self.keys.iter().map(|k| k.generation).collect();
        f.debug_struct("GroupKeys")
            .field("generations", &generations)
            .field("pending", &self.pending.as_ref().map(|p| p.generation))
            .finish()
    }
}

impl GroupKeys {
    /// Nothing held yet for the group whose Ed25519 key is `group`.
    pub fn new(group: Ed25519PublicKey) -> Self {
        Self {
            group,
            keys: Vec::new(),
            pending: None,
            active: BTreeMap::new(),
        }
    }

    /// Loads the keys message `data` stored under `hash` at `timestamp_ms` (§2.3). Returns
    /// whether it gave us at least one key. On any error nothing changes.
    pub fn load(
        &mut self,
        hash: &str,
        data: &[u8],
        timestamp_ms: i64,
        reader: KeysReader<'_>,
    ) -> Result<bool, KeysError> {
        let message = KeysMessage::parse(data, &self.group)?;
        let found = message.open(reader, timestamp_ms)?;
        if let Some(first) = found.first() {
            if let Some(p) = &self.pending {
                if matches!(reader, KeysReader::Admin(_))
                    && (first.generation > p.generation || first.key == p.key)
                {
                    self.pending = None;
                }
            }
        }
        if found.is_empty() {
            self.active
                .entry(message.generation())
                .or_default()
                .insert(hash.to_owned());
            self.remove_expired();
            return Ok(false);
        }
        for key in found {
            self.insert(hash, key);
        }
        Ok(true)
    }

    /// Adds one key (LSU `insert_key`).
    fn insert(&mut self, hash: &str, new: KeyInfo) {
        let same_generation = self
            .keys
            .iter()
            .any(|k| k.generation == new.generation && k.key == new.key);
        if same_generation {
            self.active
                .entry(new.generation)
                .or_default()
                .insert(hash.to_owned());
            return;
        }
        let at = self.keys.partition_point(|k| k < &new);
        if let (Some(front), Some(back)) = (self.keys.first(), self.keys.last()) {
            let stale = self.keys.len() >= 2
                && at == 0
                && new.generation < front.generation
                && front.timestamp_ms.saturating_add(KEY_EXPIRY_MS) < back.timestamp_ms;
            if stale {
                return;
            }
        }
        self.active
            .entry(new.generation)
            .or_default()
            .insert(hash.to_owned());
        self.keys.insert(at, new);
        self.remove_expired();
    }

    /// Drops generations superseded more than [`KEY_EXPIRY_MS`] before the newest key, and
    /// the hashes of generations no longer held (LSU `remove_expired`).
    fn remove_expired(&mut self) {
        let newest = self.keys.last().map_or(i64::MIN, |k| k.timestamp_ms);
        let mut keep_from = 0;
        for (i, pair) in self.keys.windows(2).enumerate() {
            let [this, next] = pair else { continue };
            if this.generation == next.generation {
                continue;
            }
            // `next` is the earliest key of the next generation.
            if next.timestamp_ms.saturating_add(KEY_EXPIRY_MS) < newest {
                keep_from = i + 1;
            } else {
                break;
            }
        }
        self.keys.drain(..keep_from);
        match self.keys.first() {
            Some(oldest) => {
                let oldest = oldest.generation;
                self.active.retain(|&g, _| g >= oldest);
            }
            None => self.active.clear(),
        }
    }

    /// Admin: builds a full rekey for `members` (every member of the Members config) at the
    /// next generation (newest held + 1, or 0), and holds its key as pending (§2.1).
    pub fn rekey(
        &mut self,
        group: &GroupSecret,
        members: &[SessionId],
    ) -> Result<Vec<u8>, KeysError> {
        let generation = self
            .keys
            .last()
            .map_or(0, |k| k.generation.saturating_add(1));
        let Rekey {
            message,
            generation,
            key,
        } = build_rekey(group, members, generation)?;
        self.pending = Some(Pending {
            generation,
            key,
            message: message.clone(),
        });
        Ok(message)
    }

    /// Admin: a supplemental message giving every key held to `recipients` (§2.2).
    pub fn supplement(
        &self,
        group: &GroupSecret,
        recipients: &[SessionId],
    ) -> Result<Vec<u8>, KeysError> {
        build_supplement(group, recipients, &self.keys)
    }

    /// The pending rekey message, to (re)push (admins).
    pub fn pending_message(&self) -> Option<&[u8]> {
        self.pending.as_ref().map(|p| p.message.as_slice())
    }

    /// Admins: two keys share the newest generation (two admins rekeyed concurrently), so
    /// rekey again (§2.3). Members never rekey; for them the answer has no use.
    pub fn needs_rekey(&self) -> bool {
        match self.keys.as_slice() {
            [.., second, last] => second.generation == last.generation,
            _ => false,
        }
    }

    /// The key that encrypts messages and configs: the pending key, else the newest.
    pub fn encryption_key(&self) -> Option<&GroupEncKey> {
        self.pending
            .as_ref()
            .map(|p| &p.key)
            .or_else(|| self.keys.last().map(|k| &k.key))
    }

    /// The keys to try when decrypting, in order: pending, then newest to oldest.
    pub fn decryption_keys(&self) -> impl Iterator<Item = &GroupEncKey> {
        self.pending
            .iter()
            .map(|p| &p.key)
            .chain(self.keys.iter().rev().map(|k| &k.key))
    }

    /// The keys held, oldest first (pending not included).
    pub fn keys(&self) -> &[KeyInfo] {
        &self.keys
    }

    /// How many keys decrypt: those held plus a pending one (LSU `size`).
    pub fn len(&self) -> usize {
        self.keys.len() + usize::from(self.pending.is_some())
    }

    /// Nothing held and nothing pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The hashes of the keys messages still in use, whose TTL should be extended.
    pub fn active_hashes(&self) -> BTreeSet<&str> {
        self.active
            .values()
            .flat_map(|hashes| hashes.iter().map(String::as_str))
            .collect()
    }
}
