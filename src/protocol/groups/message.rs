//! Group message encryption (namespace 11): groups.md §5, messages.md §6.2; LSU
//! `src/session_encrypt.cpp` (`encrypt_for_group`, `decrypt_group_message`).
//!
//! ```text
//! data  = zstd(payload) if that is shorter ("z"), else payload ("d")     payload ≤ 1 000 000
//! sig   = Ed25519(sender, data ‖ group_ed25519_pk)       the current form (§5 refinement (a))
//! plain = bencode {"": 1, "a": sender_ed_pk, "d"|"z": data, "s": sig} ‖ 0x00…
//!         zero padding so that 40 + len(plain) is a multiple of 256  (trailing, §5 (c))
//! out   = nonce (24, random) ‖ XChaCha20-Poly1305(plain, group key, nonce, no AD)
//! ```
//! Decryption tries the caller's keys in the order given (pending key, then newest first: the
//! key list is the group keys' business), strips trailing zeros, requires a `d…e` dict of
//! version 1 with exactly one non-empty `d`/`z`, verifies `s` with `a`, then decompresses at
//! most 1 000 000 bytes. The sender is `05 ‖ X25519(a)`.
//!
//! What the payload is for chat messages (an Envelope around a plaintext Content) is in
//! [`super::envelope`].

use std::fmt;
use std::io::Read;

use chacha20poly1305::aead::Aead;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use rand::{CryptoRng, RngCore};

use crate::protocol::bencode::BtValue;
use crate::protocol::keys::{Ed25519PublicKey, Identity, SessionId};

/// Largest payload (before compression) a group message may carry
/// (`GROUPS_MAX_PLAINTEXT_MESSAGE_SIZE`), and the bound on decompression.
pub const MAX_PLAINTEXT: usize = 1_000_000;
/// The padding block: nonce, tag and padded plaintext together are a multiple of it.
pub const PADDING: usize = 256;
/// The format version in the `""` key.
pub const VERSION: i64 = 1;
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;
/// Nonce plus tag: what encryption adds.
pub const OVERHEAD: usize = NONCE_BYTES + TAG_BYTES;
/// zstd level (any level reads back; LSU's exact bytes are not reproducible, groups.md §9).
const COMPRESSION_LEVEL: i32 = 1;

/// Why a group message could not be built or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GroupMessageError {
    /// The payload exceeds [`MAX_PLAINTEXT`].
    #[error("group message payload of {0} bytes exceeds 1000000")]
    TooLarge(usize),
    /// The payload is empty (LSU refuses an empty `d`).
    #[error("group message payload is empty")]
    Empty,
    /// zstd failed to compress.
    #[error("compression failed")]
    Compression,
    /// The cipher refused (only for absurd lengths).
    #[error("encryption failed")]
    EncryptionFailed,
    /// Shorter than nonce and tag.
    #[error("group message ciphertext too short")]
    TooShort,
    /// None of the given keys opens it.
    #[error("no group key decrypts this message")]
    NoKey,
    /// The unpadded plaintext is not one canonical bencoded dict.
    #[error("group message plaintext is not a bencoded dict")]
    NotADict,
    /// `""` is missing or not 1.
    #[error("unsupported group message version")]
    Version,
    /// `a` is missing, not 32 bytes, or not a valid Ed25519 key.
    #[error("group message author key is missing or invalid")]
    BadAuthor,
    /// `s` is missing or not 64 bytes.
    #[error("group message signature is missing or malformed")]
    MissingSignature,
    /// Neither or both of `d` and `z`, or an empty one.
    #[error("group message must carry exactly one non-empty d or z")]
    BadData,
    /// The signature does not verify over `data ‖ group key`.
    #[error("group message signature does not verify")]
    BadSignature,
    /// `z` is not a zstd frame, or expands beyond [`MAX_PLAINTEXT`].
    #[error("group message decompression failed")]
    Decompression,
}

/// The symmetric group encryption key of one key generation (groups.md §2). `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct GroupEncKey([u8; 32]);

impl GroupEncKey {
    /// Wraps 32 key bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key bytes (secret).
    pub const fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for GroupEncKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GroupEncKey(..)")
    }
}

