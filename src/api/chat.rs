//! The 1:1 chat endpoints (issue 5): reactions, unsend, read receipts, typing, message
//! requests and per-conversation settings. Everything that reaches the peer is queued as a
//! control message behind the conversation's earlier messages and answered `202`; local state
//! changes answer `200`.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::messages::require_account;
use super::{session_id, ApiError, ApiState, Principal};
use crate::clock::now_ms;
use crate::ids::SessionIdText;
use crate::store::chat::{state as conv_state, ControlBody, ConversationChat};
use crate::store::events::{EventType, NewEvent};
use crate::store::messages::{Direction, Message};
use crate::store::StoreTx;

/// Longest disappearing timer, seconds: 14 days, the longest storage TTL (messages.md §3.5).
pub const MAX_DISAPPEARING_SECONDS: i64 = 14 * 24 * 3600;

pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(add_reaction)
        .service(remove_reaction)
        .service(delete_message)
        .service(mark_read)
        .service(typing)
        .service(accept)
        .service(decline)
        .service(get_conversation)
        .service(patch_conversation);
}

/// `POST …/reactions` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactionBody {
    /// One emoji (up to 16 code points, e.g. `👍` or a ZWJ sequence).
    pub emoji: String,
}

/// `202`: a control message was queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    /// The queued control message's id (not a history message).
    pub id: String,
}

/// `DELETE …/messages/{id}` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// The deleted message.
    pub id: String,
    /// `everyone` (our message, unsent) or `local` (a received message, deleted here only).
    pub scope: String,
}

/// `POST …/read` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    /// Mark read up to this message id (default: the newest).
    pub up_to: Option<String>,
}

/// `POST …/read` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadResult {
    /// Messages newly acknowledged with a read receipt.
    pub receipted: usize,
    /// The queued receipt's id, when one was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_id: Option<String>,
}

/// `POST …/typing` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingBody {
    /// True: started typing; false: stopped.
    pub typing: bool,
}

/// A disappearing-message setting.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisappearingView {
    /// `off`, `after_send` or `after_read`.
    pub mode: String,
    /// Timer, 1 to 1209600 seconds (ignored and 0 when `off`).
    #[serde(default)]
    pub seconds: i64,
}

/// `PATCH …/conversations/{peer}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchConversation {
    /// The new disappearing-message setting (sent to the peer).
    pub disappearing: Option<DisappearingView>,
}

/// A contact's profile as last received.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    /// Display name.
    pub display_name: Option<String>,
    /// Avatar URL on the file server (encrypted; key kept by the gateway).
    pub avatar_url: Option<String>,
}

/// One conversation with its chat state.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    /// The peer's Session ID (the conversation id).
    pub id: String,
    /// The peer's Session ID.
    pub peer: String,
    /// `accepted`, `pending` (held message request) or `declined`.
    pub state: String,
    /// The disappearing-message setting.
    pub disappearing: DisappearingView,
    /// The peer's profile.
    pub profile: ProfileView,
    /// The newest message, if any.
    pub last_message: Option<Message>,
}

/// One emoji: 1 to 16 code points, no whitespace or control characters, at least one
/// character outside ASCII (so `a` or `:+1:` is refused, keycaps like `1️⃣` pass).
fn check_emoji(emoji: &str) -> Result<(), ApiError> {
    let count = emoji.chars().count();
    let ok = (1..=16).contains(&count)
        && emoji.chars().all(|c| !c.is_whitespace() && !c.is_control())
        && !emoji.is_ascii();
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_emoji",
            "emoji must be one emoji (1 to 16 code points, not plain text)",
        ))
    }
}

fn check_disappearing(d: &DisappearingView) -> Result<(String, i64), ApiError> {
    match d.mode.as_str() {
        "off" => Ok(("off".into(), 0)),
        "after_send" | "after_read" if (1..=MAX_DISAPPEARING_SECONDS).contains(&d.seconds) => {
            Ok((d.mode.clone(), d.seconds))
        }
        "after_send" | "after_read" => Err(ApiError::bad_request(
            "invalid_disappearing",
            format!("seconds must be 1 to {MAX_DISAPPEARING_SECONDS}"),
        )),
        _ => Err(ApiError::bad_request(
            "invalid_disappearing",
            "mode must be off, after_send or after_read",
        )),
    }
}

async fn message_of(
    state: &ApiState,
    account: &SessionIdText,
    id: &str,
) -> Result<Message, ApiError> {
    require_account(state, account).await?;
    state
        .store
        .get_message(account.as_str(), id)
        .await?
        .ok_or(ApiError::NotFound("message"))
}

