//! Reactions (communities.md §4.7): add/remove your own (read permission), a moderator's
//! removal of everyone's, the reactors list, and the `reactions` object of §4.4. Each single
//! add or remove bumps the room's `message_sequence` and the message's `seqno_reactions`.

use serde_json::{json, Map, Value};

use super::messages::find;
use super::request::{Handled, SogsRequest, SogsResponse};
use super::rooms::{perms, require_read};
use super::server::Ctx;
use super::state::{Message, Reaction, UserKey};

/// Longest emoji, in code points.
const MAX_EMOJI_CHARS: usize = 12;

/// `{emoji: {"index", "count", "reactors"?, "you"?}}`, first-added emoji first.
pub fn render_reactions(msg: &Message, caller: Option<&UserKey>, reactors: usize) -> Value {
    let mut out = Map::new();
    for (index, r) in msg.reactions.iter().enumerate() {
        let mut entry = Map::new();
        entry.insert("index".into(), index.into());
        entry.insert("count".into(), r.reactors.len().into());
        if reactors > 0 {
            let ids: Vec<Value> = r
                .reactors
                .iter()
                .take(reactors)
                .map(|(id, _, _)| id.clone().into())
                .collect();
            entry.insert("reactors".into(), ids.into());
        }
        if caller.is_some_and(|c| r.reactors.iter().any(|(_, k, _)| k == c)) {
            entry.insert("you".into(), true.into());
        }
        out.insert(r.emoji.clone(), Value::Object(entry));
    }
    Value::Object(out)
}

fn check_emoji(emoji: &str) -> Result<(), SogsResponse> {
    let n = emoji.chars().count();
    if (1..=MAX_EMOJI_CHARS).contains(&n) {
        Ok(())
    } else {
        Err(SogsResponse::error(
            400,
            "Invalid reaction: 1-12 characters",
        ))
    }
}

/// Checks auth, read permission, emoji and message; returns the message id.
fn target(ctx: &Ctx<'_>, token: &str, id: &str, emoji: &str) -> Result<i64, SogsResponse> {
    let caller = ctx.require_user()?;
    let room = ctx.room(token)?;
    if !perms(room, Some(&caller.key), ctx.now).read {
        return Err(SogsResponse::forbidden(
            "This endpoint requires room message 'read' permission",
        ));
    }
    check_emoji(emoji)?;
    Ok(find(ctx, token, id)?.id)
}

fn bump(ctx: &mut Ctx<'_>, token: &str, msg_id: i64) -> i64 {
    let seqno = ctx
        .tables
        .room_mut(token)
        .map(|r| r.next_seqno())
        .unwrap_or_default();
    if let Some(m) = ctx.tables.messages.get_mut(&msg_id) {
        m.seqno_reactions = seqno;
    }
    seqno
}

/// `PUT /room/{t}/reaction/{id}/{emoji}` → `{"added": bool, "seqno": n}`.
pub fn add(ctx: &mut Ctx<'_>, token: &str, id: &str, emoji: &str) -> Handled {
    let msg_id = target(ctx, token, id, emoji)?;
    let caller = ctx.require_user()?.clone();
    let now = ctx.now;
    let Some(msg) = ctx.tables.messages.get_mut(&msg_id) else {
        return Err(SogsResponse::not_found());
    };
    let added = match msg.reactions.iter_mut().find(|r| r.emoji == emoji) {
        Some(r) if r.reactors.iter().any(|(_, k, _)| *k == caller.key) => false,
        Some(r) => {
            r.reactors.push((caller.id.clone(), caller.key, now));
            true
        }
        None => {
            msg.reactions.push(Reaction {
                emoji: emoji.to_owned(),
                reactors: vec![(caller.id.clone(), caller.key, now)],
            });
            true
        }
    };
    let seqno = if added {
        bump(ctx, token, msg_id)
    } else {
        ctx.tables.messages.get(&msg_id).map_or(0, Message::seqno)
    };
    Ok(SogsResponse::json(
        200,
        &json!({"added": added, "seqno": seqno}),
    ))
}

/// `DELETE /room/{t}/reaction/{id}/{emoji}` → `{"removed": bool, "seqno": n}`.
pub fn remove(ctx: &mut Ctx<'_>, token: &str, id: &str, emoji: &str) -> Handled {
    let msg_id = target(ctx, token, id, emoji)?;
    let caller = ctx.require_user()?.clone();
    let Some(msg) = ctx.tables.messages.get_mut(&msg_id) else {
        return Err(SogsResponse::not_found());
    };
    let mut removed = false;
    if let Some(r) = msg.reactions.iter_mut().find(|r| r.emoji == emoji) {
        let before = r.reactors.len();
        r.reactors.retain(|(_, k, _)| *k != caller.key);
        removed = r.reactors.len() != before;
    }
    msg.reactions.retain(|r| !r.reactors.is_empty());
    let seqno = if removed {
        bump(ctx, token, msg_id)
    } else {
        msg.seqno()
    };
    Ok(SogsResponse::json(
        200,
        &json!({"removed": removed, "seqno": seqno}),
    ))
}

/// `DELETE /room/{t}/reactions/{id}[/{emoji}]` (moderator) → `{"removed": count, "seqno": n}`.
pub fn clear(ctx: &mut Ctx<'_>, token: &str, id: &str, emoji: Option<&str>) -> Handled {
    let caller = ctx.require_user()?;
    if !perms(ctx.room(token)?, Some(&caller.key), ctx.now).moderator {
        return Err(SogsResponse::forbidden(
            "This endpoint requires moderator permission",
        ));
    }
    if let Some(e) = emoji {
        check_emoji(e)?;
    }
    let msg_id = find(ctx, token, id)?.id;
    let Some(msg) = ctx.tables.messages.get_mut(&msg_id) else {
        return Err(SogsResponse::not_found());
    };
    let mut removed = 0;
    msg.reactions.retain(|r| {
        let drop = emoji.is_none_or(|e| e == r.emoji);
        if drop {
            removed += r.reactors.len();
        }
        !drop
    });
    // PYSOGS bumps the sequence once per reactor row removed; the last value is what clients
    // see.
    let mut seqno = msg.seqno();
    for _ in 0..removed {
        seqno = bump(ctx, token, msg_id);
    }
    Ok(SogsResponse::json(
        200,
        &json!({"removed": removed, "seqno": seqno}),
    ))
}

/// `GET /room/{t}/reactors/{id}/{emoji}?limit=N` → `[[session_id, at], …]`.
pub fn reactors(
    ctx: &mut Ctx<'_>,
    req: &SogsRequest,
    token: &str,
    id: &str,
    emoji: &str,
) -> Handled {
    require_read(ctx, token)?;
    check_emoji(emoji)?;
    let limit = req.query_int("limit", 100, 1, 256).unsigned_abs() as usize;
    let msg = find(ctx, token, id)?;
    let list: Vec<Value> = msg
        .reactions
        .iter()
        .filter(|r| r.emoji == emoji)
        .flat_map(|r| r.reactors.iter().take(limit))
        .map(|(id, _, at)| json!([id, at]))
        .collect();
    Ok(SogsResponse::json(200, &Value::Array(list)))
}
