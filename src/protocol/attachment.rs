//! Attachment and avatar encryption (messages.md §4, §5.2).
//!
//! Three formats, all pure functions of their inputs (randomness comes in as an rng argument):
//!
//! * **Legacy attachments** (what every client sends and reads; DESKTOP
//!   `attachmentsEncrypter.ts`, `BufferPadding.ts`): a 64-byte key `aesKey(32) ‖ macKey(32)`,
//!   the plaintext zero-padded to [`padded_size`], then
//!
//!   ```text
//!   blob   = IV(16) ‖ AES-256-CBC(aesKey, IV, padded, PKCS#7) ‖ HMAC-SHA256(macKey, IV ‖ ct)(32)
//!   digest = SHA-256(blob)
//!   ```
//!
//!   The `AttachmentPointer` carries `key` (64 B), `digest` and `size` = the **unpadded** length.
//! * **'S' attachments** (libsession `attachment::encrypt`, signalled by `#d` in the URL):
//!   decrypt only, see [`decrypt_stream_attachment`].
//! * **Avatars** (§4): `IV(12) ‖ AES-256-GCM(profileKey, IV, avatar) ‖ tag(16)`, see
//!   [`encrypt_avatar`] / [`decrypt_avatar`].

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

mod avatar;
mod stream;

pub use avatar::{decrypt_avatar, encrypt_avatar, ProfileKey, AVATAR_MIN_BLOB};
pub use stream::{decrypt_stream_attachment, MAX_STREAM_BLOB, STREAM_KEY_LEN};

/// Largest attachment the file server takes, and so the largest plaintext we encrypt
/// (`MAX_ATTACHMENT_FILESIZE_BYTES`, §5.1: "10MB is still ok, one byte more is not").
pub const MAX_ATTACHMENT_BYTES: usize = 10_000_000;

/// Smallest padded size of a legacy attachment (§5.2).
pub const MIN_PADDED_SIZE: usize = 541;

/// Length of a legacy attachment key: AES key then HMAC key.
pub const LEGACY_KEY_LEN: usize = 64;

const IV_LEN: usize = 16;
const MAC_LEN: usize = 32;
/// The largest legacy blob: a full PKCS#7 block on a `MAX_ATTACHMENT_BYTES` plaintext
/// (a multiple of 16), plus IV and MAC.
pub const MAX_LEGACY_BLOB: usize = IV_LEN + MAX_ATTACHMENT_BYTES + 16 + MAC_LEN;

/// Why an attachment or avatar could not be encrypted or decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    /// The plaintext or blob exceeds the size limit of its format.
    #[error("attachment of {0} bytes is too large")]
    TooLarge(usize),
    /// The blob is shorter than its format's fixed parts.
    #[error("attachment blob of {0} bytes is truncated")]
    Truncated(usize),
    /// The key has the wrong length for the format (64 legacy, 32 'S' and avatars).
    #[error("attachment key of {0} bytes has the wrong length")]
    BadKeyLength(usize),
    /// The legacy HMAC-SHA256 over `IV ‖ ciphertext` does not match.
    #[error("attachment MAC mismatch")]
    BadMac,
    /// The SHA-256 digest of the blob does not match the pointer's (or has the wrong length).
    #[error("attachment digest mismatch")]
    BadDigest,
    /// AES-CBC decryption left invalid PKCS#7 padding.
    #[error("attachment ciphertext is malformed")]
    BadCiphertext,
    /// An 'S' blob does not start with `'S'`.
    #[error("unknown attachment format byte 0x{0:02x}")]
    UnknownFormat(u8),
    /// A secretstream chunk failed authentication (wrong key or corrupted data).
    #[error("attachment stream failed authentication")]
    StreamAuthentication,
    /// The 'S' stream's padding is not `0x00…0x01`, or ends before the data starts.
    #[error("attachment stream padding is invalid")]
    BadStreamPadding,
    /// The 'S' stream ends without a FINAL chunk, or has data after it.
    #[error("attachment stream is not terminated correctly")]
    BadStreamEnd,
    /// AES-GCM authentication of an avatar failed (wrong profile key or corrupted data).
    #[error("avatar failed authentication")]
    AvatarAuthentication,
    /// An avatar has no bytes: its blob would be shorter than [`AVATAR_MIN_BLOB`], which every
    /// receiver refuses.
    #[error("an avatar image cannot be empty")]
    EmptyAvatar,
}

