//! The devnet's community server: an in-memory SOGS that behaves like session-pysogs for
//! everything in `../shared/protocol/communities.md` §8.1–§8.2, reached only through onion
//! requests v4, exactly like the file server: the last hop POSTs `u32le N ‖ blob ‖ ROUTE_JSON`
//! to `/oxen/v4/lsrpc`; we decrypt `blob` with our X25519 key, parse the bencoded
//! `[meta, body?]`, run the request ([`Sogs::handle`]: auth §2.4, then the routes), and answer
//! raw Enc(bencoded `[{"code","headers"}, body]`).
//!
//! * `request`: one request and its answer; `auth`: the §2.4 checks; `state`: the tables;
//! * `server`: routing, `/batch`, `/sequence`; `rooms`, `messages`, `reactions`, `files`,
//!   `inbox`, `moderation`: the routes by concept.
//!
//! Every request handled is logged ([`CommunityServer::routes`]): the last hop marks its proxy
//! requests with [`RELAY_HEADER`], so the log says which node relayed it (`via: onion`), or
//! `relay: null` when something POSTed to `/oxen/v4/lsrpc` directly.

mod auth;
mod files;
mod inbox;
mod messages;
mod moderation;
mod reactions;
mod request;
mod rooms;
mod server;
mod state;

use std::sync::{Arc, Mutex};

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use x25519_dalek::{PublicKey, StaticSecret};

pub use auth::REQUIRE_BLINDED;
pub use files::MAX_FILE_SIZE;
pub use request::{SogsRequest, SogsResponse};
pub use rooms::CAPABILITIES;
pub use server::{Handling, Sogs};
pub use state::ModRole;

use super::net::Network;
use super::routes::{Arrival, RouteEntry, RouteLog};
use super::wire::{self, EncType, HopChannel};
use crate::protocol::keys::X25519PublicKey;

/// The header a devnet node adds when it proxies an onion request to a server: its Ed25519
/// hex (a stand-in for the peer address, which on 127.0.0.1 names no node).
pub const RELAY_HEADER: &str = "x-devnet-relay";
/// The room created at start.
pub const DEFAULT_ROOM: &str = "lobby";
/// Its display name.
const DEFAULT_ROOM_NAME: &str = "Lobby";

/// Why a control operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommunityError {
    /// Room tokens are 1–64 of `[A-Za-z0-9_-]` (§1.1).
    #[error("room tokens are 1-64 characters of A-Z a-z 0-9 _ -")]
    BadToken,
    /// A room with that token (case-insensitive) exists.
    #[error("room {0} already exists")]
    RoomExists(String),
    /// No such room.
    #[error("no room {0}")]
    NoRoom(String),
    /// Not a `05…` Session ID or `15…` blinded ID.
    #[error("not a 05 Session ID or 15 blinded ID: {0}")]
    BadId(String),
}

/// The community server: key, state, route log.
pub struct CommunityServer {
    net: Arc<Network>,
    x_key: StaticSecret,
    /// X25519 public key (the `public_key` of join URLs).
    pub x25519: [u8; 32],
    sogs: Mutex<Sogs>,
    routes: RouteLog,
}

impl std::fmt::Debug for CommunityServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CommunityServer({})", hex::encode(self.x25519))
    }
}

impl CommunityServer {
    /// A server with a fresh key and the default room.
    pub fn new(net: Arc<Network>) -> Self {
        let x_key = StaticSecret::random_from_rng(rand::rngs::OsRng);
        let x25519 = PublicKey::from(&x_key).to_bytes();
        let server = Self {
            sogs: Mutex::new(Sogs::new(X25519PublicKey::from_bytes(x25519))),
            net,
            x_key,
            x25519,
            routes: RouteLog::default(),
        };
        // A fresh server has no rooms, so the default one cannot clash.
        let _ = server.create_room(DEFAULT_ROOM, DEFAULT_ROOM_NAME, None);
        server
    }

    /// Creates a room (the SOGS command line's `--add-room`).
    pub fn create_room(
        &self,
        token: &str,
        name: &str,
        description: Option<String>,
    ) -> Result<(), CommunityError> {
        let now = self.net.clock.now_ms();
        let mut sogs = self.sogs.lock().unwrap_or_else(|p| p.into_inner());
        sogs.create_room(token, name, description, now)
    }

    /// Makes `id` (`05…` or `15…`) moderator or admin of a room (`--add-moderators`), or
    /// removes the role (`None`).
    pub fn set_moderator(
        &self,
        token: &str,
        id: &str,
        role: Option<ModRole>,
    ) -> Result<(), CommunityError> {
        let mut sogs = self.sogs.lock().unwrap_or_else(|p| p.into_inner());
        sogs.set_moderator(token, id, role)
    }

