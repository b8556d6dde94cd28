//! Multi-recipient encryption: one message (or one per recipient) sealed for many X25519 keys
//! under one nonce (groups.md §2.4; LSU `src/multi_encrypt.cpp`). Groups use it for the kicked
//! notice in namespace −11 (domain `"SessionGroupKickedMessage"`, §6.3).
//!
//! ```text
//! entry_i = XChaCha20-Poly1305(msg_i, nonce, key_i)        (tag appended, no nonce, no AD)
//! key_i   = BLAKE2b-256[key = domain[..64]]( X25519(a, B_i) ‖ A ‖ B_i )
//!           a, A: the sender's X25519 key pair; B_i: the recipient's X25519 key
//! simple container = bencode {"#": nonce (24), "e": [entry…]}
//!           optionally padded with random entries, as long as the first, to a multiple of `pad`
//! ```
//! A recipient tries every entry with its own key; entries are unlabelled, so nobody learns
//! which entry is whose.

use std::collections::BTreeMap;

use blake2::digest::consts::U32;
use blake2::digest::{KeyInit, Mac};
use blake2::Blake2bMac;
use chacha20poly1305::aead::Aead;
use chacha20poly1305::XChaCha20Poly1305;
use rand::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::protocol::bencode::BtValue;
use crate::protocol::keys::{Identity, X25519PublicKey};

/// XChaCha20-Poly1305 nonce length.
pub const NONCE_BYTES: usize = 24;
/// Poly1305 tag length: each entry is the message length plus this.
pub const TAG_BYTES: usize = 16;
/// The domain of group kicked notices (§6.3).
pub const KICKED_DOMAIN: &[u8] = b"SessionGroupKickedMessage";

/// Why multi-recipient encryption or decryption failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MultiEncryptError {
    /// Neither one message for all, nor one per recipient.
    #[error("need one message, or one per recipient")]
    MessageCount,
    /// A recipient key gives an all-zero shared secret (a small-order point).
    #[error("unusable recipient key")]
    BadKey,
    /// No entry decrypted with our key.
    #[error("no entry is for us")]
    NotForUs,
    /// The container is not `{"#": 24 bytes, "e": [byte strings]}`.
    #[error("malformed multi-recipient container")]
    Malformed,
    /// The cipher refused (only for absurd lengths).
    #[error("encryption failed")]
    EncryptionFailed,
}

/// The X25519 key pair of an Ed25519 account or group key (libsodium `*_to_curve25519`).
fn x25519_pair(keys: &Identity) -> (&[u8; 32], X25519PublicKey) {
    (keys.x25519_secret_bytes(), keys.x25519_public())
}

/// `key_i` of the module documentation; `None` for an all-zero shared secret, which libsodium's
/// `crypto_scalarmult` refuses.
fn entry_key(
    own_secret: &[u8; 32],
    other: &X25519PublicKey,
    sender: &X25519PublicKey,
    recipient: &X25519PublicKey,
    domain: &[u8],
) -> Option<Zeroizing<[u8; 32]>> {
    let shared = Zeroizing::new(x25519_dalek::x25519(*own_secret, *other.as_bytes()));
    if shared.iter().all(|&b| b == 0) {
        return None;
    }
    let key = domain.get(..64).unwrap_or(domain);
    let mut mac = <Blake2bMac<U32> as KeyInit>::new_from_slice(key).ok()?;
    Mac::update(&mut mac, &shared[..]);
    Mac::update(&mut mac, sender.as_bytes());
    Mac::update(&mut mac, recipient.as_bytes());
    Some(Zeroizing::new(mac.finalize().into_bytes().into()))
}

