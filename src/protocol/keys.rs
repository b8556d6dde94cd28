//! Account keys and IDs: the Ed25519 seed, the X25519 key derived from it, Session IDs and the
//! other prefixed 33-byte IDs.
//!
//! Facts: `../shared/protocol/messages.md` §1.1 (key derivation), §1.2 (16 → 32 byte seeds),
//! §1.3 (ID prefixes). Vectors: §1.4, in `tests/vectors/identity.json`.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha512};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::phrase::{PhraseError, RecoveryPhrase};

/// Why a key or ID could not be parsed or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The input had the wrong length (in bytes, or in hex characters for text).
    #[error("wrong length: expected {expected}, got {got}")]
    WrongLength {
        /// The length required.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// The text contained something other than hex digits.
    #[error("not hexadecimal")]
    NotHex,
    /// Hex is accepted in lowercase only, the way every client writes IDs.
    #[error("hex must be lowercase")]
    UppercaseHex,
    /// The first byte is not a known ID prefix.
    #[error("unknown ID prefix {0:#04x}")]
    UnknownPrefix(u8),
    /// The ID is well formed but carries a different prefix than the caller requires.
    #[error("wrong ID prefix: expected {expected}, got {got}")]
    WrongPrefix {
        /// The prefix required.
        expected: IdPrefix,
        /// The prefix found.
        got: IdPrefix,
    },
    /// The bytes are not a usable Ed25519 point (not on the curve, small order, or outside the
    /// prime-order subgroup), the checks libsodium's `crypto_sign_ed25519_pk_to_curve25519` makes.
    #[error("not a valid Ed25519 public key")]
    InvalidEd25519Point,
    /// An Ed25519 signature did not verify.
    #[error("signature verification failed")]
    BadSignature,
}

/// Decodes lowercase hex of an exact byte length.
pub(crate) fn decode_hex<const N: usize>(text: &str) -> Result<[u8; N], KeyError> {
    if text.len() != 2 * N {
        return Err(KeyError::WrongLength {
            expected: 2 * N,
            got: text.len(),
        });
    }
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(KeyError::UppercaseHex);
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|_| KeyError::NotHex)?;
    Ok(out)
}

fn array_from_slice<const N: usize>(bytes: &[u8]) -> Result<[u8; N], KeyError> {
    bytes.try_into().map_err(|_| KeyError::WrongLength {
        expected: N,
        got: bytes.len(),
    })
}

/// The 32-byte Ed25519 seed that is an account's only secret (§1.1).
///
/// Zeroized on drop; `Debug` never prints it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Seed([u8; 32]);

impl Seed {
    /// Wraps 32 seed bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 16 → 32 rule of §1.2: 16 bytes of entropy right-padded with 16 zero bytes. This is how
    /// every client seed is made, and what a recovery phrase encodes.
    pub fn from_entropy(entropy: &[u8; 16]) -> Self {
        let mut bytes = [0u8; 32];
        bytes[..16].copy_from_slice(entropy);
        Self(bytes)
    }

    /// The seed bytes. Handle with care: this is the account.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 16 bytes when the last 16 are zero (so the seed has a recovery phrase, §1.2).
    pub fn entropy(&self) -> Option<Zeroizing<[u8; 16]>> {
        let (head, tail) = self.0.split_at(16);
        if tail.iter().any(|&b| b != 0) {
            return None;
        }
        let mut entropy = Zeroizing::new([0u8; 16]);
        entropy.copy_from_slice(head);
        Some(entropy)
    }
}

impl TryFrom<&[u8]> for Seed {
    type Error = KeyError;
    fn try_from(bytes: &[u8]) -> Result<Self, KeyError> {
        array_from_slice(bytes).map(Self)
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Seed(<redacted>)")
    }
}

macro_rules! public_key_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 32]);

        impl $name {
            /// Wraps 32 key bytes.
            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }
            /// The key bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl TryFrom<&[u8]> for $name {
            type Error = KeyError;
            fn try_from(bytes: &[u8]) -> Result<Self, KeyError> {
                array_from_slice(bytes).map(Self)
            }
        }

        /// 64 lowercase hex characters.
        impl FromStr for $name {
            type Err = KeyError;
            fn from_str(text: &str) -> Result<Self, KeyError> {
                decode_hex(text).map(Self)
            }
        }

        /// Public keys are public: shown in full, as lowercase hex.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
    };
}

