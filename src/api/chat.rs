//! The 1:1 chat endpoints on one message (issue 5): reactions and unsend/delete; the
//! per-conversation ones are in [`super::conversation`]. Everything that reaches the peer is
//! queued as a control message behind the conversation's earlier messages and answered `202`;
//! local state changes answer `200`.

use actix_web::{delete, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::account_path::{require_account, Access, AccountPath};
use super::{ApiError, ApiState, Principal};
use crate::clock::now_ms;
use crate::events::EventData;
use crate::ids::SessionIdText;
use crate::store::chat::ControlBody;
use crate::store::events::NewEvent;
use crate::store::messages::{Direction, Message, MessageStatus};
use crate::store::StoreTx;

pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(add_reaction)
        .service(remove_reaction)
        .service(delete_message);
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

pub(crate) async fn message_of(
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

pub(crate) async fn append(
    tx: &mut StoreTx,
    account: &SessionIdText,
    peer: &str,
    data: EventData,
    now: i64,
) -> Result<(), ApiError> {
    tx.append_event(&NewEvent {
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

pub(crate) fn kick(state: &ApiState, account: &SessionIdText, peer: &str) {
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
    let account = AccountPath::parse(&account)?
        .authorise(&principal, Access::Send)?
        .id();
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
    let account = AccountPath::parse(&account)?
        .authorise(&principal, Access::Send)?
        .id();
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
    let account = AccountPath::parse(&account)?
        .authorise(&principal, Access::Send)?
        .id();
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
    if message.status == MessageStatus::Queued {
        // Not sent yet: it never will be. If a send is in flight and lands, the unsend queued
        // behind it removes it again.
        let reason = "deleted before it was sent";
        tx.set_message_status(&message.id, MessageStatus::Failed, None, Some(reason), now)
            .await?;
    }
    if ours {
        let body = ControlBody::Unsend {
            target_ts: message.timestamp,
            own_hash: None,
        };
        tx.enqueue_control(account.as_str(), &peer, &body, now)
            .await?;
    }
    tx.mark_deleted(&message.id, now).await?;
    let data = EventData::message_deleted(&peer, &message.id, scope, account.as_str());
    append(&mut tx, &account, &peer, data, now).await?;
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
}
