//! Node side of an onion request: decrypt one layer with the node's X25519 secret and classify
//! what is inside, exactly as the storage server does (`network.md` §5.4; SS
//! `rpc/onion_processing.cpp process_inner_request`, `rpc/request_handler.cpp process_onion_req`,
//! `server/https.cpp`, `server/omq.cpp`).
//!
//! The devnet's service nodes use this; the client's tests use it to check the builder.
//!
//! This file peels and classifies a layer ([`IncomingLayer`] → [`Peeled`]); what the layer can
//! ask for is in `proxy.rs` (to an HTTP server) and `relay.rs` (to the next node), and how a
//! node answers in `answer.rs`.

mod answer;
mod proxy;
mod relay;

use std::fmt;

use rand::{CryptoRng, RngCore};
use serde_json::{Map, Value};
use x25519_dalek::{PublicKey, StaticSecret};

use super::framing::CombinedPayload;
use super::hop::SharedKey;
use super::{parse_x25519_hex, EncType, SnodeEd25519};
use proxy::ProxyFields;

pub use answer::{NodeResponse, ReplyBody, ReplyEncryptor};
pub use proxy::{is_onion_url_target_allowed, ProxyToServer};
pub use relay::NextLayer;

/// SS `MAX_ONION_HOPS`: a relayed layer with a larger `hop_no` is refused.
pub const MAX_ONION_HOPS: u32 = 15;

/// Why a layer could not be peeled, with the answer SS gives for each
/// ([`PeelError::into_response`]).
#[derive(Debug, thiserror::Error)]
pub enum PeelError {
    /// The entry body is not `u32le ‖ blob ‖ {"ephemeral_key",…}` (or the OMQ dict is
    /// malformed). SS: 400 `Error parsing onion request: <what>`, plain text.
    #[error("Error parsing onion request: {0}")]
    Malformed(&'static str),
    /// A relayed layer's `hop_no` exceeds [`MAX_ONION_HOPS`]. SS: 400, plain text.
    #[error("onion request max path length exceeded")]
    MaxPathLength,
    /// Decryption failed. SS: 400 `Invalid ciphertext`, plain text.
    #[error("Invalid ciphertext")]
    InvalidCiphertext,
    /// The plaintext is not a combined payload with the fields its kind needs. SS answers
    /// `{"body":"Invalid json","status":400}` encrypted back to the layer's key, HTTP 200.
    #[error("Invalid json")]
    InvalidJson(ReplyEncryptor),
    /// A proxy-to-server layer with a bad protocol or target. SS answers
    /// `{"body":"Invalid url","status":400}` encrypted back, HTTP 200.
    #[error("Invalid url")]
    InvalidUrl(ReplyEncryptor),
}

impl PeelError {
    /// The HTTP answer SS gives for this failure.
    pub fn into_response<R: RngCore + CryptoRng>(self, rng: &mut R) -> NodeResponse {
        let text = self.to_string();
        match self {
            PeelError::Malformed(_) | PeelError::MaxPathLength | PeelError::InvalidCiphertext => {
                NodeResponse::plain(400, &text)
            }
            PeelError::InvalidJson(reply) | PeelError::InvalidUrl(reply) => reply
                .encrypt(400, ReplyBody::Text(text), rng)
                .unwrap_or_else(|_| NodeResponse::plain(500, "Internal error")),
        }
    }
}

/// One encrypted layer arriving at a node, with the key material to open it.
pub struct IncomingLayer {
    blob: Vec<u8>,
    ephemeral_key: PublicKey,
    enc_type: EncType,
    hop_no: u32,
}

impl fmt::Debug for IncomingLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingLayer")
            .field("blob_len", &self.blob.len())
            .field("enc_type", &self.enc_type)
            .field("hop_no", &self.hop_no)
            .finish_non_exhaustive()
    }
}

impl IncomingLayer {
    /// Parses the body a guard receives on `POST /onion_req/v2` (or QUIC `onion_req`):
    /// `u32le N ‖ blob ‖ {"ephemeral_key":"<hex>"[, "enc_type":"…"][, "hop_no":int]}`.
    /// `enc_type` defaults to AES-GCM; `hop_no` defaults to 0 and is clamped at 0 (SS `https.cpp`).
    /// Unlike SS, `aes-cbc`/`cbc` is refused here (no client sends it).
    pub fn from_wire(body: &[u8]) -> Result<Self, PeelError> {
        let (blob, json) = CombinedPayload::try_from(body)
            .map_err(|_| PeelError::Malformed("invalid combined payload"))?
            .into_parts();
        let key = json
            .get("ephemeral_key")
            .and_then(Value::as_str)
            .ok_or(PeelError::Malformed("missing ephemeral_key"))?;
        let ephemeral_key =
            parse_x25519_hex(key).map_err(|_| PeelError::Malformed("invalid ephemeral_key"))?;
        let enc_type = match json.get("enc_type") {
            None => EncType::AesGcm,
            Some(v) => v
                .as_str()
                .and_then(|s| EncType::from_wire(s).ok())
                .ok_or(PeelError::Malformed("Invalid encryption type"))?,
        };
        let hop_no = match json.get("hop_no") {
            None => 0,
            Some(v) => {
                let n = v.as_i64().ok_or(PeelError::Malformed("invalid hop_no"))?;
                u32::try_from(n.max(0)).unwrap_or(u32::MAX)
            }
        };
        Ok(IncomingLayer {
            blob,
            ephemeral_key,
            enc_type,
            hop_no,
        })
    }

