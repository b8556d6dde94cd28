//! Capabilities, permissions and room info (communities.md §1.4, §4.1, §7 permission model).

use serde_json::{json, Map, Value};

use super::request::{Handled, SogsRequest, SogsResponse};
use super::server::Ctx;
use super::state::{Room, UserKey, ACTIVE_CUTOFF_S};

/// What this server offers (sorted, as PYSOGS prints it).
pub const CAPABILITIES: [&str; 3] = ["blind", "reactions", "sogs"];

/// A caller's standing in a room.
#[derive(Debug, Clone, Copy, Default)]
pub struct Perms {
    /// May read (and so is "accessible").
    pub read: bool,
    /// May post.
    pub write: bool,
    /// May upload (`upload ∧ write`).
    pub upload: bool,
    /// Moderator (admins too).
    pub moderator: bool,
    /// Admin.
    pub admin: bool,
}

/// The permissions of `user` (anonymous: the room defaults, all true here) in `room`. Bans
/// expire by their timeout.
pub fn perms(room: &Room, user: Option<&UserKey>, now: f64) -> Perms {
    let Some(user) = user else {
        return Perms {
            read: true,
            write: true,
            upload: true,
            ..Perms::default()
        };
    };
    if let Some(role) = room.mods.get(user) {
        return Perms {
            read: true,
            write: true,
            upload: true,
            moderator: true,
            admin: role.admin,
        };
    }
    let banned = room
        .bans
        .get(user)
        .is_some_and(|until| until.is_none_or(|t| t > now));
    Perms {
        read: !banned,
        write: !banned,
        upload: !banned,
        ..Perms::default()
    }
}

/// `GET /capabilities[?required=a,b]`.
pub fn capabilities(req: &SogsRequest) -> Handled {
    let caps: Vec<&str> = CAPABILITIES.to_vec();
    let missing: Vec<&str> = req
        .query_param("required")
        .map(|r| {
            r.split(',')
                .filter(|c| !c.is_empty() && !CAPABILITIES.contains(c))
                .collect()
        })
        .unwrap_or_default();
    if missing.is_empty() {
        Ok(SogsResponse::json(200, &json!({"capabilities": caps})))
    } else {
        Ok(SogsResponse::json(
            412,
            &json!({"capabilities": caps, "missing": missing}),
        ))
    }
}

fn active_users(room: &Room, now: f64) -> usize {
    let now = now.max(0.0) as u64;
    room.active
        .values()
        .filter(|at| now.saturating_sub(**at) <= ACTIVE_CUTOFF_S)
        .count()
}

/// The caller-specific keys shared by room info and `pollInfo`.
fn caller_fields(out: &mut Map<String, Value>, p: Perms) {
    out.insert("read".into(), p.read.into());
    out.insert("write".into(), p.write.into());
    out.insert("upload".into(), (p.upload && p.write).into());
    if p.moderator {
        out.insert("moderator".into(), true.into());
        for key in [
            "default_read",
            "default_accessible",
            "default_write",
            "default_upload",
        ] {
            out.insert(key.into(), true.into());
        }
    }
    if p.admin {
        out.insert("admin".into(), true.into());
    }
}

