//! Blinded DMs through the server inbox (communities.md §6): the server stores the ciphertext
//! it is given and never reads it.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use serde_json::{json, Value};

use super::request::{Handled, SogsRequest, SogsResponse};
use super::server::Ctx;
use super::state::{DirectMessage, UserKey};
use crate::protocol::keys::{IdPrefix, PrefixedId};

/// DM lifetime (`[direct_messages] expiry`).
const DM_TTL_S: f64 = 15.0 * 86_400.0;

/// Base64 with or without padding.
const BASE64_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Which side of the conversation a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Box {
    /// Messages to the caller.
    Inbox,
    /// Messages from the caller.
    Outbox,
}

fn render(m: &DirectMessage, with_message: bool) -> Value {
    let mut v = json!({"id": m.id, "posted_at": m.posted_at, "expires_at": m.expires_at,
                       "sender": m.sender, "recipient": m.recipient});
    if let (true, Some(obj)) = (with_message, v.as_object_mut()) {
        obj.insert("message".into(), STANDARD.encode(&m.message).into());
    }
    v
}

/// The caller of a blinded-only route (every caller here is blinded, §2.4 row 5).
fn blinded_caller(ctx: &Ctx<'_>) -> Result<(String, UserKey), SogsResponse> {
    let caller = ctx.require_user()?;
    if !caller.id.starts_with("15") {
        return Err(SogsResponse::error(
            401,
            "This endpoint requires blinded pubkeys be used",
        ));
    }
    Ok((caller.id.clone(), caller.key))
}

/// `POST /inbox/{15…}` with `{"message": base64}` → 201 without the message.
pub fn send(ctx: &mut Ctx<'_>, req: &SogsRequest, to: &str) -> Handled {
    let caller = ctx.require_user()?.clone();
    let recipient: PrefixedId = to
        .parse()
        .ok()
        .filter(|id: &PrefixedId| id.prefix() == IdPrefix::Blinded15)
        .ok_or_else(SogsResponse::not_found)?;
    let recipient_key = UserKey::of(&recipient, ctx.server).ok_or_else(SogsResponse::not_found)?;
    let known = ctx
        .tables
        .users
        .get(&recipient_key)
        .is_some_and(|u| u.seen && !u.banned);
    if !known {
        return Err(SogsResponse::not_found());
    }
    let body = req.json()?;
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .and_then(|m| BASE64_ANY_PAD.decode(m).ok())
        .ok_or_else(|| SogsResponse::error(400, "Invalid request: message must be base64"))?;
    ctx.tables.last_inbox_id += 1;
    let dm = DirectMessage {
        id: ctx.tables.last_inbox_id,
        sender: caller.id,
        sender_key: caller.key,
        recipient: recipient.to_string(),
        recipient_key,
        message,
        posted_at: ctx.now,
        expires_at: ctx.now + DM_TTL_S,
    };
    let out = render(&dm, false);
    ctx.tables.inbox.insert(dm.id, dm);
    Ok(SogsResponse::json(201, &out))
}

/// `GET /inbox[/since/{id}]`, `GET /outbox[/since/{id}]`: ascending id; `since/N` (N > 0) with
/// nothing newer answers 304 with an empty body.
pub fn list(ctx: &mut Ctx<'_>, req: &SogsRequest, which: Box, since: Option<&str>) -> Handled {
    let (_, key) = blinded_caller(ctx)?;
    let since = match since {
        Some(n) => n.parse::<i64>().map_err(|_| SogsResponse::not_found())?,
        None => 0,
    };
    let limit = req.query_int("limit", 100, 1, 256).unsigned_abs() as usize;
    let rows: Vec<Value> = ctx
        .tables
        .inbox
        .range(since + 1..)
        .map(|(_, m)| m)
        .filter(|m| match which {
            Box::Inbox => m.recipient_key == key,
            Box::Outbox => m.sender_key == key,
        })
        .take(limit)
        .map(|m| render(m, true))
        .collect();
    if rows.is_empty() && since > 0 {
        return Ok(SogsResponse::not_modified());
    }
    Ok(SogsResponse::json(200, &Value::Array(rows)))
}

/// `DELETE /inbox` → `{"deleted": n}`.
pub fn clear(ctx: &mut Ctx<'_>) -> Handled {
    let (_, key) = blinded_caller(ctx)?;
    let before = ctx.tables.inbox.len();
    ctx.tables.inbox.retain(|_, m| m.recipient_key != key);
    let deleted = before - ctx.tables.inbox.len();
    Ok(SogsResponse::json(200, &json!({"deleted": deleted})))
}
