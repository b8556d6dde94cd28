//! Sending one request: a direct `info` to a node (guard tests only), or an onion request over
//! one path to a snode or a v4 server (`network.md` §5.3–§5.5), and classifying what comes
//! back into a [`SendError`] that names the failing hop.
//!
//! Wire: `POST https://<guard ip>:<port>/onion_req/v2` with the builder's body, headers
//! `User-Agent: WhatsApp`, `Accept-Language: en-us` (SD), the node's self-signed certificate
//! accepted (nodes have no CA-signed certificates; the onion layers carry the security).

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::OsRng;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::error::{clip, NetworkError, SendError};
use super::node::ServiceNode;
use super::reply_budget::{BoundedBody, ReadError, ReplyBudget};
use crate::protocol::onion::{
    build_server_request, build_snode_request, EncType, OnionPath, ReplyError, ServerTarget,
    V4Request, V4Response,
};
use crate::protocol::storage::response::{InfoResponse, SwarmInfo};
use crate::protocol::storage::StorageRequest;

/// Largest onion answer body we read (a 10 MB file in base64 plus framing fits).
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Largest direct answer we read: the guard test's `info` is well under a KiB.
const MAX_DIRECT_BODY: usize = 64 * 1024;

/// Most requests in flight at once (each holds a connection to its guard, and the guard one to
/// the next hop). Without a bound, 10,000 accounts polling together opened a connection per
/// request and ran the process out of file descriptors (`benches/scale.rs`); past the bound,
/// requests wait in memory for a slot, and the wait does not count against the path.
pub const MAX_IN_FLIGHT: usize = 256;

/// A path as the network layer holds it: three distinct nodes, guard first.
pub type PathNodes = [ServiceNode; 3];

/// The HTTP client shared by every request.
#[derive(Debug, Clone)]
pub struct Transport {
    http: reqwest::Client,
    timeout: Duration,
    /// [`MAX_IN_FLIGHT`] permits, one per request being sent.
    in_flight: Arc<Semaphore>,
    /// Bytes the answers being read and decoded may hold together.
    budget: ReplyBudget,
}

/// A destination snode's 2xx answer.
#[derive(Debug, Clone)]
pub struct SnodeAnswer {
    /// The RPC status (2xx).
    pub status: u16,
    /// The RPC body, parsed as JSON.
    pub body: Value,
}

impl Transport {
    /// A client with `timeout` per request.
    pub fn new(timeout: Duration) -> Result<Self, NetworkError> {
        let http = reqwest::Client::builder()
            // Service nodes use self-signed certificates (SD: rejectUnauthorized:false).
            .danger_accept_invalid_certs(true)
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| NetworkError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            timeout,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            budget: ReplyBudget::default(),
        })
    }

    /// The underlying client (seed queries use it too).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// POSTs `body` to `node` and reads at most `limit` bytes of the answer (streamed, with
    /// or without a Content-Length), holding the reply budget until the caller drops it.
    async fn post(
        &self,
        node: &ServiceNode,
        path: &str,
        body: Vec<u8>,
        limit: usize,
    ) -> Result<(u16, BoundedBody), SendError> {
        let map = |e: reqwest::Error| {
            if e.is_timeout() {
                SendError::Timeout { node: node.ed25519 }
            } else {
                SendError::Unreachable {
                    node: node.ed25519,
                    reason: clip(&e.to_string()),
                }
            }
        };
        // A large body (a 10 MB attachment upload) gets 1 ms more per KB on top of the
        // per-request timeout: every hop decrypts and forwards it before the answer starts.
        let extra = Duration::from_millis(u64::try_from(body.len() / 1024).unwrap_or(u64::MAX));
        // The semaphore is never closed, so this only waits; held until the body is read.
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| SendError::Unreachable {
                node: node.ed25519,
                reason: "transport closed".into(),
            })?;
        let resp = self
            .http
            .post(node.url(path))
            .header("User-Agent", "WhatsApp")
            .header("Accept-Language", "en-us")
            .timeout(self.timeout.saturating_add(extra))
            .body(body)
            .send()
            .await
            .map_err(map)?;
        let status = resp.status().as_u16();
        let body = self.budget.read(resp, limit).await.map_err(|e| match e {
            ReadError::Timeout => SendError::Timeout { node: node.ed25519 },
            e => SendError::Unreachable {
                node: node.ed25519,
                reason: clip(&e.to_string()),
            },
        })?;
        Ok((status, body))
    }

    /// The guard test: a direct `POST /storage_rpc/v1` of `{"method":"info","params":{}}`.
    /// This is the only direct storage request the gateway makes, and it names no account.
    pub async fn direct_info(&self, node: &ServiceNode) -> Result<InfoResponse, SendError> {
        let body = StorageRequest::info().to_json_bytes();
        let (status, body) = self
            .post(node, "/storage_rpc/v1", body, MAX_DIRECT_BODY)
            .await?;
        if status != 200 {
            return Err(SendError::Destination {
                node: node.ed25519.to_hex(),
                status,
                message: clip(&String::from_utf8_lossy(&body.bytes)),
            });
        }
        serde_json::from_slice(&body.bytes).map_err(|_| SendError::InvalidBody {
            node: node.ed25519.to_hex(),
            what: "info",
        })
    }

    /// One storage RPC to `dest` through `path` (dest must not be on it).
    pub async fn snode(
        &self,
        path: &PathNodes,
        dest: &ServiceNode,
        request: &StorageRequest,
        enc: EncType,
    ) -> Result<SnodeAnswer, SendError> {
        let onion = onion_path(path)?;
        let rpc = request.to_json_bytes();
        let (wire, pending) = build_snode_request(&onion, &dest.keys(), &rpc, enc, &mut OsRng)?;
        let guard = &path[0];
        let (status, body) = self
            .post(guard, "/onion_req/v2", wire.body, MAX_BODY)
            .await?;
        let reply = pending
            .decode(status, &body.bytes)
            .map_err(|e| reply_error(guard, &dest.ed25519.to_hex(), e))?;
        classify_snode(dest, reply.status, &reply.body)
    }

    /// One v4 request to a server through `path`.
    pub async fn server(
        &self,
        path: &PathNodes,
        server: &ServerTarget,
        request: &V4Request,
        enc: EncType,
    ) -> Result<V4Response, SendError> {
        let onion = onion_path(path)?;
        let (wire, pending) = build_server_request(&onion, server, request, enc, &mut OsRng)?;
        let guard = &path[0];
        let (status, body) = self
            .post(guard, "/onion_req/v2", wire.body, MAX_BODY)
            .await?;
        pending
            .decode(status, &body.bytes)
            .map_err(|e| reply_error(guard, &server.host, e))
    }
}

