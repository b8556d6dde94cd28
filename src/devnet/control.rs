//! The control API (plain HTTP): inspect nodes, set faults at runtime, read route logs, move
//! the devnet clock.
//!
//! * `GET /nodes` → the node list with faults and how often they fired.
//! * `GET|PUT /nodes/{id}/faults` → a [`Faults`] JSON object (PUT replaces it; unknown keys 400).
//! * `GET|DELETE /nodes/{id}/routes` → the route log (DELETE empties it).
//! * `GET /clock` → `{"now_ms"}`; `POST /clock/advance` with `{"ms": N}`.
//! * `POST /community/rooms` with `{"token", "name", "description"?}` → 201
//!   `{"token","name","join_url"}` (400 for a bad token, 409 if it exists).
//! * `POST /community/rooms/{token}/moderators` with `{"session_id": "05…|15…", "admin"?: bool,
//!   "visible"?: bool}` → `{}`; `DELETE /community/rooms/{token}/moderators/{session_id}`
//!   removes the role.
//! * `GET|DELETE /community/routes` → the community server's route log (DELETE empties it).
//!
//! `{id}` is a node index or its Ed25519 hex.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::community::{CommunityError, CommunityServer, ModRole};
use super::faults::Faults;
use super::net::Network;

/// What the control API reaches.
pub struct Control {
    /// Nodes and clock.
    pub net: Arc<Network>,
    /// The community server.
    pub community: Arc<CommunityServer>,
    /// Its base URL (for join URLs).
    pub community_url: String,
}

type Net = web::Data<Arc<Network>>;
type Community = web::Data<Arc<Control>>;

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
                "faults_fired": n.faults_fired(),
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

fn community_error(e: &CommunityError) -> HttpResponse {
    let body = json!({"error": e.to_string()});
    match e {
        CommunityError::RoomExists(_) => HttpResponse::Conflict().json(body),
        CommunityError::NoRoom(_) => HttpResponse::NotFound().json(body),
        CommunityError::BadToken | CommunityError::BadId(_) => {
            HttpResponse::BadRequest().json(body)
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRoom {
    token: String,
    name: String,
    description: Option<String>,
}

async fn create_room(c: Community, body: web::Bytes) -> HttpResponse {
    let room = match serde_json::from_slice::<NewRoom>(&body) {
        Ok(r) => r,
        Err(e) => return HttpResponse::BadRequest().json(json!({"error": e.to_string()})),
    };
    match c
        .community
        .create_room(&room.token, &room.name, room.description)
    {
        Ok(()) => HttpResponse::Created().json(json!({
            "token": room.token,
            "name": room.name,
            "join_url": c.community.join_url(&c.community_url, &room.token),
        })),
        Err(e) => community_error(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewModerator {
    session_id: String,
    #[serde(default)]
    admin: bool,
    #[serde(default = "visible_default")]
    visible: bool,
}

fn visible_default() -> bool {
    true
}

async fn add_moderator(c: Community, token: web::Path<String>, body: web::Bytes) -> HttpResponse {
    let m = match serde_json::from_slice::<NewModerator>(&body) {
        Ok(m) => m,
        Err(e) => return HttpResponse::BadRequest().json(json!({"error": e.to_string()})),
    };
    let role = ModRole {
        admin: m.admin,
        visible: m.visible,
    };
    match c.community.set_moderator(&token, &m.session_id, Some(role)) {
        Ok(()) => HttpResponse::Ok().json(json!({})),
        Err(e) => community_error(&e),
    }
}

async fn remove_moderator(c: Community, path: web::Path<(String, String)>) -> HttpResponse {
    let (token, id) = path.into_inner();
    match c.community.set_moderator(&token, &id, None) {
        Ok(()) => HttpResponse::Ok().json(json!({})),
        Err(e) => community_error(&e),
    }
}

async fn community_routes(c: Community) -> HttpResponse {
    HttpResponse::Ok().json(c.community.routes())
}

async fn clear_community_routes(c: Community) -> HttpResponse {
    c.community.clear_routes();
    HttpResponse::NoContent().finish()
}

/// Starts the control API on `listener`.
pub fn serve(
    control: Control,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(control.net.clone());
    let community = web::Data::new(Arc::new(control));
    super::http::serve(listener, None, move |app| {
        app.app_data(data.clone())
            .app_data(community.clone())
            .route("/community/rooms", web::post().to(create_room))
            .route(
                "/community/rooms/{token}/moderators",
                web::post().to(add_moderator),
            )
            .route(
                "/community/rooms/{token}/moderators/{session_id}",
                web::delete().to(remove_moderator),
            )
            .route("/community/routes", web::get().to(community_routes))
            .route(
                "/community/routes",
                web::delete().to(clear_community_routes),
            )
            .route("/nodes", web::get().to(nodes))
            .route("/nodes/{id}/faults", web::get().to(get_faults))
            .route("/nodes/{id}/faults", web::put().to(put_faults))
            .route("/nodes/{id}/routes", web::get().to(get_routes))
            .route("/nodes/{id}/routes", web::delete().to(clear_routes))
            .route("/clock", web::get().to(clock))
            .route("/clock/advance", web::post().to(advance));
    })
}
