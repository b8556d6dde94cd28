//! Onion requests as a node handles them (network.md §5.2–§5.6; SS `request_handler.cpp
//! process_onion_req*`, `https.cpp process_onion_req_v2`): peel one layer, then answer as the
//! final destination, proxy to a server, or relay to the next devnet node in-process.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::faults;
use super::net::{Network, Node};
use super::routes::{Arrival, RouteEntry};
use super::rpc::{self, Ctx};
use super::wire::{self, EncType, HopChannel};

/// `MAX_ONION_HOPS`.
const MAX_ONION_HOPS: u64 = 15;
/// Proxy timeout to a server destination (SS: 25 s).
const PROXY_TIMEOUT: Duration = Duration::from_secs(25);

/// An HTTP answer from onion processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Raw body bytes.
    pub body: Vec<u8>,
    /// Content type.
    pub content_type: String,
}

impl Reply {
    fn text(status: u16, s: impl Into<String>) -> Self {
        Self {
            status,
            body: s.into().into_bytes(),
            content_type: "text/plain".into(),
        }
    }
}

/// Who handed us this layer.
#[derive(Debug, Clone)]
pub enum Prev {
    /// A client over HTTPS (`ip:port`); we are its guard.
    Client(String),
    /// Another devnet node relaying.
    Node(Arc<Node>),
}

/// One layer to process: ciphertext and the keys to open it.
struct Layer {
    blob: Vec<u8>,
    ephemeral: [u8; 32],
    enc: EncType,
    hop_no: u64,
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    hex::decode(s).ok()?.try_into().ok()
}

/// Handles `POST /onion_req/v2`: `u32le N ‖ blob ‖ {"ephemeral_key","enc_type"?,"hop_no"?}`.
pub async fn handle_entry(net: Arc<Network>, node: Arc<Node>, body: &[u8], peer: String) -> Reply {
    let parsed = (|| -> Result<Layer, String> {
        let (blob, json_bytes) = wire::split_combined(body).map_err(|e| e.to_string())?;
        let meta: Value = serde_json::from_slice(json_bytes).map_err(|e| e.to_string())?;
        let eph = meta
            .get("ephemeral_key")
            .and_then(Value::as_str)
            .ok_or("missing ephemeral_key")?;
        let ephemeral = hex32(eph).ok_or("invalid ephemeral_key")?;
        let enc = match meta.get("enc_type") {
            None => EncType::AesGcm,
            Some(v) => EncType::parse(v.as_str().unwrap_or_default()).map_err(|e| e.to_string())?,
        };
        let hop_no = meta
            .get("hop_no")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .max(0);
        Ok(Layer {
            blob: blob.to_vec(),
            ephemeral,
            enc,
            hop_no: hop_no.unsigned_abs(),
        })
    })();
    match parsed {
        Ok(layer) => process(net, node, layer, Prev::Client(peer)).await,
        Err(e) => Reply::text(400, format!("Error parsing onion request: {e}")),
    }
}

type BoxReply = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// Peels and dispatches one layer (boxed: relays recurse).
fn process(net: Arc<Network>, node: Arc<Node>, layer: Layer, prev: Prev) -> BoxReply {
    Box::pin(async move {
        if layer.hop_no > MAX_ONION_HOPS {
            return Reply::text(400, "onion request max path length exceeded");
        }
        let Ok(channel) = HopChannel::server(layer.enc, &node.x_key, &layer.ephemeral) else {
            return Reply::text(400, "Invalid ciphertext");
        };
        let Ok(plain) = channel.decrypt(&layer.blob) else {
            return Reply::text(400, "Invalid ciphertext");
        };
        let parsed = wire::split_combined(&plain).ok().and_then(|(inner, j)| {
            Some((inner, serde_json::from_slice::<Map<String, Value>>(j).ok()?))
        });
        let Some((inner, control)) = parsed else {
            return encrypted_error(&channel, 400, "Invalid json");
        };
        if control.contains_key("headers") {
            destination(&net, &node, &channel, inner, &control, &prev)
        } else if control.contains_key("host") {
            proxy(&net, &node, &channel, &plain, &control).await
        } else {
            relay(net, node, &channel, inner, &control, layer.hop_no).await
        }
    })
}

fn encrypted_error(channel: &HopChannel, status: u16, msg: &str) -> Reply {
    let ct = channel.encrypt(msg.as_bytes());
    Reply::text(status, base64::engine::general_purpose::STANDARD.encode(ct))
}

