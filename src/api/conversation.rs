//! The per-conversation chat endpoints (issue 5): read receipts, typing, message requests
//! (accept/decline), and the conversation view and settings (disappearing messages).

use actix_web::{get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::account_path::{Access, AccountPath};
use super::chat::{append, kick, message_of, Queued};
use super::conversation_path;
use super::{ApiError, ApiState, Principal};
use crate::clock::now_ms;
use crate::events::{EventData, MessageEvent};
use crate::ids::SessionIdText;
use crate::store::chat::{ControlBody, ConversationChat};
use crate::store::messages::Message;
use crate::store::modes::{ConversationState, ExpireMode};

/// Longest disappearing timer, seconds: 14 days, the longest storage TTL (messages.md §3.5).
pub const MAX_DISAPPEARING_SECONDS: i64 = 14 * 24 * 3600;

pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(mark_read)
        .service(typing)
        .service(accept)
        .service(decline)
        .service(get_conversation)
        .service(patch_conversation);
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
    /// Where to download the decrypted avatar from this gateway
    /// (`/v1/accounts/{sid}/conversations/{peer}/avatar`), when the profile names one.
    pub avatar: Option<String>,
}

/// One conversation with its chat state.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    /// The peer's Session ID (the conversation id).
    pub id: String,
    /// The peer's Session ID.
    pub peer: String,
    /// `accepted`, `pending` (held message request) or `declined`.
    pub state: ConversationState,
    /// The disappearing-message setting.
    pub disappearing: DisappearingView,
    /// The peer's profile.
    pub profile: ProfileView,
    /// The newest message, if any.
    pub last_message: Option<Message>,
}

fn check_disappearing(d: &DisappearingView) -> Result<(ExpireMode, i64), ApiError> {
    match ExpireMode::parse(&d.mode) {
        Some(ExpireMode::Off) => Ok((ExpireMode::Off, 0)),
        Some(mode) if (1..=MAX_DISAPPEARING_SECONDS).contains(&d.seconds) => Ok((mode, d.seconds)),
        Some(_) => Err(ApiError::bad_request(
            "invalid_disappearing",
            format!("seconds must be 1 to {MAX_DISAPPEARING_SECONDS}"),
        )),
        None => Err(ApiError::bad_request(
            "invalid_disappearing",
            "mode must be off, after_send or after_read",
        )),
    }
}

/// The account and peer of a `…/conversations/{peer}` path, once the caller has `access` to
/// the account and it exists; a group or community is a 422 `unsupported_conversation` then.
async fn conversation_of(
    state: &ApiState,
    path: &(String, String),
    principal: &Principal,
    access: Access,
) -> Result<(SessionIdText, SessionIdText), ApiError> {
    let account = AccountPath::parse(&path.0)?;
    let conversation = conversation_path::parse(&path.1)?;
    let account = account
        .authorise(principal, access)?
        .existing(state)
        .await?;
    Ok((account, conversation_path::direct(conversation)?))
}

