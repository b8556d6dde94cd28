//! Moderation (communities.md §7): bans, moderator/admin grants, deleting all of a user's
//! posts, and pins. IDs in paths may be `15…` or `05…` (mapped to this server's blind15 key).

use serde_json::{json, Map, Value};

use super::files::set_pinned;
use super::messages::{find, tombstone};
use super::request::{Handled, SogsRequest, SogsResponse};
use super::rooms::perms;
use super::server::Ctx;
use super::state::{ModRole, Pin, UserKey};
use crate::protocol::keys::PrefixedId;

/// The user named in a path, creating their row (shown as given until they authenticate).
fn target(ctx: &mut Ctx<'_>, sid: &str) -> Result<UserKey, SogsResponse> {
    let id: PrefixedId = sid.parse().map_err(|_| SogsResponse::not_found())?;
    let key = UserKey::of(&id, ctx.server).ok_or_else(SogsResponse::not_found)?;
    ctx.tables.user_row(key, &id.to_string());
    Ok(key)
}

/// The rooms of a `{"rooms": [...]}` / `{"global": true}` body: exactly one of the two.
/// `["*"]` is every room where the caller is a moderator. `Ok(None)` means global.
fn rooms_of(ctx: &Ctx<'_>, body: &Value) -> Result<Option<Vec<String>>, SogsResponse> {
    let caller = ctx.require_user()?;
    let global = body.get("global").and_then(Value::as_bool).unwrap_or(false);
    let rooms = body.get("rooms").and_then(Value::as_array);
    match (rooms, global) {
        (Some(_), true) | (None, false) => Err(SogsResponse::error(
            400,
            "Invalid request: exactly one of rooms and global is required",
        )),
        (None, true) => Ok(None),
        (Some(list), false) => {
            let tokens: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            if tokens == ["*"] {
                return Ok(Some(
                    ctx.tables
                        .rooms
                        .values()
                        .filter(|r| perms(r, Some(&caller.key), ctx.now).moderator)
                        .map(|r| r.token.clone())
                        .collect(),
                ));
            }
            tokens
                .iter()
                .map(|t| ctx.room(t).map(|r| r.token.clone()))
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        }
    }
}

/// `POST /user/{sid}/ban` (`ban`) or `/unban` with `{rooms|global, timeout?}` → `{}`.
pub fn ban(ctx: &mut Ctx<'_>, req: &SogsRequest, sid: &str, ban: bool) -> Handled {
    let caller = ctx.require_user()?.clone();
    let body = req.json()?;
    let key = target(ctx, sid)?;
    let Some(rooms) = rooms_of(ctx, &body)? else {
        // Global bans need a global moderator; the devnet has none.
        return Err(SogsResponse::forbidden(
            "This endpoint requires global moderator permission",
        ));
    };
    if ban && key == caller.key {
        return Err(SogsResponse::forbidden("You cannot ban yourself"));
    }
    let timeout = body.get("timeout").and_then(Value::as_f64);
    for token in &rooms {
        let room = ctx.room(token)?;
        let mine = perms(room, Some(&caller.key), ctx.now);
        let theirs = room.mods.get(&key).copied();
        if !mine.moderator || (theirs.is_some() && !mine.admin) {
            return Err(SogsResponse::forbidden(
                "This endpoint requires moderator permission",
            ));
        }
    }
    let now = ctx.now;
    for token in &rooms {
        if let Some(room) = ctx.tables.room_mut(token) {
            if ban {
                if room.mods.remove(&key).is_some() {
                    room.info_updates += 1;
                }
                room.bans.insert(key, timeout.map(|t| now + t));
            } else {
                room.bans.remove(&key);
            }
        }
    }
    Ok(SogsResponse::json(200, &json!({})))
}

/// `POST /user/{sid}/moderator` with `{rooms|global, moderator?, admin?, visible?}` (room
/// admins only) → `{"info_updates": {token: n}}`.
pub fn moderator(ctx: &mut Ctx<'_>, req: &SogsRequest, sid: &str) -> Handled {
    let caller = ctx.require_user()?.clone();
    let body = req.json()?;
    let key = target(ctx, sid)?;
    let Some(rooms) = rooms_of(ctx, &body)? else {
        return Err(SogsResponse::forbidden(
            "This endpoint requires global admin permission",
        ));
    };
    let flag = |k: &str| body.get(k).and_then(Value::as_bool);
    let role = match (flag("admin"), flag("moderator")) {
        (Some(true), _) => Some(true),
        (_, Some(true)) => Some(false),
        (None, None) => {
            return Err(SogsResponse::error(
                400,
                "Invalid request: moderator or admin is required",
            ))
        }
        _ => None,
    };
    let visible = flag("visible").unwrap_or(true);
    for token in &rooms {
        if !perms(ctx.room(token)?, Some(&caller.key), ctx.now).admin {
            return Err(SogsResponse::forbidden(
                "This endpoint requires admin permission",
            ));
        }
    }
    let mut updates = Map::new();
    for token in &rooms {
        if let Some(room) = ctx.tables.room_mut(token) {
            set_role(room, key, role.map(|admin| ModRole { admin, visible }));
            updates.insert(room.token.clone(), room.info_updates.into());
        }
    }
    Ok(SogsResponse::json(200, &json!({"info_updates": updates})))
}