/// The 64-byte legacy attachment key `aesKey ‖ macKey` (`AttachmentPointer.key`).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct AttachmentKey([u8; LEGACY_KEY_LEN]);

impl AttachmentKey {
    /// A fresh random key.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut key = [0u8; LEGACY_KEY_LEN];
        rng.fill_bytes(&mut key);
        Self(key)
    }

    /// Wraps 64 key bytes.
    pub fn from_bytes(bytes: [u8; LEGACY_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Reads `AttachmentPointer.key`; it must be 64 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, AttachmentError> {
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| AttachmentError::BadKeyLength(bytes.len()))
    }

    /// The key bytes, to put into `AttachmentPointer.key`.
    pub fn expose_secret(&self) -> &[u8; LEGACY_KEY_LEN] {
        &self.0
    }

    fn aes_key(&self) -> &[u8] {
        &self.0[..32]
    }

    fn mac_key(&self) -> &[u8] {
        &self.0[32..]
    }
}

impl std::fmt::Debug for AttachmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AttachmentKey(<redacted>)")
    }
}

/// A legacy-encrypted attachment: the blob to upload and the pointer fields that go with it.
#[derive(Debug, Clone)]
pub struct EncryptedAttachment {
    /// `IV ‖ ciphertext ‖ MAC`, uploaded as is.
    pub blob: Vec<u8>,
    /// `AttachmentPointer.key`.
    pub key: AttachmentKey,
    /// `AttachmentPointer.digest`: SHA-256 of `blob`.
    pub digest: [u8; 32],
    /// `AttachmentPointer.size`: the unpadded plaintext length.
    pub size: u32,
}

/// The padded length of a legacy attachment of `len` bytes (§5.2, DESKTOP
/// `addAttachmentPadding`): `max(541, floor(1.05^ceil(ln len / ln 1.05)))`, capped at
/// [`MAX_ATTACHMENT_BYTES`] when `len` itself fits.
///
/// Computed in `f64` like the JavaScript original; receivers truncate to `size`, so a last-ulp
/// difference at a bucket boundary would change only the padding, never the content.
pub fn padded_size(len: usize) -> usize {
    #[allow(clippy::cast_precision_loss)] // len ≤ 10^7 here in practice; exact in f64
    let exponent = ((len as f64).ln() / 1.05f64.ln()).ceil();
    let bucket = 1.05f64.powf(exponent).floor();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // ≥ 0, bounded below
    let bucket = if bucket.is_finite() && bucket > 0.0 {
        bucket as usize
    } else {
        0
    };
    let size = bucket.max(MIN_PADDED_SIZE);
    if size > MAX_ATTACHMENT_BYTES && len <= MAX_ATTACHMENT_BYTES {
        MAX_ATTACHMENT_BYTES
    } else {
        size
    }
}

/// Encrypts an attachment in the legacy format with a fresh key and IV.
pub fn encrypt_attachment<R: RngCore + CryptoRng>(
    plaintext: &[u8],
    rng: &mut R,
) -> Result<EncryptedAttachment, AttachmentError> {
    let key = AttachmentKey::random(rng);
    let mut iv = [0u8; IV_LEN];
    rng.fill_bytes(&mut iv);
    encrypt_attachment_with(plaintext, key, iv)
}

