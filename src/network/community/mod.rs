//! Community (SOGS) servers through onion requests v4 (communities.md §2–§7): every request
//! goes over a 3-hop path like the file server's, never directly, and carries the X-SOGS
//! headers of one account, blinded (`15`) as every current client signs them. A retry is signed
//! again with a fresh nonce and timestamp (the server refuses a reused nonce, §2.4 row 11).
//!
//! This file holds the request machinery ([`CommunityServer`], [`SogsReply`],
//! [`SessionNetwork::sogs`]); the typed calls (room info, the poll batch, posting, reactions,
//! files, the DM inbox, moderation) and what they return are in `calls.rs`.

mod calls;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use calls::{
    read_poll, BanScope, InboxMessage, PollRoom, PolledRoom, Posted, ReactionSummary, RoomInfo,
    RoomMessage,
};

use super::client::SessionNetwork;
use super::error::{clip, NetworkError, SendError};
use super::files::server_target;
use crate::protocol::blinding::Blind15Nonce;
use crate::protocol::community::{SogsAuth, SogsKey, SogsNonce};
use crate::protocol::keys::{Identity, X25519PublicKey};
use crate::protocol::onion::{ServerTarget, V4Request};
use crate::protocol::storage::AccountId;

/// Largest room file we upload (communities.md §5: 10 MB, the server's configured limit).
pub const MAX_ROOM_FILE: usize = 10_000_000;

/// One community server: where onion requests go and the key they are signed for.
#[derive(Clone, Debug)]
pub struct CommunityServer {
    target: ServerTarget,
    base: String,
    pubkey: X25519PublicKey,
}

impl CommunityServer {
    /// The server at `base` (`http[s]://host[:port]`) with X25519 key `pubkey`.
    pub fn new(base: &str, pubkey: X25519PublicKey) -> Result<Self, NetworkError> {
        let key = x25519_dalek::PublicKey::from(*pubkey.as_bytes());
        let (target, base) = server_target("community server", base, key)?;
        Ok(Self {
            target,
            base,
            pubkey,
        })
    }

    /// `scheme://host[:port]`, no trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The server's X25519 key (onion destination, signed in every request, blinding input).
    pub fn pubkey(&self) -> &X25519PublicKey {
        &self.pubkey
    }
}

/// A request body.
#[derive(Clone, Debug)]
pub enum SogsBody {
    /// No body (GET, DELETE, a reaction PUT).
    Empty,
    /// A JSON document (sent with `Content-Type: application/json`).
    Json(Vec<u8>),
    /// Raw bytes (a file upload, `application/octet-stream`).
    Bytes(Vec<u8>),
}

/// A server's answer: its status and body.
#[derive(Clone, Debug)]
pub struct SogsReply {
    /// The HTTP status the server reported.
    pub code: u16,
    /// The body (JSON, text or bytes, by endpoint).
    pub body: Vec<u8>,
}

impl SogsReply {
    /// The reply if it is a 2xx, else [`NetworkError::Community`] with its status and text.
    pub fn success(self) -> Result<Self, NetworkError> {
        if (200..300).contains(&self.code) {
            Ok(self)
        } else {
            Err(NetworkError::Community {
                status: self.code,
                message: clip(&String::from_utf8_lossy(&self.body)),
            })
        }
    }

    /// The body read as `T`; a body that does not read is the server's fault (502-like).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, NetworkError> {
        serde_json::from_slice(&self.body).map_err(|e| NetworkError::Community {
            status: self.code,
            message: clip(&format!("unreadable answer: {e}")),
        })
    }
}

impl SessionNetwork {
    /// One request to `server`, signed as `identity` (blinded) when given, anonymous otherwise,
    /// over an onion path; failures of the path are retried on other paths (each attempt signed
    /// afresh). Any status the server answers is returned, errors included.
    pub async fn sogs(
        &self,
        server: &CommunityServer,
        identity: Option<&Identity>,
        method: &str,
        endpoint: &str,
        body: SogsBody,
    ) -> Result<SogsReply, NetworkError> {
        let max = self.inner.config.max_attempts.max(1);
        let mut last: Option<SendError> = None;
        // Under per-account isolation the request takes the account's own path.
        let owner = identity.map(|i| AccountId::from_bytes(&i.session_id().to_bytes()));
        for _ in 0..max {
            let request = self.sogs_request(server, identity, method, endpoint, &body)?;
            match (self.inner)
                .send_server(owner.as_ref(), &server.target, &request)
                .await
            {
                Ok(resp) => {
                    return Ok(SogsReply {
                        code: resp.code,
                        body: resp.body.unwrap_or_default(),
                    })
                }
                Err(e) if e.is_retryable() => {
                    tracing::debug!(error = %e, "community request failed");
                    last = Some(e);
                }
                Err(e) => return Err(NetworkError::Rejected(e)),
            }
        }
        match last {
            Some(last) => Err(NetworkError::Exhausted {
                attempts: max,
                last,
            }),
            None => Err(NetworkError::NoGuards),
        }
    }

    /// The v4 request of one attempt, with fresh X-SOGS headers.
    fn sogs_request(
        &self,
        server: &CommunityServer,
        identity: Option<&Identity>,
        method: &str,
        endpoint: &str,
        body: &SogsBody,
    ) -> Result<V4Request, NetworkError> {
        let (bytes, content_type) = match body {
            SogsBody::Empty => (None, None),
            SogsBody::Json(b) => (Some(b.clone()), Some("application/json")),
            SogsBody::Bytes(b) => (Some(b.clone()), Some("application/octet-stream")),
        };
        let mut headers = Map::new();
        if let Some(content_type) = content_type {
            headers.insert("Content-Type".into(), Value::String(content_type.into()));
        }
        if let Some(identity) = identity {
            let auth = SogsAuth::sign(
                identity,
                &server.pubkey,
                SogsKey::Blinded(Blind15Nonce::Desktop),
                method,
                endpoint,
                bytes.as_deref().unwrap_or_default(),
                self.now_ms() / 1000,
                SogsNonce::random(&mut rand::rngs::OsRng),
            )
            .map_err(|e| NetworkError::Config(format!("cannot sign {endpoint:?}: {e}")))?;
            for (name, value) in auth.headers() {
                headers.insert(name.into(), Value::String(value));
            }
        }
        Ok(V4Request {
            method: method.into(),
            endpoint: endpoint.into(),
            headers,
            body: bytes,
        })
    }
}
