//! Community (SOGS) blinding: blind15 and blind25 key pairs and IDs, blinded signatures, the
//! version-blinded key, and blinded DMs (the community inbox, in `inbox.rs`).
//!
//! Facts: `../shared/protocol/messages.md` §7.1 (keys), §7.2 (signatures), §1.3 (`07` version
//! key), §2.4 (blinded DMs). Vectors: §7.4 in `tests/vectors/blinding.json`.
//!
//! Notation as in the notes: `a` is the account's X25519 secret read as an Ed25519 scalar
//! (libsodium `crypto_sign_ed25519_sk_to_curve25519`), `A = a·B` its Ed25519 key, `k` the
//! blinding factor, `kA` the blinded public key; a blinded ID is `15 ‖ kA` or `25 ‖ kA`.

use std::fmt;
use std::str::FromStr;

use blake2::digest::consts::{U32, U64};
use blake2::digest::{Digest, KeyInit, Mac};
use blake2::{Blake2b512, Blake2bMac};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::traits::IsIdentity;
use curve25519_dalek::Scalar;
use ed25519_dalek::{Signer, SigningKey};
use sha2::Sha512;
use zeroize::Zeroizing;

use super::keys::{
    Ed25519PublicKey, IdPrefix, Identity, KeyError, PrefixedId, SessionId, X25519PublicKey,
};

/// BLAKE2b keys of the blind25 signature nonce (§7.4, libsession `blind25_sign`).
const BLIND25_SEED_KEY: &[u8] = b"SessCommBlind25_seed";
const BLIND25_SIG_KEY: &[u8] = b"SessCommBlind25_sig";
/// BLAKE2b key deriving the version-blinded seed (§1.3).
const VERSION_KEY: &[u8] = b"VersionCheckKey_sig";

/// Why a blinding operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlindingError {
    /// A key is not a point of the prime-order subgroup, or multiplying it gave the identity
    /// (libsodium `crypto_scalarmult_ed25519_noclamp` refuses the same inputs).
    #[error("not a usable curve point")]
    InvalidPoint,
    /// The ID is not a `15` or `25` blinded ID.
    #[error("not a blinded ID: prefix {0}")]
    NotBlinded(IdPrefix),
    /// Sender and recipient IDs of a blinded DM use different blindings.
    #[error("sender and recipient IDs must both be 15- or both 25-blinded")]
    MixedBlinding,
    /// The ciphertext is too short or has an unknown version byte.
    #[error("malformed blinded message")]
    Malformed,
    /// The message did not decrypt: not for us, or corrupted.
    #[error("decryption failed")]
    DecryptionFailed,
    /// The sender key inside the message does not blind to the claimed sender ID.
    #[error("the claimed sender does not match the key inside the message")]
    SenderMismatch,
    /// The cipher refused to encrypt (only possible for absurd lengths).
    #[error("encryption failed")]
    EncryptionFailed,
    /// An ID could not be parsed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Which blinding an ID uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Blinding {
    /// `15`: `k` from the server key only; what clients use for SOGS auth today.
    V15,
    /// `25`: `k'` from the Session ID and server key; unique per account, not yet used for auth.
    V25,
}

impl Blinding {
    /// The ID prefix.
    pub const fn prefix(self) -> IdPrefix {
        match self {
            Self::V15 => IdPrefix::Blinded15,
            Self::V25 => IdPrefix::Blinded25,
        }
    }
}

/// A community blinded ID: `15 ‖ kA` or `25 ‖ kA` (33 bytes; 66 lowercase hex characters).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlindedId {
    blinding: Blinding,
    key: Ed25519PublicKey,
}

