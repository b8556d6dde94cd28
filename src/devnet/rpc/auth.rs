//! Request authentication (network.md §4.2, §4.4; SS `request_handler.cpp verify_signature`,
//! `crypto/subaccount.cpp`).

use ed25519_dalek::{Signature, VerifyingKey};

use super::params::{self, Account, Params, ParseResult};
use crate::devnet::net::Node;

/// Subaccount flag `Read`.
pub const READ: u8 = 0x01;
/// Subaccount flag `Write`.
pub const WRITE: u8 = 0x02;
/// Subaccount flag `Delete`.
pub const DELETE: u8 = 0x04;
/// Subaccount flag `AnyPrefix`.
const ANY_PREFIX: u8 = 0x08;

/// Clock tolerance of signature timestamps (`SIGNATURE_TOLERANCE`).
pub const SIGNATURE_TOLERANCE_MS: u64 = 60_000;

/// A subaccount token and the account's signature over it.
#[derive(Debug, Clone, Copy)]
pub struct Subaccount {
    /// 36-byte token: prefix, flags, 2 reserved, subaccount Ed25519 pubkey.
    pub token: [u8; 36],
    /// Account signature over the token bytes.
    pub signature: [u8; 64],
}

/// Parsed auth fields of a request.
#[derive(Debug, Clone, Copy)]
pub struct Auth {
    /// `pubkey_ed25519` (05 accounts only).
    pub ed25519: Option<[u8; 32]>,
    /// Request signature.
    pub signature: [u8; 64],
    /// Optional subaccount.
    pub subaccount: Option<Subaccount>,
}

/// Parses `signature`, `pubkey_ed25519`, `subaccount`, `subaccount_sig` (SS `load_pk_signature`).
pub fn parse(p: &Params<'_>, account: &Account) -> ParseResult<Auth> {
    let sig = params::require("signature", p.str("signature")?)?;
    let ed25519 = match p.str("pubkey_ed25519")? {
        None => None,
        Some(_) if account.prefix() != 0x05 => {
            return Err("pubkey_ed25519 is only permitted for 05[...] pubkeys".into())
        }
        Some(ed) if ed.len() == 64 => Some(
            hex::decode(ed)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or("invalid pubkey_ed25519: value is not hex")?,
        ),
        Some(ed) if ed.len() == 32 => <[u8; 32]>::try_from(ed.as_bytes()).ok(),
        Some(_) => {
            return Err("Invalid pubkey_ed25519: expected 64 hex char or 32 byte pubkey".into())
        }
    };
    let signature = params::parse_signature(sig, "invalid signature")?;
    Ok(Auth {
        ed25519,
        signature,
        subaccount: parse_subaccount(p)?,
    })
}

fn parse_subaccount(p: &Params<'_>) -> ParseResult<Option<Subaccount>> {
    let Some(token) = p.str("subaccount")?.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let Some(sig) = p.str("subaccount_sig")? else {
        return Err("invalid subaccount: subaccount_sig is required when using subaccount".into());
    };
    let token = params::parse_token(token)
        .ok_or("invalid subaccount: expected base64 or hex-encoded subaccount token")?;
    let signature = params::parse_signature(sig, "invalid subaccount signature")?;
    Ok(Some(Subaccount { token, signature }))
}

/// Verifies `msg` for `account`, exactly as SS does: a 05 account with `pubkey_ed25519` must
/// have that key convert to its X25519 key; a subaccount must match the prefix, carry
/// `required` flags, be signed by the account key and not be revoked (unless `skip_revoke`).
pub fn verify(
    node: &Node,
    account: &Account,
    auth: &Auth,
    required: u8,
    skip_revoke: bool,
    msg: &[u8],
) -> bool {
    let mut pk = account.key();
    if account.prefix() == 0x05 {
        if let Some(ed) = auth.ed25519 {
            let Ok(vk) = VerifyingKey::from_bytes(&ed) else {
                return false;
            };
            if vk.to_montgomery().to_bytes() != account.key() {
                return false;
            }
            pk = ed;
        }
    }
    if let Some(sub) = &auth.subaccount {
        if !skip_revoke && node.store().is_revoked(account, &sub.token) {
            return false;
        }
        let prefix_ok = sub.token[0] == account.prefix() || sub.token[1] & ANY_PREFIX != 0;
        if !prefix_ok || sub.token[1] & required != required {
            return false;
        }
        if !ed_verify(&pk, &sub.token, &sub.signature) {
            return false;
        }
        pk.copy_from_slice(&sub.token[4..]);
    }
    ed_verify(&pk, msg, &auth.signature)
}

fn ed_verify(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(pk)
        .map(|vk| vk.verify_strict(msg, &Signature::from_bytes(sig)).is_ok())
        .unwrap_or(false)
}

/// True when `ts` is within ±`tolerance` ms of `now`.
pub fn within(ts: u64, now: u64, tolerance: u64) -> bool {
    ts.abs_diff(now) <= tolerance
}
