//! The SOGS request handler, transport-free: [`Sogs::handle`] takes one decoded request and the
//! clock, runs auth (§2.4), routes it (§8.1), and runs `/batch` and `/sequence` (§3.3, §3.4)
//! with the outer request's caller.

use base64::Engine as _;
use serde_json::{json, Value};

use super::auth::{authenticate, Caller};
use super::moderation::set_role;
use super::request::{Handled, SogsRequest, SogsResponse, JSON};
use super::state::{ModRole, Room, Tables, UserKey};
use super::{files, inbox, messages, moderation, reactions, rooms, CommunityError};
use crate::protocol::community::ROOM_MAX;
use crate::protocol::keys::{PrefixedId, X25519PublicKey};

/// What one handled request was, for the route log.
#[derive(Debug, Clone)]
pub struct Handling {
    /// `GET /room/x/pollInfo/0`, or `POST /batch[GET /capabilities,…]`.
    pub summary: String,
    /// The `X-SOGS-Pubkey` it authenticated with, if any.
    pub pubkey: Option<String>,
}

/// A SOGS server's state and logic, keyed by its X25519 public key.
#[derive(Debug)]
pub struct Sogs {
    server: X25519PublicKey,
    tables: Tables,
}

/// What a route handler sees: the tables, the caller, the clock.
pub struct Ctx<'a> {
    /// Every table.
    pub tables: &'a mut Tables,
    /// The server's key (blinding of `05` IDs).
    pub server: &'a X25519PublicKey,
    /// The authenticated caller.
    pub caller: Option<&'a Caller>,
    /// Float seconds.
    pub now: f64,
}

impl Ctx<'_> {
    /// The caller's user key.
    pub fn caller_key(&self) -> Option<&UserKey> {
        self.caller.map(|c| &c.key)
    }
    /// The caller, or 401 for a `user_required` route.
    pub fn require_user(&self) -> Result<&Caller, SogsResponse> {
        self.caller
            .ok_or_else(|| SogsResponse::error(401, "X-SOGS-* request authentication required"))
    }
    /// The room, 404 when missing (callers check permissions).
    pub fn room(&self, token: &str) -> Result<&Room, SogsResponse> {
        self.tables.room(token).ok_or_else(SogsResponse::not_found)
    }
}

impl Sogs {
    /// An empty server for the key `server`.
    pub fn new(server: X25519PublicKey) -> Self {
        Self {
            server,
            tables: Tables::default(),
        }
    }

    /// The server's X25519 public key.
    pub fn server_pubkey(&self) -> &X25519PublicKey {
        &self.server
    }