impl BlindedId {
    /// Builds an ID from its parts.
    pub const fn new(blinding: Blinding, key: Ed25519PublicKey) -> Self {
        Self { blinding, key }
    }
    /// The blinding.
    pub const fn blinding(&self) -> Blinding {
        self.blinding
    }
    /// `kA`, an Ed25519 key that verifies the holder's blinded signatures.
    pub const fn key(&self) -> &Ed25519PublicKey {
        &self.key
    }
    /// As a general prefixed ID.
    pub fn to_prefixed(&self) -> PrefixedId {
        PrefixedId::new(self.blinding.prefix(), *self.key.as_bytes())
    }
    /// The other candidate for a 15-blinded ID: the sign bit of `kA` flipped (§7.1).
    pub fn sign_flipped(&self) -> Self {
        let mut key = *self.key.as_bytes();
        key[31] ^= 0x80;
        Self::new(self.blinding, Ed25519PublicKey::from_bytes(key))
    }
    /// A shortened form for logs.
    pub fn short(&self) -> String {
        self.to_prefixed().short()
    }
}

impl TryFrom<PrefixedId> for BlindedId {
    type Error = BlindingError;
    fn try_from(id: PrefixedId) -> Result<Self, BlindingError> {
        let blinding = match id.prefix() {
            IdPrefix::Blinded15 => Blinding::V15,
            IdPrefix::Blinded25 => Blinding::V25,
            other => return Err(BlindingError::NotBlinded(other)),
        };
        Ok(Self::new(blinding, Ed25519PublicKey::from_bytes(*id.key())))
    }
}

impl FromStr for BlindedId {
    type Err = BlindingError;
    fn from_str(text: &str) -> Result<Self, BlindingError> {
        text.parse::<PrefixedId>()?.try_into()
    }
}

/// Blinded IDs are public and shown in full; use [`BlindedId::short`] in logs.
impl fmt::Display for BlindedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_prefixed().fmt(f)
    }
}

impl fmt::Debug for BlindedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlindedId({})", self.short())
    }
}

/// A blinded key pair: the ID and the blinded secret scalar `ka`. `Debug` shows only the ID.
#[derive(Clone)]
pub struct BlindedKeyPair {
    id: BlindedId,
    secret: Zeroizing<Scalar>,
}

impl BlindedKeyPair {
    /// The blinded ID (`kA` with its prefix).
    pub fn id(&self) -> &BlindedId {
        &self.id
    }
}

impl fmt::Debug for BlindedKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlindedKeyPair({})", self.id.short())
    }
}

/// `a`: the account's X25519 secret bytes read as a scalar mod ℓ.
fn account_scalar(identity: &Identity) -> Zeroizing<Scalar> {
    Zeroizing::new(Scalar::from_bytes_mod_order(
        *identity.x25519_secret_bytes(),
    ))
}

/// `k = reduce(BLAKE2b-512(server_pk))` (§7.1).
pub(crate) fn blind15_factor(server: &X25519PublicKey) -> Scalar {
    let hash: [u8; 64] = Blake2b512::digest(server.as_bytes()).into();
    Scalar::from_bytes_mod_order_wide(&hash)
}

/// `k' = reduce(BLAKE2b-512(05 ‖ X ‖ server_pk))` (§7.1), before any sign correction.
fn blind25_factor(session_id: &SessionId, server: &X25519PublicKey) -> Scalar {
    let mut hash = Blake2b512::new();
    Digest::update(&mut hash, session_id.to_bytes());
    Digest::update(&mut hash, server.as_bytes());
    let hash: [u8; 64] = hash.finalize().into();
    Scalar::from_bytes_mod_order_wide(&hash)
}

/// Decodes a point the way libsodium's `crypto_scalarmult_ed25519_noclamp` accepts it:
/// canonical, not of small order, in the prime-order subgroup.
pub(crate) fn decode_point(bytes: &[u8; 32]) -> Result<EdwardsPoint, BlindingError> {
    CompressedEdwardsY(*bytes)
        .decompress()
        .filter(|p| p.compress().as_bytes() == bytes && !p.is_small_order() && p.is_torsion_free())
        .ok_or(BlindingError::InvalidPoint)
}

/// `scalar · point`, refusing an identity result as libsodium does.
pub(crate) fn mul_point(scalar: &Scalar, point: &[u8; 32]) -> Result<[u8; 32], BlindingError> {
    let product = scalar * decode_point(point)?;
    if product.is_identity() {
        return Err(BlindingError::InvalidPoint);
    }
    Ok(product.compress().to_bytes())
}