async fn append(
    tx: &mut StoreTx,
    account: &SessionIdText,
    peer: &str,
    event_type: EventType,
    data: serde_json::Value,
    now: i64,
) -> Result<(), ApiError> {
    tx.append_event(&NewEvent {
        event_type,
        account: Some(account.as_str().to_owned()),
        conversation: Some(peer.to_owned()),
        timestamp: now,
        data,
    })
    .await?;
    Ok(())
}

async fn react(
    state: &ApiState,
    account: &SessionIdText,
    id: &str,
    emoji: String,
    remove: bool,
) -> Result<HttpResponse, ApiError> {
    check_emoji(&emoji)?;
    let message = message_of(state, account, id).await?;
    if message.deleted_at.is_some() {
        return Err(ApiError::unprocessable(
            "message_deleted",
            "the message was deleted",
        ));
    }
    let now = now_ms();
    let peer = message.conversation.clone();
    let mut tx = state.store.begin().await?;
    let changed = if remove {
        tx.remove_reaction(&message.id, account.as_str(), &emoji)
            .await?
    } else {
        tx.add_reaction(&message.id, account.as_str(), &emoji, now)
            .await?
    };
    if remove && !changed {
        return Err(ApiError::NotFound("reaction"));
    }
    let body = ControlBody::Reaction {
        target_ts: message.timestamp,
        target_author: message.from.clone(),
        emoji,
        remove,
    };
    let queued = tx
        .enqueue_control(account.as_str(), &peer, &body, now)
        .await?;
    tx.commit().await?;
    kick(state, account, &peer);
    Ok(HttpResponse::Accepted().json(Queued { id: queued }))
}

fn kick(state: &ApiState, account: &SessionIdText, peer: &str) {
    if let Ok(peer) = SessionIdText::parse(peer) {
        state.actors.message_queued(account, &peer);
    }
}

/// React to a message with an emoji (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = String, Path, description = "The account"), ("id" = String, Path, description = "Message id")),
    request_body = ReactionBody,
    responses((status = 202, body = Queued), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "chat"
)]
#[post("/accounts/{session_id}/messages/{id}/reactions")]
async fn add_reaction(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Json<ReactionBody>,
) -> Result<HttpResponse, ApiError> {
    let (account, id) = path.into_inner();
    let account = session_id(&account, "session_id")?;
    principal.require_send(&account)?;
    react(&state, &account, &id, body.into_inner().emoji, false).await
}

/// Remove our reaction (URL-encoded emoji) from a message (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = String, Path, description = "The account"), ("id" = String, Path, description = "Message id"),
        ("emoji" = String, Path, description = "The emoji, URL-encoded")),
    responses((status = 202, body = Queued), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "chat"
)]
#[delete("/accounts/{session_id}/messages/{id}/reactions/{emoji}")]
async fn remove_reaction(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, id, emoji) = path.into_inner();
    let account = session_id(&account, "session_id")?;
    principal.require_send(&account)?;
    react(&state, &account, &id, emoji, true).await
}

/// Delete a message: our own is unsent for everyone (the peer and our own swarm copy); a
/// received one is deleted here only (`scope: local`) (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = String, Path, description = "The account"), ("id" = String, Path, description = "Message id")),
    responses((status = 202, body = Deleted, description = "Unsent for everyone"),
        (status = 200, body = Deleted, description = "Deleted locally"),
        (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "chat"
)]
#[delete("/accounts/{session_id}/messages/{id}")]
async fn delete_message(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, id) = path.into_inner();
    let account = session_id(&account, "session_id")?;
    principal.require_send(&account)?;
    let message = message_of(&state, &account, &id).await?;
    if message.deleted_at.is_some() {
        return Err(ApiError::unprocessable(
            "message_deleted",
            "the message was already deleted",
        ));
    }
    let now = now_ms();
    let peer = message.conversation.clone();
    let ours = message.direction == Direction::Outgoing;
    let scope = if ours { "everyone" } else { "local" };
    let mut tx = state.store.begin().await?;
    if ours {
        let body = ControlBody::Unsend {
            target_ts: message.timestamp,
            own_hash: None,
        };
        tx.enqueue_control(account.as_str(), &peer, &body, now)
            .await?;
    }
    tx.mark_deleted(&message.id, now).await?;
    let data = json!({"conversation": peer, "message_id": message.id, "scope": scope,
        "by": account.as_str()});
    append(
        &mut tx,
        &account,
        &peer,
        EventType::MessageDeleted,
        data,
        now,
    )
    .await?;
    tx.commit().await?;
    let view = Deleted {
        id: message.id,
        scope: scope.to_owned(),
    };
    if ours {
        kick(&state, &account, &peer);
        Ok(HttpResponse::Accepted().json(view))
    } else {
        Ok(HttpResponse::Ok().json(view))
    }
}

