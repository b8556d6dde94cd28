//! Subaccount authentication of group members to the group swarm (groups.md §4; LSU
//! `keys.cpp` `subaccount_blind_factor`, `swarm_make_subaccount`, `swarm_subaccount_token`,
//! `swarm_subaccount_sign`, `swarm_verify_subaccount`).
//!
//! The admin grants a member a *blinded* copy of its key: `kT`, where `T` is the member's
//! Ed25519 key with the positive sign and `k` a per-member factor only the admin can compute.
//! The member signs with the scalar `k·t`, so nodes see neither the member's key nor a link
//! between its groups.
//!
//! ```text
//! memberAuthData (100 bytes; GroupUpdateInviteMessage.memberAuthData, UserGroups "s"):
//!   [0]       0x03 network prefix
//!   [1]       flags: READ 0x01 | WRITE 0x02 | DELETE 0x04 | ANY_PREFIX 0x08
//!   [2..4]    0x00 0x00 reserved
//!   [4..36]   k (the scalar, not kT)
//!   [36..100] Ed25519 signature by the group key over  [0..4] ‖ kT   (= the 36-byte token)
//! k  = reduce(BLAKE2b-512[key = BLAKE2b-256[key "SessionGroupSubaccountMask"](group seed)]
//!                        (0x05 ‖ member X25519 ‖ 0x03 ‖ group Ed25519 pk))
//! ```

use std::fmt;

use blake2::digest::consts::{U32, U64};
use blake2::digest::{KeyInit, Mac};
use blake2::Blake2bMac;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::Scalar;
use ed25519_dalek::Signature;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use super::GroupSecret;
use crate::protocol::blinding::{mul_point, positive_ed25519};
use crate::protocol::keys::{Ed25519PublicKey, Identity, SessionId};
use crate::protocol::storage::{SubaccountFlags, SubaccountToken, SUBACCOUNT_TOKEN_BYTES};

/// Length of [`MemberAuthData`].
pub const MEMBER_AUTH_DATA_BYTES: usize = 100;
/// The network prefix of groups, first byte of every group token.
pub const GROUP_PREFIX: u8 = 0x03;

const MASK_KEY: &[u8] = b"SessionGroupSubaccountMask";
const SEED_KEY: &[u8] = b"SubaccountSeed";
const SIG_KEY: &[u8] = b"SubaccountSig";

/// Why a subaccount operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubaccountError {
    /// Not 100 bytes.
    #[error("member auth data must be 100 bytes")]
    Length,
    /// A key or `k` gives no usable curve point.
    #[error("not a usable curve point")]
    InvalidPoint,
    /// The prefix is not `03` and the token lacks `ANY_PREFIX`.
    #[error("member auth data is not for a group")]
    WrongPrefix,
    /// The grant lacks a permission asked for.
    #[error("member auth data lacks a required permission")]
    MissingPermission,
    /// The group key did not sign this grant for this member.
    #[error("member auth data signature does not verify")]
    BadSignature,
}

fn keyed<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    // Every key here is a constant or a 32-byte hash, within BLAKE2b's 64-byte limit, so
    // `new_from_slice` cannot fail; an empty output would only make verification fail.
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
        return Zeroizing::new(Vec::new());
    };
    for part in parts {
        Mac::update(&mut mac, part);
    }
    Zeroizing::new(mac.finalize().into_bytes().to_vec())
}

