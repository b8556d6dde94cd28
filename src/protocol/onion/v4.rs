//! Onion requests "v4" to non-snode servers (file server, SOGS): the bencoded request and
//! response (`network.md` §5.5, `messages.md` §5.1; LSQ `Builder::generate_payload`, SD
//! `onionv4.ts`), and the server side used by the devnet's file server.
//!
//! ```text
//! request  : l <len>:<META_JSON> [<len>:<BODY>] e   META_JSON = {"endpoint","headers","method"}
//! response : l <len>:<META_JSON> [<len>:<BODY>] e   META_JSON = {"code":int,"headers":{…}}
//! ```
//!
//! The request is encrypted (no framing) to the server's X25519 key; the last relay POSTs the
//! whole `u32le N ‖ blob ‖ ROUTE_JSON` to the server, which reads `ephemeral_key`/`enc_type` from
//! `ROUTE_JSON`. The response is encrypted with the same key and sent as raw bytes.

use std::fmt;

use rand::{CryptoRng, RngCore};
use serde_json::{Map, Value};
use x25519_dalek::{PublicKey, StaticSecret};

use super::framing::{CombinedPayload, FramingError};
use super::hop::{HopError, SharedKey};
use super::{parse_x25519_hex, EncType};
use crate::protocol::bencode::{BencodeError, BtValue};

/// Why a v4 request or response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V4Error {
    /// The server's POST body is not a combined payload.
    #[error("invalid combined payload: {0}")]
    Framing(#[from] FramingError),
    /// The route JSON lacks a usable `ephemeral_key` or `enc_type`.
    #[error("route JSON has no usable ephemeral_key/enc_type")]
    InvalidRoute,
    /// Decryption failed.
    #[error("decryption failed: {0}")]
    Decrypt(#[from] HopError),
    /// Not canonical bencode.
    #[error("invalid bencode: {0}")]
    Bencode(#[from] BencodeError),
    /// Not a list of one or two byte strings.
    #[error("expected a list of 1 or 2 byte strings")]
    NotV4List,
    /// The metadata JSON is invalid or lacks a required field.
    #[error("invalid v4 metadata JSON")]
    InvalidMeta,
}

/// A v4 request: `l <meta> [<body>] e` with meta `{"endpoint","headers","method"}`.
#[derive(Clone, PartialEq)]
pub struct V4Request {
    /// HTTP method (`GET`, `POST`, …).
    pub method: String,
    /// Path and query, e.g. `/file/123`.
    pub endpoint: String,
    /// Request headers (a JSON object; values are normally strings).
    pub headers: Map<String, Value>,
    /// Optional body bytes.
    pub body: Option<Vec<u8>>,
}

impl fmt::Debug for V4Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V4Request")
            .field("method", &self.method)
            .field("endpoint", &self.endpoint)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

impl V4Request {
    /// Encodes the bencoded list. Meta keys come out sorted.
    pub fn encode(&self) -> Vec<u8> {
        let mut meta = Map::new();
        meta.insert("endpoint".into(), Value::String(self.endpoint.clone()));
        meta.insert("headers".into(), Value::Object(self.headers.clone()));
        meta.insert("method".into(), Value::String(self.method.clone()));
        encode_list(&Value::Object(meta), self.body.as_deref())
    }

    /// Parses the bencoded list (trailing bytes rejected).
    pub fn parse(bytes: &[u8]) -> Result<Self, V4Error> {
        let (meta, body) = decode_list(bytes)?;
        let text = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_owned);
        let headers = match meta.get("headers") {
            None => Map::new(),
            Some(Value::Object(h)) => h.clone(),
            Some(_) => return Err(V4Error::InvalidMeta),
        };
        Ok(V4Request {
            method: text("method").ok_or(V4Error::InvalidMeta)?,
            endpoint: text("endpoint").ok_or(V4Error::InvalidMeta)?,
            headers,
            body,
        })
    }

    /// The request as libsession sends it: any `User-Agent` header dropped, and
    /// `Content-Type: application/json` added when there is a body and no content type (LSQ).
    pub(crate) fn normalised_for_client(&self) -> Self {
        let mut out = self.clone();
        out.headers
            .retain(|k, _| !k.eq_ignore_ascii_case("user-agent"));
        if out.body.is_some()
            && !out
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("content-type"))
        {
            out.headers.insert(
                "Content-Type".into(),
                Value::String("application/json".into()),
            );
        }
        out
    }
}