/// Mark the peer's messages read up to `up_to` (default: all) and send one read receipt for
/// those not acknowledged before (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = String, Path, description = "The account"), ("peer" = String, Path, description = "The conversation: the peer's Session ID; a 03… group ID or a percent-encoded community room URL answers 422 for now")),
    request_body = ReadBody,
    responses((status = 200, body = ReadResult), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "unsupported_conversation (a group or community room, issues 10 and 12) or a receipt problem")),
    security(("bearer" = [])), tag = "chat"
)]
#[post("/accounts/{session_id}/conversations/{peer}/read")]
async fn mark_read(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (account, peer) = conversation_of(&state, &path, &principal, Access::Send).await?;
    // The body is optional: empty means "everything".
    let body: ReadBody = if body.iter().all(u8::is_ascii_whitespace) {
        ReadBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?
    };
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
    let receipt = tx
        .read_with_receipt(account.as_str(), peer.as_str(), up_to, now)
        .await?;
    let (receipt_id, receipted) = receipt.map_or((None, 0), |(id, n)| (Some(id), n));
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
    params(("session_id" = String, Path, description = "The account"), ("peer" = String, Path, description = "The conversation: the peer's Session ID; a 03… group ID or a percent-encoded community room URL answers 422 for now")),
    request_body = TypingBody,
    responses((status = 202, body = Queued), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "unsupported_conversation: a group or community room (issues 10 and 12)")),
    security(("bearer" = [])), tag = "chat"
)]
#[post("/accounts/{session_id}/conversations/{peer}/typing")]
async fn typing(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Json<TypingBody>,
) -> Result<HttpResponse, ApiError> {
    let (account, peer) = conversation_of(&state, &path, &principal, Access::Send).await?;
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
            mode: chat.disappearing_mode.as_str().to_owned(),
            seconds: chat.disappearing_seconds,
        },
        profile: ProfileView {
            avatar: (chat.profile_avatar_url.is_some() && chat.profile_key_sealed.is_some())
                .then(|| super::attachments::avatar_path(account.as_str(), peer.as_str())),
            display_name: chat.profile_name,
            avatar_url: chat.profile_avatar_url,
        },
        last_message,
    })
}

/// Accept a message request: its held messages are delivered (`message.received` now) and the
/// peer is told (MessageRequestResponse) (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = String, Path, description = "The account"), ("peer" = String, Path, description = "The conversation: the peer's Session ID; a 03… group ID or a percent-encoded community room URL answers 422 for now")),
    responses((status = 200, body = ConversationView), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "unsupported_conversation: a group or community room (issues 10 and 12)")),
    security(("bearer" = [])), tag = "chat"
)]
#[post("/accounts/{session_id}/conversations/{peer}/accept")]
async fn accept(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, peer) = conversation_of(&state, &path, &principal, Access::Send).await?;
    if !accept_request(&state, &account, &peer).await? {
        return Err(ApiError::NotFound("conversation"));
    }
    Ok(HttpResponse::Ok().json(view(&state, &account, &peer).await?))
}

/// Accepts the conversation with `peer` if it is a pending or declined request: releases its
/// held messages (their `message.received` now), queues the MessageRequestResponse and emits
/// `conversation.updated`. False when there is no conversation with `peer`. Also used when
/// the account sends to such a peer (replying accepts a request, as in Session clients).
pub(crate) async fn accept_request(
    state: &ApiState,
    account: &SessionIdText,
    peer: &SessionIdText,
) -> Result<bool, ApiError> {
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let Some(chat) = tx
        .conversation_chat(account.as_str(), peer.as_str())
        .await?
    else {
        return Ok(false);
    };
    if chat.state == ConversationState::Accepted {
        return Ok(true);
    }
    tx.set_conversation_state(
        account.as_str(),
        peer.as_str(),
        ConversationState::Accepted,
        now,
    )
    .await?;
    let released = tx.release_held(account.as_str(), peer.as_str()).await?;
    for mut m in released.iter().cloned() {
        // As on the live path: the event carries the message's attachments.
        m.attachments = tx.attachment_views(account.as_str(), &m.id).await?;
        let data = EventData::message(MessageEvent::Received, &m)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        append(&mut tx, account, peer.as_str(), data, now).await?;
    }
    let response = ControlBody::RequestResponse;
    tx.enqueue_control(account.as_str(), peer.as_str(), &response, now)
        .await?;
    // Delivered now, so read now under `read_receipts: auto` (queued behind the response).
    if let Some(newest) = released.last() {
        tx.auto_read(account.as_str(), peer.as_str(), newest.timestamp, now)
            .await?;
    }
    let data = EventData::state_updated(peer.as_str(), ConversationState::Accepted.as_str());
    append(&mut tx, account, peer.as_str(), data, now).await?;
    tx.commit().await?;
    kick(state, account, peer.as_str());
    Ok(true)
}