fn wide_scalar(bytes: &[u8]) -> Scalar {
    let mut wide = Zeroizing::new([0u8; 64]);
    if let Some(src) = bytes.get(..64) {
        wide.copy_from_slice(src);
    }
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// `k` for `member` in `group` (§4.1).
fn blind_factor(group: &GroupSecret, member: &SessionId) -> Zeroizing<Scalar> {
    let mask = keyed::<Blake2bMac<U32>>(MASK_KEY, &[group.seed().expose_secret()]);
    let hash = keyed::<Blake2bMac<U64>>(
        &mask,
        &[
            &[0x05],
            member.x25519().as_bytes(),
            &[GROUP_PREFIX],
            group.public().as_bytes(),
        ],
    );
    Zeroizing::new(wide_scalar(&hash))
}

/// `k` from its 32 bytes, read as libsodium's `crypto_scalarmult_ed25519_noclamp` reads it:
/// the top bit is ignored and the value is taken mod ℓ.
fn noclamp_scalar(bytes: &[u8; 32]) -> Scalar {
    let mut k = *bytes;
    k[31] &= 0x7f;
    Scalar::from_bytes_mod_order(k)
}

/// The 36-byte token granting `flags` to `member`, computed by an admin without the member
/// (`swarm_subaccount_token`); what `revoke_subaccount`/`unrevoke_subaccount` list.
pub fn subaccount_token(
    group: &GroupSecret,
    member: &SessionId,
    flags: SubaccountFlags,
) -> Result<SubaccountToken, SubaccountError> {
    let k = blind_factor(group, member);
    let t = positive_ed25519(member.x25519()).map_err(|_| SubaccountError::InvalidPoint)?;
    let kt = mul_point(&k, &t).map_err(|_| SubaccountError::InvalidPoint)?;
    Ok(SubaccountToken::new(GROUP_PREFIX, flags, &kt))
}

/// A member's grant (§4.2); see the module documentation for the layout.
#[derive(Clone, PartialEq, Eq)]
pub struct MemberAuthData([u8; MEMBER_AUTH_DATA_BYTES]);

impl MemberAuthData {
    /// Makes the grant an admin sends with an invite (`swarm_make_subaccount`); desktop uses
    /// `READ | WRITE`.
    pub fn new(
        group: &GroupSecret,
        member: &SessionId,
        flags: SubaccountFlags,
    ) -> Result<Self, SubaccountError> {
        let token = subaccount_token(group, member, flags)?;
        let k = blind_factor(group, member);
        let mut bytes = [0u8; MEMBER_AUTH_DATA_BYTES];
        bytes[..4].copy_from_slice(&token.as_bytes()[..4]);
        bytes[4..36].copy_from_slice(k.as_bytes());
        bytes[36..].copy_from_slice(&group.sign(token.as_bytes()));
        Ok(Self(bytes))
    }

    /// The 100 bytes.
    pub const fn as_bytes(&self) -> &[u8; MEMBER_AUTH_DATA_BYTES] {
        &self.0
    }

    /// The permission bits.
    pub const fn flags(&self) -> SubaccountFlags {
        SubaccountFlags(self.0[1])
    }

    fn k_bytes(&self) -> [u8; 32] {
        let mut k = [0u8; 32];
        k.copy_from_slice(&self.0[4..36]);
        k
    }

    fn admin_signature(&self) -> [u8; 64] {
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&self.0[36..]);
        sig
    }

    /// The token this grant is for, given the member's own Ed25519 key (`T` = that key with
    /// the sign bit cleared).
    pub fn token_for(&self, member: &Ed25519PublicKey) -> Result<SubaccountToken, SubaccountError> {
        let mut t = *member.as_bytes();
        t[31] &= 0x7f;
        let kt = mul_point(&noclamp_scalar(&self.k_bytes()), &t)
            .map_err(|_| SubaccountError::InvalidPoint)?;
        let mut token = [0u8; SUBACCOUNT_TOKEN_BYTES];
        token[..4].copy_from_slice(&self.0[..4]);
        token[4..].copy_from_slice(&kt);
        Ok(SubaccountToken::from_bytes(token))
    }

    /// The member-side check of an invite's grant (`swarm_verify_subaccount`): group prefix
    /// (or `ANY_PREFIX`), `READ` plus whatever `required` adds, and the group's signature over
    /// the token derived for `member`.
    pub fn verify(
        &self,
        group: &Ed25519PublicKey,
        member: &Ed25519PublicKey,
        required: SubaccountFlags,
    ) -> Result<(), SubaccountError> {
        let token = self.token_for(member)?;
        token
            .check_access(GROUP_PREFIX, required | SubaccountFlags::READ)
            .map_err(|e| match e {
                crate::protocol::storage::SubaccountCheckError::WrongPrefix => {
                    SubaccountError::WrongPrefix
                }
                _ => SubaccountError::MissingPermission,
            })?;
        group
            .verify(token.as_bytes(), &self.admin_signature())
            .map_err(|_| SubaccountError::BadSignature)
    }
}

