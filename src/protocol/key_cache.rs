//! What Ed25519 public keys are turned into, computed once per key. Checking a signature needs
//! the key as a curve point (decompressing it costs about a third of the check), and a received
//! message's sender key is mapped to its X25519 key (its Session ID) with a subgroup check that
//! costs a whole scalar multiplication. The keys met most are few: the service nodes that
//! confirm stores, the contacts whose messages arrive (issue 16).
//!
//! Public keys only. Each map is bounded: past [`MAX_KEYS`] it starts over.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::VerifyingKey;

/// Most keys each map keeps (about 1 MiB for the verifying keys).
pub const MAX_KEYS: usize = 4096;

/// A bounded map from a public key to what was computed from it.
struct Memo<V>(Mutex<HashMap<[u8; 32], V>>);

impl<V: Copy> Memo<V> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    fn get_or(&self, key: &[u8; 32], compute: impl FnOnce() -> V) -> V {
        // The map holds no invariant a panicking holder could break half-way: go on with it.
        let lock = || self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(value) = lock().get(key) {
            return *value;
        }
        let value = compute();
        let mut map = lock();
        if map.len() >= MAX_KEYS {
            map.clear();
        }
        map.insert(*key, value);
        value
    }
}

static VERIFYING: LazyLock<Memo<Option<VerifyingKey>>> = LazyLock::new(Memo::new);
static MONTGOMERY: LazyLock<Memo<Option<[u8; 32]>>> = LazyLock::new(Memo::new);

/// `ed25519` as a verifying key, or `None` if it is not a valid point.
pub fn verifying_key(ed25519: &[u8; 32]) -> Option<VerifyingKey> {
    VERIFYING.get_or(ed25519, || VerifyingKey::from_bytes(ed25519).ok())
}

/// The birational Edwards → Montgomery map of `ed25519` (libsodium
/// `crypto_sign_ed25519_pk_to_curve25519`), with its checks: the point must decode, not be of
/// small order and lie in the prime-order subgroup (`None` otherwise).
pub fn montgomery(ed25519: &[u8; 32]) -> Option<[u8; 32]> {
    MONTGOMERY.get_or(ed25519, || {
        let point = CompressedEdwardsY(*ed25519)
            .decompress()
            .filter(|p| !p.is_small_order() && p.is_torsion_free())?;
        Some(point.to_montgomery().to_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::EIGHT_TORSION;
    use ed25519_dalek::{Signer as _, SigningKey};

    #[test]
    fn a_kept_key_verifies_as_the_fresh_one_does() {
        let signer = SigningKey::from_bytes(&[9; 32]);
        let public = signer.verifying_key().to_bytes();
        let signature = signer.sign(b"hello");
        for _ in 0..2 {
            let key = verifying_key(&public).unwrap();
            assert_eq!(key, signer.verifying_key());
            assert!(key.verify_strict(b"hello", &signature).is_ok());
            assert!(key.verify_strict(b"hellO", &signature).is_err());
        }
        // Not a point: y = 2 has no x on the curve.
        let mut bad = [0u8; 32];
        bad[0] = 2;
        assert!(verifying_key(&bad).is_none());
        assert!(montgomery(&bad).is_none());
    }

    #[test]
    fn the_montgomery_form_is_checked_once_and_kept() {
        let signer = SigningKey::from_bytes(&[3; 32]);
        let public = signer.verifying_key();
        for _ in 0..2 {
            assert_eq!(
                montgomery(public.as_bytes()),
                Some(public.to_montgomery().to_bytes())
            );
        }
        // A key with a torsion component maps to nothing, every time.
        let mixed = (public.to_edwards() + EIGHT_TORSION[1])
            .compress()
            .to_bytes();
        for _ in 0..2 {
            assert_eq!(montgomery(&mixed), None);
        }
    }
}