/// A v4 response: `l <meta> [<body>] e` with meta `{"code":int,"headers":{…}}`.
#[derive(Clone, PartialEq)]
pub struct V4Response {
    /// The HTTP status the server reports (`code`).
    pub code: u16,
    /// Response headers (`content-type` tells how to read the body).
    pub headers: Map<String, Value>,
    /// The body; absent when the list has one element (LSQ tolerates that).
    pub body: Option<Vec<u8>>,
}

impl fmt::Debug for V4Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V4Response")
            .field("code", &self.code)
            .field("headers", &self.headers)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

impl V4Response {
    /// Encodes the bencoded list.
    pub fn encode(&self) -> Vec<u8> {
        let mut meta = Map::new();
        meta.insert("code".into(), Value::from(self.code));
        meta.insert("headers".into(), Value::Object(self.headers.clone()));
        encode_list(&Value::Object(meta), self.body.as_deref())
    }

    /// Parses the bencoded list; `code` must be an integer that fits an HTTP status.
    pub fn parse(bytes: &[u8]) -> Result<Self, V4Error> {
        let (meta, body) = decode_list(bytes)?;
        let code = meta
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .ok_or(V4Error::InvalidMeta)?;
        let headers = match meta.get("headers") {
            None => Map::new(),
            Some(Value::Object(h)) => h.clone(),
            Some(_) => return Err(V4Error::InvalidMeta),
        };
        Ok(V4Response {
            code,
            headers,
            body,
        })
    }
}

fn encode_list(meta: &Value, body: Option<&[u8]>) -> Vec<u8> {
    let mut items = vec![BtValue::Bytes(meta.to_string().into_bytes())];
    if let Some(b) = body {
        items.push(BtValue::Bytes(b.to_vec()));
    }
    BtValue::List(items).encode()
}

/// The two elements of a v4 list: metadata JSON object and optional body.
type V4Parts = (Map<String, Value>, Option<Vec<u8>>);

fn decode_list(bytes: &[u8]) -> Result<V4Parts, V4Error> {
    let BtValue::List(items) = BtValue::decode(bytes)? else {
        return Err(V4Error::NotV4List);
    };
    let mut items = items.into_iter();
    let (Some(BtValue::Bytes(meta)), body, None) = (items.next(), items.next(), items.next())
    else {
        return Err(V4Error::NotV4List);
    };
    let body = match body {
        None => None,
        Some(BtValue::Bytes(b)) => Some(b),
        Some(_) => return Err(V4Error::NotV4List),
    };
    match serde_json::from_slice(&meta) {
        Ok(Value::Object(m)) => Ok((m, body)),
        _ => Err(V4Error::InvalidMeta),
    }
}

/// What a v4 server receives from the last relay (`POST /oxen/v4/lsrpc`), parsed but not yet
/// decrypted: `u32le N ‖ blob ‖ ROUTE_JSON` with `ephemeral_key` and optional `enc_type`.
pub struct V4Inbound {
    blob: Vec<u8>,
    ephemeral_key: PublicKey,
    enc_type: EncType,
}

impl fmt::Debug for V4Inbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V4Inbound")
            .field("blob_len", &self.blob.len())
            .field("enc_type", &self.enc_type)
            .finish_non_exhaustive()
    }
}

impl V4Inbound {
    /// Parses the POST body.
    pub fn parse(body: &[u8]) -> Result<Self, V4Error> {
        let (blob, json) = CombinedPayload::try_from(body)?.into_parts();
        let ephemeral_key = json
            .get("ephemeral_key")
            .and_then(Value::as_str)
            .and_then(|s| parse_x25519_hex(s).ok())
            .ok_or(V4Error::InvalidRoute)?;
        let enc_type = match json.get("enc_type") {
            None => EncType::AesGcm,
            Some(v) => v
                .as_str()
                .and_then(|s| EncType::from_wire(s).ok())
                .ok_or(V4Error::InvalidRoute)?,
        };
        Ok(V4Inbound {
            blob,
            ephemeral_key,
            enc_type,
        })
    }

