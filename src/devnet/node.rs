//! One service node's HTTPS face (network.md §1): `/storage_rpc/v1`, `/onion_req/v2`,
//! `/ping_test/v1`, deprecated `/get_stats/v1`, 404 elsewhere, 413 over 10 MiB, 410 for the
//! obsolete long-poll header, and the per-node faults in front of everything.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures::StreamExt;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::faults::HUGE_REPLY_BYTES;
use super::net::{Network, Node};
use super::onion;
use super::routes::{Arrival, RouteEntry};
use super::rpc::{self, Body, Ctx};

/// `MAX_REQUEST_BODY_SIZE` (10 MiB).
pub const MAX_REQUEST_BODY_SIZE: usize = 10 * 1024 * 1024;
/// How long a dropped request is held before the connection is answered with nothing useful.
const DROP_HOLD: Duration = Duration::from_secs(60);

/// What each HTTPS handler needs.
struct NodeData {
    net: Arc<Network>,
    node: Arc<Node>,
}

/// A self-signed certificate for 127.0.0.1 (clients do not verify it, as with real nodes).
pub fn tls_config() -> Result<rustls::ServerConfig, String> {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .map_err(|e| e.to_string())?;
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| e.to_string())
}

/// Starts the node's HTTPS server on `listener`.
pub fn serve(
    net: Arc<Network>,
    node: Arc<Node>,
    listener: std::net::TcpListener,
    tls: rustls::ServerConfig,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(NodeData { net, node });
    super::http::serve(listener, Some(tls), move |app| {
        app.app_data(data.clone())
            .route("/storage_rpc/v1", web::post().to(storage_rpc))
            .route("/onion_req/v2", web::post().to(onion_req))
            .route("/ping_test/v1", web::post().to(ping_test))
            .route("/get_stats/v1", web::get().to(get_stats))
            .default_service(web::to(|| async { HttpResponse::NotFound().finish() }));
    })
}

fn text(status: u16, body: impl Into<String>) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type("text/plain; charset=utf-8")
        .body(body.into())
}

/// Faults and HTTP rules that apply before any handler; `Some` is the answer to send.
async fn gate(d: &NodeData, req: &HttpRequest) -> Option<HttpResponse> {
    if req.headers().contains_key("X-Loki-Long-Poll") {
        return Some(text(
            410,
            "long polling is no longer supported, client upgrade required",
        ));
    }
    let f = d.node.faults();
    if f.delay_ms > 0 {
        d.node.count_fault();
        tokio::time::sleep(Duration::from_millis(f.delay_ms)).await;
    }
    if f.should_drop() {
        d.node.count_fault();
        // No answer: the client sees a timeout, as with a node that lost the request.
        tokio::time::sleep(DROP_HOLD).await;
        return Some(text(504, "Request time out"));
    }
    if f.not_ready {
        d.node.count_fault();
        return Some(text(503, "Snode not ready"));
    }
    if f.huge_reply {
        d.node.count_fault();
        return Some(huge_reply(d.node.clone()));
    }
    None
}

/// The `huge_reply` answer: 200 and [`HUGE_REPLY_BYTES`] of `x` in 64 KiB chunks, streamed
/// (chunked, no Content-Length), recording as it goes how much has got out.
fn huge_reply(node: Arc<Node>) -> HttpResponse {
    const CHUNK: usize = 64 * 1024;
    let chunk = web::Bytes::from(vec![b'x'; CHUNK]);
    let body = futures::stream::unfold(0u64, move |sent| {
        let chunk = chunk.clone();
        let node = node.clone();
        async move {
            if sent >= HUGE_REPLY_BYTES {
                return None;
            }
            let sent = sent + chunk.len() as u64;
            node.record_huge_reply(sent);
            Some((Ok::<_, std::convert::Infallible>(chunk), sent))
        }
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .streaming(body)
}

/// Reads the body, answering 413 `Request body too large` past 10 MiB.
pub(crate) async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<Vec<u8>, HttpResponse> {
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST_BODY_SIZE) {
        return Err(text(413, "Request body too large"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| text(400, "invalid body"))?;
        if body.len() + chunk.len() > MAX_REQUEST_BODY_SIZE {
            return Err(text(413, "Request body too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn peer(req: &HttpRequest) -> String {
    req.peer_addr().map(|a| a.to_string()).unwrap_or_default()
}

async fn storage_rpc(
    d: web::Data<NodeData>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    if let Some(r) = gate(&d, &req).await {
        return r;
    }
    let now = d.node.now_ms(&d.net.clock);
    // Direct client RPCs only, per client IP (SS `https.cpp`); onion traffic is not limited.
    if let Some(ip) = req.peer_addr().map(|a| a.ip()) {
        if !d.node.rate_limit_allows(ip, now) {
            return text(429, "Too many requests, try again later");
        }
    }
    let body = match read_body(&req, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ctx = Ctx {
        net: &d.net,
        node: &d.node,
        now,
    };
    let (resp, summary) = rpc::handle_envelope(&ctx, &body);
    d.node.routes.push(RouteEntry {
        time_ms: now,
        method: summary.method,
        pubkeys: summary.pubkeys,
        arrival: Arrival::Direct { peer: peer(&req) },
    });
    match resp.body {
        Body::Json(v) => HttpResponse::build(
            StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        )
        .content_type("application/json")
        .body(v.to_string()),
        Body::Text(s) => text(resp.status, s),
    }
}

async fn onion_req(
    d: web::Data<NodeData>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    if let Some(r) = gate(&d, &req).await {
        return r;
    }
    let body = match read_body(&req, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let reply = onion::handle_entry(d.net.clone(), d.node.clone(), &body, peer(&req)).await;
    HttpResponse::build(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY))
        .content_type(reply.content_type)
        .body(reply.body)
}

async fn ping_test(d: web::Data<NodeData>, req: HttpRequest) -> HttpResponse {
    if let Some(r) = gate(&d, &req).await {
        return r;
    }
    HttpResponse::Ok().finish()
}

async fn get_stats(d: web::Data<NodeData>, req: HttpRequest) -> HttpResponse {
    if let Some(r) = gate(&d, &req).await {
        return r;
    }
    let stored = d.node.store().len();
    let v = serde_json::json!({"version": "2.8.0", "total_stored": stored});
    HttpResponse::Ok()
        .content_type("application/json")
        .body(v.to_string())
}
