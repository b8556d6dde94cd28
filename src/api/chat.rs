//! The 1:1 chat endpoints on one message (issue 5): reactions and unsend/delete; the
//! per-conversation ones are in [`super::conversation`]. Everything that reaches the peer is
//! queued as a control message behind the conversation's earlier messages and answered `202`;
//! local state changes answer `200`. The rules are the chat domain's ([`crate::chat`]).

use actix_web::{delete, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::account_path::{Access, AccountPath, AuthorisedAccount};
use super::formats::{self, Format as _};
use super::{ApiError, ApiState, Principal};
use crate::chat;
use crate::ids::{ConversationId, SessionIdText};

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
    #[schema(value_type = formats::Emoji)]
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

/// Wakes the sender of the conversation `queued` went into (the store's notice would, later):
/// a peer's, or a group's (named by its `03` ID).
pub(crate) fn wake(state: &ApiState, account: &SessionIdText, queued: &chat::Queued) {
    match &queued.conversation {
        Some(ConversationId::Direct(peer)) => {
            state.actors.message_queued(account, peer, &queued.id);
        }
        Some(ConversationId::Group(group)) => {
            state
                .actors
                .message_queued(account, group.as_session_id(), &queued.id);
        }
        Some(ConversationId::Community(room)) => {
            state
                .actors
                .queued_in(account, &room.to_string(), &queued.id);
        }
        None => {}
    }
}

async fn react(
    state: &ApiState,
    account: AuthorisedAccount,
    id: &str,
    emoji: String,
    remove: bool,
) -> Result<HttpResponse, ApiError> {
    let id = formats::MessageId::check(id, "id", "invalid_id")?;
    let emoji = chat::Emoji::parse(emoji)?;
    let account = account.existing(state).await?;
    let queued = chat::react(&state.store, &account, id, emoji, remove).await?;
    wake(state, &account, &queued);
    Ok(HttpResponse::Accepted().json(Queued { id: queued.id }))
}

/// React to a message with an emoji (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"), ("id" = formats::MessageId, Path, description = "Message id")),
    request_body = ReactionBody,
    responses((status = 202, body = Queued), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account or message, or a deleted message")),
    security(("bearer" = [])), tag = "chat"
)]
#[post("/accounts/{session_id}/messages/{id}/reactions")]
async fn add_reaction(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: super::json_body::JsonBody<ReactionBody>,
) -> Result<HttpResponse, ApiError> {
    let (account, id) = path.into_inner();
    let account = AccountPath::parse(&account)?.authorise(&principal, Access::Send)?;
    react(&state, account, &id, body.into_inner().emoji, false).await
}

/// Remove our reaction (URL-encoded emoji) from a message (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"), ("id" = formats::MessageId, Path, description = "Message id"),
        ("emoji" = formats::Emoji, Path, description = "The emoji, URL-encoded")),
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
    let account = AccountPath::parse(&account)?.authorise(&principal, Access::Send)?;
    react(&state, account, &id, emoji, true).await
}

/// Delete a message: our own is unsent for everyone (the peer and our own swarm copy); a
/// received one is deleted here only (`scope: local`) (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"), ("id" = formats::MessageId, Path, description = "Message id")),
    responses((status = 202, body = Deleted, description = "Unsent for everyone"),
        (status = 200, body = Deleted, description = "Deleted locally"),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account or message, or one already deleted")),
    security(("bearer" = [])), tag = "chat"
)]
#[delete("/accounts/{session_id}/messages/{id}")]
async fn delete_message(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, id) = path.into_inner();
    let account = AccountPath::parse(&account)?.authorise(&principal, Access::Send)?;
    let id = formats::MessageId::check(&id, "id", "invalid_id")?;
    let account = account.existing(&state).await?;
    let deleted = chat::delete_message(&state.store, &account, id).await?;
    let view = Deleted {
        id: deleted.id,
        scope: deleted.scope.as_str().to_owned(),
    };
    match &deleted.unsend {
        Some(unsend) => {
            wake(&state, &account, unsend);
            Ok(HttpResponse::Accepted().json(view))
        }
        None => Ok(HttpResponse::Ok().json(view)),
    }
}
