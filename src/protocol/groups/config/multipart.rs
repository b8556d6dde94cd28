//! Multipart config messages, receive side (groups.md §1.7).
//!
//! A decrypted, unpadded config plaintext starting with `'m'` is one part:
//! `'m' ‖ bencode list [final_hash (32 B), index (1-byte string), count (1-byte string),
//! chunk (non-empty string)]`, nothing after, `count > 1`, `index < count`. The chunks of a
//! set, concatenated by index, hash (unkeyed BLAKE2b-256) to `final_hash`; the concatenation
//! is then handled like a single-part plaintext: strip leading 0x00, `'z'` = zstd, must start
//! with `'d'`. Facts from libsession-util `src/config/base.cpp` (`_handle_multipart`).
//!
//! No clock is read here: the caller passes when a part arrived and how long an incomplete
//! set is kept (libsession's `MULTIPART_MAX_WAIT`). A completed set's hash is remembered until
//! the same deadline so that late duplicates are ignored rather than starting a new set.

use std::collections::{BTreeMap, HashMap};

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};

use super::transport::{finish_plaintext, ConfigTransportError, MAX_MESSAGE_SIZE};
use crate::protocol::bencode::BtValue;

/// The most incomplete or remembered sets an assembler holds at once; a part for a new set
/// beyond this is refused ([`MultipartError::TooManySets`]).
pub const MAX_PENDING_SETS: usize = 16;
/// The most chunk bytes an assembler holds across all incomplete sets (16 MiB, room for a
/// few sets of 76 800-byte parts); a part beyond it is refused ([`MultipartError::TooLarge`]).
pub const MAX_PENDING_BYTES: usize = 16 * 1024 * 1024;

/// Why a multipart part was refused (the part is dropped; other sets are unaffected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    /// Not `'m'` followed by exactly the four-element list.
    #[error("malformed multipart config part")]
    Malformed,
    /// `count <= 1` or `index >= count`.
    #[error("invalid multipart numbering ({index} of {count})")]
    Numbering {
        /// The part's index.
        index: u8,
        /// The part's count.
        count: u8,
    },
    /// The part's count differs from earlier parts of the same set.
    #[error("multipart count {got} does not match earlier parts ({expected})")]
    CountMismatch {
        /// The count of the first part seen.
        expected: u8,
        /// The count of this part.
        got: u8,
    },
    /// Too many sets pending ([`MAX_PENDING_SETS`]).
    #[error("too many pending multipart sets")]
    TooManySets,
    /// Holding the part would exceed [`MAX_PENDING_BYTES`].
    #[error("pending multipart data too large")]
    TooLarge,
    /// The reassembled data does not hash to `final_hash`.
    #[error("reassembled multipart data does not match its hash")]
    HashMismatch,
}

/// One parsed part.
#[derive(Clone, PartialEq, Eq)]
pub struct MultipartPart {
    /// BLAKE2b-256 of the reassembled (padded, possibly compressed) data.
    pub final_hash: [u8; 32],
    /// This part's position, `< count`.
    pub index: u8,
    /// How many parts the set has, `> 1`.
    pub count: u8,
    /// This part's bytes (non-empty).
    pub chunk: Vec<u8>,
}

impl std::fmt::Debug for MultipartPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultipartPart")
            .field("index", &self.index)
            .field("count", &self.count)
            .field("chunk_len", &self.chunk.len())
            .finish_non_exhaustive()
    }
}

impl MultipartPart {
    /// Parses an unpadded plaintext that starts with `'m'` (§1.7).
    pub fn parse(plain: &[u8]) -> Result<Self, MultipartError> {
        let rest = match plain.split_first() {
            Some((b'm', rest)) if plain.len() <= MAX_MESSAGE_SIZE => rest,
            _ => return Err(MultipartError::Malformed),
        };
        let items = match BtValue::decode(rest) {
            Ok(BtValue::List(items)) => items,
            _ => return Err(MultipartError::Malformed),
        };
        let [hash, index, count, chunk] = items.as_slice() else {
            return Err(MultipartError::Malformed);
        };
        let final_hash: [u8; 32] = hash
            .as_bytes()
            .and_then(|h| h.try_into().ok())
            .ok_or(MultipartError::Malformed)?;
        let one_byte = |v: &BtValue| match v.as_bytes() {
            Some([b]) => Ok(*b),
            _ => Err(MultipartError::Malformed),
        };
        let (index, count) = (one_byte(index)?, one_byte(count)?);
        if count <= 1 || index >= count {
            return Err(MultipartError::Numbering { index, count });
        }
        let chunk = match chunk.as_bytes() {
            Some(c) if !c.is_empty() => c.to_vec(),
            _ => return Err(MultipartError::Malformed),
        };
        Ok(Self {
            final_hash,
            index,
            count,
            chunk,
        })
    }
}