/// Decline a message request: its held messages are dropped, and so are the peer's later
/// messages until the conversation is accepted (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = String, Path, description = "The account"), ("peer" = String, Path, description = "The conversation: the peer's Session ID; a 03… group ID or a percent-encoded community room URL answers 422 for now")),
    responses((status = 200, body = ConversationView), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "unsupported_conversation: a group or community room (issues 10 and 12)")),
    security(("bearer" = [])), tag = "chat"
)]
#[post("/accounts/{session_id}/conversations/{peer}/decline")]
async fn decline(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, peer) = conversation_of(&state, &path, &principal, Access::Send).await?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    tx.conversation_chat(account.as_str(), peer.as_str())
        .await?
        .ok_or(ApiError::NotFound("conversation"))?;
    tx.set_conversation_state(
        account.as_str(),
        peer.as_str(),
        ConversationState::Declined,
        now,
    )
    .await?;
    tx.drop_held(account.as_str(), peer.as_str()).await?;
    let data = EventData::state_updated(peer.as_str(), ConversationState::Declined.as_str());
    append(&mut tx, &account, peer.as_str(), data, now).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(view(&state, &account, &peer).await?))
}

/// One conversation: state, disappearing setting, the peer's profile, last message
/// (`accounts:<id>:read`).
#[utoipa::path(
    params(("session_id" = String, Path, description = "The account"), ("peer" = String, Path, description = "The conversation: the peer's Session ID; a 03… group ID or a percent-encoded community room URL answers 422 for now")),
    responses((status = 200, body = ConversationView), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "unsupported_conversation: a group or community room (issues 10 and 12)")),
    security(("bearer" = [])), tag = "chat"
)]
#[get("/accounts/{session_id}/conversations/{peer}")]
async fn get_conversation(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, peer) = conversation_of(&state, &path, &principal, Access::Read).await?;
    Ok(HttpResponse::Ok().json(view(&state, &account, &peer).await?))
}

/// Change a conversation's disappearing-message setting; the peer is told (expiration timer
/// update) and later messages go out under it (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = String, Path, description = "The account"), ("peer" = String, Path, description = "The conversation: the peer's Session ID; a 03… group ID or a percent-encoded community room URL answers 422 for now")),
    request_body = PatchConversation,
    responses((status = 200, body = ConversationView), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "unsupported_conversation: a group or community room (issues 10 and 12)")),
    security(("bearer" = [])), tag = "chat"
)]
#[patch("/accounts/{session_id}/conversations/{peer}")]
async fn patch_conversation(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: web::Json<PatchConversation>,
) -> Result<HttpResponse, ApiError> {
    let (account, peer) = conversation_of(&state, &path, &principal, Access::Send).await?;
    let setting = body
        .disappearing
        .as_ref()
        .map(check_disappearing)
        .transpose()?;
    if let Some((mode, seconds)) = setting {
        let now = now_ms();
        let mut tx = state.store.begin().await?;
        tx.set_disappearing(account.as_str(), peer.as_str(), mode, seconds, now)
            .await?;
        let data = EventData::disappearing_updated(peer.as_str(), mode.as_str(), seconds);
        let body = ControlBody::ExpirationUpdate { mode, seconds };
        tx.enqueue_control(account.as_str(), peer.as_str(), &body, now)
            .await?;
        append(&mut tx, &account, peer.as_str(), data, now).await?;
        tx.commit().await?;
        kick(&state, &account, peer.as_str());
    }
    Ok(HttpResponse::Ok().json(view(&state, &account, &peer).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disappearing_validation() {
        let d = |mode: &str, seconds| DisappearingView {
            mode: mode.into(),
            seconds,
        };
        assert_eq!(
            check_disappearing(&d("off", 99)).ok(),
            Some((ExpireMode::Off, 0))
        );
        assert!(check_disappearing(&d("after_send", 30)).is_ok());
        assert!(check_disappearing(&d("after_read", 0)).is_err());
        assert!(check_disappearing(&d("after_send", MAX_DISAPPEARING_SECONDS + 1)).is_err());
        assert!(check_disappearing(&d("sometimes", 30)).is_err());
    }
}
