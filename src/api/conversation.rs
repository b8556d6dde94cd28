//! The per-conversation chat endpoints (issue 5): read receipts, typing, message requests
//! (accept/decline), and the conversation view and settings (disappearing messages). The rules
//! are the chat domain's ([`crate::chat`]); these handlers parse, authorise, call and map.

use actix_web::{get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::account_path::{Access, AccountPath};
use super::chat::{wake, Queued};
use super::conversation_path;
use super::formats::{self, MessageId};
use super::{optional_json, ApiError, ApiState, Principal};
use crate::chat;
use crate::ids::{ConversationId, SessionIdText};
use crate::store::messages::Message;
use crate::store::modes::ConversationState;

/// Longest disappearing timer, seconds (the chat domain's rule).
pub use crate::chat::MAX_DISAPPEARING_SECONDS;

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
    #[schema(value_type = Option<MessageId>)]
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
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DisappearingView {
    /// `off`, `after_send` or `after_read`.
    pub mode: String,
    /// Timer, 1 to 1209600 seconds (ignored and 0 when `off`).
    #[serde(default)]
    pub seconds: i64,
}

/// The schema: `off` (with any `seconds`, shown as 0), or `after_send`/`after_read` with a
/// timer of 1 to [`MAX_DISAPPEARING_SECONDS`] (the chat domain's rule, `chat::Disappearing`).
impl utoipa::PartialSchema for DisappearingView {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let integer = || {
            ObjectBuilder::new().schema_type(Type::Integer).format(Some(
                utoipa::openapi::schema::SchemaFormat::KnownFormat(
                    utoipa::openapi::schema::KnownFormat::Int64,
                ),
            ))
        };
        let off = ObjectBuilder::new()
            .property(
                "mode",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["off"])),
            )
            .required("mode")
            .property(
                "seconds",
                integer()
                    .minimum(Some(0))
                    .maximum(Some(MAX_DISAPPEARING_SECONDS)),
            )
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ));
        let timed = ObjectBuilder::new()
            .property(
                "mode",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["after_send", "after_read"])),
            )
            .required("mode")
            .property(
                "seconds",
                integer()
                    .minimum(Some(1))
                    .maximum(Some(MAX_DISAPPEARING_SECONDS)),
            )
            .required("seconds")
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ));
        OneOfBuilder::new()
            .item(off)
            .item(timed)
            .description(Some(
                "`off` (its `seconds`, 0 to 1209600, are ignored and shown as 0), or \
                 `after_send`/`after_read` with a timer of 1 to 1209600 seconds",
            ))
            .into()
    }
}

impl utoipa::ToSchema for DisappearingView {}

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

/// The account and conversation of a `…/conversations/{peer}` path, once the caller has
/// `access` to the account and it exists; a group or community is a 422
/// `unsupported_conversation` then (before the body is read): read receipts, typing, message
/// requests and the disappearing setting are 1:1 features, and a group's view is
/// `…/groups/{group_id}`.
async fn conversation_of(
    state: &ApiState,
    path: &(String, String),
    principal: &Principal,
    access: Access,
) -> Result<(SessionIdText, ConversationId), ApiError> {
    let account = AccountPath::parse(&path.0)?;
    let conversation = conversation_path::parse(&path.1)?;
    let account = account
        .authorise(principal, access)?
        .existing(state)
        .await?;
    chat::direct_peer(&conversation)?;
    Ok((account, conversation))
}

/// Mark the peer's messages read up to `up_to` (default: all) and send one read receipt for
/// those not acknowledged before (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"), ("peer" = formats::SessionId, Path, description = "The peer's Session ID: these are direct-chat features (a 03… group ID or a percent-encoded community room URL answers 422 `unsupported_conversation`)")),
    request_body(content = Option<ReadBody>, content_type = "application/json",
        description = "Optional: no body marks everything read"),
    responses((status = 200, body = ReadResult), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "unsupported_conversation (a group, which has no read receipts, or a community room, issue 12) or a receipt problem")),
    security(("bearer" = [])), tag = "chat"
)]
#[post("/accounts/{session_id}/conversations/{peer}/read")]
async fn mark_read(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (account, conversation) = conversation_of(&state, &path, &principal, Access::Send).await?;
    // The body is optional: empty means "everything".
    let body: ReadBody = optional_json(&req, payload, state.settings.api.max_body_bytes).await?;
    formats::check_opt::<MessageId>(body.up_to.as_deref(), "up_to", "invalid_id")?;
    let read =
        chat::mark_read(&state.store, &account, &conversation, body.up_to.as_deref()).await?;
    if let Some(receipt) = &read.receipt {
        wake(&state, &account, receipt);
    }
    Ok(HttpResponse::Ok().json(ReadResult {
        receipted: read.receipted,
        receipt_id: read.receipt.map(|r| r.id),
    }))
}

