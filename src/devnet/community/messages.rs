//! Room messages: retrieval with `seqno` semantics (communities.md §4.3, §4.4, §4.6) and
//! posting, editing and deleting (§4.5).

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use serde_json::{json, Map, Value};

use super::files::{expire_files, link_files};
use super::reactions::render_reactions;
use super::request::{Handled, SogsRequest, SogsResponse};
use super::rooms::{perms, require_read, touch};
use super::server::Ctx;
use super::state::{Message, UserKey};

/// Posts per user per room within [`RATE_WINDOW_S`] (§4.5).
const RATE_POSTS: usize = 5;
/// The rate-limit window.
const RATE_WINDOW_S: f64 = 16.0;

/// Base64 with or without padding (PYSOGS `utils.decode_base64`).
const BASE64_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A full message row as §4.4 prints it (`reactors` = how many reactor IDs per emoji).
pub fn render(msg: &Message, caller: Option<&UserKey>, reactors: usize) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), msg.id.into());
    out.insert("session_id".into(), msg.author.clone().into());
    out.insert("posted".into(), msg.posted.into());
    if let Some(e) = msg.edited {
        out.insert("edited".into(), e.into());
    }
    out.insert("seqno".into(), msg.seqno().into());
    match (&msg.data, &msg.signature) {
        (Some(data), Some(sig)) => {
            out.insert("data".into(), STANDARD.encode(data).into());
            out.insert("signature".into(), STANDARD.encode(sig).into());
            out.insert("reactions".into(), render_reactions(msg, caller, reactors));
        }
        _ => {
            out.insert("data".into(), Value::Null);
            out.insert("deleted".into(), true.into());
        }
    }
    Value::Object(out)
}

/// `limit` (default 100, 1..=256) and `reactors` (default 4, 0..=20) of §4.3.
fn limits(req: &SogsRequest) -> (usize, usize) {
    let limit = req.query_int("limit", 100, 1, 256);
    let reactors = req.query_int("reactors", 4, 0, 20);
    (
        limit.unsigned_abs() as usize,
        reactors.unsigned_abs() as usize,
    )
}

fn room_messages<'a>(ctx: &'a Ctx<'_>, token: &str) -> impl Iterator<Item = &'a Message> {
    let canonical = ctx
        .tables
        .room(token)
        .map(|r| r.token.clone())
        .unwrap_or_default();
    ctx.tables
        .messages
        .values()
        .filter(move |m| m.room == canonical)
}

fn newest_first<'a>(
    ctx: &Ctx<'_>,
    msgs: impl DoubleEndedIterator<Item = &'a Message>,
    req: &SogsRequest,
) -> Value {
    let (limit, reactors) = limits(req);
    let rows: Vec<Value> = msgs
        .rev()
        .filter(|m| !m.deleted())
        .take(limit)
        .map(|m| render(m, ctx.caller_key(), reactors))
        .collect();
    Value::Array(rows)
}

/// `GET /room/{t}/messages/recent`: newest non-deleted first.
pub fn recent(ctx: &mut Ctx<'_>, req: &SogsRequest, token: &str) -> Handled {
    require_read(ctx, token)?;
    touch(ctx, token);
    let msgs: Vec<&Message> = room_messages(ctx, token).collect();
    Ok(SogsResponse::json(
        200,
        &newest_first(ctx, msgs.into_iter(), req),
    ))
}

/// `GET /room/{t}/messages/before/{id}`: non-deleted with a smaller id, newest first.
pub fn before(ctx: &mut Ctx<'_>, req: &SogsRequest, token: &str, id: &str) -> Handled {
    require_read(ctx, token)?;
    let id: i64 = id.parse().map_err(|_| SogsResponse::not_found())?;
    touch(ctx, token);
    let msgs: Vec<&Message> = room_messages(ctx, token).filter(|m| m.id < id).collect();
    Ok(SogsResponse::json(
        200,
        &newest_first(ctx, msgs.into_iter(), req),
    ))
}