fn peer_path(path: &(String, String)) -> Result<(SessionIdText, SessionIdText), ApiError> {
    Ok((
        session_id(&path.0, "session_id")?,
        session_id(&path.1, "peer")?,
    ))
}

/// Mark the peer's messages read up to `up_to` (default: all) and send one read receipt for
/// those not acknowledged before (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = String, Path, description = "The account"), ("peer" = String, Path, description = "The peer's Session ID")),
    request_body = ReadBody,
    responses((status = 200, body = ReadResult), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "chat"
)]
#[post("/accounts/{session_id}/conversations/{peer}/read")]
async fn mark_read(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (account, peer) = peer_path(&path)?;
    principal.require_send(&account)?;
    // The body is optional: empty means "everything".
    let body: ReadBody = if body.iter().all(u8::is_ascii_whitespace) {
        ReadBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?
    };
    require_account(&state, &account).await?;
    let up_to = match body.up_to {
        Some(id) => {
            let m = message_of(&state, &account, &id).await?;
            if m.conversation != peer.as_str() {
                return Err(ApiError::unprocessable(
                    "message_not_in_conversation",
                    "up_to names a message of another conversation",
                ));
            }
            m.timestamp
        }
        None => i64::MAX,
    };
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let timestamps = tx
        .mark_read_by_us(account.as_str(), peer.as_str(), up_to, now)
        .await?;
    let receipted = timestamps.len();
    let receipt_id = if timestamps.is_empty() {
        None
    } else {
        let body = ControlBody::ReadReceipt { timestamps };
        Some(
            tx.enqueue_control(account.as_str(), peer.as_str(), &body, now)
                .await?,
        )
    };
    tx.commit().await?;
    if receipt_id.is_some() {
        kick(&state, &account, peer.as_str());
    }
    Ok(HttpResponse::Ok().json(ReadResult {
        receipted,
        receipt_id,
    }))
}

/// Tell the peer we started or stopped typing (TTL 20 s; a newer state replaces a queued one)
/// (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = String, Path, description = "The account"), ("peer" = String, Path, description = "The peer's Session ID")),
    request_body = TypingBody,
    responses((status = 202, body = Queued), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "chat"
)]
#[post("/accounts/{session_id}/conversations/{peer}/typing")]
async fn typing(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Json<TypingBody>,
) -> Result<HttpResponse, ApiError> {
    let (account, peer) = peer_path(&path)?;
    principal.require_send(&account)?;
    require_account(&state, &account).await?;
    let body = ControlBody::Typing {
        typing: body.typing,
    };
    let id = state
        .store
        .enqueue_control(account.as_str(), peer.as_str(), &body, now_ms())
        .await?;
    kick(&state, &account, peer.as_str());
    Ok(HttpResponse::Accepted().json(Queued { id }))
}

async fn view(
    state: &ApiState,
    account: &SessionIdText,
    peer: &SessionIdText,
) -> Result<ConversationView, ApiError> {
    let chat: ConversationChat = state
        .store
        .conversation_chat(account.as_str(), peer.as_str())
        .await?
        .ok_or(ApiError::NotFound("conversation"))?;
    let last_message = match &chat.last_message_id {
        Some(id) => state.store.get_message(account.as_str(), id).await?,
        None => None,
    };
    Ok(ConversationView {
        id: peer.as_str().to_owned(),
        peer: peer.as_str().to_owned(),
        state: chat.state,
        disappearing: DisappearingView {
            mode: chat.disappearing_mode,
            seconds: chat.disappearing_seconds,
        },
        profile: ProfileView {
            display_name: chat.profile_name,
            avatar_url: chat.profile_avatar_url,
        },
        last_message,
    })
}