/// The Ed25519 key with the positive sign that a Session ID's X25519 key maps to
/// (libsession `xed25519::pubkey`): `y = (u − 1)/(u + 1)`.
pub(crate) fn positive_ed25519(x25519: &X25519PublicKey) -> Result<[u8; 32], BlindingError> {
    MontgomeryPoint(*x25519.as_bytes())
        .to_edwards(0)
        .map(|p| p.compress().to_bytes())
        .ok_or(BlindingError::InvalidPoint)
}

/// The blind15 key pair: `ka = k·a`, `kA = ka·B` (§7.1).
pub fn blind15_key_pair(identity: &Identity, server: &X25519PublicKey) -> BlindedKeyPair {
    let secret = Zeroizing::new(blind15_factor(server) * *account_scalar(identity));
    blinded_pair(Blinding::V15, secret)
}

/// `k'` for this account, negated when its Ed25519 key is negative so that `k'·A = k·|A|`.
fn own_blind25_factor(identity: &Identity, server: &X25519PublicKey) -> Scalar {
    let k = blind25_factor(&identity.session_id(), server);
    if identity.ed25519_public().as_bytes()[31] & 0x80 != 0 {
        -k
    } else {
        k
    }
}

/// The blind25 key pair: `ka = k'·a`, `kA = ka·B` (§7.1).
pub fn blind25_key_pair(identity: &Identity, server: &X25519PublicKey) -> BlindedKeyPair {
    let secret = Zeroizing::new(own_blind25_factor(identity, server) * *account_scalar(identity));
    blinded_pair(Blinding::V25, secret)
}

fn blinded_pair(blinding: Blinding, secret: Zeroizing<Scalar>) -> BlindedKeyPair {
    let public = EdwardsPoint::mul_base(&secret).compress().to_bytes();
    BlindedKeyPair {
        id: BlindedId::new(blinding, Ed25519PublicKey::from_bytes(public)),
        secret,
    }
}

/// The two candidate blind15 IDs of someone known only by Session ID: `k·A` for the positive
/// Ed25519 key, then the same with the sign bit flipped. The account's own key pair gives one of
/// them (the second when its Ed25519 key is negative).
pub fn blind15_ids(
    session_id: &SessionId,
    server: &X25519PublicKey,
) -> Result<[BlindedId; 2], BlindingError> {
    let ed = positive_ed25519(session_id.x25519())?;
    let key = mul_point(&blind15_factor(server), &ed)?;
    let first = BlindedId::new(Blinding::V15, Ed25519PublicKey::from_bytes(key));
    Ok([first, first.sign_flipped()])
}

/// The blind25 ID of a Session ID (unique: it uses `|A|`).
pub fn blind25_id(
    session_id: &SessionId,
    server: &X25519PublicKey,
) -> Result<BlindedId, BlindingError> {
    let ed = positive_ed25519(session_id.x25519())?;
    let key = mul_point(&blind25_factor(session_id, server), &ed)?;
    Ok(BlindedId::new(
        Blinding::V25,
        Ed25519PublicKey::from_bytes(key),
    ))
}

/// The blinded ID of a known Ed25519 key (libsession `blinded15_id_from_ed` /
/// `blinded25_id_from_ed`), and the Session ID it belongs to.
pub fn blinded_id_from_ed25519(
    blinding: Blinding,
    ed25519: &Ed25519PublicKey,
    server: &X25519PublicKey,
) -> Result<(BlindedId, SessionId), BlindingError> {
    let session_id = ed25519.to_x25519()?.to_session_id();
    let key = match blinding {
        Blinding::V15 => mul_point(&blind15_factor(server), ed25519.as_bytes())?,
        Blinding::V25 => {
            let mut positive = *ed25519.as_bytes();
            positive[31] &= 0x7f;
            mul_point(&blind25_factor(&session_id, server), &positive)?
        }
    };
    Ok((
        BlindedId::new(blinding, Ed25519PublicKey::from_bytes(key)),
        session_id,
    ))
}