/// Final destination: run the RPC and answer base64(Enc({"body","status"})) with 200 (§5.4.5).
fn destination(
    net: &Network,
    node: &Arc<Node>,
    channel: &HopChannel,
    body: &[u8],
    control: &Map<String, Value>,
    prev: &Prev,
) -> Reply {
    let now = node.now_ms(&net.clock);
    let ctx = Ctx { net, node, now };
    let (resp, summary) = rpc::handle_envelope(&ctx, body);
    let arrival = match prev {
        Prev::Client(peer) => Arrival::Onion {
            relay: None,
            peer: peer.clone(),
        },
        Prev::Node(n) => Arrival::Onion {
            relay: Some(n.ed_hex()),
            peer: n.info.addr(),
        },
    };
    node.routes.push(RouteEntry {
        time_ms: now,
        method: summary.method,
        pubkeys: summary.pubkeys,
        arrival,
    });
    let as_json = control
        .get("json")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let b64 = control
        .get("base64")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let body_field = if as_json {
        resp.body_value()
    } else {
        Value::String(resp.body_string())
    };
    let wrapped = json!({"body": body_field, "status": resp.status});
    let mut ct = channel.encrypt(wrapped.to_string().as_bytes());
    if node.faults().corrupt_onion {
        node.count_fault();
        faults::corrupt(&mut ct);
    }
    if b64 {
        let text = base64::engine::general_purpose::STANDARD.encode(ct);
        Reply {
            status: 200,
            body: text.into_bytes(),
            content_type: "text/plain".into(),
        }
    } else {
        Reply {
            status: 200,
            body: ct,
            content_type: "application/octet-stream".into(),
        }
    }
}

/// Relay to the next node: `Next node not found`, faults of the next node, then recurse.
async fn relay(
    net: Arc<Network>,
    node: Arc<Node>,
    channel: &HopChannel,
    inner: &[u8],
    control: &Map<String, Value>,
    hop_no: u64,
) -> Reply {
    let dest = control.get("destination").and_then(Value::as_str);
    let eph = control
        .get("ephemeral_key")
        .and_then(Value::as_str)
        .and_then(hex32);
    let enc = match control.get("enc_type").and_then(Value::as_str) {
        None => Ok(EncType::AesGcm),
        Some(s) => EncType::parse(s),
    };
    let (Some(dest), Some(ephemeral), Ok(enc)) = (dest, eph, enc) else {
        return encrypted_error(channel, 400, "Invalid json");
    };
    let next = hex32(dest).and_then(|ed| net.by_ed25519(&ed));
    let next = match next {
        Some(n) if !node.faults().next_node_not_found => n,
        Some(_) => {
            node.count_fault();
            return Reply::text(502, format!("Next node not found: {dest}"));
        }
        None => return Reply::text(502, format!("Next node not found: {dest}")),
    };
    let f = next.faults();
    if f.should_drop() {
        next.count_fault();
        return Reply::text(504, "Request time out");
    }
    if f.delay_ms > 0 {
        next.count_fault();
        tokio::time::sleep(Duration::from_millis(f.delay_ms)).await;
    }
    if f.not_ready {
        next.count_fault();
        return Reply::text(503, format!("Snode not ready: {}", next.ed_hex()));
    }
    let layer = Layer {
        blob: inner.to_vec(),
        ephemeral,
        enc,
        hop_no: hop_no.max(1) + 1,
    };
    process(net, next, layer, Prev::Node(node)).await
}

/// Proxy to a server (§5.5): POST the whole decrypted plaintext to `protocol://host:port target`.
async fn proxy(
    net: &Network,
    node: &Node,
    channel: &HopChannel,
    plain: &[u8],
    control: &Map<String, Value>,
) -> Reply {
    let host = control
        .get("host")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let target = control
        .get("target")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let protocol = control
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("https");
    let port = control.get("port").and_then(Value::as_u64).unwrap_or(443);
    let target_ok = (target.starts_with("/loki/") || target.starts_with("/oxen/"))
        && target.ends_with("/lsrpc")
        && !target.contains('?');
    if !matches!(protocol, "http" | "https") || !target_ok || host.is_empty() {
        return encrypted_error(channel, 400, "Invalid url");
    }
    let default_port = if protocol == "https" { 443 } else { 80 };
    let url = if port == default_port {
        format!("{protocol}://{host}{target}")
    } else {
        format!("{protocol}://{host}:{port}{target}")
    };
    // The devnet's servers log which node relayed to them (community route log).
    let sent = net
        .http
        .post(url)
        .header(super::community::RELAY_HEADER, node.ed_hex())
        .body(plain.to_vec())
        .timeout(PROXY_TIMEOUT)
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Reply::text(504, "Gateway Timeout"),
        Err(e) => {
            tracing::debug!(error = %e, "onion proxy request failed");
            return Reply::text(502, "Bad Gateway");
        }
    };
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let mut body = match resp.bytes().await {
        Ok(b) => b.to_vec(),
        Err(_) => return Reply::text(502, "Bad Gateway"),
    };
    if node.faults().corrupt_onion {
        node.count_fault();
        faults::corrupt(&mut body);
    }
    Reply {
        status,
        body,
        content_type,
    }
}