impl Drop for GroupEncKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Encrypts `payload` from `sender` for the group whose Ed25519 key is `group` with `key` (the
/// current generation's).
pub fn encrypt_group_message<R: RngCore + CryptoRng>(
    sender: &Identity,
    group: &Ed25519PublicKey,
    key: &GroupEncKey,
    payload: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, GroupMessageError> {
    if payload.len() > MAX_PLAINTEXT {
        return Err(GroupMessageError::TooLarge(payload.len()));
    }
    if payload.is_empty() {
        return Err(GroupMessageError::Empty);
    }
    let compressed = zstd::bulk::compress(payload, COMPRESSION_LEVEL)
        .map_err(|_| GroupMessageError::Compression)?;
    let (data_key, data) = if compressed.len() < payload.len() {
        (b"z", compressed)
    } else {
        (b"d", payload.to_vec())
    };
    let mut to_sign = data.clone();
    to_sign.extend_from_slice(group.as_bytes());
    let signature = sender.sign(&to_sign);
    let dict = BtValue::Dict(
        [
            (b"".to_vec(), BtValue::Int(VERSION)),
            (
                b"a".to_vec(),
                BtValue::Bytes(sender.ed25519_public().as_bytes().to_vec()),
            ),
            (data_key.to_vec(), BtValue::Bytes(data)),
            (b"s".to_vec(), BtValue::Bytes(signature.to_vec())),
        ]
        .into_iter()
        .collect(),
    );
    let mut plain = zeroize::Zeroizing::new(dict.encode());
    let len = plain.len();
    let rem = (OVERHEAD + len) % PADDING;
    if rem != 0 {
        plain.resize(len + PADDING - rem, 0);
    }
    let mut nonce = [0u8; NONCE_BYTES];
    rng.fill_bytes(&mut nonce);
    let sealed = XChaCha20Poly1305::new(key.expose_secret().into())
        .encrypt((&nonce).into(), plain.as_slice())
        .map_err(|_| GroupMessageError::EncryptionFailed)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// A decrypted, verified group message.
#[derive(Clone, PartialEq, Eq)]
pub struct GroupMessage {
    author: Ed25519PublicKey,
    sender: SessionId,
    key_index: usize,
    payload: Vec<u8>,
}

impl GroupMessage {
    /// The author's Ed25519 key (`a`), which signed it.
    pub fn author(&self) -> &Ed25519PublicKey {
        &self.author
    }

    /// The author's Session ID, `05 ‖ X25519(a)`.
    pub fn sender(&self) -> SessionId {
        self.sender
    }

    /// Which of the given keys opened it.
    pub fn key_index(&self) -> usize {
        self.key_index
    }

    /// The payload (decompressed).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Takes the payload out.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }
}

impl fmt::Debug for GroupMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupMessage")
            .field("sender", &self.sender)
            .field("key_index", &self.key_index)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// Decrypts and verifies a namespace-11 message of the group `group`, trying `keys` in order.
pub fn decrypt_group_message(
    ciphertext: &[u8],
    group: &Ed25519PublicKey,
    keys: &[GroupEncKey],
) -> Result<GroupMessage, GroupMessageError> {
    if ciphertext.len() < OVERHEAD {
        return Err(GroupMessageError::TooShort);
    }
    let (nonce, sealed) = ciphertext.split_at(NONCE_BYTES);
    let nonce: &[u8; NONCE_BYTES] = nonce.try_into().map_err(|_| GroupMessageError::TooShort)?;
    let (key_index, plain) = keys
        .iter()
        .enumerate()
        .find_map(|(i, key)| {
            XChaCha20Poly1305::new(key.expose_secret().into())
                .decrypt(nonce.into(), sealed)
                .ok()
                .map(|p| (i, zeroize::Zeroizing::new(p)))
        })
        .ok_or(GroupMessageError::NoKey)?;
    let end = plain
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    let body = plain.get(..end).ok_or(GroupMessageError::NotADict)?;
    if body.first() != Some(&b'd') || body.last() != Some(&b'e') {
        return Err(GroupMessageError::NotADict);
    }
    let BtValue::Dict(dict) = BtValue::decode(body).map_err(|_| GroupMessageError::NotADict)?
    else {
        return Err(GroupMessageError::NotADict);
    };
    if dict.get(&b""[..]).and_then(BtValue::as_int) != Some(VERSION) {
        return Err(GroupMessageError::Version);
    }
    let author: [u8; 32] = dict
        .get(&b"a"[..])
        .and_then(BtValue::as_bytes)
        .and_then(|a| a.try_into().ok())
        .ok_or(GroupMessageError::BadAuthor)?;
    let author = Ed25519PublicKey::from_bytes(author);
    let sender = author
        .to_x25519()
        .map_err(|_| GroupMessageError::BadAuthor)?
        .to_session_id();
    let plain_data = field_bytes(&dict, b"d")?;
    let signature: [u8; 64] = dict
        .get(&b"s"[..])
        .and_then(BtValue::as_bytes)
        .and_then(|s| s.try_into().ok())
        .ok_or(GroupMessageError::MissingSignature)?;
    let compressed = field_bytes(&dict, b"z")?;
    let (data, is_compressed) = match (plain_data, compressed) {
        (Some(d), None) if !d.is_empty() => (d, false),
        (None, Some(z)) if !z.is_empty() => (z, true),
        _ => return Err(GroupMessageError::BadData),
    };
    let mut signed = data.to_vec();
    signed.extend_from_slice(group.as_bytes());
    author
        .verify(&signed, &signature)
        .map_err(|_| GroupMessageError::BadSignature)?;
    let payload = if is_compressed {
        decompress(data)?
    } else {
        data.to_vec()
    };
    Ok(GroupMessage {
        author,
        sender,
        key_index,
        payload,
    })
}

fn field_bytes<'a>(
    dict: &'a std::collections::BTreeMap<Vec<u8>, BtValue>,
    key: &[u8],
) -> Result<Option<&'a [u8]>, GroupMessageError> {
    match dict.get(key) {
        None => Ok(None),
        Some(value) => value.as_bytes().map(Some).ok_or(GroupMessageError::BadData),
    }
}

fn decompress(frame: &[u8]) -> Result<Vec<u8>, GroupMessageError> {
    let decoder =
        zstd::stream::read::Decoder::new(frame).map_err(|_| GroupMessageError::Decompression)?;
    let mut out = Vec::new();
    decoder
        .take(MAX_PLAINTEXT as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| GroupMessageError::Decompression)?;
    if out.is_empty() || out.len() > MAX_PLAINTEXT {
        return Err(GroupMessageError::Decompression);
    }
    Ok(out)
}
