//! Posting to a room: the `POST /room/{token}/message` body (communities.md §4.5).
//!
//! ```text
//! {"data":      base64(pad(Content)),          // serialized Content, padded to 160 (§3.4)
//!  "signature": base64(sig(64)),               // blind15 signature over the padded bytes
//!  "timestamp": sent_ms}                       // ignored by the server; desktop sends it
//! ```
//!
//! The data is not encrypted and has no Envelope. Servers never check the signature; receivers
//! do, against the author's ID: Ed25519 under the key of a `15`/`25` ID (or `00`).

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use serde::{Deserialize, Serialize};

use crate::protocol::blinding::{blind15_sign_with, Blind15Nonce};
use crate::protocol::keys::{Ed25519PublicKey, IdPrefix, Identity, PrefixedId, X25519PublicKey};
use crate::protocol::padding::pad;

/// Why a post body or signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// The body is not the JSON object of §4.5.
    #[error("post body is not a JSON object with data and signature")]
    Json,
    /// `data` is not base64.
    #[error("post data is not base64")]
    Data,
    /// `signature` is not base64 of 64 bytes (the server answers 400).
    #[error("post signature is not 64 bytes of base64")]
    Signature,
    /// The author's ID kind cannot be checked here (`05` authors sign with XEd25519).
    #[error("cannot verify posts by {0} IDs")]
    UnsupportedAuthor(IdPrefix),
    /// The signature does not verify: every client drops such a message.
    #[error("post signature does not verify")]
    BadSignature,
}

/// A post ready to send: the padded `Content` and its signature.
#[derive(Clone, PartialEq, Eq)]
pub struct CommunityPost {
    data: Vec<u8>,
    signature: [u8; 64],
    timestamp_ms: u64,
}

/// The JSON body, fields in desktop's order (serde writes them as declared). Other keys a
/// server may receive (`whisper_to`, `whisper_mods`, `files`) are ignored when parsing.
#[derive(Serialize, Deserialize)]
struct PostJson {
    data: String,
    signature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timestamp: Option<u64>,
}

/// Base64 with or without padding (PYSOGS `utils.decode_base64`).
const BASE64_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl CommunityPost {
    /// Pads serialized `content` and signs it blind15 for `server` (§4.5). `sent_ms` is the
    /// `Content.sigTimestamp` the content already carries; it also goes out as `timestamp`.
    pub fn new(
        identity: &Identity,
        server: &X25519PublicKey,
        content: &[u8],
        sent_ms: u64,
        rule: Blind15Nonce,
    ) -> Self {
        let data = pad(content);
        let signature = blind15_sign_with(identity, server, &data, rule);
        Self {
            data,
            signature,
            timestamp_ms: sent_ms,
        }
    }

    /// Parses a body as a server receives it: `data` base64, `signature` 64 bytes of base64;
    /// `timestamp` optional (the server ignores it and so does this, keeping 0 when absent).
    pub fn parse_body(body: &[u8]) -> Result<Self, PostError> {
        let json: PostJson = serde_json::from_slice(body).map_err(|_| PostError::Json)?;
        let data = BASE64_ANY_PAD
            .decode(&json.data)
            .map_err(|_| PostError::Data)?;
        let signature = BASE64_ANY_PAD
            .decode(&json.signature)
            .ok()
            .and_then(|s| <[u8; 64]>::try_from(s).ok())
            .ok_or(PostError::Signature)?;
        Ok(Self {
            data,
            signature,
            timestamp_ms: json.timestamp.unwrap_or(0),
        })
    }

    /// The compact JSON body, exactly `{"data":…,"signature":…,"timestamp":…}`.
    pub fn to_body(&self) -> String {
        let json = PostJson {
            data: STANDARD.encode(&self.data),
            signature: STANDARD.encode(self.signature),
            timestamp: Some(self.timestamp_ms),
        };
        // Serializing a struct of strings and an integer cannot fail.
        serde_json::to_string(&json).unwrap_or_default()
    }

    /// The padded `Content` bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
    /// The signature over [`CommunityPost::data`].
    pub const fn signature(&self) -> &[u8; 64] {
        &self.signature
    }
    /// The `timestamp` field (ms).
    pub const fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }
}

impl std::fmt::Debug for CommunityPost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CommunityPost({} bytes)", self.data.len())
    }
}

/// Checks a message's signature against its author's ID as receivers do (§4.5): Ed25519 under
/// the key of a `15`, `25` or `00` ID.
pub fn verify_post_signature(
    author: &PrefixedId,
    data: &[u8],
    signature: &[u8; 64],
) -> Result<(), PostError> {
    match author.prefix() {
        IdPrefix::Blinded15 | IdPrefix::Blinded25 | IdPrefix::Unblinded => {
            Ed25519PublicKey::from_bytes(*author.key())
                .verify(data, signature)
                .map_err(|_| PostError::BadSignature)
        }
        other => Err(PostError::UnsupportedAuthor(other)),
    }
}
