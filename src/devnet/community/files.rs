//! Per-room files (communities.md §5): raw-body uploads (write and upload permission, ≤ 10 MB),
//! a 1 h lifetime until a post by the uploader in the same room names the file, then 15 days;
//! deletion of the post expires them at once.

use serde_json::json;

use super::request::{Handled, SogsRequest, SogsResponse};
use super::rooms::{perms, require_read};
use super::server::Ctx;
use super::state::{StoredFile, UserKey};

/// Largest upload (`[files] max_size`, §5).
pub const MAX_FILE_SIZE: usize = 10_000_000;
/// An unlinked upload's lifetime.
const UNLINKED_TTL_S: f64 = 3600.0;
/// A linked upload's lifetime (`[files] expiry`).
const LINKED_TTL_S: f64 = 15.0 * 86_400.0;

/// `POST /room/{t}/file` → 201 `{"id"}`.
pub fn upload(ctx: &mut Ctx<'_>, req: &SogsRequest, token: &str) -> Handled {
    let caller = ctx.require_user()?.clone();
    let room = ctx.room(token)?;
    let p = perms(room, Some(&caller.key), ctx.now);
    if !(p.write && p.upload) {
        return Err(SogsResponse::forbidden(
            "This endpoint requires room 'upload' permission",
        ));
    }
    if req.body.is_empty() {
        return Err(SogsResponse::error(400, "No file data"));
    }
    if req.body.len() > MAX_FILE_SIZE {
        return Err(SogsResponse::error(413, "File too large"));
    }
    let canonical = room.token.clone();
    ctx.tables.last_file_id += 1;
    let id = ctx.tables.last_file_id;
    ctx.tables.files.insert(
        id,
        StoredFile {
            room: canonical,
            uploader: caller.key,
            data: req.body.clone(),
            uploaded: ctx.now,
            expires: Some(ctx.now + UNLINKED_TTL_S),
            linked: false,
        },
    );
    Ok(SogsResponse::json(201, &json!({"id": id})))
}

/// `GET /room/{t}/file/{id}[/{name}]` → the bytes, 404 when missing or expired.
pub fn download(ctx: &mut Ctx<'_>, token: &str, id: &str) -> Handled {
    require_read(ctx, token)?;
    let room = ctx.room(token)?;
    let now = ctx.now;
    id.parse::<i64>()
        .ok()
        .and_then(|id| ctx.tables.files.get(&id))
        .filter(|f| f.room == room.token && f.expires.is_none_or(|e| e > now))
        .map(|f| SogsResponse::bytes(f.data.clone()))
        .ok_or_else(SogsResponse::not_found)
}

/// Gives message `msg_id` the files it names that qualify: same uploader and room, still
/// unlinked, uploaded within the hour. Others are silently skipped, as in PYSOGS.
pub fn link_files(ctx: &mut Ctx<'_>, room: &str, uploader: &UserKey, msg_id: i64, ids: &[i64]) {
    let now = ctx.now;
    let mut linked = Vec::new();
    for id in ids {
        if let Some(f) = ctx.tables.files.get_mut(id) {
            if f.room == room
                && f.uploader == *uploader
                && !f.linked
                && now - f.uploaded <= UNLINKED_TTL_S
            {
                f.linked = true;
                f.expires = Some(now + LINKED_TTL_S);
                linked.push(*id);
            }
        }
    }
    if let Some(m) = ctx.tables.messages.get_mut(&msg_id) {
        m.files.extend(linked);
    }
}

/// Expires files now (their post was deleted).
pub fn expire_files(ctx: &mut Ctx<'_>, ids: &[i64]) {
    for id in ids {
        ctx.tables.files.remove(id);
    }
}

/// Makes a pinned post's files permanent, or (`false`) gives them 15 days from upload again.
pub fn set_pinned(ctx: &mut Ctx<'_>, msg_id: i64, pinned: bool) {
    let ids = ctx
        .tables
        .messages
        .get(&msg_id)
        .map(|m| m.files.clone())
        .unwrap_or_default();
    for id in ids {
        if let Some(f) = ctx.tables.files.get_mut(&id) {
            f.expires = (!pinned).then_some(f.uploaded + LINKED_TTL_S);
        }
    }
}