/// What adding a part did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartOutcome {
    /// Stored (or a duplicate, ignored); the set is not complete yet.
    Part,
    /// This part completed its set: the config message bytes (start with `'d'`), for
    /// [`super::ConfigMessage::parse`] or the merge.
    Complete(Vec<u8>),
}

#[derive(Debug)]
struct PendingSet {
    count: u8,
    /// Empty once done (then only remembered to ignore duplicates).
    parts: BTreeMap<u8, Vec<u8>>,
    bytes: usize,
    done: bool,
    expires_ms: u64,
}

/// Collects multipart parts keyed by their final hash (§1.7). Memory is bounded by
/// [`MAX_PENDING_SETS`] and [`MAX_PENDING_BYTES`].
#[derive(Debug, Default)]
pub struct MultipartAssembler {
    sets: HashMap<[u8; 32], PendingSet>,
}

impl MultipartAssembler {
    /// An empty assembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many sets (incomplete or remembered) are held.
    pub fn pending_sets(&self) -> usize {
        self.sets.len()
    }

    /// Drops sets whose deadline is before `now_ms`.
    pub fn expire(&mut self, now_ms: u64) {
        self.sets.retain(|_, s| s.expires_ms >= now_ms);
    }

    /// Adds a part that arrived at `now_ms`; an incomplete set is kept until `max_wait_ms`
    /// after its latest part. Expired sets are dropped first.
    pub fn add(
        &mut self,
        part: MultipartPart,
        now_ms: u64,
        max_wait_ms: u64,
    ) -> Result<MultipartOutcome, ConfigTransportError> {
        self.expire(now_ms);
        let expires_ms = now_ms.saturating_add(max_wait_ms);
        let held: usize = self.sets.values().map(|s| s.bytes).sum();
        if !self.sets.contains_key(&part.final_hash) && self.sets.len() >= MAX_PENDING_SETS {
            return Err(MultipartError::TooManySets.into());
        }
        let set = self
            .sets
            .entry(part.final_hash)
            .or_insert_with(|| PendingSet {
                count: part.count,
                parts: BTreeMap::new(),
                bytes: 0,
                done: false,
                expires_ms,
            });
        if set.done || set.parts.contains_key(&part.index) {
            return Ok(MultipartOutcome::Part);
        }
        if set.count != part.count {
            return Err(MultipartError::CountMismatch {
                expected: set.count,
                got: part.count,
            }
            .into());
        }
        if held.saturating_add(part.chunk.len()) > MAX_PENDING_BYTES {
            if set.parts.is_empty() {
                self.sets.remove(&part.final_hash);
            }
            return Err(MultipartError::TooLarge.into());
        }
        set.bytes += part.chunk.len();
        set.expires_ms = expires_ms;
        set.parts.insert(part.index, part.chunk);
        if set.parts.len() < usize::from(set.count) {
            return Ok(MultipartOutcome::Part);
        }
        let parts = std::mem::take(&mut set.parts);
        set.bytes = 0;
        set.done = true;
        let joined: Vec<u8> = parts.into_values().flatten().collect();
        let actual: [u8; 32] = Blake2b::<U32>::digest(&joined).into();
        if actual != part.final_hash {
            return Err(MultipartError::HashMismatch.into());
        }
        let start = joined
            .iter()
            .position(|&b| b != 0)
            .ok_or(ConfigTransportError::Empty)?;
        finish_plaintext(joined.get(start..).unwrap_or_default()).map(MultipartOutcome::Complete)
    }
}
