//! Group keys (namespace 12; groups.md §2; LSU `src/config/groups/keys.cpp`): the symmetric
//! keys that encrypt a group's messages and its info/members configs, and the admin-signed
//! messages that hand them to members.
//!
//! * [`message`]: the full rekey message (§2.1) and the supplemental keys message (§2.2): build
//!   (admin) and parse (anyone, signature checked over the encoded prefix).
//! * [`state`]: [`GroupKeys`], what a member or admin holds after loading keys messages (§2.3):
//!   keys sorted by (generation, timestamp, key), the admin's pending key, active message
//!   hashes per generation, expiry after [`KEY_EXPIRY_MS`], `needs_rekey`.
//!
//! Derivations shared by both messages (§2.1, §2.2):
//! ```text
//! seed_hash(k) = BLAKE2b-256[key = k](group seed (32))
//! h2           = seed_hash("SessionGroupKeySeed")
//! admin key    = seed_hash("SessionGroupKeyAdminKey")          (encrypts `K`)
//! member_key   = BLAKE2b-256[key = "SessionGroupKeyMemberKey"]( X25519(a', B) ‖ A' ‖ B )
//!                (the member computes X25519(b, A') ‖ A' ‖ B; A' = group key as X25519)
//! ```
//! Vectors: `tests/vectors/groups_keys.json`.

use std::cmp::Ordering;
use std::fmt;

use blake2::digest::consts::{U24, U32, U56};
use blake2::digest::{KeyInit, Mac};
use blake2::Blake2bMac;

pub use super::message::GroupEncKey;
use super::GroupSecret;

pub mod message;
pub mod state;

pub use message::{build_rekey, build_supplement, KeysKind, KeysMessage, KeysReader, Rekey};
pub use state::GroupKeys;

/// Full rekey messages carry a multiple of this many member entries (junk-padded, §2.1).
pub const MESSAGE_KEY_MULTIPLE: usize = 75;
/// A generation is dropped once a newer one is this much older than the newest key (§2.3):
/// 60 days, in milliseconds (LSU `KEY_EXPIRY`).
pub const KEY_EXPIRY_MS: i64 = 60 * 24 * 3600 * 1000;

/// BLAKE2b key of `h2` (§2.1).
pub(crate) const SEED_HASH_KEY: &[u8] = b"SessionGroupKeySeed";
/// BLAKE2b key of `h1` and of the supplemental nonce (§2.1, §2.2).
pub(crate) const KEY_GEN_HASH_KEY: &[u8] = b"SessionGroupKeyGen";
/// BLAKE2b key of the admin key that encrypts `K` (§2.1).
pub(crate) const ADMIN_KEY_HASH_KEY: &[u8] = b"SessionGroupKeyAdminKey";
/// The multi-recipient domain of member entries (§2.1, §2.4).
pub(crate) const MEMBER_KEY_DOMAIN: &[u8] = b"SessionGroupKeyMemberKey";
/// BLAKE2b key of the junk entries' RNG seed (§2.1).
pub(crate) const JUNK_SEED_HASH_KEY: &[u8] = b"SessionGroupJunkMembers";

/// Why a keys message could not be built or loaded. Any error rejects the whole message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    /// Not a bencoded dict in canonical form.
    #[error("keys message is not a canonical bencoded dict")]
    NotADict,
    /// A required field is missing or has the wrong type or size.
    #[error("keys message field `{0}` missing or malformed")]
    Field(&'static str),
    /// `G` below zero.
    #[error("negative generation")]
    NegativeGeneration,
    /// A member entry of the wrong size (48 bytes in `k`, at least 68 in `+`).
    #[error("member entry {0} has the wrong size")]
    EntrySize(usize),
    /// `k` holds a count that is not a multiple of 75.
    #[error("member key list of {0} entries is not padded to a multiple of 75")]
    Padding(usize),
    /// The admin key `K` did not decrypt with the group seed.
    #[error("admin key does not decrypt")]
    AdminKey,
    /// A decrypted supplemental key list is malformed.
    #[error("malformed supplemental key list")]
    SupplementalKeys,
    /// `~` missing, not last, or not 64 bytes.
    #[error("keys message signature missing or misplaced")]
    MissingSignature,
    /// `~` does not verify with the group key.
    #[error("keys message signature does not verify")]
    BadSignature,
    /// The group key cannot be converted to X25519.
    #[error("group key is not a valid Ed25519 point")]
    GroupPublicKey,
    /// A supplemental message needs at least one valid recipient and one key held.
    #[error("nothing to supplement")]
    NothingToSupplement,
    /// The cipher refused (only for absurd lengths).
    #[error("encryption failed")]
    Encryption,
}

/// One key held: its generation, the timestamp (ms) it came with, and the key (§2.3).
/// Ordered by (generation, timestamp, key), the order LSU keeps them in.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The generation (`G` of the rekey that made it).
    pub generation: i64,
    /// The storage server's timestamp of the keys message (full), or `t` (supplemental).
    pub timestamp_ms: i64,
    /// The key.
    pub key: GroupEncKey,
}

impl fmt::Debug for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyInfo(g{} t{})", self.generation, self.timestamp_ms)
    }
}

impl Ord for KeyInfo {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.generation, self.timestamp_ms, self.key.expose_secret()).cmp(&(
            other.generation,
            other.timestamp_ms,
            other.key.expose_secret(),
        ))
    }
}

impl PartialOrd for KeyInfo {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Keyed BLAKE2b functions of fixed output sizes (libsodium `crypto_generichash` with a key).
macro_rules! keyed_blake2b {
    ($(#[$doc:meta])* $name:ident, $n:literal, $size:ty) => {
        $(#[$doc])*
        pub(crate) fn $name(key: &[u8], parts: &[&[u8]]) -> [u8; $n] {
            let mut mac = <Blake2bMac<$size> as KeyInit>::new_from_slice(key)
                .expect("this module's BLAKE2b keys are constants of at most 64 bytes");
            for part in parts {
                Mac::update(&mut mac, part);
            }
            let mut out = [0u8; $n];
            out.copy_from_slice(&mac.finalize().into_bytes());
            out
        }
    };
}

keyed_blake2b!(
    /// BLAKE2b-192 with a key (the supplemental nonce, §2.2).
    blake2b_192, 24, U24
);
keyed_blake2b!(
    /// BLAKE2b-256 with a key.
    blake2b_256, 32, U32
);
keyed_blake2b!(
    /// BLAKE2b-448 with a key (`h1`, §2.1).
    blake2b_448, 56, U56
);

/// `seed_hash(k)` = BLAKE2b-256[key = k](group seed) (§2, `seed_hash` of LSU `base.cpp`).
pub(crate) fn seed_hash(group: &GroupSecret, key: &[u8]) -> zeroize::Zeroizing<[u8; 32]> {
    zeroize::Zeroizing::new(blake2b_256(key, &[group.seed().expose_secret()]))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_junk;
#[cfg(test)]
mod tests_scenarios;