    /// Decrypts with the server's X25519 secret and parses the request; the encryptor answers it.
    pub fn open(
        self,
        server_secret: &StaticSecret,
    ) -> Result<(V4Request, V4ReplyEncryptor), V4Error> {
        let key = SharedKey::recipient(self.enc_type, server_secret, &self.ephemeral_key)?;
        let plaintext = key.decrypt(&self.blob)?;
        let request = V4Request::parse(&plaintext)?;
        Ok((request, V4ReplyEncryptor { key }))
    }
}

/// Encrypts a v4 response back to the client (raw ciphertext, no base64). `Debug` redacts.
#[derive(Debug, Clone)]
pub struct V4ReplyEncryptor {
    key: SharedKey,
}

impl V4ReplyEncryptor {
    /// `nonce ‖ Enc(l <meta> [<body>] e) ‖ tag`: the HTTP body the server answers with.
    pub fn encrypt<R: RngCore + CryptoRng>(
        self,
        response: &V4Response,
        rng: &mut R,
    ) -> Result<Vec<u8>, V4Error> {
        Ok(self.key.encrypt(&response.encode(), rng)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn request_encoding_matches_the_documented_layout() {
        let req = V4Request {
            method: "GET".into(),
            endpoint: "/file/abc".into(),
            headers: Map::new(),
            body: None,
        };
        let meta = r#"{"endpoint":"/file/abc","headers":{},"method":"GET"}"#;
        assert_eq!(
            req.encode(),
            format!("l{}:{meta}e", meta.len()).into_bytes()
        );
        assert_eq!(V4Request::parse(&req.encode()).unwrap(), req);

        let with_body = V4Request {
            body: Some(b"\x00\x01".to_vec()),
            method: "POST".into(),
            ..req
        };
        assert!(with_body.encode().ends_with(b"2:\x00\x01e"));
        assert_eq!(V4Request::parse(&with_body.encode()).unwrap(), with_body);
    }

    #[test]
    fn client_normalisation_follows_lsq() {
        let mut headers = Map::new();
        headers.insert("User-Agent".into(), json!("x"));
        let req = V4Request {
            method: "POST".into(),
            endpoint: "/file".into(),
            headers,
            body: Some(vec![1]),
        };
        let n = req.normalised_for_client();
        assert_eq!(
            Value::Object(n.headers),
            json!({"Content-Type": "application/json"})
        );
    }

    #[test]
    fn response_parses_with_and_without_body() {
        let meta = r#"{"code":200,"headers":{"content-type":"application/json"}}"#;
        let bytes = format!("l{}:{meta}2:{{}}e", meta.len()).into_bytes();
        let r = V4Response::parse(&bytes).unwrap();
        assert_eq!((r.code, r.body.as_deref()), (200, Some(&b"{}"[..])));
        assert_eq!(r.encode(), bytes);
        let meta = r#"{"code":404}"#;
        let r = V4Response::parse(format!("l{}:{meta}e", meta.len()).as_bytes()).unwrap();
        assert_eq!((r.code, r.body, r.headers.len()), (404, None, 0));
    }

    #[test]
    fn bad_shapes_are_rejected() {
        for bad in [
            &b"le"[..],
            b"l2:{}2:{}2:{}e",
            b"li1ee",
            b"l2:[]e",
            b"d1:ai1ee",
            b"l2:{}e",
            b"l12:{\"code\":-1}e",
        ] {
            assert!(
                V4Response::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(V4Request::parse(b"l2:{}e"), Err(V4Error::InvalidMeta));
        assert_eq!(V4Request::parse(b"l2:{}li1eee"), Err(V4Error::NotV4List));
    }

    proptest! {
        #[test]
        fn junk_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = V4Request::parse(&bytes);
            let _ = V4Response::parse(&bytes);
            if let Ok(inbound) = V4Inbound::parse(&bytes) {
                let _ = inbound.open(&StaticSecret::from([1u8; 32]));
            }
        }
    }
}
