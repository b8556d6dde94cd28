//! One-to-one (DM) encryption: sign-then-seal, and the matching decrypt-and-verify.
//!
//! Facts: `../shared/protocol/messages.md` §2.1 (encryption), §2.2 (decryption), vector §2.3 in
//! `tests/vectors/dm.json`.
//!
//! Wire format of a DM ciphertext (libsodium sealed box of a signed plaintext):
//!
//! ```text
//! EPK (32) ‖ crypto_box(P, nonce, Y, esk): MAC (16) ‖ XSalsa20(P)
//! P     = M ‖ A (32, sender Ed25519 key) ‖ SIG (64, Ed25519 over M ‖ A ‖ Y)
//! nonce = BLAKE2b-192(EPK ‖ Y)            Y = recipient X25519 key, without the 05
//! ```
//!
//! `M` is the padded `Content` protobuf; this module neither pads nor parses it.

use std::fmt;

use blake2::digest::consts::{U24, U32};
use blake2::digest::{Digest, KeyInit, Mac};
use blake2::{Blake2b, Blake2bMac};
use crypto_secretbox::aead::generic_array::GenericArray;
use crypto_secretbox::aead::Aead;
use crypto_secretbox::XSalsa20Poly1305;
use rand::{CryptoRng, RngCore};
use sha2::Sha512;
use zeroize::Zeroizing;

use super::key_agreement;
use super::keys::{Ed25519PublicKey, Identity, KeyError, SessionId, X25519PublicKey};

/// Bytes a sealed box adds: the ephemeral public key and the Poly1305 tag.
pub const SEAL_OVERHEAD: usize = 32 + 16;
/// Bytes the signature step adds: the sender's Ed25519 key and the signature.
pub const SIGNATURE_OVERHEAD: usize = 32 + 64;
/// The shortest ciphertext `decrypt_incoming` accepts (an empty message).
pub const MIN_CIPHERTEXT: usize = SEAL_OVERHEAD + SIGNATURE_OVERHEAD;

/// Key of the BLAKE2b hash that derives the deterministic ephemeral seed (§2.1).
const EPHEMERAL_HASH_KEY: &[u8] = b"SessionBoxEphemeralHashKey";

/// Why a DM could not be encrypted or decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DmError {
    /// Shorter than the 144 bytes of an empty signed, sealed message.
    #[error("ciphertext too short: {0} bytes")]
    TooShort(usize),
    /// The ephemeral or recipient X25519 key is of small order (libsodium refuses these).
    #[error("X25519 key of small order")]
    WeakKey,
    /// The sealed box did not open: not for us, or corrupted.
    #[error("decryption failed")]
    DecryptionFailed,
    /// The inner Ed25519 signature does not verify.
    #[error("sender signature does not verify")]
    BadSignature,
    /// The sender's Ed25519 key is not a usable point, so it has no Session ID.
    #[error("invalid sender key")]
    InvalidSenderKey,
    /// The cipher refused to encrypt (only possible for absurd lengths).
    #[error("encryption failed")]
    EncryptionFailed,
}

/// A verified incoming DM.
#[derive(Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// `M`: the (still padded) plaintext.
    pub plaintext: Vec<u8>,
    /// `A`: the sender's Ed25519 key, whose signature was verified.
    pub sender_ed25519: Ed25519PublicKey,
    /// `05 ‖ x25519(A)`.
    pub sender_session_id: SessionId,
}

impl fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypted")
            .field(
                "plaintext",
                &format_args!("<{} bytes>", self.plaintext.len()),
            )
            .field("sender_session_id", &self.sender_session_id)
            .finish()
    }
}

/// `P = M ‖ A ‖ Ed25519(M ‖ A ‖ Y)` (§2.1 steps 1–2).
fn sign_for_recipient(sender: &Identity, recipient: &X25519PublicKey, message: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(message.len() + SIGNATURE_OVERHEAD);
    buf.extend_from_slice(message);
    buf.extend_from_slice(sender.ed25519_public().as_bytes());
    buf.extend_from_slice(recipient.as_bytes());
    let signature = sender.sign(&buf);
    buf.truncate(buf.len() - 32);
    buf.extend_from_slice(&signature);
    buf
}

/// The sealed-box nonce: unkeyed BLAKE2b-192 of `EPK ‖ Y`.
fn seal_nonce(ephemeral: &[u8; 32], recipient: &[u8; 32]) -> GenericArray<u8, U24> {
    let mut hash = Blake2b::<U24>::new();
    Digest::update(&mut hash, ephemeral);
    Digest::update(&mut hash, recipient);
    hash.finalize()
}

/// libsodium's `crypto_box_beforenm` from an agreed X25519 secret: the XSalsa20-Poly1305 key
/// is HSalsa20(S, 0). `None` (the secret was all zeros: a small-order public key, which
/// libsodium's `crypto_box` refuses) is [`DmError::WeakKey`].
fn box_cipher(shared: Option<Zeroizing<[u8; 32]>>) -> Result<XSalsa20Poly1305, DmError> {
    let shared = shared.ok_or(DmError::WeakKey)?;
    let key = Zeroizing::new(salsa20::hsalsa::<salsa20::cipher::consts::U10>(
        GenericArray::from_slice(&shared[..]),
        &GenericArray::default(),
    ));
    Ok(XSalsa20Poly1305::new(&key))
}

