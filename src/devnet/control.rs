//! The control API (plain HTTP): inspect nodes, set faults at runtime, read route logs, move
//! the devnet clock.
//!
//! * `GET /nodes` → the node list with faults.
//! * `GET|PUT /nodes/{id}/faults` → a [`Faults`] JSON object (PUT replaces it; unknown keys 400).
//! * `GET|DELETE /nodes/{id}/routes` → the route log (DELETE empties it).
//! * `GET /clock` → `{"now_ms"}`; `POST /clock/advance` with `{"ms": N}`.
//!
//! `{id}` is a node index or its Ed25519 hex.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::faults::Faults;
use super::net::Network;

type Net = web::Data<Arc<Network>>;

fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({"error": "no such node"}))
}

async fn nodes(net: Net) -> HttpResponse {
    let list: Vec<_> = net
        .nodes
        .iter()
        .map(|n| {
            json!({
                "index": n.info.index,
                "ip": n.info.ip,
                "storage_port": n.info.port,
                "pubkey_ed25519": hex::encode(n.info.ed25519),
                "pubkey_x25519": hex::encode(n.info.x25519),
                "swarm_id": n.info.swarm_id,
                "faults": n.faults(),
                "stored": n.store().len(),
            })
        })
        .collect();
    HttpResponse::Ok().json(list)
}

async fn get_faults(net: Net, id: web::Path<String>) -> HttpResponse {
    match net.lookup(&id) {
        Some(n) => HttpResponse::Ok().json(n.faults()),
        None => not_found(),
    }
}

async fn put_faults(net: Net, id: web::Path<String>, body: web::Bytes) -> HttpResponse {
    let Some(node) = net.lookup(&id) else {
        return not_found();
    };
    match serde_json::from_slice::<Faults>(&body) {
        Ok(f) if (0.0..=1.0).contains(&f.drop) => {
            node.set_faults(f.clone());
            HttpResponse::Ok().json(f)
        }
        Ok(_) => HttpResponse::BadRequest().json(json!({"error": "drop must be within 0..=1"})),
        Err(e) => HttpResponse::BadRequest().json(json!({"error": e.to_string()})),
    }
}

async fn get_routes(net: Net, id: web::Path<String>) -> HttpResponse {
    match net.lookup(&id) {
        Some(n) => HttpResponse::Ok().json(n.routes.entries()),
        None => not_found(),
    }
}

async fn clear_routes(net: Net, id: web::Path<String>) -> HttpResponse {
    match net.lookup(&id) {
        Some(n) => {
            n.routes.clear();
            HttpResponse::NoContent().finish()
        }
        None => not_found(),
    }
}

async fn clock(net: Net) -> HttpResponse {
    HttpResponse::Ok().json(json!({"now_ms": net.clock.now_ms()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    ms: i64,
}

async fn advance(net: Net, body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<Advance>(&body) {
        Ok(a) => {
            net.clock.advance(a.ms);
            clock(net).await
        }
        Err(e) => HttpResponse::BadRequest().json(json!({"error": e.to_string()})),
    }
}

/// Starts the control API on `listener`.
pub fn serve(
    net: Arc<Network>,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(net);
    super::http::serve(listener, None, move |app| {
        app.app_data(data.clone())
            .route("/nodes", web::get().to(nodes))
            .route("/nodes/{id}/faults", web::get().to(get_faults))
            .route("/nodes/{id}/faults", web::put().to(put_faults))
            .route("/nodes/{id}/routes", web::get().to(get_routes))
            .route("/nodes/{id}/routes", web::delete().to(clear_routes))
            .route("/clock", web::get().to(clock))
            .route("/clock/advance", web::post().to(advance));
    })
}