    /// Creates a room at `now_ms` (the SOGS command line's `--add-room`).
    pub fn create_room(
        &mut self,
        token: &str,
        name: &str,
        description: Option<String>,
        now_ms: u64,
    ) -> Result<(), CommunityError> {
        let valid = (1..=ROOM_MAX).contains(&token.len())
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(CommunityError::BadToken);
        }
        let key = token.to_ascii_lowercase();
        if self.tables.rooms.contains_key(&key) {
            return Err(CommunityError::RoomExists(token.to_owned()));
        }
        let room = Room::new(token, name, description, now_ms as f64 / 1000.0);
        self.tables.rooms.insert(key, room);
        Ok(())
    }

    /// Makes `id` (`05…` Session ID or `15…` blinded ID) moderator or admin of a room
    /// (`--add-moderators`), or removes the role (`None`). A `05` ID is matched to the blind15
    /// key its owner will authenticate with on this server.
    pub fn set_moderator(
        &mut self,
        token: &str,
        id: &str,
        role: Option<ModRole>,
    ) -> Result<(), CommunityError> {
        let bad = || CommunityError::BadId(id.to_owned());
        let parsed: PrefixedId = id.parse().map_err(|_| bad())?;
        let key = UserKey::of(&parsed, &self.server).ok_or_else(bad)?;
        self.tables.user_row(key, &parsed.to_string());
        let room = self
            .tables
            .room_mut(token)
            .ok_or_else(|| CommunityError::NoRoom(token.to_owned()))?;
        set_role(room, key, role);
        Ok(())
    }

    /// Bans (or unbans) `id` (`05…` or `15…`) from the whole server: every authenticated
    /// request of theirs gets 403 `Banned` (§2.4 row 10).
    pub fn set_global_ban(&mut self, id: &str, banned: bool) -> Result<(), CommunityError> {
        let bad = || CommunityError::BadId(id.to_owned());
        let parsed: PrefixedId = id.parse().map_err(|_| bad())?;
        let key = UserKey::of(&parsed, &self.server).ok_or_else(bad)?;
        self.tables.user_row(key, &parsed.to_string()).banned = banned;
        Ok(())
    }

    /// Handles one request at `now_ms` (devnet clock).
    pub fn handle(&mut self, req: &SogsRequest, now_ms: u64) -> (SogsResponse, Handling) {
        let now = now_ms as f64 / 1000.0;
        self.tables.sweep(now);
        let mut handling = Handling {
            summary: req.summary(),
            pubkey: req.header("x-sogs-pubkey").map(str::to_owned),
        };
        let caller = match authenticate(&mut self.tables, &self.server, req, now) {
            Ok(c) => c,
            Err(resp) => return (resp, handling),
        };
        let mut ctx = Ctx {
            tables: &mut self.tables,
            server: &self.server,
            caller: caller.as_ref(),
            now,
        };
        let resp = match (req.method.as_str(), req.segments.as_slice()) {
            ("POST", [b]) if b == "batch" || b == "sequence" => {
                let sequence = b == "sequence";
                match parse_batch(req) {
                    Ok(subs) => {
                        handling.summary = format!(
                            "{}[{}]",
                            req.summary(),
                            subs.iter()
                                .map(SogsRequest::summary)
                                .collect::<Vec<_>>()
                                .join(",")
                        );
                        run_batch(&mut ctx, &subs, sequence)
                    }
                    Err(e) => e,
                }
            }
            _ => route(&mut ctx, req).unwrap_or_else(|e| e),
        };
        (resp, handling)
    }
}

/// Parses a `/batch` body (§3.3): an array of `{method, path, headers?, json|b64|bytes}`; any bad
/// element refuses the whole batch with 400.
fn parse_batch(req: &SogsRequest) -> Result<Vec<SogsRequest>, SogsResponse> {
    let bad = || SogsResponse::error(400, "Invalid batch request");
    let Value::Array(items) = req.json()? else {
        return Err(bad());
    };
    items
        .iter()
        .map(|item| {
            let method = item.get("method").and_then(Value::as_str).ok_or_else(bad)?;
            let path = item.get("path").and_then(Value::as_str).ok_or_else(bad)?;
            let mut headers = SogsRequest::headers_from_json(item.get("headers"));
            let bodies = [item.get("json"), item.get("b64"), item.get("bytes")];
            let given = bodies.iter().filter(|b| b.is_some()).count();
            let body = match (method, bodies) {
                ("GET" | "DELETE", _) if given == 0 => Vec::new(),
                ("POST" | "PUT", [Some(j), None, None]) => {
                    headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
                    headers.push(("content-type".into(), JSON.into()));
                    j.to_string().into_bytes()
                }
                ("POST" | "PUT", [None, Some(b), None]) => {
                    base64::engine::general_purpose::STANDARD
                        .decode(b.as_str().ok_or_else(bad)?)
                        .map_err(|_| bad())?
                }
                ("POST" | "PUT", [None, None, Some(s)]) => {
                    s.as_str().ok_or_else(bad)?.as_bytes().to_vec()
                }
                _ => return Err(bad()),
            };
            SogsRequest::new(method, path, headers, body).ok_or_else(bad)
        })
        .collect()
}