/// The room info object of §4.1 as `caller` sees it.
pub fn room_info(ctx: &Ctx<'_>, room: &Room) -> Value {
    let p = perms(room, ctx.caller_key(), ctx.now);
    let mut out = Map::new();
    out.insert("token".into(), room.token.clone().into());
    out.insert("name".into(), room.name.clone().into());
    if let Some(d) = &room.description {
        out.insert("description".into(), d.clone().into());
    }
    out.insert("info_updates".into(), room.info_updates.into());
    out.insert("message_sequence".into(), room.message_sequence.into());
    out.insert("created".into(), room.created.into());
    out.insert("active_users".into(), active_users(room, ctx.now).into());
    out.insert("active_users_cutoff".into(), ACTIVE_CUTOFF_S.into());
    if !room.pins.is_empty() {
        let pins: Vec<Value> = room
            .pins
            .iter()
            .map(
                |pin| json!({"id": pin.id, "pinned_at": pin.pinned_at, "pinned_by": pin.pinned_by}),
            )
            .collect();
        out.insert("pinned_messages".into(), pins.into());
    }
    let list = |admin: bool, visible: bool| -> Vec<String> {
        let mut ids: Vec<String> = room
            .mods
            .iter()
            .filter(|(_, r)| r.admin == admin && r.visible == visible)
            .map(|(k, _)| ctx.tables.shown_id(k))
            .collect();
        ids.sort();
        ids
    };
    out.insert("moderators".into(), list(false, true).into());
    out.insert("admins".into(), list(true, true).into());
    if p.moderator {
        for (key, admin) in [("hidden_moderators", false), ("hidden_admins", true)] {
            let hidden = list(admin, false);
            if !hidden.is_empty() {
                out.insert(key.into(), hidden.into());
            }
        }
    }
    caller_fields(&mut out, p);
    Value::Object(out)
}

/// `GET /rooms`: accessible rooms, sorted by token.
pub fn list(ctx: &mut Ctx<'_>) -> Handled {
    let infos: Vec<Value> = ctx
        .tables
        .rooms
        .values()
        .filter(|r| perms(r, ctx.caller_key(), ctx.now).read)
        .map(|r| room_info(ctx, r))
        .collect();
    Ok(SogsResponse::json(200, &Value::Array(infos)))
}

/// The room for a route, 404 when missing or not accessible to the caller (a secret room
/// looks missing, §4.1).
pub fn accessible<'r>(ctx: &'r Ctx<'_>, token: &str) -> Result<&'r Room, SogsResponse> {
    ctx.tables
        .room(token)
        .filter(|r| perms(r, ctx.caller_key(), ctx.now).read)
        .ok_or_else(SogsResponse::not_found)
}

/// 403 unless the caller may read the room (§4.3).
pub fn require_read(ctx: &Ctx<'_>, token: &str) -> Result<(), SogsResponse> {
    let room = ctx.tables.room(token).ok_or_else(SogsResponse::not_found)?;
    if perms(room, ctx.caller_key(), ctx.now).read {
        Ok(())
    } else {
        Err(SogsResponse::forbidden(
            "This endpoint requires room message 'read' permission",
        ))
    }
}

/// Counts the caller as active in the room (reads and polls do).
pub fn touch(ctx: &mut Ctx<'_>, token: &str) {
    let (Some(key), now) = (ctx.caller_key().copied(), ctx.now) else {
        return;
    };
    if let Some(room) = ctx.tables.room_mut(token) {
        room.active.insert(key, now.max(0.0) as u64);
    }
}

/// `GET /room/{t}`.
pub fn info(ctx: &mut Ctx<'_>, token: &str) -> Handled {
    let room = accessible(ctx, token)?;
    Ok(SogsResponse::json(200, &room_info(ctx, room)))
}

/// `GET /room/{t}/pollInfo/{info_updated}`: the caller's standing, plus `details` when the
/// room's `info_updates` differs from the given value.
pub fn poll_info(ctx: &mut Ctx<'_>, token: &str, known: &str) -> Handled {
    require_read(ctx, token)?;
    let known: i64 = known.parse().map_err(|_| SogsResponse::not_found())?;
    touch(ctx, token);
    let room = accessible(ctx, token)?;
    let p = perms(room, ctx.caller_key(), ctx.now);
    let mut out = Map::new();
    out.insert("token".into(), room.token.clone().into());
    out.insert("active_users".into(), active_users(room, ctx.now).into());
    caller_fields(&mut out, p);
    if room.info_updates != known {
        out.insert("details".into(), room_info(ctx, room));
    }
    Ok(SogsResponse::json(200, &Value::Object(out)))
}
