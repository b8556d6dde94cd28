//! X-SOGS request authentication (communities.md §2): the four headers, the exact bytes signed,
//! and the server's checks of §2.4 in order, with its status codes and text bodies.
//!
//! ```text
//! to_sign = SERVER_PUBKEY (32) ‖ NONCE (16) ‖ TIMESTAMP (ASCII decimal seconds, as sent)
//!         ‖ METHOD (ASCII) ‖ PATH (URL-decoded path, then "?" + raw query if non-empty)
//!         ‖ BLAKE2b-512(body) (64, only when the body is non-empty)
//! X-SOGS-Pubkey     "15" ‖ hex(kA)  (blinded)  or  "00" ‖ hex(A)  (unblinded)
//! X-SOGS-Nonce      base64 of the 16 nonce bytes (padded)
//! X-SOGS-Timestamp  the decimal seconds signed
//! X-SOGS-Signature  base64 of the 64-byte Ed25519 signature (padded)
//! ```

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use blake2::{Blake2b512, Digest};
use curve25519_dalek::edwards::CompressedEdwardsY;
use rand::{CryptoRng, RngCore};

use crate::protocol::blinding::{blind15_key_pair, blind15_sign_with, Blind15Nonce};
use crate::protocol::keys::{Ed25519PublicKey, IdPrefix, Identity, PrefixedId, X25519PublicKey};

/// Header names, as desktop writes them (servers compare case-insensitively).
pub const HEADER_PUBKEY: &str = "X-SOGS-Pubkey";
/// See [`HEADER_PUBKEY`].
pub const HEADER_NONCE: &str = "X-SOGS-Nonce";
/// See [`HEADER_PUBKEY`].
pub const HEADER_TIMESTAMP: &str = "X-SOGS-Timestamp";
/// See [`HEADER_PUBKEY`].
pub const HEADER_SIGNATURE: &str = "X-SOGS-Signature";
/// The server accepts timestamps within this many seconds of its clock, inclusive (§2.4 row 9).
pub const TIMESTAMP_WINDOW_S: u64 = 86_400;

/// Why signing failed, or why a server refuses the headers (§2.4). `Display` is the server's
/// exact text body; [`AuthError::status`] its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The endpoint's path has a bad `%xx` escape or does not decode to UTF-8 (client side).
    #[error("request path is not valid percent-encoded UTF-8")]
    InvalidPath,
    /// Row 1: some but not all four headers.
    #[error("Invalid authentication headers: missing {0}/4 required X-SOGS-* headers")]
    MissingHeaders(usize),
    /// Row 2.
    #[error("Invalid authentication: X-SOGS-Pubkey is not a valid 66-hex digit id")]
    PubkeyEncoding,
    /// Row 3.
    #[error("Invalid authentication: X-SOGS-Pubkey must be 00- or 15- prefixed")]
    PubkeyPrefix,
    /// Row 4.
    #[error("Invalid authentication: given X-SOGS-Pubkey is not a valid Ed25519 pubkey")]
    PubkeyPoint,
    /// Row 5 (only when the server requires blinding).
    #[error("Invalid authentication: this server requires the use of blinded ids")]
    BlindingRequired,
    /// Row 6.
    #[error("Invalid authentication: X-SOGS-Nonce must be 16 bytes (encoded as base64 or hex)")]
    NonceEncoding,
    /// Row 7.
    #[error("Invalid authentication: X-SOGS-Signature is not base64[88]")]
    SignatureEncoding,
    /// Row 8.
    #[error("Invalid authentication: X-SOGS-Timestamp is not a valid timestamp")]
    TimestampEncoding,
    /// Row 9.
    #[error("Invalid authentication: X-SOGS-Timestamp is too far from current time")]
    TimestampWindow,
    /// Row 12.
    #[error("Invalid authentication: X-SOGS-Signature verification failed")]
    BadSignature,
}

impl AuthError {
    /// The HTTP status SOGS answers with (§2.4).
    pub const fn status(self) -> u16 {
        match self {
            Self::TimestampWindow => 425,
            Self::BadSignature => 401,
            _ => 400,
        }
    }
}

/// The 16-byte request nonce; fresh and random for every request, retries included.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SogsNonce([u8; 16]);