    /// Accepts a layer relayed by the previous node (SS `omq.cpp`): `hop_no` is clamped to at
    /// least 1, and above [`MAX_ONION_HOPS`] the layer is refused.
    pub fn relayed(next: NextLayer) -> Result<Self, PeelError> {
        let hop_no = next.hop_no.max(1);
        if hop_no > MAX_ONION_HOPS {
            return Err(PeelError::MaxPathLength);
        }
        Ok(IncomingLayer {
            blob: next.blob,
            ephemeral_key: next.ephemeral_key,
            enc_type: next.enc_type,
            hop_no,
        })
    }

    /// The hop number of this layer (0 at an honest guard).
    pub fn hop_no(&self) -> u32 {
        self.hop_no
    }

    /// Decrypts this layer with the node's X25519 secret and classifies the plaintext.
    pub fn peel(self, node_secret: &StaticSecret) -> Result<Peeled, PeelError> {
        let key = SharedKey::recipient(self.enc_type, node_secret, &self.ephemeral_key)
            .map_err(|_| PeelError::InvalidCiphertext)?;
        let plaintext = key
            .decrypt(&self.blob)
            .map_err(|_| PeelError::InvalidCiphertext)?;
        let reply = ReplyEncryptor {
            key,
            json: false,
            base64: true,
        };
        let Ok(payload) = CombinedPayload::try_from(plaintext.as_slice()) else {
            return Err(PeelError::InvalidJson(reply));
        };
        classify(payload, plaintext, reply, self.hop_no)
    }
}

/// Dispatches on the layer's JSON the way SS `process_inner_request` does: `headers` →
/// destination, else `host` → proxy, else relay.
fn classify(
    payload: CombinedPayload,
    plaintext: Vec<u8>,
    reply: ReplyEncryptor,
    hop_no: u32,
) -> Result<Peeled, PeelError> {
    let (blob, json) = payload.into_parts();
    if json.contains_key("headers") {
        let (Ok(json_flag), Ok(base64)) = (
            optional_bool(&json, "json", false),
            optional_bool(&json, "base64", true),
        ) else {
            return Err(PeelError::InvalidJson(reply));
        };
        let reply = ReplyEncryptor {
            json: json_flag,
            base64,
            ..reply
        };
        return Ok(Peeled::Destination {
            rpc_body: blob,
            reply,
            json: json_flag,
            base64,
        });
    }
    if json.contains_key("host") {
        return match ProxyFields::parse(&json) {
            None => Err(PeelError::InvalidJson(reply)),
            Some(f) => f.into_proxy(plaintext, reply).map(Peeled::ProxyToServer),
        };
    }
    match relay_fields(&json) {
        Some((destination, ephemeral_key, enc_type)) => Ok(Peeled::Relay {
            destination,
            next: NextLayer {
                blob,
                ephemeral_key,
                enc_type,
                hop_no: hop_no.saturating_add(1),
            },
        }),
        None => Err(PeelError::InvalidJson(reply)),
    }
}

fn optional_bool(json: &Map<String, Value>, key: &str, default: bool) -> Result<bool, ()> {
    match json.get(key) {
        None => Ok(default),
        Some(v) => v.as_bool().ok_or(()),
    }
}

fn relay_fields(json: &Map<String, Value>) -> Option<(SnodeEd25519, PublicKey, EncType)> {
    let destination = SnodeEd25519::from_hex(json.get("destination")?.as_str()?).ok()?;
    let ephemeral_key = parse_x25519_hex(json.get("ephemeral_key")?.as_str()?).ok()?;
    let enc_type = match json.get("enc_type") {
        None => EncType::AesGcm,
        Some(v) => EncType::from_wire(v.as_str()?).ok()?,
    };
    Some((destination, ephemeral_key, enc_type))
}

/// What a peeled layer asks the node to do.
#[derive(Debug)]
pub enum Peeled {
    /// This node is the destination (the JSON has `headers`): run `rpc_body` as a
    /// `/storage_rpc/v1` request and answer through `reply`.
    Destination {
        /// The RPC JSON `{"method":…,"params":…}`.
        rpc_body: Vec<u8>,
        /// Encrypts the answer back to the client (honours `json` and `base64`).
        reply: ReplyEncryptor,
        /// `"json": true`: embed a JSON body as a value rather than a string (default false).
        json: bool,
        /// `"base64": false`: return raw ciphertext (default true).
        base64: bool,
    },
    /// Proxy to an HTTP(S) server (the JSON has `host`); the server's answer goes back
    /// unchanged.
    ProxyToServer(ProxyToServer),
    /// Relay to the next node, which the devnet looks up by Ed25519 key (unknown →
    /// [`NodeResponse::next_node_not_found`]).
    Relay {
        /// The next node's Ed25519 key.
        destination: SnodeEd25519,
        /// The layer to hand it (`hop_no` already incremented).
        next: NextLayer,
    },
}