/// Sets or removes a role; a change counts as an info update.
pub fn set_role(room: &mut super::state::Room, key: UserKey, role: Option<ModRole>) {
    let before = room.mods.get(&key).copied();
    match role {
        Some(r) => {
            room.mods.insert(key, r);
            room.bans.remove(&key);
        }
        None => {
            room.mods.remove(&key);
        }
    }
    if room.mods.get(&key).copied() != before {
        room.info_updates += 1;
    }
}

/// `DELETE /room/{t}/all/{sid}`: a moderator (only admins on admins), or the user themselves
/// → `{}`, 404 when nothing was deleted.
pub fn delete_all(ctx: &mut Ctx<'_>, token: &str, sid: &str) -> Handled {
    let caller = ctx.require_user()?.clone();
    let key = target(ctx, sid)?;
    let room = ctx.room(token)?;
    let mine = perms(room, Some(&caller.key), ctx.now);
    let theirs_admin = room.mods.get(&key).is_some_and(|r| r.admin);
    let allowed = key == caller.key || (mine.moderator && (!theirs_admin || mine.admin));
    if !allowed {
        return Err(SogsResponse::forbidden(
            "This endpoint requires moderator permission",
        ));
    }
    let canonical = room.token.clone();
    let ids: Vec<i64> = ctx
        .tables
        .messages
        .values()
        .filter(|m| m.room == canonical && m.author_key == key && !m.deleted())
        .map(|m| m.id)
        .collect();
    for id in &ids {
        tombstone(ctx, token, *id);
    }
    ctx.tables
        .files
        .retain(|_, f| !(f.room == canonical && f.uploader == key));
    if ids.is_empty() {
        return Err(SogsResponse::not_found());
    }
    Ok(SogsResponse::json(200, &json!({})))
}

fn require_admin(ctx: &Ctx<'_>, token: &str) -> Result<String, SogsResponse> {
    let caller = ctx.require_user()?;
    if !perms(ctx.room(token)?, Some(&caller.key), ctx.now).admin {
        return Err(SogsResponse::forbidden(
            "This endpoint requires admin permission",
        ));
    }
    Ok(caller.id.clone())
}

/// `POST /room/{t}/pin/{id}` (admin) → `{}`; pinning again moves the pin to the end.
pub fn pin(ctx: &mut Ctx<'_>, token: &str, id: Option<&str>) -> Handled {
    let by = require_admin(ctx, token)?;
    let msg_id = find(ctx, token, id.unwrap_or_default())?.id;
    let now = ctx.now;
    if let Some(room) = ctx.tables.room_mut(token) {
        room.pins.retain(|p| p.id != msg_id);
        room.pins.push(Pin {
            id: msg_id,
            pinned_at: now,
            pinned_by: by,
        });
        room.info_updates += 1;
    }
    set_pinned(ctx, msg_id, true);
    Ok(SogsResponse::json(200, &json!({})))
}

/// `POST /room/{t}/unpin/{id}` or `/unpin/all` (admin) → `{}`.
pub fn unpin(ctx: &mut Ctx<'_>, token: &str, id: Option<&str>) -> Handled {
    require_admin(ctx, token)?;
    let wanted: Option<i64> = match id {
        Some(id) => Some(id.parse().map_err(|_| SogsResponse::not_found())?),
        None => None,
    };
    let mut unpinned = Vec::new();
    if let Some(room) = ctx.tables.room_mut(token) {
        room.pins.retain(|p| {
            let drop = wanted.is_none_or(|w| w == p.id);
            if drop {
                unpinned.push(p.id);
            }
            !drop
        });
        if !unpinned.is_empty() {
            room.info_updates += 1;
        }
    }
    for id in unpinned {
        set_pinned(ctx, id, false);
    }
    Ok(SogsResponse::json(200, &json!({})))
}