/// Base64 with or without padding, as the server decodes it.
const BASE64_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes `N` bytes from hex (`2N` digits) or base64 (padded or not), the server's
/// `decode_hex_or_b64`.
fn hex_or_base64<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    if text.len() == 2 * N && hex::decode_to_slice(text, &mut out).is_ok() {
        return Some(out);
    }
    BASE64_ANY_PAD.decode(text).ok()?.try_into().ok()
}

impl SogsNonce {
    /// A nonce from its bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }
    /// A random nonce.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }
    /// Parses the header: 32 hex digits or base64 of 16 bytes (22 or 24 characters).
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        hex_or_base64(text)
            .map(Self)
            .ok_or(AuthError::NonceEncoding)
    }
    /// The bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
    /// The header value desktop sends (padded base64, 24 characters).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

impl fmt::Debug for SogsNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SogsNonce({})", hex::encode(self.0))
    }
}

/// How a request is signed (§2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SogsKey {
    /// `15` blind15 ID and signature; what every public server requires.
    Blinded(Blind15Nonce),
    /// `00` and the account's own Ed25519 key.
    Unblinded,
}

/// The path bytes the server signs (§2.2): the path part percent-decoded (strict UTF-8), then
/// `?` and the query exactly as written, unless the query is empty.
pub fn signing_path(endpoint: &str) -> Result<Vec<u8>, AuthError> {
    let (path, query) = match endpoint.split_once('?') {
        Some((path, query)) => (path, query),
        None => (endpoint, ""),
    };
    let mut out = super::url::percent_decode(path)
        .map(String::into_bytes)
        .ok_or(AuthError::InvalidPath)?;
    if !query.is_empty() {
        out.push(b'?');
        out.extend_from_slice(query.as_bytes());
    }
    Ok(out)
}

/// The exact bytes signed (§2.2). `path` is already in signing form ([`signing_path`]).
pub fn bytes_to_sign(
    server: &X25519PublicKey,
    nonce: &SogsNonce,
    timestamp: &str,
    method: &str,
    path: &[u8],
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + 16 + timestamp.len() + method.len() + path.len() + 64);
    out.extend_from_slice(server.as_bytes());
    out.extend_from_slice(nonce.as_bytes());
    out.extend_from_slice(timestamp.as_bytes());
    out.extend_from_slice(method.as_bytes());
    out.extend_from_slice(path);
    if !body.is_empty() {
        out.extend_from_slice(&Blake2b512::digest(body));
    }
    out
}

/// The four X-SOGS headers of one request. Built by signing ([`SogsAuth::sign`]) or by parsing
/// what a client sent ([`SogsAuth::parse`]); the timestamp keeps the exact text that was signed.
#[derive(Clone, PartialEq, Eq)]
pub struct SogsAuth {
    pubkey: PrefixedId,
    nonce: SogsNonce,
    timestamp: String,
    signature: [u8; 64],
}

impl SogsAuth {
    /// Signs `method endpoint` with `body` at `timestamp_s` (network-adjusted Unix seconds).
    /// `endpoint` is the path and query as sent; it is URL-decoded for signing (§2.2).
    #[allow(clippy::too_many_arguments)] // the eight inputs of §2.2, each distinct
    pub fn sign(
        identity: &Identity,
        server: &X25519PublicKey,
        key: SogsKey,
        method: &str,
        endpoint: &str,
        body: &[u8],
        timestamp_s: u64,
        nonce: SogsNonce,
    ) -> Result<Self, AuthError> {
        let timestamp = timestamp_s.to_string();
        let path = signing_path(endpoint)?;
        let message = bytes_to_sign(server, &nonce, &timestamp, method, &path, body);
        let (pubkey, signature) = match key {
            SogsKey::Blinded(rule) => (
                blind15_key_pair(identity, server).id().to_prefixed(),
                blind15_sign_with(identity, server, &message, rule),
            ),
            SogsKey::Unblinded => (
                PrefixedId::new(IdPrefix::Unblinded, *identity.ed25519_public().as_bytes()),
                identity.sign(&message),
            ),
        };
        Ok(Self {
            pubkey,
            nonce,
            timestamp,
            signature,
        })
    }