fn onion_path(path: &PathNodes) -> Result<OnionPath, SendError> {
    let [g, r1, r2] = path;
    Ok(OnionPath::new(g.keys(), r1.keys(), r2.keys())?)
}

/// Maps a reply decoding failure: non-200 answers are path errors, undecodable 200s are
/// the destination's (or a corrupting relay's).
fn reply_error(guard: &ServiceNode, destination: &str, e: ReplyError) -> SendError {
    match e {
        ReplyError::NextNodeNotFound { node, .. } => SendError::NextNodeNotFound {
            guard: guard.ed25519,
            missing: node,
        },
        ReplyError::Node { status, message } => SendError::Path {
            guard: guard.ed25519,
            status,
            message,
        },
        reason => SendError::BadReply {
            destination: destination.to_owned(),
            reason,
        },
    }
}

/// Classifies the destination's RPC status (§4.7): 2xx → the JSON body; 421 → the swarm it
/// names; 406/425 → clock; anything else → a destination error.
pub fn classify_snode(
    dest: &ServiceNode,
    status: u16,
    body: &str,
) -> Result<SnodeAnswer, SendError> {
    let node = dest.ed25519.to_hex();
    match status {
        200..=299 => serde_json::from_str(body)
            .map(|body| SnodeAnswer { status, body })
            .map_err(|_| SendError::InvalidBody { node, what: "RPC" }),
        421 => Err(SendError::Misdirected {
            node: dest.ed25519,
            swarm: serde_json::from_str::<SwarmInfo>(body).ok().map(Box::new),
        }),
        406 | 425 => Err(SendError::ClockOutOfSync { node, status }),
        _ => Err(SendError::Destination {
            node,
            status,
            message: clip(body),
        }),
    }
}

/// Classifies one `batch` subresult as [`classify_snode`] does a whole answer: a 2xx JSON
/// object is the answer itself; otherwise a string body is the text read, any other JSON its
/// serialisation.
pub fn classify_subresult(
    dest: &ServiceNode,
    status: u16,
    body: Value,
) -> Result<SnodeAnswer, SendError> {
    match body {
        body @ Value::Object(_) if (200..300).contains(&status) => Ok(SnodeAnswer { status, body }),
        Value::String(text) => classify_snode(dest, status, &text),
        other => classify_snode(dest, status, &other.to_string()),
    }
}

/// The node time `t` of an answer: top level, or the first batch subresult that has one.
pub fn answer_time(body: &Value) -> Option<u64> {
    body.get("t").and_then(Value::as_u64).or_else(|| {
        body.get("results")?
            .as_array()?
            .iter()
            .find_map(|r| r.get("body")?.get("t")?.as_u64())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::ops::tests::node;
    use serde_json::json;

    #[test]
    fn statuses_are_classified() {
        let n = node();
        assert_eq!(classify_snode(&n, 200, r#"{"t":5}"#).unwrap().body["t"], 5);
        assert!(matches!(
            classify_snode(&n, 200, "nope"),
            Err(SendError::InvalidBody { .. })
        ));
        let swarm = r#"{"snodes":[],"swarm":"ff"}"#;
        let Err(SendError::Misdirected { swarm: Some(s), .. }) = classify_snode(&n, 421, swarm)
        else {
            panic!()
        };
        assert!(s.snodes.is_empty());
        assert!(matches!(
            classify_snode(&n, 421, "junk"),
            Err(SendError::Misdirected { swarm: None, .. })
        ));
        for s in [406, 425] {
            assert!(matches!(
                classify_snode(&n, s, ""),
                Err(SendError::ClockOutOfSync { .. })
            ));
        }
        for s in [401, 403, 404] {
            let e = classify_snode(&n, s, "no").unwrap_err();
            assert!(!e.is_retryable(), "{s}");
        }
        assert!(classify_snode(&n, 500, "x").unwrap_err().is_retryable());
    }

    #[test]
    fn time_is_found_in_batches() {
        assert_eq!(answer_time(&json!({"t": 7})), Some(7));
        let batch = json!({"results":[{"code":421,"body":"x"},{"code":200,"body":{"t":9}}]});
        assert_eq!(answer_time(&batch), Some(9));
        assert_eq!(answer_time(&json!({"results":5})), None);
    }
}