/// Encrypts an attachment in the legacy format with the given key and IV (for vectors and
/// callers that manage their own randomness).
pub fn encrypt_attachment_with(
    plaintext: &[u8],
    key: AttachmentKey,
    iv: [u8; IV_LEN],
) -> Result<EncryptedAttachment, AttachmentError> {
    let size = u32::try_from(plaintext.len())
        .ok()
        .filter(|_| plaintext.len() <= MAX_ATTACHMENT_BYTES)
        .ok_or(AttachmentError::TooLarge(plaintext.len()))?;
    let mut padded = Zeroizing::new(plaintext.to_vec());
    padded.resize(padded_size(plaintext.len()), 0);
    let cipher = cbc::Encryptor::<Aes256>::new_from_slices(key.aes_key(), &iv)
        .map_err(|_| AttachmentError::BadKeyLength(key.aes_key().len()))?;
    let ciphertext = cipher.encrypt_padded_vec_mut::<Pkcs7>(&padded);
    let mut blob = Vec::with_capacity(IV_LEN + ciphertext.len() + MAC_LEN);
    blob.extend_from_slice(&iv);
    blob.extend_from_slice(&ciphertext);
    let mac = hmac_sha256(key.mac_key(), &blob)?;
    blob.extend_from_slice(&mac);
    let digest = Sha256::digest(&blob).into();
    Ok(EncryptedAttachment {
        blob,
        key,
        digest,
        size,
    })
}

/// Decrypts a legacy attachment as DESKTOP does (§5.2): check the HMAC (constant time), then the
/// SHA-256 `digest` from the pointer (required), then AES-CBC decrypt, then keep the first
/// `size` bytes. A `size` that is absent or not shorter than the plaintext keeps it whole
/// (DESKTOP `getUnpaddedAttachment`).
pub fn decrypt_attachment(
    blob: &[u8],
    key: &AttachmentKey,
    digest: &[u8],
    size: Option<u32>,
) -> Result<Vec<u8>, AttachmentError> {
    if blob.len() > MAX_LEGACY_BLOB {
        return Err(AttachmentError::TooLarge(blob.len()));
    }
    let body_len = blob
        .len()
        .checked_sub(MAC_LEN)
        .filter(|&n| n >= IV_LEN)
        .ok_or(AttachmentError::Truncated(blob.len()))?;
    let (iv_and_ciphertext, mac) = blob.split_at(body_len);
    let expected = hmac_sha256(key.mac_key(), iv_and_ciphertext)?;
    if !bool::from(expected.ct_eq(mac)) {
        return Err(AttachmentError::BadMac);
    }
    let ours = Sha256::digest(blob);
    if digest.len() != ours.len() || !bool::from(ours.as_slice().ct_eq(digest)) {
        return Err(AttachmentError::BadDigest);
    }
    let (iv, ciphertext) = iv_and_ciphertext.split_at(IV_LEN);
    let cipher = cbc::Decryptor::<Aes256>::new_from_slices(key.aes_key(), iv)
        .map_err(|_| AttachmentError::BadKeyLength(key.aes_key().len()))?;
    let mut plaintext = cipher
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .map_err(|_| AttachmentError::BadCiphertext)?;
    if let Some(size) = size.and_then(|s| usize::try_from(s).ok()) {
        plaintext.truncate(size);
    }
    Ok(plaintext)
}

/// Decrypts the blob an `AttachmentPointer` points to, choosing the format by its key length as
/// the pointer defines it (§5.3): 64 bytes legacy (needs `digest`), 32 bytes 'S'.
pub fn decrypt_for_pointer(
    blob: &[u8],
    key: &[u8],
    digest: Option<&[u8]>,
    size: Option<u32>,
) -> Result<Vec<u8>, AttachmentError> {
    match key.len() {
        LEGACY_KEY_LEN => {
            let key = AttachmentKey::from_slice(key)?;
            decrypt_attachment(blob, &key, digest.ok_or(AttachmentError::BadDigest)?, size)
        }
        STREAM_KEY_LEN => {
            let key: &[u8; STREAM_KEY_LEN] = key
                .try_into()
                .map_err(|_| AttachmentError::BadKeyLength(key.len()))?;
            decrypt_stream_attachment(blob, key)
        }
        other => Err(AttachmentError::BadKeyLength(other)),
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<[u8; MAC_LEN], AttachmentError> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .map_err(|_| AttachmentError::BadKeyLength(key.len()))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests;