/// Accept a message request: its held messages are delivered (`message.received` now) and the
/// peer is told (MessageRequestResponse) (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = String, Path, description = "The account"), ("peer" = String, Path, description = "The peer's Session ID")),
    responses((status = 200, body = ConversationView), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "chat"
)]
#[post("/accounts/{session_id}/conversations/{peer}/accept")]
async fn accept(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, peer) = peer_path(&path)?;
    principal.require_send(&account)?;
    require_account(&state, &account).await?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let chat = tx
        .conversation_chat(account.as_str(), peer.as_str())
        .await?
        .ok_or(ApiError::NotFound("conversation"))?;
    if chat.state != conv_state::ACCEPTED {
        tx.set_conversation_state(account.as_str(), peer.as_str(), conv_state::ACCEPTED, now)
            .await?;
        for m in tx.release_held(account.as_str(), peer.as_str()).await? {
            let data = serde_json::to_value(&m).map_err(|e| ApiError::Internal(e.to_string()))?;
            append(
                &mut tx,
                &account,
                peer.as_str(),
                EventType::MessageReceived,
                data,
                now,
            )
            .await?;
        }
        tx.enqueue_control(
            account.as_str(),
            peer.as_str(),
            &ControlBody::RequestResponse,
            now,
        )
        .await?;
        let data = json!({"conversation": peer.as_str(), "state": conv_state::ACCEPTED});
        append(
            &mut tx,
            &account,
            peer.as_str(),
            EventType::ConversationUpdated,
            data,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    kick(&state, &account, peer.as_str());
    Ok(HttpResponse::Ok().json(view(&state, &account, &peer).await?))
}

/// Decline a message request: its held messages are dropped, and so are the peer's later
/// messages until the conversation is accepted (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = String, Path, description = "The account"), ("peer" = String, Path, description = "The peer's Session ID")),
    responses((status = 200, body = ConversationView), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "chat"
)]
#[post("/accounts/{session_id}/conversations/{peer}/decline")]
async fn decline(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, peer) = peer_path(&path)?;
    principal.require_send(&account)?;
    require_account(&state, &account).await?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    tx.conversation_chat(account.as_str(), peer.as_str())
        .await?
        .ok_or(ApiError::NotFound("conversation"))?;
    tx.set_conversation_state(account.as_str(), peer.as_str(), conv_state::DECLINED, now)
        .await?;
    tx.drop_held(account.as_str(), peer.as_str()).await?;
    let data = json!({"conversation": peer.as_str(), "state": conv_state::DECLINED});
    append(
        &mut tx,
        &account,
        peer.as_str(),
        EventType::ConversationUpdated,
        data,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(view(&state, &account, &peer).await?))
}

/// One conversation: state, disappearing setting, the peer's profile, last message
/// (`accounts:<id>:read`).
#[utoipa::path(
    params(("session_id" = String, Path, description = "The account"), ("peer" = String, Path, description = "The peer's Session ID")),
    responses((status = 200, body = ConversationView), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "chat"
)]
#[get("/accounts/{session_id}/conversations/{peer}")]
async fn get_conversation(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, peer) = peer_path(&path)?;
    principal.require_read(&account)?;
    require_account(&state, &account).await?;
    Ok(HttpResponse::Ok().json(view(&state, &account, &peer).await?))
}

/// Change a conversation's disappearing-message setting; the peer is told (expiration timer
/// update) and later messages go out under it (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = String, Path, description = "The account"), ("peer" = String, Path, description = "The peer's Session ID")),
    request_body = PatchConversation,
    responses((status = 200, body = ConversationView), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "chat"
)]
#[patch("/accounts/{session_id}/conversations/{peer}")]
async fn patch_conversation(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Json<PatchConversation>,
) -> Result<HttpResponse, ApiError> {
    let (account, peer) = peer_path(&path)?;
    principal.require_send(&account)?;
    let setting = body
        .disappearing
        .as_ref()
        .map(check_disappearing)
        .transpose()?;
    require_account(&state, &account).await?;
    if let Some((mode, seconds)) = setting {
        let now = now_ms();
        let mut tx = state.store.begin().await?;
        tx.set_disappearing(account.as_str(), peer.as_str(), &mode, seconds, now)
            .await?;
        let data = json!({"conversation": peer.as_str(),
            "disappearing": {"mode": mode, "seconds": seconds}});
        let body = ControlBody::ExpirationUpdate { mode, seconds };
        tx.enqueue_control(account.as_str(), peer.as_str(), &body, now)
            .await?;
        append(
            &mut tx,
            &account,
            peer.as_str(),
            EventType::ConversationUpdated,
            data,
            now,
        )
        .await?;
        tx.commit().await?;
        kick(&state, &account, peer.as_str());
    }
    Ok(HttpResponse::Ok().json(view(&state, &account, &peer).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_validation() {
        for good in ["👍", "❤️", "1️⃣", "👨‍👩‍👧‍👦", "🇫🇷"] {
            assert!(check_emoji(good).is_ok(), "{good}");
        }
        for bad in ["", "a", ":+1:", "👍 ", "\u{0}👍", &"👍".repeat(17)] {
            assert!(check_emoji(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn disappearing_validation() {
        let d = |mode: &str, seconds| DisappearingView {
            mode: mode.into(),
            seconds,
        };
        assert_eq!(
            check_disappearing(&d("off", 99)).ok(),
            Some(("off".into(), 0))
        );
        assert!(check_disappearing(&d("after_send", 30)).is_ok());
        assert!(check_disappearing(&d("after_read", 0)).is_err());
        assert!(check_disappearing(&d("after_send", MAX_DISAPPEARING_SECONDS + 1)).is_err());
        assert!(check_disappearing(&d("sometimes", 30)).is_err());
    }
}