public_key_type!(
    /// A 32-byte Ed25519 public key (compressed Edwards point). Not validated on construction;
    /// the operations that need a curve point check it.
    Ed25519PublicKey
);
public_key_type!(
    /// A 32-byte X25519 public key (Montgomery u-coordinate), e.g. the body of a Session ID.
    X25519PublicKey
);

impl Ed25519PublicKey {
    /// The birational Edwards → Montgomery map (libsodium
    /// `crypto_sign_ed25519_pk_to_curve25519`), with its checks: the point must decode, not be of
    /// small order and lie in the prime-order subgroup.
    pub fn to_x25519(&self) -> Result<X25519PublicKey, KeyError> {
        super::key_cache::montgomery(&self.0)
            .map(X25519PublicKey)
            .ok_or(KeyError::InvalidEd25519Point)
    }

    /// Verifies a standard (pure) Ed25519 signature with the strict rules libsodium applies
    /// (canonical `S`, no small-order `R` or key).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), KeyError> {
        let key = super::key_cache::verifying_key(&self.0).ok_or(KeyError::InvalidEd25519Point)?;
        key.verify_strict(message, &Signature::from_bytes(signature))
            .map_err(|_| KeyError::BadSignature)
    }
}

impl X25519PublicKey {
    /// The Session ID of this key (prefix `05`).
    pub fn to_session_id(self) -> SessionId {
        SessionId::from_x25519(self)
    }
}

mod ids;
pub use ids::{IdPrefix, PrefixedId, SessionId};

/// An account's key material, derived from its [`Seed`] as §1.1 describes.
///
/// `Debug` shows only the Session ID.
#[derive(Clone)]
pub struct Identity {
    seed: Seed,
    signing: SigningKey,
    /// The clamped X25519 secret scalar bytes: SHA-512(seed)[..32], clamped (libsodium
    /// `crypto_sign_ed25519_sk_to_curve25519`).
    x25519_secret: Zeroizing<[u8; 32]>,
    x25519_public: X25519PublicKey,
}

impl Identity {
    /// Derives every key from a seed.
    pub fn from_seed(seed: Seed) -> Self {
        let signing = SigningKey::from_bytes(seed.expose_secret());
        let mut hash = Zeroizing::new([0u8; 64]);
        hash.copy_from_slice(&Sha512::digest(seed.expose_secret()));
        let mut secret = Zeroizing::new([0u8; 32]);
        secret.copy_from_slice(&hash[..32]);
        secret[0] &= 248;
        secret[31] &= 127;
        secret[31] |= 64;
        // Edwards → Montgomery of the Ed25519 public key; equal to secret·basepoint on X25519.
        let x25519_public = X25519PublicKey(signing.verifying_key().to_montgomery().to_bytes());
        Self {
            seed,
            signing,
            x25519_secret: secret,
            x25519_public,
        }
    }

    /// Restores an account from its 13-word recovery phrase (§1.2).
    pub fn from_phrase(phrase: &str) -> Result<Self, PhraseError> {
        let phrase = RecoveryPhrase::parse(phrase)?;
        Ok(Self::from_seed(phrase.to_seed()))
    }

    /// Makes a new account the way clients do: 16 random bytes, right-padded with 16 zeros.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut entropy = Zeroizing::new([0u8; 16]);
        rng.fill_bytes(&mut entropy[..]);
        Self::from_seed(Seed::from_entropy(&entropy))
    }

    /// The seed (secret).
    pub fn seed(&self) -> &Seed {
        &self.seed
    }

    /// The recovery phrase, if the seed has one (its last 16 bytes are zero, §1.2).
    pub fn recovery_phrase(&self) -> Option<RecoveryPhrase> {
        self.seed
            .entropy()
            .map(|entropy| RecoveryPhrase::from_entropy(&entropy))
    }

    /// The Session ID (`05 ‖ X25519 public key`).
    pub fn session_id(&self) -> SessionId {
        self.x25519_public.to_session_id()
    }

    /// The Ed25519 public key.
    pub fn ed25519_public(&self) -> Ed25519PublicKey {
        Ed25519PublicKey(self.signing.verifying_key().to_bytes())
    }

    /// The X25519 public key.
    pub fn x25519_public(&self) -> X25519PublicKey {
        self.x25519_public
    }

    /// The Ed25519 signing key, for request builders that sign with it
    /// ([`crate::protocol::storage::Signer::Account`]).
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// A standard Ed25519 signature over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// The X25519 secret in libsodium's byte form (clamped), for the sealed box.
    pub(crate) fn x25519_secret_bytes(&self) -> &[u8; 32] {
        &self.x25519_secret
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.session_id().short())
    }
}

#[cfg(test)]
pub(crate) mod tests;