/// `GET /room/{t}/messages/since/{seqno}` (§4.6): changes after `seqno`, ascending seqno;
/// with `t=r` reaction-only changes come as `{id, seqno, reactions}`; tombstones only for
/// messages the client could have seen (`seqno_creation ≤ N`).
pub fn since(ctx: &mut Ctx<'_>, req: &SogsRequest, token: &str, seqno: &str) -> Handled {
    require_read(ctx, token)?;
    let n: i64 = seqno.parse().map_err(|_| SogsResponse::not_found())?;
    touch(ctx, token);
    let (limit, reactors) = limits(req);
    let with_reactions = req.query_param("t").is_some_and(|t| t.contains('r'));
    let mut rows: Vec<&Message> = room_messages(ctx, token)
        .filter(|m| {
            let changed = if with_reactions {
                m.seqno() > n
            } else {
                m.seqno_data > n
            };
            changed && (!m.deleted() || m.seqno_creation <= n)
        })
        .collect();
    rows.sort_by_key(|m| m.seqno());
    let out: Vec<Value> = rows
        .into_iter()
        .take(limit)
        .map(|m| {
            if m.seqno_data <= n && !m.deleted() {
                json!({"id": m.id, "seqno": m.seqno(),
                       "reactions": render_reactions(m, ctx.caller_key(), reactors)})
            } else {
                render(m, ctx.caller_key(), reactors)
            }
        })
        .collect();
    Ok(SogsResponse::json(200, &Value::Array(out)))
}

/// `GET /room/{t}/message/{id}`: 404 if deleted or missing.
pub fn get_one(ctx: &mut Ctx<'_>, req: &SogsRequest, token: &str, id: &str) -> Handled {
    require_read(ctx, token)?;
    let msg = find(ctx, token, id)?;
    let (_, reactors) = limits(req);
    Ok(SogsResponse::json(
        200,
        &render(msg, ctx.caller_key(), reactors),
    ))
}

/// The live (not deleted) message `id` of room `token`, else 404.
pub fn find<'a>(ctx: &'a Ctx<'_>, token: &str, id: &str) -> Result<&'a Message, SogsResponse> {
    let room = ctx.room(token)?;
    id.parse::<i64>()
        .ok()
        .and_then(|id| ctx.tables.messages.get(&id))
        .filter(|m| m.room == room.token && !m.deleted())
        .ok_or_else(SogsResponse::not_found)
}

/// A post or edit body, read.
struct PostBody {
    data: Vec<u8>,
    signature: Vec<u8>,
    files: Vec<i64>,
    /// Whisper fields present (moderator-only in PYSOGS; not implemented here).
    whisper: bool,
}

/// `data`, `signature` and `files` of a post or edit body. The signature is only checked to be
/// 64 bytes, as PYSOGS does: receivers verify it, the server never does (§4.5, §8.2).
fn parse_body(req: &SogsRequest) -> Result<PostBody, SogsResponse> {
    let body = req.json()?;
    let bad = |what: &str| SogsResponse::error(400, &format!("Invalid request: {what}"));
    let data = body
        .get("data")
        .and_then(Value::as_str)
        .and_then(|d| BASE64_ANY_PAD.decode(d).ok())
        .filter(|d| !d.is_empty())
        .ok_or_else(|| bad("data must be non-empty base64"))?;
    let signature = body
        .get("signature")
        .and_then(Value::as_str)
        .and_then(|s| BASE64_ANY_PAD.decode(s).ok())
        .filter(|s| s.len() == 64)
        .ok_or_else(|| bad("signature must be 64 bytes of base64"))?;
    let files = match body.get("files") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|v| match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            })
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| bad("files must be file ids"))?,
        Some(_) => return Err(bad("files must be a list")),
    };
    let whisper = body.get("whisper_to").is_some() || body.get("whisper_mods").is_some();
    Ok(PostBody {
        data,
        signature,
        files,
        whisper,
    })
}