/// Encrypts for `recipients` (§2.4). `messages` holds one message for all, or one per
/// recipient in the same order. Returns one entry per recipient.
pub fn encrypt_for_multiple(
    messages: &[&[u8]],
    recipients: &[X25519PublicKey],
    nonce: &[u8; NONCE_BYTES],
    sender: &Identity,
    domain: &[u8],
) -> Result<Vec<Vec<u8>>, MultiEncryptError> {
    if messages.len() != 1 && messages.len() != recipients.len() {
        return Err(MultiEncryptError::MessageCount);
    }
    let (secret, public) = x25519_pair(sender);
    recipients
        .iter()
        .enumerate()
        .map(|(i, recipient)| {
            let message = messages.get(i).or(messages.first()).copied().unwrap_or(&[]);
            let key = entry_key(secret, recipient, &public, recipient, domain)
                .ok_or(MultiEncryptError::BadKey)?;
            XChaCha20Poly1305::new((&*key).into())
                .encrypt(nonce.into(), message)
                .map_err(|_| MultiEncryptError::EncryptionFailed)
        })
        .collect()
}

/// Finds and opens the entry for `own` among `entries` sent by `sender` (§2.4).
pub fn decrypt_for_multiple<'a>(
    entries: impl IntoIterator<Item = &'a [u8]>,
    nonce: &[u8; NONCE_BYTES],
    own: &Identity,
    sender: &X25519PublicKey,
    domain: &[u8],
) -> Result<Vec<u8>, MultiEncryptError> {
    let (secret, public) = x25519_pair(own);
    let key =
        entry_key(secret, sender, sender, &public, domain).ok_or(MultiEncryptError::BadKey)?;
    let cipher = XChaCha20Poly1305::new((&*key).into());
    entries
        .into_iter()
        .filter(|entry| entry.len() >= TAG_BYTES)
        .find_map(|entry| cipher.decrypt(nonce.into(), entry).ok())
        .ok_or(MultiEncryptError::NotForUs)
}

/// The "simple" container (`encrypt_for_multiple_simple`): `{"#": nonce, "e": [entries]}`,
/// padded with random entries the size of the first up to a multiple of `pad` (`pad` ≤ 1: none).
pub fn encrypt_simple<R: RngCore + CryptoRng>(
    messages: &[&[u8]],
    recipients: &[X25519PublicKey],
    nonce: &[u8; NONCE_BYTES],
    sender: &Identity,
    domain: &[u8],
    pad: usize,
    rng: &mut R,
) -> Result<Vec<u8>, MultiEncryptError> {
    let mut entries = encrypt_for_multiple(messages, recipients, nonce, sender, domain)?;
    let junk_len = entries.first().map_or(0, Vec::len);
    while pad > 1 && entries.len() % pad != 0 {
        let mut junk = vec![0u8; junk_len];
        rng.fill_bytes(&mut junk);
        entries.push(junk);
    }
    let mut dict = BTreeMap::new();
    dict.insert(b"#".to_vec(), BtValue::Bytes(nonce.to_vec()));
    dict.insert(
        b"e".to_vec(),
        BtValue::List(entries.into_iter().map(BtValue::Bytes).collect()),
    );
    Ok(BtValue::Dict(dict).encode())
}

/// Opens a simple container (`decrypt_for_multiple_simple`). Unknown keys are ignored, as
/// oxenc's dict consumer skips them.
pub fn decrypt_simple(
    container: &[u8],
    own: &Identity,
    sender: &X25519PublicKey,
    domain: &[u8],
) -> Result<Vec<u8>, MultiEncryptError> {
    let BtValue::Dict(dict) =
        BtValue::decode(container).map_err(|_| MultiEncryptError::Malformed)?
    else {
        return Err(MultiEncryptError::Malformed);
    };
    let nonce: &[u8; NONCE_BYTES] = dict
        .get(&b"#"[..])
        .and_then(BtValue::as_bytes)
        .and_then(|n| n.try_into().ok())
        .ok_or(MultiEncryptError::Malformed)?;
    let Some(BtValue::List(items)) = dict.get(&b"e"[..]) else {
        return Err(MultiEncryptError::Malformed);
    };
    let entries = items
        .iter()
        .map(|item| item.as_bytes().ok_or(MultiEncryptError::Malformed))
        .collect::<Result<Vec<_>, _>>()?;
    decrypt_for_multiple(entries, nonce, own, sender, domain)
}
