//! Closed groups v2 (`03` groups): the primitives that have vectors
//! (`../shared/protocol/groups.md` §8), and the protocol state built from them (config merging,
//! group keys).
//!
//! * [`GroupSecret`]: the group's Ed25519 key pair from its seed, and its `03` ID.
//! * [`subaccount`]: member authentication to the group swarm (§4): the blinding factor,
//!   `memberAuthData`, tokens, member request signatures, and the member-side check.
//! * [`swarm_auth`]: the storage server's checks of group requests (§4.5), for the devnet.
//! * [`multi_encrypt`]: one nonce, many recipients (§2.4).
//! * [`config`]: libsession config messages (§1): data, diffs, signatures, merging, info and
//!   members contents (§3.1, §3.2), and the push/pull pipeline (§1.3).
//! * [`config_encrypt`]: config message encryption (§1.4).
//! * [`control`]: the `GroupUpdate*` control messages and their admin signatures (§6).
//! * [`keys`]: group keys (§2): full rekey and supplemental keys messages, and the key state
//!   a member or admin loads them into (pending key, active hashes, expiry, `needs_rekey`).
//! * [`kicked`]: the namespace −11 notice to removed members (§6.3).
//! * [`message`]: group message encryption (§5), and [`envelope`], the Envelope around a
//!   plaintext Content that a chat message's payload is.
//!
//! Vectors: `tests/vectors/groups.json`, `tests/vectors/groups_config.json`,
//! `tests/vectors/groups_keys.json` (group keys),
//! `tests/vectors/groups_message.json` (group messages and a UserGroups push made by libsession).

use std::fmt;

use rand::{CryptoRng, RngCore};

use crate::protocol::keys::{Ed25519PublicKey, IdPrefix, Identity, PrefixedId, Seed};

pub mod config;
pub mod config_encrypt;
pub mod control;
pub mod envelope;
pub mod keys;
pub mod kicked;
pub mod message;
pub mod multi_encrypt;
pub mod subaccount;
pub mod swarm_auth;

/// A group's secret: the Ed25519 key pair made from a 32-byte seed (what an admin holds, and
/// what `GroupUpdatePromoteMessage.groupIdentitySeed` carries). `Debug` shows only the group ID.
#[derive(Clone)]
pub struct GroupSecret {
    /// The same derivation as an account's: libsodium `crypto_sign_seed_keypair`, and the
    /// X25519 conversion used when the group sends a kicked notice (§6.3).
    keys: Identity,
}

impl GroupSecret {
    /// The key pair of `seed`.
    pub fn from_seed(seed: Seed) -> Self {
        Self {
            keys: Identity::from_seed(seed),
        }
    }

    /// A new group: 32 random seed bytes (§6.2).
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Self::from_seed(Seed::from_bytes(seed))
    }

    /// The group's Ed25519 public key: what verifies its config and admin signatures.
    pub fn public(&self) -> Ed25519PublicKey {
        self.keys.ed25519_public()
    }

    /// `03 ‖ public key`, the group's ID and swarm account.
    pub fn id(&self) -> PrefixedId {
        group_id(&self.public())
    }

    /// An Ed25519 signature by the group key.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.keys.sign(message)
    }

    /// The seed (secret).
    pub fn seed(&self) -> &Seed {
        self.keys.seed()
    }

    /// The key pair seen as an account's, for the X25519 uses (multi-recipient encryption).
    pub fn as_identity(&self) -> &Identity {
        &self.keys
    }
}

impl fmt::Debug for GroupSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupSecret({})", self.id().short())
    }
}

/// The `03` ID of a group key.
pub fn group_id(public: &Ed25519PublicKey) -> PrefixedId {
    PrefixedId::new(IdPrefix::Group, *public.as_bytes())
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_control;
#[cfg(test)]
mod tests_junk;
#[cfg(test)]
pub(crate) mod tests_message;
