//! The "kicked" notice an admin stores in namespace −11 when removing members (groups.md §6.3),
//! readable by removed members after their subaccount is revoked. DESKTOP
//! `GroupPendingRemovalsJob.ts`: one entry per removed member,
//!
//! ```text
//! plaintext_i = member X25519 key (32, the Session ID without 05) ‖ decimal(current generation)
//! container   = encrypt_for_multiple_simple(plaintexts, members' X25519 keys,
//!                   sender = the group key (as X25519), domain "SessionGroupKickedMessage")
//! ```
//! A member reads it with its own key and the group's X25519 key; it is kicked when the entry
//! names itself and the generation is at least the one it holds.

use rand::{CryptoRng, RngCore};

use super::multi_encrypt::{decrypt_simple, encrypt_simple, MultiEncryptError, KICKED_DOMAIN};
use super::GroupSecret;
use crate::protocol::keys::{Ed25519PublicKey, Identity, SessionId};

/// Why a kicked notice could not be made or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KickedError {
    /// No removed member given.
    #[error("a kicked notice needs at least one member")]
    NoMembers,
    /// The group key is not a valid Ed25519 point.
    #[error("invalid group key")]
    GroupKey,
    /// Multi-recipient encryption or decryption failed (not for us, or malformed).
    #[error(transparent)]
    Multi(#[from] MultiEncryptError),
    /// The entry is not `our key ‖ decimal generation`.
    #[error("kicked notice entry is malformed")]
    Malformed,
}

/// The notice removing `members` at key generation `generation` (no padding, random nonce).
pub fn kicked_notice<R: RngCore + CryptoRng>(
    group: &GroupSecret,
    members: &[SessionId],
    generation: u64,
    rng: &mut R,
) -> Result<Vec<u8>, KickedError> {
    if members.is_empty() {
        return Err(KickedError::NoMembers);
    }
    let plaintexts: Vec<Vec<u8>> = members
        .iter()
        .map(|m| {
            let mut p = m.x25519().as_bytes().to_vec();
            p.extend_from_slice(generation.to_string().as_bytes());
            p
        })
        .collect();
    let messages: Vec<&[u8]> = plaintexts.iter().map(Vec::as_slice).collect();
    let recipients: Vec<_> = members.iter().map(|m| *m.x25519()).collect();
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut nonce);
    Ok(encrypt_simple(
        &messages,
        &recipients,
        &nonce,
        group.as_identity(),
        KICKED_DOMAIN,
        0,
        rng,
    )?)
}

/// Reads a notice as `own`: `Ok(Some(generation))` when it names us, `Err` when no entry is
/// ours. The caller treats itself as kicked when the generation is ≥ the one it holds.
pub fn read_kicked_notice(
    container: &[u8],
    own: &Identity,
    group: &Ed25519PublicKey,
) -> Result<u64, KickedError> {
    let sender = group.to_x25519().map_err(|_| KickedError::GroupKey)?;
    let plain = decrypt_simple(container, own, &sender, KICKED_DOMAIN)?;
    let (key, generation) = plain.split_at_checked(32).ok_or(KickedError::Malformed)?;
    if key != own.x25519_public().as_bytes() {
        return Err(KickedError::Malformed);
    }
    let text = std::str::from_utf8(generation).map_err(|_| KickedError::Malformed)?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(KickedError::Malformed);
    }
    text.parse().map_err(|_| KickedError::Malformed)
}