/// Tell the peer we started or stopped typing (TTL 20 s; a newer state replaces a queued one)
/// (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"), ("peer" = formats::SessionId, Path, description = "The peer's Session ID: these are direct-chat features (a 03… group ID or a percent-encoded community room URL answers 422 `unsupported_conversation`)")),
    request_body = TypingBody,
    responses((status = 202, body = Queued), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "unsupported_conversation: a group (not a group operation) or a community room (issue 12)")),
    security(("bearer" = [])), tag = "chat"
)]
#[post("/accounts/{session_id}/conversations/{peer}/typing")]
async fn typing(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: super::json_body::JsonBody<TypingBody>,
) -> Result<HttpResponse, ApiError> {
    let (account, conversation) = conversation_of(&state, &path, &principal, Access::Send).await?;
    let queued = chat::typing(&state.store, &account, &conversation, body.typing).await?;
    wake(&state, &account, &queued);
    Ok(HttpResponse::Accepted().json(Queued { id: queued.id }))
}

/// The view of `conversation` (a direct chat: [`conversation_of`] checked).
async fn view(
    state: &ApiState,
    account: &SessionIdText,
    conversation: &ConversationId,
) -> Result<ConversationView, ApiError> {
    let peer = chat::direct_peer(conversation)?;
    let chat::ConversationSnapshot { chat, last_message } =
        chat::conversation(&state.store, account, conversation).await?;
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
    params(("session_id" = formats::SessionId, Path, description = "The account"), ("peer" = formats::SessionId, Path, description = "The peer's Session ID: these are direct-chat features (a 03… group ID or a percent-encoded community room URL answers 422 `unsupported_conversation`)")),
    responses((status = 200, body = ConversationView), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "unsupported_conversation: a group (not a group operation) or a community room (issue 12)")),
    security(("bearer" = [])), tag = "chat"
)]
#[post("/accounts/{session_id}/conversations/{peer}/accept")]
async fn accept(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, conversation) = conversation_of(&state, &path, &principal, Access::Send).await?;
    if let Some(response) = chat::accept(&state.store, &account, &conversation).await? {
        wake(&state, &account, &response);
    }
    Ok(HttpResponse::Ok().json(view(&state, &account, &conversation).await?))
}

/// Decline a message request: its held messages are dropped, and so are the peer's later
/// messages until the conversation is accepted (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"), ("peer" = formats::SessionId, Path, description = "The peer's Session ID: these are direct-chat features (a 03… group ID or a percent-encoded community room URL answers 422 `unsupported_conversation`)")),
    responses((status = 200, body = ConversationView), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "unsupported_conversation: a group (not a group operation) or a community room (issue 12)")),
    security(("bearer" = [])), tag = "chat"
)]
#[post("/accounts/{session_id}/conversations/{peer}/decline")]
async fn decline(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, conversation) = conversation_of(&state, &path, &principal, Access::Send).await?;
    chat::decline(&state.store, &account, &conversation).await?;
    Ok(HttpResponse::Ok().json(view(&state, &account, &conversation).await?))
}

/// One conversation: state, disappearing setting, the peer's profile, last message
/// (`accounts:<id>:read`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"), ("peer" = formats::SessionId, Path, description = "The peer's Session ID: these are direct-chat features (a 03… group ID or a percent-encoded community room URL answers 422 `unsupported_conversation`)")),
    responses((status = 200, body = ConversationView), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "unsupported_conversation: a group (not a group operation) or a community room (issue 12)")),
    security(("bearer" = [])), tag = "chat"
)]
#[get("/accounts/{session_id}/conversations/{peer}")]
async fn get_conversation(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, conversation) = conversation_of(&state, &path, &principal, Access::Read).await?;
    Ok(HttpResponse::Ok().json(view(&state, &account, &conversation).await?))
}

/// Change a conversation's disappearing-message setting; the peer is told (expiration timer
/// update) and later messages go out under it (`accounts:<id>:send`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"), ("peer" = formats::SessionId, Path, description = "The peer's Session ID: these are direct-chat features (a 03… group ID or a percent-encoded community room URL answers 422 `unsupported_conversation`)")),
    request_body = PatchConversation,
    responses((status = 200, body = ConversationView), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "unsupported_conversation: a group (not a group operation) or a community room (issue 12)")),
    security(("bearer" = [])), tag = "chat"
)]
#[patch("/accounts/{session_id}/conversations/{peer}")]
async fn patch_conversation(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: super::json_body::JsonBody<PatchConversation>,
) -> Result<HttpResponse, ApiError> {
    let (account, conversation) = conversation_of(&state, &path, &principal, Access::Send).await?;
    // `seconds` is 0 to the maximum whatever the mode (the schema says so; `off` ignores it).
    if body
        .disappearing
        .as_ref()
        .is_some_and(|d| !(0..=MAX_DISAPPEARING_SECONDS).contains(&d.seconds))
    {
        return Err(chat::ChatError::DisappearingSeconds.into());
    }
    let setting = body
        .disappearing
        .as_ref()
        .map(|d| chat::Disappearing::parse(&d.mode, d.seconds))
        .transpose()?;
    if let Some(setting) = setting {
        let queued = chat::set_disappearing(&state.store, &account, &conversation, setting).await?;
        wake(&state, &account, &queued);
    }
    Ok(HttpResponse::Ok().json(view(&state, &account, &conversation).await?))
}