    /// Parses the four header values with the server's rules 1-8 (§2.4), in its order. `None`
    /// or empty values count as missing; all four missing is an anonymous request (`Ok(None)`).
    /// `require_blinded` is the server's `REQUIRE_BLIND_KEYS`.
    pub fn parse(
        pubkey: Option<&str>,
        nonce: Option<&str>,
        timestamp: Option<&str>,
        signature: Option<&str>,
        require_blinded: bool,
    ) -> Result<Option<Self>, AuthError> {
        let values = [pubkey, nonce, timestamp, signature].map(|v| v.filter(|s| !s.is_empty()));
        let [Some(pubkey), Some(nonce), Some(timestamp), Some(signature)] = values else {
            let missing = values.iter().filter(|v| v.is_none()).count();
            return if missing == 4 {
                Ok(None)
            } else {
                Err(AuthError::MissingHeaders(missing))
            };
        };
        let raw: [u8; 33] = hex_or_base64(pubkey).ok_or(AuthError::PubkeyEncoding)?;
        let pubkey = PrefixedId::try_from(&raw[..]).map_err(|_| AuthError::PubkeyPrefix)?;
        match pubkey.prefix() {
            IdPrefix::Blinded15 => {}
            IdPrefix::Unblinded if !require_blinded => {}
            IdPrefix::Unblinded => {
                check_point(pubkey.key())?;
                return Err(AuthError::BlindingRequired);
            }
            _ => return Err(AuthError::PubkeyPrefix),
        }
        check_point(pubkey.key())?;
        let nonce = SogsNonce::parse(nonce)?;
        let signature = hex_or_base64(signature).ok_or(AuthError::SignatureEncoding)?;
        if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AuthError::TimestampEncoding);
        }
        timestamp
            .parse::<u64>()
            .map_err(|_| AuthError::TimestampEncoding)?;
        Ok(Some(Self {
            pubkey,
            nonce,
            timestamp: timestamp.to_owned(),
            signature,
        }))
    }

    /// Row 9: the timestamp within ±[`TIMESTAMP_WINDOW_S`] of `now_s`.
    pub fn check_time(&self, now_s: u64) -> Result<(), AuthError> {
        match self.timestamp_s() {
            Some(ts) if ts.abs_diff(now_s) <= TIMESTAMP_WINDOW_S => Ok(()),
            _ => Err(AuthError::TimestampWindow),
        }
    }

    /// Row 12: the signature over §2.2's bytes, against the key in `X-SOGS-Pubkey`. Rows 10-11
    /// (bans, nonce reuse) need the server's database and come before this.
    pub fn verify(
        &self,
        server: &X25519PublicKey,
        method: &str,
        endpoint: &str,
        body: &[u8],
    ) -> Result<(), AuthError> {
        let path = signing_path(endpoint).map_err(|_| AuthError::BadSignature)?;
        let message = bytes_to_sign(server, &self.nonce, &self.timestamp, method, &path, body);
        Ed25519PublicKey::from_bytes(*self.pubkey.key())
            .verify(&message, &self.signature)
            .map_err(|_| AuthError::BadSignature)
    }

    /// The author: a `15` blinded or `00` unblinded ID.
    pub const fn pubkey(&self) -> &PrefixedId {
        &self.pubkey
    }
    /// The nonce (the server refuses reuse for 24 h).
    pub const fn nonce(&self) -> &SogsNonce {
        &self.nonce
    }
    /// The timestamp in seconds.
    pub fn timestamp_s(&self) -> Option<u64> {
        self.timestamp.parse().ok()
    }
    /// The signature.
    pub const fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// The header name/value pairs to send, in desktop's order.
    pub fn headers(&self) -> [(&'static str, String); 4] {
        [
            (HEADER_PUBKEY, self.pubkey.to_string()),
            (HEADER_TIMESTAMP, self.timestamp.clone()),
            (HEADER_NONCE, self.nonce.to_base64()),
            (HEADER_SIGNATURE, STANDARD.encode(self.signature)),
        ]
    }
}

impl fmt::Debug for SogsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SogsAuth({}, ts={}, {:?})",
            self.pubkey.short(),
            self.timestamp,
            self.nonce
        )
    }
}

/// Row 4: libsodium `crypto_core_ed25519_is_valid_point` (canonical, in the prime-order
/// subgroup, not of small order).
fn check_point(key: &[u8; 32]) -> Result<(), AuthError> {
    CompressedEdwardsY(*key)
        .decompress()
        .filter(|p| p.compress().as_bytes() == key && !p.is_small_order() && p.is_torsion_free())
        .map(|_| ())
        .ok_or(AuthError::PubkeyPoint)
}
