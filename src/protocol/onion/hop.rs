//! Per-hop encryption of onion layers (`network.md` §5.1; SS `crypto/channel_encryption.cpp`,
//! LS `src/onionreq/hop_encryption.cpp`).
//!
//! Both sides compute `S = X25519(a, B) = X25519(b, A)`, where `(a, A)` is the client's fresh
//! ephemeral keypair for the layer and `(b, B)` the recipient's static X25519 keypair, then:
//!
//! * AES-GCM: key = `HMAC-SHA256(key = "LOKI", msg = S)`;
//!   ciphertext = `IV (12) ‖ AES-256-GCM(pt) ‖ tag (16)`, no AAD.
//! * XChaCha20: key = `BLAKE2b-256(S ‖ A ‖ B)` (client key first in both directions);
//!   ciphertext = `nonce (24) ‖ XChaCha20-Poly1305(pt) ‖ tag (16)`, no AAD.
//!
//! Replies use the same key in the other direction.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::Aes256Gcm;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use chacha20poly1305::XChaCha20Poly1305;
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::EncType;
use crate::protocol::key_agreement;

const GCM_IV_LEN: usize = 12;
const XCHACHA_NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Why a hop could not be encrypted or decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HopError {
    /// The peer's X25519 key is a low-order point: the shared secret is all zeros (libsodium's
    /// `crypto_scalarmult` refuses it, and so do we).
    #[error("X25519 key agreement produced a non-contributory (all-zero) secret")]
    WeakKey,
    /// The ciphertext is shorter than nonce + tag.
    #[error("ciphertext too short")]
    TooShort,
    /// The authentication tag did not verify (wrong key, wrong cipher, or tampering).
    #[error("ciphertext failed authentication")]
    Authentication,
    /// The plaintext is too long for the cipher.
    #[error("plaintext too long to encrypt")]
    TooLong,
}

/// The symmetric key of one onion layer, bound to its cipher. `Debug` redacts the key.
#[derive(Clone)]
pub struct SharedKey {
    enc: EncType,
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedKey")
            .field("enc", &self.enc)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl SharedKey {
    /// The client's key for a layer: its ephemeral secret `a` and the recipient's key `B`.
    pub fn client(
        enc: EncType,
        ephemeral: &StaticSecret,
        recipient: &PublicKey,
    ) -> Result<Self, HopError> {
        let ephemeral_public = PublicKey::from(ephemeral);
        Ok(LayerSecret::client(ephemeral, &ephemeral_public, recipient)?.key(enc))
    }

    /// The recipient's key for a layer: its static secret `b` and the layer's ephemeral key `A`.
    pub fn recipient(
        enc: EncType,
        own: &StaticSecret,
        ephemeral: &PublicKey,
    ) -> Result<Self, HopError> {
        let own_pub = PublicKey::from(own);
        let s = agree(own, ephemeral)?;
        Ok(Self::from_secret(enc, &s, ephemeral, &own_pub))
    }

    fn from_secret(enc: EncType, s: &[u8; 32], client: &PublicKey, recipient: &PublicKey) -> Self {
        SharedKey {
            enc,
            key: derive_key(enc, s, client.as_bytes(), recipient.as_bytes()),
        }
    }

    /// The cipher this key is for.
    pub fn enc_type(&self) -> EncType {
        self.enc
    }

    /// Encrypts with a fresh random nonce: `nonce ‖ ciphertext ‖ tag`.
    pub fn encrypt<R: RngCore + CryptoRng>(
        &self,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, HopError> {
        match self.enc {
            EncType::AesGcm => {
                let mut iv = [0u8; GCM_IV_LEN];
                rng.fill_bytes(&mut iv);
                let cipher = Aes256Gcm::new(&(*self.key).into());
                let ct = cipher
                    .encrypt(&iv.into(), plaintext)
                    .map_err(|_| HopError::TooLong)?;
                Ok([iv.as_slice(), &ct].concat())
            }
            EncType::XChaCha20 => {
                let mut nonce = [0u8; XCHACHA_NONCE_LEN];
                rng.fill_bytes(&mut nonce);
                let cipher = XChaCha20Poly1305::new(&(*self.key).into());
                let ct = cipher
                    .encrypt(&nonce.into(), plaintext)
                    .map_err(|_| HopError::TooLong)?;
                Ok([nonce.as_slice(), &ct].concat())
            }
        }
    }

    /// Decrypts `nonce ‖ ciphertext ‖ tag`.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, HopError> {
        match self.enc {
            EncType::AesGcm => {
                let (iv, body) = split_nonce::<GCM_IV_LEN>(ciphertext)?;
                Aes256Gcm::new(&(*self.key).into())
                    .decrypt(&iv.into(), body)
                    .map_err(|_| HopError::Authentication)
            }
            EncType::XChaCha20 => {
                let (nonce, body) = split_nonce::<XCHACHA_NONCE_LEN>(ciphertext)?;
                XChaCha20Poly1305::new(&(*self.key).into())
                    .decrypt(&nonce.into(), body)
                    .map_err(|_| HopError::Authentication)
            }
        }
    }
}

/// The client's side of one layer's key agreement: `S = X25519(a, B)` with `A` and `B`, from
/// which the layer's key for either cipher is derived. The builder keeps the destination
/// layer's, so the reply is decrypted (and retried under AES-GCM, see `reply.rs`) without a
/// second scalar multiplication. No `Debug`: secret.
pub struct LayerSecret {
    secret: Zeroizing<[u8; 32]>,
    client: PublicKey,
    recipient: PublicKey,
}

impl LayerSecret {
    /// Agrees on the layer's secret from the ephemeral `a` (with `A = pub(a)`) and `B`.
    pub fn client(
        ephemeral: &StaticSecret,
        ephemeral_public: &PublicKey,
        recipient: &PublicKey,
    ) -> Result<Self, HopError> {
        Ok(Self {
            secret: agree_with_node(ephemeral, recipient)?,
            client: *ephemeral_public,
            recipient: *recipient,
        })
    }