impl TryFrom<&[u8]> for MemberAuthData {
    type Error = SubaccountError;
    fn try_from(bytes: &[u8]) -> Result<Self, SubaccountError> {
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| SubaccountError::Length)
    }
}

/// `k` is the member's secret share; only the flags are shown.
impl fmt::Debug for MemberAuthData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemberAuthData(flags={:02x})", self.0[1])
    }
}

/// A member's signing state for one group (`swarm_subaccount_sign`, §4.4): the token, the
/// admin's signature over it, and the blinded signing scalar `a = k·t`. `Debug` redacts.
#[derive(Clone)]
pub struct MemberSubaccount {
    token: SubaccountToken,
    token_signature: Signature,
    scalar: Zeroizing<Scalar>,
    /// `BLAKE2b-256[key "SubaccountSeed"](own seed)`, the deterministic nonce key.
    nonce_key: Zeroizing<Vec<u8>>,
}

impl MemberSubaccount {
    /// The signer for `identity` holding `auth`. Does not check the grant; see
    /// [`MemberAuthData::verify`].
    pub fn new(identity: &Identity, auth: &MemberAuthData) -> Result<Self, SubaccountError> {
        let own = identity.ed25519_public();
        let token = auth.token_for(&own)?;
        let mut t = Zeroizing::new(Scalar::from_bytes_mod_order(
            *identity.x25519_secret_bytes(),
        ));
        if own.as_bytes()[31] & 0x80 != 0 {
            *t = -*t;
        }
        let scalar = Zeroizing::new(Scalar::from_bytes_mod_order(auth.k_bytes()) * *t);
        Ok(Self {
            token,
            token_signature: Signature::from_bytes(&auth.admin_signature()),
            scalar,
            nonce_key: keyed::<Blake2bMac<U32>>(SEED_KEY, &[identity.seed().expose_secret()]),
        })
    }

    /// The token sent as `subaccount`.
    pub const fn token(&self) -> &SubaccountToken {
        &self.token
    }

    /// The group's signature over the token, sent as `subaccount_sig`.
    pub const fn token_signature(&self) -> &Signature {
        &self.token_signature
    }

    /// Signs a storage request's signature string (§4.7) so that it verifies as plain Ed25519
    /// under the token's key `kT`:
    /// `r = reduce(BLAKE2b-512[key "SubaccountSig"](nonce key ‖ kT ‖ msg))`, `R = r·B`,
    /// `S = r + reduce(SHA-512(R ‖ kT ‖ msg))·a`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let kt = self.token.pubkey();
        let r_hash = keyed::<Blake2bMac<U64>>(SIG_KEY, &[&self.nonce_key, &kt, message]);
        let r = Zeroizing::new(wide_scalar(&r_hash));
        let big_r = EdwardsPoint::mul_base(&r).compress().to_bytes();
        let mut hram = Sha512::new();
        hram.update(big_r);
        hram.update(kt);
        hram.update(message);
        let h = Scalar::from_bytes_mod_order_wide(&hram.finalize().into());
        let s = *r + h * *self.scalar;
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&big_r);
        signature[32..].copy_from_slice(s.as_bytes());
        signature
    }
}

impl fmt::Debug for MemberSubaccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemberSubaccount({:?})", self.token)
    }
}
