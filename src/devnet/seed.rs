//! The seed: oxend-style JSON-RPC `get_n_service_nodes` at `/json_rpc` over plain HTTP (or
//! HTTPS with an untrusted certificate, [`super::DevnetConfig::seed_tls`])
//! (network.md §2.1), and the node list shared with `oxend_request` (§2.2).

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

use super::net::{Network, VERSION};

/// Block height the devnet reports.
pub const HEIGHT: u64 = 1_000_000;

/// `service_node_states` with the requested `fields` (all fields when none are named), plus
/// `height` and `hardfork`, as oxend's `get_n_service_nodes`/`get_service_nodes` answer.
pub fn service_node_states(net: &Network, params: &Map<String, Value>) -> Value {
    let wanted: Option<Vec<&str>> = params.get("fields").and_then(Value::as_object).map(|f| {
        f.iter()
            .filter(|(_, on)| on.as_bool() == Some(true))
            .map(|(k, _)| k.as_str())
            .collect()
    });
    let limit = params
        .get("limit")
        .and_then(Value::as_u64)
        .and_then(|l| usize::try_from(l).ok());
    let states: Vec<Value> = net
        .nodes
        .iter()
        .take(limit.unwrap_or(usize::MAX))
        .map(|n| {
            let ed = hex::encode(n.info.ed25519);
            let full = json!({
                "service_node_pubkey": ed,
                "public_ip": n.info.ip,
                "storage_port": n.info.port,
                "storage_lmq_port": 0,
                "pubkey_ed25519": ed,
                "pubkey_x25519": hex::encode(n.info.x25519),
                "swarm_id": n.info.swarm_id,
                "storage_server_version": VERSION,
                "requested_unlock_height": 0,
                "funded": true,
            });
            match (&wanted, full) {
                (Some(fields), Value::Object(all)) => Value::Object(
                    all.into_iter()
                        .filter(|(k, _)| fields.contains(&k.as_str()))
                        .collect(),
                ),
                (_, full) => full,
            }
        })
        .collect();
    json!({"service_node_states": states, "height": HEIGHT, "hardfork": 19, "snode_revision": 4})
}

async fn json_rpc(net: web::Data<Arc<Network>>, body: web::Bytes) -> HttpResponse {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return rpc_error(Value::Null, -32700, "Parse error");
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    match req.get("method").and_then(Value::as_str) {
        Some("get_n_service_nodes" | "get_service_nodes") => {
            let empty = Map::new();
            let params = req
                .get("params")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            let result = service_node_states(&net, params);
            ok(json!({"jsonrpc": "2.0", "id": id, "result": result}))
        }
        _ => rpc_error(id, -32601, "Method not found"),
    }
}

fn ok(v: Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(v.to_string())
}

fn rpc_error(id: Value, code: i32, message: &str) -> HttpResponse {
    ok(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
}

/// Starts the seed on `listener`, over TLS when `tls` is given (a self-signed certificate:
/// the `seed_tls` impersonation test).
pub fn serve(
    net: Arc<Network>,
    listener: std::net::TcpListener,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(net);
    super::http::serve(listener, tls, move |app| {
        app.app_data(data.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .route("/json_rpc", web::post().to(json_rpc));
    })
}