/// `POST /room/{t}/message` → 201 with the new message.
pub fn post(ctx: &mut Ctx<'_>, req: &SogsRequest, token: &str) -> Handled {
    let caller = ctx.require_user()?.clone();
    let room = ctx.room(token)?;
    let p = perms(room, Some(&caller.key), ctx.now);
    if !p.write {
        return Err(SogsResponse::forbidden(
            "This endpoint requires room message 'write' permission",
        ));
    }
    let PostBody {
        data,
        signature,
        files,
        whisper,
    } = parse_body(req)?;
    if whisper {
        // Whispers are moderator-only in PYSOGS; the devnet does not implement them.
        return Err(SogsResponse::forbidden("Whispers are not supported here"));
    }
    let now = ctx.now;
    let canonical = room.token.clone();
    let Some(room) = ctx.tables.room_mut(token) else {
        return Err(SogsResponse::not_found());
    };
    if !p.admin {
        let recent = room.recent_posts.entry(caller.key).or_default();
        recent.retain(|t| now - *t < RATE_WINDOW_S);
        if recent.len() >= RATE_POSTS {
            return Err(SogsResponse::error(429, "Rate limited"));
        }
        recent.push_back(now);
    }
    let seqno = room.next_seqno();
    ctx.tables.last_message_id += 1;
    let id = ctx.tables.last_message_id;
    let msg = Message {
        id,
        room: canonical.clone(),
        author: caller.id.clone(),
        author_key: caller.key,
        posted: now,
        edited: None,
        data: Some(data),
        signature: Some(signature),
        seqno_data: seqno,
        seqno_reactions: 0,
        seqno_creation: seqno,
        reactions: Vec::new(),
        files: Vec::new(),
    };
    // A new message has no reactions: `"reactions": {}`.
    let rendered = render(&msg, Some(&caller.key), 0);
    ctx.tables.messages.insert(id, msg);
    link_files(ctx, &canonical, &caller.key, id, &files);
    Ok(SogsResponse::json(201, &rendered))
}

/// `PUT /room/{t}/message/{id}`: the author only, with write permission → `{}`.
pub fn edit(ctx: &mut Ctx<'_>, req: &SogsRequest, token: &str, id: &str) -> Handled {
    let caller = ctx.require_user()?.clone();
    let msg = find(ctx, token, id)?;
    let (msg_id, canonical) = (msg.id, msg.room.clone());
    if msg.author_key != caller.key {
        return Err(SogsResponse::forbidden(
            "Only the author can edit a message",
        ));
    }
    if !perms(ctx.room(token)?, Some(&caller.key), ctx.now).write {
        return Err(SogsResponse::forbidden(
            "This endpoint requires room message 'write' permission",
        ));
    }
    let PostBody {
        data,
        signature,
        files,
        ..
    } = parse_body(req)?;
    let now = ctx.now;
    let seqno = ctx
        .tables
        .room_mut(token)
        .map(|r| r.next_seqno())
        .unwrap_or_default();
    if let Some(m) = ctx.tables.messages.get_mut(&msg_id) {
        m.data = Some(data);
        m.signature = Some(signature);
        m.edited = Some(now);
        m.seqno_data = seqno;
    }
    link_files(ctx, &canonical, &caller.key, msg_id, &files);
    Ok(SogsResponse::json(200, &json!({})))
}

/// Deletes `msg_id` (already checked): nulls data and signature, drops reactions, unpins it,
/// expires its files.
pub fn tombstone(ctx: &mut Ctx<'_>, token: &str, msg_id: i64) {
    let now = ctx.now;
    let Some(room) = ctx.tables.room_mut(token) else {
        return;
    };
    let seqno = room.next_seqno();
    let pinned = room.pins.len();
    room.pins.retain(|p| p.id != msg_id);
    if room.pins.len() != pinned {
        room.info_updates += 1;
    }
    let mut files = Vec::new();
    if let Some(m) = ctx.tables.messages.get_mut(&msg_id) {
        m.data = None;
        m.signature = None;
        m.edited = Some(now);
        m.seqno_data = seqno;
        m.reactions.clear();
        files = std::mem::take(&mut m.files);
    }
    expire_files(ctx, &files);
}

/// `DELETE /room/{t}/message/{id}`: own messages, or any as a moderator → `{}`.
pub fn delete(ctx: &mut Ctx<'_>, token: &str, id: &str) -> Handled {
    let caller = ctx.require_user()?.clone();
    let p = perms(ctx.room(token)?, Some(&caller.key), ctx.now);
    if !p.write {
        return Err(SogsResponse::forbidden(
            "This endpoint requires room message 'write' permission",
        ));
    }
    let msg = find(ctx, token, id)?;
    if msg.author_key != caller.key && !p.moderator {
        return Err(SogsResponse::forbidden(
            "You cannot delete another user's message",
        ));
    }
    let msg_id = msg.id;
    tombstone(ctx, token, msg_id);
    Ok(SogsResponse::json(200, &json!({})))
}
