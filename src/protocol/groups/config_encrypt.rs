//! Config message encryption (groups.md §1.4; LSU `src/config/encrypt.cpp`), used for group
//! info/members (namespaces 13, 14) and user configs (2-5).
//!
//! ```text
//! key   = BLAKE2b-256( key_base (32) ‖ u64 big-endian len(plaintext) ‖ domain )     unkeyed
//! nonce = BLAKE2b-192[key = "libsessionutil-config-encrypted-" ‖ domain]( plaintext )
//! out   = XChaCha20-Poly1305(plaintext, key, nonce, no AD) ‖ nonce                 nonce LAST
//! ```
//! The nonce is derived from the plaintext, so equal plaintexts give equal ciphertexts: that is
//! intended (configs are de-duplicated by hash). Domains are 1..=24 bytes, e.g.
//! `"groups::Info"`, `"groups::Members"`, `"UserProfile"`.

use blake2::digest::consts::{U24, U32};
use blake2::digest::{Digest, KeyInit, Mac};
use blake2::{Blake2b, Blake2bMac};
use chacha20poly1305::aead::Aead;
use chacha20poly1305::XChaCha20Poly1305;
use zeroize::Zeroizing;

/// Prefix of the nonce key.
const NONCE_KEY_PREFIX: &[u8] = b"libsessionutil-config-encrypted-";
/// Nonce plus tag: what encryption adds.
pub const CONFIG_OVERHEAD: usize = NONCE_BYTES + TAG_BYTES;
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;
/// Longest domain (the nonce key must fit BLAKE2b's 64 bytes).
pub const DOMAIN_MAX: usize = 24;

/// Why config encryption or decryption failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConfigEncryptError {
    /// The domain is empty or longer than 24 bytes.
    #[error("config domain must be 1 to 24 bytes")]
    Domain,
    /// Shorter than nonce and tag.
    #[error("config ciphertext too short")]
    TooShort,
    /// Wrong key, wrong domain, or corrupted.
    #[error("config decryption failed")]
    DecryptionFailed,
    /// The cipher refused (only for absurd lengths).
    #[error("config encryption failed")]
    EncryptionFailed,
}

fn check_domain(domain: &str) -> Result<(), ConfigEncryptError> {
    if (1..=DOMAIN_MAX).contains(&domain.len()) {
        Ok(())
    } else {
        Err(ConfigEncryptError::Domain)
    }
}

fn derive_key(key_base: &[u8; 32], plaintext_len: usize, domain: &str) -> Zeroizing<[u8; 32]> {
    let mut hash = Blake2b::<U32>::new();
    Digest::update(&mut hash, key_base);
    Digest::update(&mut hash, (plaintext_len as u64).to_be_bytes());
    Digest::update(&mut hash, domain.as_bytes());
    Zeroizing::new(hash.finalize().into())
}

/// Encrypts a config message (§1.4).
pub fn encrypt_config(
    plaintext: &[u8],
    key_base: &[u8; 32],
    domain: &str,
) -> Result<Vec<u8>, ConfigEncryptError> {
    check_domain(domain)?;
    let mut nonce_key = NONCE_KEY_PREFIX.to_vec();
    nonce_key.extend_from_slice(domain.as_bytes());
    let mut mac = <Blake2bMac<U24> as KeyInit>::new_from_slice(&nonce_key)
        .map_err(|_| ConfigEncryptError::Domain)?;
    Mac::update(&mut mac, plaintext);
    let nonce: [u8; NONCE_BYTES] = mac.finalize().into_bytes().into();
    let key = derive_key(key_base, plaintext.len(), domain);
    let mut out = XChaCha20Poly1305::new((&*key).into())
        .encrypt((&nonce).into(), plaintext)
        .map_err(|_| ConfigEncryptError::EncryptionFailed)?;
    out.extend_from_slice(&nonce);
    Ok(out)
}

/// Decrypts a config message (§1.4): the nonce is the last 24 bytes.
pub fn decrypt_config(
    ciphertext: &[u8],
    key_base: &[u8; 32],
    domain: &str,
) -> Result<Vec<u8>, ConfigEncryptError> {
    check_domain(domain)?;
    let plaintext_len = ciphertext
        .len()
        .checked_sub(CONFIG_OVERHEAD)
        .ok_or(ConfigEncryptError::TooShort)?;
    let (sealed, nonce) = ciphertext.split_at(plaintext_len + TAG_BYTES);
    let nonce: &[u8; NONCE_BYTES] = nonce.try_into().map_err(|_| ConfigEncryptError::TooShort)?;
    let key = derive_key(key_base, plaintext_len, domain);
    XChaCha20Poly1305::new((&*key).into())
        .decrypt(nonce.into(), sealed)
        .map_err(|_| ConfigEncryptError::DecryptionFailed)
}
