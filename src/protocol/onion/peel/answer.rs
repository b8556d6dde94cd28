//! How a node answers an onion request: a plain HTTP status and body ([`NodeResponse`]), or a
//! destination's reply encrypted back to the client ([`ReplyEncryptor`]).

use rand::{CryptoRng, RngCore};
use serde_json::{Map, Value};

use crate::protocol::onion::hop::{HopError, SharedKey};
use crate::protocol::onion::SnodeEd25519;

/// An HTTP status and body as a node answers an onion request (the guard returns it over
/// HTTPS; relays pass it back unchanged as the OMQ reply `[status, body]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeResponse {
    /// HTTP status code.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl NodeResponse {
    pub(super) fn plain(status: u16, text: &str) -> Self {
        NodeResponse {
            status,
            body: text.as_bytes().to_vec(),
        }
    }

    /// 502 `Next node not found: <ed25519 hex>`: a relay's destination is unknown.
    pub fn next_node_not_found(node: &SnodeEd25519) -> Self {
        Self::plain(502, &format!("Next node not found: {node}"))
    }

    /// 504 `Request time out`: the next hop did not answer within 30 s.
    pub fn request_time_out() -> Self {
        Self::plain(504, "Request time out")
    }
}

/// The body of a destination's reply.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyBody {
    /// A text body (SS: any non-JSON response body).
    Text(String),
    /// A JSON body: embedded as a value when the request set `"json": true`, else dumped to a
    /// string (SS's "double-encoded json").
    Json(Value),
}

/// Encrypts a destination's reply to the client with the layer's key and cipher (SS
/// `wrap_proxy_response`). `Debug` redacts the key.
///
/// The plaintext is `{"body":<body>,"status":<code>}` (sorted keys, as nlohmann writes it);
/// the HTTP answer is always 200 with `base64(nonce ‖ ct ‖ tag)`, or the raw bytes if the
/// request set `"base64": false`.
#[derive(Debug, Clone)]
pub struct ReplyEncryptor {
    pub(super) key: SharedKey,
    pub(super) json: bool,
    pub(super) base64: bool,
}

impl ReplyEncryptor {
    /// Encrypts `{"body","status"}` and wraps it as the node's HTTP 200 answer.
    pub fn encrypt<R: RngCore + CryptoRng>(
        self,
        status: u16,
        body: ReplyBody,
        rng: &mut R,
    ) -> Result<NodeResponse, HopError> {
        let body = match body {
            ReplyBody::Text(s) => Value::String(s),
            ReplyBody::Json(v) if self.json => v,
            ReplyBody::Json(v) => Value::String(v.to_string()),
        };
        let mut obj = Map::new();
        obj.insert("body".into(), body);
        obj.insert("status".into(), Value::from(status));
        let ct = self
            .key
            .encrypt(Value::Object(obj).to_string().as_bytes(), rng)?;
        let body = if self.base64 {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .encode(ct)
                .into_bytes()
        } else {
            ct
        };
        Ok(NodeResponse { status: 200, body })
    }
}