    /// Bans `id` (`05…` or `15…`) from the whole server, or lifts the ban (§2.4 row 10).
    pub fn set_global_ban(&self, id: &str, banned: bool) -> Result<(), CommunityError> {
        let mut sogs = self.sogs.lock().unwrap_or_else(|p| p.into_inner());
        sogs.set_global_ban(id, banned)
    }

    /// `http://127.0.0.1:P/ROOM?public_key=HEX` for a server at `base_url`.
    pub fn join_url(&self, base_url: &str, token: &str) -> String {
        format!("{base_url}/{token}?public_key={}", hex::encode(self.x25519))
    }

    /// The route log: one entry per request handled (a batch is one entry).
    pub fn routes(&self) -> Vec<RouteEntry> {
        self.routes.entries()
    }

    /// Empties the route log.
    pub fn clear_routes(&self) {
        self.routes.clear();
    }

    /// Handles one `/oxen/v4/lsrpc` body; `Err` is a plaintext error (the request could not be
    /// opened, so nothing can be encrypted back, §3.1 step 2).
    fn handle_lsrpc(&self, body: &[u8], arrival: Arrival) -> Result<Vec<u8>, &'static str> {
        let (blob, route) = wire::split_combined(body).map_err(|_| "Invalid request")?;
        let route: Value = serde_json::from_slice(route).map_err(|_| "Invalid request")?;
        let eph: [u8; 32] = route
            .get("ephemeral_key")
            .and_then(Value::as_str)
            .and_then(|s| hex::decode(s).ok())
            .and_then(|b| b.try_into().ok())
            .ok_or("Invalid request")?;
        let enc = match route.get("enc_type").and_then(Value::as_str) {
            None => EncType::AesGcm,
            Some(s) => EncType::parse(s).map_err(|_| "Invalid request")?,
        };
        let channel =
            HopChannel::server(enc, &self.x_key, &eph).map_err(|_| "Invalid ciphertext")?;
        let plain = channel.decrypt(blob).map_err(|_| "Invalid ciphertext")?;
        let answer = match self.parse_v4(&plain) {
            Some(req) => {
                let now = self.net.clock.now_ms();
                let (resp, handling) = {
                    let mut sogs = self.sogs.lock().unwrap_or_else(|p| p.into_inner());
                    sogs.handle(&req, now)
                };
                self.routes.push(RouteEntry {
                    time_ms: now,
                    method: handling.summary,
                    pubkeys: handling.pubkey.into_iter().collect(),
                    arrival,
                });
                resp
            }
            None => SogsResponse::error(400, "Invalid v4 onion request"),
        };
        let meta = json!({"code": answer.code, "headers": {"content-type": answer.content_type}});
        let framed = wire::bencode_list(&[meta.to_string().as_bytes(), &answer.body]);
        Ok(channel.encrypt(&framed))
    }

    /// `l <meta> [<body>] e` → a request (§3.1 step 3).
    fn parse_v4(&self, plain: &[u8]) -> Option<SogsRequest> {
        let items = wire::bencode_string_list(plain).ok()?;
        if items.is_empty() || items.len() > 2 {
            return None;
        }
        let meta: Value = serde_json::from_slice(items.first()?).ok()?;
        let method = meta.get("method")?.as_str()?;
        let endpoint = meta.get("endpoint")?.as_str()?;
        let mut headers = SogsRequest::headers_from_json(meta.get("headers"));
        let body = items.get(1).map(|b| b.to_vec()).unwrap_or_default();
        if !body.is_empty()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("content-type".into(), request::OCTET_STREAM.into()));
        }
        SogsRequest::new(method, endpoint, headers, body)
    }
}

async fn lsrpc(
    server: web::Data<Arc<CommunityServer>>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let body = match super::node::read_body(&req, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let peer = req.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let relay = req
        .headers()
        .get(RELAY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let arrival = Arrival::Onion { relay, peer };
    match server.handle_lsrpc(&body, arrival) {
        Ok(ct) => HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(ct),
        Err(msg) => HttpResponse::BadRequest()
            .content_type("text/plain")
            .body(msg),
    }
}

/// Starts the community server's plain HTTP listener (only the last onion hop talks to it).
pub fn serve(
    server: Arc<CommunityServer>,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(server);
    super::http::serve(listener, None, move |app| {
        app.app_data(data.clone())
            .app_data(web::PayloadConfig::new(
                super::node::MAX_REQUEST_BODY_SIZE + 4096,
            ))
            .route("/oxen/v4/lsrpc", web::post().to(lsrpc))
            .default_service(web::to(|| async { HttpResponse::NotFound().finish() }));
    })
}