/// Runs sub-requests with the outer caller; `/sequence` stops after the first non-2xx.
fn run_batch(ctx: &mut Ctx<'_>, subs: &[SogsRequest], sequence: bool) -> SogsResponse {
    let mut out = Vec::with_capacity(subs.len());
    for sub in subs {
        let resp = route(ctx, sub).unwrap_or_else(|e| e);
        let body = if resp.content_type == JSON {
            serde_json::from_slice(&resp.body).unwrap_or(Value::Null)
        } else {
            Value::String(base64::engine::general_purpose::STANDARD.encode(&resp.body))
        };
        let ok = resp.is_success();
        out.push(json!({"code": resp.code, "headers": {"content-type": resp.content_type}, "body": body}));
        if sequence && !ok {
            break;
        }
    }
    SogsResponse::json(200, &Value::Array(out))
}

/// Routes one (sub-)request (communities.md §8.1).
fn route(ctx: &mut Ctx<'_>, req: &SogsRequest) -> Handled {
    let seg: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    match (req.method.as_str(), seg.as_slice()) {
        ("GET", ["capabilities"]) => rooms::capabilities(req),
        ("GET", ["rooms"]) => rooms::list(ctx),
        ("GET", ["room", t]) => rooms::info(ctx, t),
        ("GET", ["room", t, "pollInfo", n]) => rooms::poll_info(ctx, t, n),
        ("GET", ["room", t, "messages", "recent"]) => messages::recent(ctx, req, t),
        ("GET", ["room", t, "messages", "since", n]) => messages::since(ctx, req, t, n),
        ("GET", ["room", t, "messages", "before", id]) => messages::before(ctx, req, t, id),
        ("GET", ["room", t, "message", id]) => messages::get_one(ctx, req, t, id),
        ("POST", ["room", t, "message"]) => messages::post(ctx, req, t),
        ("PUT", ["room", t, "message", id]) => messages::edit(ctx, req, t, id),
        ("DELETE", ["room", t, "message", id]) => messages::delete(ctx, t, id),
        ("PUT", ["room", t, "reaction", id, emoji]) => reactions::add(ctx, t, id, emoji),
        ("DELETE", ["room", t, "reaction", id, emoji]) => reactions::remove(ctx, t, id, emoji),
        ("DELETE", ["room", t, "reactions", id]) => reactions::clear(ctx, t, id, None),
        ("DELETE", ["room", t, "reactions", id, emoji]) => {
            reactions::clear(ctx, t, id, Some(emoji))
        }
        ("GET", ["room", t, "reactors", id, emoji]) => reactions::reactors(ctx, req, t, id, emoji),
        ("POST", ["room", t, "pin", id]) => moderation::pin(ctx, t, Some(id)),
        ("POST", ["room", t, "unpin", "all"]) => moderation::unpin(ctx, t, None),
        ("POST", ["room", t, "unpin", id]) => moderation::unpin(ctx, t, Some(id)),
        ("POST", ["room", t, "file"]) => files::upload(ctx, req, t),
        ("GET", ["room", t, "file", id]) | ("GET", ["room", t, "file", id, _]) => {
            files::download(ctx, t, id)
        }
        ("POST", ["inbox", to]) => inbox::send(ctx, req, to),
        ("GET", ["inbox"]) => inbox::list(ctx, req, inbox::Box::Inbox, None),
        ("GET", ["inbox", "since", n]) => inbox::list(ctx, req, inbox::Box::Inbox, Some(n)),
        ("GET", ["outbox"]) => inbox::list(ctx, req, inbox::Box::Outbox, None),
        ("GET", ["outbox", "since", n]) => inbox::list(ctx, req, inbox::Box::Outbox, Some(n)),
        ("DELETE", ["inbox"]) => inbox::clear(ctx),
        ("POST", ["user", sid, "ban"]) => moderation::ban(ctx, req, sid, true),
        ("POST", ["user", sid, "unban"]) => moderation::ban(ctx, req, sid, false),
        ("POST", ["user", sid, "moderator"]) => moderation::moderator(ctx, req, sid),
        ("DELETE", ["room", t, "all", sid]) => moderation::delete_all(ctx, t, sid),
        _ => Err(SogsResponse::not_found()),
    }
}