/// `EPK ‖ crypto_box_easy(P, nonce, Y, esk)` for a given ephemeral secret.
fn seal_with(
    ephemeral_secret: &[u8; 32],
    recipient: &X25519PublicKey,
    plaintext: &[u8],
) -> Result<Vec<u8>, DmError> {
    // A recipient is met again and again (a peer, the sync copy's own account): its tables.
    let cipher = box_cipher(key_agreement::agree(ephemeral_secret, recipient.as_bytes()))?;
    let epk = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*ephemeral_secret));
    let nonce = seal_nonce(epk.as_bytes(), recipient.as_bytes());
    let boxed = cipher
        .encrypt(&nonce, plaintext)
        .map_err(|_| DmError::EncryptionFailed)?;
    let mut out = Vec::with_capacity(SEAL_OVERHEAD + plaintext.len());
    out.extend_from_slice(epk.as_bytes());
    out.extend_from_slice(&boxed);
    Ok(out)
}

/// Signs and seals `message` for `recipient` with a random ephemeral key (libsession
/// `encrypt_for_recipient`, what clients send).
pub fn encrypt_for_recipient<R: RngCore + CryptoRng>(
    sender: &Identity,
    recipient: &X25519PublicKey,
    message: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, DmError> {
    let signed = Zeroizing::new(sign_for_recipient(sender, recipient, message));
    let mut ephemeral = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(&mut ephemeral[..]);
    seal_with(&ephemeral, recipient, &signed)
}

/// The same wire format with the ephemeral key derived from the sender seed, recipient and
/// message (libsession `encrypt_for_recipient_deterministic`): seed =
/// BLAKE2b-256(key = "SessionBoxEphemeralHashKey", seed32 ‖ Y ‖ M), and the key pair is
/// libsodium `crypto_box_seed_keypair(seed)`, whose secret is SHA-512(seed)[..32].
pub fn encrypt_for_recipient_deterministic(
    sender: &Identity,
    recipient: &X25519PublicKey,
    message: &[u8],
) -> Result<Vec<u8>, DmError> {
    let signed = Zeroizing::new(sign_for_recipient(sender, recipient, message));
    let mut mac = <Blake2bMac<U32> as KeyInit>::new_from_slice(EPHEMERAL_HASH_KEY)
        .map_err(|_| DmError::EncryptionFailed)?;
    Mac::update(&mut mac, sender.seed().expose_secret());
    Mac::update(&mut mac, recipient.as_bytes());
    Mac::update(&mut mac, message);
    let seed = Zeroizing::new(mac.finalize().into_bytes());
    let hash = Zeroizing::new(Sha512::digest(&seed[..]));
    let mut ephemeral = Zeroizing::new([0u8; 32]);
    ephemeral.copy_from_slice(&hash[..32]);
    seal_with(&ephemeral, recipient, &signed)
}

/// Opens a DM addressed to `own` and verifies its signature (§2.2).
pub fn decrypt_incoming(own: &Identity, ciphertext: &[u8]) -> Result<Decrypted, DmError> {
    if ciphertext.len() < MIN_CIPHERTEXT {
        return Err(DmError::TooShort(ciphertext.len()));
    }
    let (epk, boxed) = ciphertext.split_at(32);
    let epk: [u8; 32] = epk.try_into().map_err(|_| DmError::TooShort(0))?;
    // The sender's ephemeral key is new each time: the ladder, no table.
    let cipher = box_cipher(key_agreement::agree_once(own.x25519_secret_bytes(), &epk))?;
    let own_public = own.x25519_public();
    let nonce = seal_nonce(&epk, own_public.as_bytes());
    let mut plaintext = cipher
        .decrypt(&nonce, boxed)
        .map_err(|_| DmError::DecryptionFailed)?;

    // P = M ‖ A ‖ SIG; the length check above guarantees at least 96 bytes.
    let message_len = plaintext
        .len()
        .checked_sub(SIGNATURE_OVERHEAD)
        .ok_or(DmError::TooShort(ciphertext.len()))?;
    let tail = plaintext.split_off(message_len);
    let (sender, signature) = tail.split_at(32);
    let sender = Ed25519PublicKey::try_from(sender).map_err(|_| DmError::InvalidSenderKey)?;
    let signature: [u8; 64] = signature
        .try_into()
        .map_err(|_| DmError::InvalidSenderKey)?;

    let mut signed = Zeroizing::new(Vec::with_capacity(message_len + 64));
    signed.extend_from_slice(&plaintext);
    signed.extend_from_slice(sender.as_bytes());
    signed.extend_from_slice(own_public.as_bytes());
    sender
        .verify(&signed, &signature)
        .map_err(|error| match error {
            KeyError::BadSignature => DmError::BadSignature,
            _ => DmError::InvalidSenderKey,
        })?;
    let sender_session_id = sender
        .to_x25519()
        .map_err(|_| DmError::InvalidSenderKey)?
        .to_session_id();
    Ok(Decrypted {
        plaintext,
        sender_ed25519: sender,
        sender_session_id,
    })
}

#[cfg(test)]
mod tests;
