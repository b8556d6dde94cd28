//! Avatar encryption (messages.md §4, DESKTOP `profileEncrypter.ts`):
//!
//! ```text
//! blob = IV(12, random) ‖ AES-256-GCM(profileKey, IV, avatar) ‖ tag(16)
//! ```
//!
//! The 32-byte profile key travels in `DataMessage.profileKey` (6) and
//! `MessageRequestResponse.profileKey` (2).

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand::{CryptoRng, RngCore};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::AttachmentError;

const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Smallest avatar blob DESKTOP accepts: IV, tag and at least one byte.
pub const AVATAR_MIN_BLOB: usize = IV_LEN + TAG_LEN + 1;

/// The 32-byte AES key of a profile picture.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ProfileKey([u8; 32]);

impl ProfileKey {
    /// A fresh random key.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        Self(key)
    }

    /// Wraps 32 key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Reads a `profileKey` field; it must be 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, AttachmentError> {
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| AttachmentError::BadKeyLength(bytes.len()))
    }

    /// The key bytes, to put into `profileKey`.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for ProfileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProfileKey(<redacted>)")
    }
}

/// Encrypts an avatar image with a fresh random IV. An empty image is refused: its blob would
/// be too short for [`decrypt_avatar`] (found by the `attachment` fuzz target's round trip).
pub fn encrypt_avatar<R: RngCore + CryptoRng>(
    avatar: &[u8],
    key: &ProfileKey,
    rng: &mut R,
) -> Result<Vec<u8>, AttachmentError> {
    if avatar.is_empty() {
        return Err(AttachmentError::EmptyAvatar);
    }
    let mut iv = [0u8; IV_LEN];
    rng.fill_bytes(&mut iv);
    let ciphertext = Aes256Gcm::new((&key.0).into())
        .encrypt(Nonce::from_slice(&iv), avatar)
        .map_err(|_| AttachmentError::TooLarge(avatar.len()))?;
    Ok([iv.as_slice(), &ciphertext].concat())
}

/// Decrypts an avatar blob; fails on blobs under [`AVATAR_MIN_BLOB`] bytes or a bad tag.
pub fn decrypt_avatar(blob: &[u8], key: &ProfileKey) -> Result<Vec<u8>, AttachmentError> {
    if blob.len() < AVATAR_MIN_BLOB {
        return Err(AttachmentError::Truncated(blob.len()));
    }
    let (iv, ciphertext) = blob.split_at(IV_LEN);
    Aes256Gcm::new((&key.0).into())
        .decrypt(Nonce::from_slice(iv), ciphertext)
        .map_err(|_| AttachmentError::AvatarAuthentication)
}
