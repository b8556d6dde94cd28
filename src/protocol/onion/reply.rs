//! Client side: decoding what comes back from the guard (`network.md` §5.4 "Client decoding",
//! §5.5; SD `decodeOnionResult`, LSQ `process_v3_onion_response`, LS `response_parser.cpp`).
//!
//! * Snode destination: HTTP 200 with `base64(Enc({"body":…,"status":N}))`, or a JSON body whose
//!   string field `result` holds that base64.
//! * Server destination (v4): HTTP 200 with raw `Enc(l <meta> [<body>] e)`.
//! * Any other HTTP status is an error from a node on the path, in plain text (HTTPS) or as
//!   `"<code> <reason>\n\n<text>"` (QUIC), e.g. `502` `Next node not found: <ed25519 hex>`.

use std::fmt;

use base64::Engine as _;
use serde_json::Value;
use x25519_dalek::{PublicKey, StaticSecret};

use super::hop::{HopError, LayerSecret};
use super::v4::{V4Error, V4Response};
use super::{EncType, SnodeEd25519};

/// Longest node error text we keep (it is peer-controlled).
const MAX_MESSAGE: usize = 256;

/// Why an onion reply did not yield a destination answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A node on the path could not find the next hop (`Next node not found: <hex>`).
    #[error("HTTP {status}: next node not found: {node}")]
    NextNodeNotFound {
        /// HTTP status (502 from SS).
        status: u16,
        /// The node the path named but the relay did not know.
        node: SnodeEd25519,
    },
    /// Any other non-200 answer from a node on the path (or the proxied server).
    #[error("HTTP {status}: {message}")]
    Node {
        /// HTTP status.
        status: u16,
        /// The plain-text reason, truncated to 256 characters.
        message: String,
    },
    /// The 200 body is not base64.
    #[error("reply is not base64")]
    Base64,
    /// The reply did not decrypt with the destination layer's key.
    #[error("reply decryption failed: {0}")]
    Decrypt(HopError),
    /// The decrypted snode reply is not JSON with an integer `status`/`status_code`.
    #[error("decrypted reply is not the expected JSON")]
    InvalidJson,
    /// The decrypted server reply is not a v4 response.
    #[error("invalid v4 reply: {0}")]
    V4(V4Error),
}

/// A snode destination's answer: the inner RPC status and body.
#[derive(Clone, PartialEq, Eq)]
pub struct SnodeReply {
    /// The RPC status (`status` or `status_code`); the outer HTTP status was 200.
    pub status: u16,
    /// The RPC body: `body` when it is a string, else `body` serialised as JSON, else the whole
    /// reply JSON.
    pub body: String,
}

impl fmt::Debug for SnodeReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnodeReply")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A v4 server's answer.
pub type ServerReply = V4Response;

/// The destination layer's key material, kept until the reply arrives (no `Debug`: secret):
/// the secret agreed when the layer was sealed, or why the agreement failed (a fuzz target's
/// weak destination key, see [`PendingSnodeReply::new`]).
struct DestinationKey {
    layer: Result<LayerSecret, HopError>,
    enc: EncType,
}

impl DestinationKey {
    fn agree(ephemeral: &StaticSecret, destination: &PublicKey, enc: EncType) -> Self {
        let public = PublicKey::from(ephemeral);
        DestinationKey {
            layer: LayerSecret::client(ephemeral, &public, destination),
            enc,
        }
    }

    /// Decrypts with the layer's cipher; for xchacha20 falls back to AES-GCM, as libsession does
    /// for servers that answer errors with AES-GCM.
    fn decrypt(&self, ct: &[u8]) -> Result<Vec<u8>, ReplyError> {
        let layer = self.layer.as_ref().map_err(|e| ReplyError::Decrypt(*e))?;
        let first = layer.key(self.enc).decrypt(ct);
        match (first, self.enc) {
            (Ok(pt), _) => Ok(pt),
            (Err(e), EncType::AesGcm) => Err(ReplyError::Decrypt(e)),
            (Err(e), EncType::XChaCha20) => layer
                .key(EncType::AesGcm)
                .decrypt(ct)
                .map_err(|_| ReplyError::Decrypt(e)),
        }
    }
}

/// Waits for the answer to a request to a snode destination.
pub struct PendingSnodeReply {
    key: DestinationKey,
}

/// Waits for the answer to a v4 request to a server.
pub struct PendingServerReply {
    key: DestinationKey,
}

impl fmt::Debug for PendingSnodeReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingSnodeReply")
            .field("enc", &self.key.enc)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for PendingServerReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingServerReply")
            .field("enc", &self.key.enc)
            .finish_non_exhaustive()
    }
}

impl PendingSnodeReply {
    /// Waits for a reply encrypted to `destination` with the layer's `ephemeral` secret. The
    /// builder makes these; public so a fuzz target can decode replies without building a
    /// whole onion request first.
    pub fn new(ephemeral: StaticSecret, destination: PublicKey, enc: EncType) -> Self {
        PendingSnodeReply {
            key: DestinationKey::agree(&ephemeral, &destination, enc),
        }
    }

    /// Waits for a reply under the destination layer's secret, agreed when it was sealed.
    pub(crate) fn agreed(layer: LayerSecret, enc: EncType) -> Self {
        PendingSnodeReply {
            key: DestinationKey {
                layer: Ok(layer),
                enc,
            },
        }
    }