/// Whether a blinded ID belongs to a Session ID (either blind15 candidate, or the blind25 ID).
pub fn session_id_matches_blinded_id(
    session_id: &SessionId,
    blinded: &BlindedId,
    server: &X25519PublicKey,
) -> Result<bool, BlindingError> {
    Ok(match blinded.blinding() {
        Blinding::V15 => blind15_ids(session_id, server)?.contains(blinded),
        Blinding::V25 => blind25_id(session_id, server)? == *blinded,
    })
}

/// EdDSA with a blinded scalar: `R = r·B`, `S = r + reduce(SHA-512(R ‖ kA ‖ msg))·ka`; verifies
/// as an ordinary Ed25519 signature under `kA`.
fn sign_with_nonce(pair: &BlindedKeyPair, r: &Scalar, message: &[u8]) -> [u8; 64] {
    let big_r = EdwardsPoint::mul_base(r).compress().to_bytes();
    let mut hram = Sha512::new();
    Digest::update(&mut hram, big_r);
    Digest::update(&mut hram, pair.id.key().as_bytes());
    Digest::update(&mut hram, message);
    let hram: [u8; 64] = hram.finalize().into();
    let s = r + Scalar::from_bytes_mod_order_wide(&hram) * *pair.secret;
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&big_r);
    signature[32..].copy_from_slice(s.as_bytes());
    signature
}

/// Which bytes seed the nonce of a blind15 signature (communities.md §2.3). Both rules give valid
/// signatures (the nonce is private); they differ only in the bytes produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blind15Nonce {
    /// libsession `blind15_sign`: `H_rh = SHA-512(seed ‖ A)[32..]` (the 64-byte secret key).
    Libsession,
    /// Session Desktop, PYSOGS tests and `contrib/auth-example.py`: `H_rh = SHA-512(seed)[32..]`.
    Desktop,
}

/// A blind15 signature (§7.2), with libsession's nonce rule
/// `r = reduce(SHA-512(SHA-512(seed ‖ A)[32..] ‖ kA ‖ msg))`.
pub fn blind15_sign(identity: &Identity, server: &X25519PublicKey, message: &[u8]) -> [u8; 64] {
    blind15_sign_with(identity, server, message, Blind15Nonce::Libsession)
}

/// A blind15 signature with the chosen nonce rule:
/// `r = reduce(SHA-512(H_rh ‖ kA ‖ msg))`, `H_rh` as [`Blind15Nonce`] says.
pub fn blind15_sign_with(
    identity: &Identity,
    server: &X25519PublicKey,
    message: &[u8],
    rule: Blind15Nonce,
) -> [u8; 64] {
    let pair = blind15_key_pair(identity, server);
    let mut sk64 = Zeroizing::new([0u8; 64]);
    sk64[..32].copy_from_slice(identity.seed().expose_secret());
    sk64[32..].copy_from_slice(identity.ed25519_public().as_bytes());
    let hashed = match rule {
        Blind15Nonce::Libsession => &sk64[..],
        Blind15Nonce::Desktop => &sk64[..32],
    };
    let hrh = Zeroizing::new(Sha512::digest(hashed));
    let mut nonce = Sha512::new();
    Digest::update(&mut nonce, &hrh[32..]);
    Digest::update(&mut nonce, pair.id.key().as_bytes());
    Digest::update(&mut nonce, message);
    let nonce = Zeroizing::new(<[u8; 64]>::from(nonce.finalize()));
    let r = Zeroizing::new(Scalar::from_bytes_mod_order_wide(&nonce));
    sign_with_nonce(&pair, &r, message)
}

fn keyed_blake2b<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    // Keys here are short constants, so `new_from_slice` cannot fail; an empty output would
    // only make verification fail, never panic.
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
        return Zeroizing::new(Vec::new());
    };
    for part in parts {
        Mac::update(&mut mac, part);
    }
    Zeroizing::new(mac.finalize().into_bytes().to_vec())
}