    /// The layer's key for `enc`.
    pub fn key(&self, enc: EncType) -> SharedKey {
        SharedKey::from_secret(enc, &self.secret, &self.client, &self.recipient)
    }
}

/// Splits off an `N`-byte nonce, requiring room for the tag after it.
fn split_nonce<const N: usize>(ciphertext: &[u8]) -> Result<([u8; N], &[u8]), HopError> {
    if ciphertext.len() < N + TAG_LEN {
        return Err(HopError::TooShort);
    }
    let (nonce, body) = ciphertext.split_at(N);
    let nonce: [u8; N] = nonce.try_into().map_err(|_| HopError::TooShort)?;
    Ok((nonce, body))
}

/// `S = X25519(secret, public)` with a key not met again (the recipient's side: a layer's
/// ephemeral key), refusing the all-zero result as libsodium does.
fn agree(secret: &StaticSecret, public: &PublicKey) -> Result<Zeroizing<[u8; 32]>, HopError> {
    key_agreement::agree_once(secret.as_bytes(), public.as_bytes()).ok_or(HopError::WeakKey)
}

/// [`agree`] with a node's key, which the client meets again and again: through the
/// [`key_agreement`] tables (same result, less CPU).
fn agree_with_node(
    ephemeral: &StaticSecret,
    node: &PublicKey,
) -> Result<Zeroizing<[u8; 32]>, HopError> {
    key_agreement::agree(ephemeral.as_bytes(), node.as_bytes()).ok_or(HopError::WeakKey)
}

/// Derives the layer key from `S` and both public keys (§5.1).
pub(crate) fn derive_key(
    enc: EncType,
    s: &[u8; 32],
    client: &[u8; 32],
    recipient: &[u8; 32],
) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    match enc {
        EncType::AesGcm => {
            // HMAC zero-pads keys shorter than the 64-byte block, so "LOKI" padded to a full
            // block is the same key; taking the block-sized form needs no fallible constructor.
            let mut block = [0u8; 64];
            block[..4].copy_from_slice(b"LOKI");
            let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
            mac.update(s);
            key.copy_from_slice(&mac.finalize().into_bytes());
        }
        EncType::XChaCha20 => {
            let mut h = Blake2b::<U32>::new();
            h.update(s);
            h.update(client);
            h.update(recipient);
            key.copy_from_slice(&h.finalize());
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    #[test]
    fn round_trip_both_ciphers_and_overheads() {
        let server = StaticSecret::random_from_rng(OsRng);
        let eph = StaticSecret::random_from_rng(OsRng);
        for (enc, overhead) in [(EncType::AesGcm, 28), (EncType::XChaCha20, 40)] {
            let c = SharedKey::client(enc, &eph, &PublicKey::from(&server)).unwrap();
            let s = SharedKey::recipient(enc, &server, &PublicKey::from(&eph)).unwrap();
            let ct = c.encrypt(b"Goodbye world", &mut OsRng).unwrap();
            assert_eq!(ct.len(), 13 + overhead);
            assert_eq!(s.decrypt(&ct).unwrap(), b"Goodbye world");
            let back = s.encrypt(b"reply", &mut OsRng).unwrap();
            assert_eq!(c.decrypt(&back).unwrap(), b"reply");
        }
    }

    #[test]
    fn low_order_key_is_refused() {
        let eph = StaticSecret::random_from_rng(OsRng);
        let zero = PublicKey::from([0u8; 32]);
        assert_eq!(
            SharedKey::client(EncType::AesGcm, &eph, &zero).unwrap_err(),
            HopError::WeakKey
        );
    }

    #[test]
    fn short_ciphertext_is_refused() {
        let k = SharedKey::client(
            EncType::XChaCha20,
            &StaticSecret::random_from_rng(OsRng),
            &PublicKey::from(&StaticSecret::random_from_rng(OsRng)),
        )
        .unwrap();
        assert_eq!(k.decrypt(&[0u8; 39]).unwrap_err(), HopError::TooShort);
        assert_eq!(k.decrypt(&[0u8; 40]).unwrap_err(), HopError::Authentication);
    }
}