    /// Decodes the guard's HTTP answer.
    pub fn decode(self, http_status: u16, body: &[u8]) -> Result<SnodeReply, ReplyError> {
        if http_status != 200 {
            return Err(path_error(http_status, body));
        }
        let b64 = base64_field(body);
        let ct = base64::engine::general_purpose::STANDARD
            .decode(b64.trim_ascii())
            .map_err(|_| ReplyError::Base64)?;
        let plaintext = self.key.decrypt(&ct)?;
        let Ok(Value::Object(json)) = serde_json::from_slice::<Value>(&plaintext) else {
            return Err(ReplyError::InvalidJson);
        };
        let status = json
            .get("status_code")
            .or_else(|| json.get("status"))
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .ok_or(ReplyError::InvalidJson)?;
        let body = match json.get("body") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => Value::Object(json).to_string(),
        };
        Ok(SnodeReply { status, body })
    }
}

impl PendingServerReply {
    /// Waits for a v4 reply encrypted to `destination` with the layer's `ephemeral` secret
    /// (public for the fuzz targets, as [`PendingSnodeReply::new`]).
    pub fn new(ephemeral: StaticSecret, destination: PublicKey, enc: EncType) -> Self {
        PendingServerReply {
            key: DestinationKey::agree(&ephemeral, &destination, enc),
        }
    }

    /// Waits for a v4 reply under the destination layer's secret, agreed when it was sealed.
    pub(crate) fn agreed(layer: LayerSecret, enc: EncType) -> Self {
        PendingServerReply {
            key: DestinationKey {
                layer: Ok(layer),
                enc,
            },
        }
    }

    /// Decodes the guard's HTTP answer: raw ciphertext of a bencoded v4 response.
    pub fn decode(self, http_status: u16, body: &[u8]) -> Result<ServerReply, ReplyError> {
        if http_status != 200 {
            return Err(path_error(http_status, body));
        }
        let plaintext = self.key.decrypt(body)?;
        V4Response::parse(&plaintext).map_err(ReplyError::V4)
    }
}

/// The base64 text: the string field `result` of a JSON body, else the whole body.
fn base64_field(body: &[u8]) -> &[u8] {
    // Cheap pre-check so ordinary base64 bodies are not run through the JSON parser.
    if body.first() != Some(&b'{') {
        return body;
    }
    #[derive(serde::Deserialize)]
    struct Wrapped<'a> {
        #[serde(borrow)]
        result: &'a str,
    }
    match serde_json::from_slice::<Wrapped<'_>>(body) {
        Ok(w) => w.result.as_bytes(),
        Err(_) => body,
    }
}

/// Classifies a non-200 answer. Accepts the HTTPS plain text and the QUIC form
/// `"<code> <reason>\n\n<text>"`.
fn path_error(status: u16, body: &[u8]) -> ReplyError {
    let text = String::from_utf8_lossy(body);
    let text = match text.split_once("\n\n") {
        Some((head, rest))
            if head
                .split(' ')
                .next()
                .is_some_and(|c| c.parse::<u16>().is_ok()) =>
        {
            rest
        }
        _ => text.as_ref(),
    };
    if let Some(hex) = text.strip_prefix("Next node not found: ") {
        if let Ok(node) = SnodeEd25519::from_hex(hex.get(..64).unwrap_or(hex)) {
            return ReplyError::NextNodeNotFound { status, node };
        }
    }
    ReplyError::Node {
        status,
        message: text.chars().take(MAX_MESSAGE).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::OsRng;

    #[test]
    fn path_errors_name_the_node() {
        let hex = "ab".repeat(32);
        let node = SnodeEd25519::from_hex(&hex).unwrap();
        for body in [
            format!("Next node not found: {hex}"),
            format!("502 Bad Gateway\n\nNext node not found: {hex}"),
        ] {
            assert_eq!(
                path_error(502, body.as_bytes()),
                ReplyError::NextNodeNotFound { status: 502, node }
            );
        }
        assert_eq!(
            path_error(504, b"Request time out"),
            ReplyError::Node {
                status: 504,
                message: "Request time out".into()
            }
        );
        assert_eq!(
            path_error(400, b"400 Bad Request\n\nInvalid ciphertext"),
            ReplyError::Node {
                status: 400,
                message: "Invalid ciphertext".into()
            }
        );
        let long = vec![b'x'; 10_000];
        let ReplyError::Node { message, .. } = path_error(500, &long) else {
            panic!()
        };
        assert_eq!(message.len(), MAX_MESSAGE);
    }

    #[test]
    fn result_field_is_unwrapped() {
        assert_eq!(base64_field(br#"{"result":"QUJD"}"#), b"QUJD");
        assert_eq!(base64_field(b"QUJD"), b"QUJD");
        assert_eq!(base64_field(br#"{"result":1}"#), br#"{"result":1}"#);
    }

    proptest! {
        #[test]
        fn reply_junk_never_panics(status in prop_oneof![Just(200u16), any::<u16>()], body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let eph = StaticSecret::random_from_rng(OsRng);
            let dest = PublicKey::from(&StaticSecret::random_from_rng(OsRng));
            let _ = PendingSnodeReply::new(eph.clone(), dest, EncType::XChaCha20).decode(status, &body);
            let _ = PendingServerReply::new(eph, dest, EncType::AesGcm).decode(status, &body);
        }

        #[test]
        fn error_text_junk_never_panics(text in ".{0,200}") {
            let _ = path_error(502, text.as_bytes());
            let _ = path_error(502, format!("Next node not found: {text}").as_bytes());
        }
    }
}