/// A blind25 signature (§7.4), with nonce
/// `r = reduce(BLAKE2b-512[key "SessCommBlind25_sig"](BLAKE2b-256[key "SessCommBlind25_seed"](seed) ‖ kA ‖ msg))`.
pub fn blind25_sign(identity: &Identity, server: &X25519PublicKey, message: &[u8]) -> [u8; 64] {
    let pair = blind25_key_pair(identity, server);
    let seed_hash =
        keyed_blake2b::<Blake2bMac<U32>>(BLIND25_SEED_KEY, &[identity.seed().expose_secret()]);
    let r_hash = keyed_blake2b::<Blake2bMac<U64>>(
        BLIND25_SIG_KEY,
        &[&seed_hash, pair.id.key().as_bytes(), message],
    );
    let mut wide = Zeroizing::new([0u8; 64]);
    if let Some(bytes) = r_hash.get(..64) {
        wide.copy_from_slice(bytes);
    }
    let r = Zeroizing::new(Scalar::from_bytes_mod_order_wide(&wide));
    sign_with_nonce(&pair, &r, message)
}

/// The client platform named in a `/session_version` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// `android`
    Android,
    /// `desktop`
    Desktop,
    /// `ios`
    Ios,
}

impl Platform {
    /// The value of the `platform` query parameter.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Android => "android",
            Self::Desktop => "desktop",
            Self::Ios => "ios",
        }
    }
}

/// The version-blinded key pair (`07` IDs, §1.3): an Ed25519 key pair from the seed
/// `BLAKE2b-256[key "VersionCheckKey_sig"](seed)`. `Debug` shows only the public key.
#[derive(Clone)]
pub struct VersionKeyPair {
    signing: SigningKey,
}

impl VersionKeyPair {
    /// Derives the pair for an account.
    pub fn new(identity: &Identity) -> Self {
        let seed =
            keyed_blake2b::<Blake2bMac<U32>>(VERSION_KEY, &[identity.seed().expose_secret()]);
        let mut bytes = Zeroizing::new([0u8; 32]);
        if let Some(seed) = seed.get(..32) {
            bytes.copy_from_slice(seed);
        }
        Self {
            signing: SigningKey::from_bytes(&bytes),
        }
    }
    /// The public key.
    pub fn public(&self) -> Ed25519PublicKey {
        Ed25519PublicKey::from_bytes(self.signing.verifying_key().to_bytes())
    }
    /// The `07`-prefixed ID.
    pub fn id(&self) -> PrefixedId {
        PrefixedId::new(IdPrefix::VersionBlinded, *self.public().as_bytes())
    }
    /// The 32-byte seed of the blinded key (the first half of libsodium's secret key).
    pub fn expose_seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }
    /// Signs a file-server request: `timestamp (decimal seconds) ‖ METHOD ‖ path [‖ body]`.
    pub fn sign_request(
        &self,
        timestamp_s: u64,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> [u8; 64] {
        let mut message = Vec::new();
        message.extend_from_slice(timestamp_s.to_string().as_bytes());
        message.extend_from_slice(method.as_bytes());
        message.extend_from_slice(path.as_bytes());
        message.extend_from_slice(body.unwrap_or_default());
        self.signing.sign(&message).to_bytes()
    }
    /// Signs `GET /session_version?platform=<platform>` at `timestamp_s`.
    pub fn sign_version_check(&self, platform: Platform, timestamp_s: u64) -> [u8; 64] {
        let path = format!("/session_version?platform={}", platform.as_str());
        self.sign_request(timestamp_s, "GET", &path, None)
    }
}

impl fmt::Debug for VersionKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VersionKeyPair({})", self.public())
    }
}

mod inbox;
#[cfg(test)]
pub(crate) use inbox::blinded_dm_secrets;
pub use inbox::{decrypt_from_blinded_recipient, encrypt_for_blinded_recipient};

#[cfg(test)]
mod tests;
