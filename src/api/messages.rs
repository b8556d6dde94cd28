//! `/v1/accounts/{session_id}/messages` and `/conversations`.
//!
//! Sending persists the message as `queued` and answers 202; the network half sends it later
//! (issue 4: "persist first, answer 202"). An `Idempotency-Key` header makes a retried request
//! return the first request's message instead of queueing a second one.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::account_path::{account_in_path, Access, AccountPath};
use super::chat::wake;
use super::formats::{self, ConversationCursor, ConversationRef, Format as _, MessageId};
use super::paging::{self, Keyset, PageQuery};
use super::{page_limit, session_id, ApiError, ApiState, Principal};
use crate::chat;
use crate::ids::{ConversationId, GroupId, RoomRef, SessionIdText};
use crate::store::messages::{new_message_id, Conversation, Message, MessageStatus};
use crate::telemetry::links::Key;

/// Longest message text, in characters (the chat domain's rule, [`chat::MAX_TEXT_CHARS`]).
pub use crate::chat::MAX_TEXT_CHARS;
/// Longest `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 255;

pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(send_message)
        .service(list_messages)
        .service(get_message)
        .service(list_conversations);
}

/// `POST …/messages` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// Recipient: a peer's `05…` Session ID, the `03…` ID of a group the account has joined,
    /// a community room's conversation ID (`http(s)://host[:port]/room`) or a blinded `15…` ID
    /// met in a room (a DM through that room's server).
    #[schema(value_type = ConversationRef)]
    pub to: String,
    /// Text, up to 2000 characters; may be empty (or absent) when files are attached.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub text: String,
    /// Reply to this message of the same conversation.
    pub quote: Option<QuoteRef>,
    /// Files to attach (issue 5; or send them as `multipart/form-data` parts).
    #[serde(default)]
    pub attachments: Vec<super::attachments::AttachmentInput>,
}

/// `"quote": {"id"}`: the message replied to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteRef {
    /// Its message id.
    #[schema(value_type = MessageId)]
    pub id: String,
}

/// `202` response to a send.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Message id.
    pub id: String,
    /// `queued` for a new message; the current status for an idempotent repeat.
    pub status: MessageStatus,
    /// Sent timestamp, ms.
    pub timestamp: i64,
}

/// History query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only the conversation with this peer, group (`03…`) or room.
    #[param(value_type = Option<ConversationRef>, nullable = false)]
    pub with: Option<String>,
    /// The `next` of the previous page (a message id): the messages older than it (404 if no
    /// such message).
    #[param(value_type = Option<MessageId>, nullable = false)]
    pub after: Option<String>,
    /// The same as `after`, kept for existing clients; `after` wins when both are given.
    #[param(value_type = Option<MessageId>, nullable = false)]
    pub before: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(nullable = false, minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// History page, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    /// Messages, newest first.
    pub messages: Vec<Message>,
    /// Pass as `after` for the next (older) page; `null` on the last page.
    pub next: Option<String>,
}

/// Conversations, most recent first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationList {
    /// Conversations, most recent first.
    pub conversations: Vec<Conversation>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// Where a message goes, or whose history is listed: a group's `03…` ID, a community room's
/// URL (`http(s)://host[:port]/room`), a blinded `15…` ID (a DM through a community server),
/// or else a peer's Session ID (400 `invalid_session_id` otherwise).
pub(crate) fn message_target(text: &str, field: &str) -> Result<ConversationId, ApiError> {
    if text.starts_with("http://") || text.starts_with("https://") {
        formats::RoomRef::check(text, field, "invalid_room")?;
        let room = text.split_once('?').map_or(text, |(room, _)| room);
        return RoomRef::parse(room)
            .map(ConversationId::Community)
            .map_err(|e| ApiError::bad_request("invalid_room", format!("{field}: {e}")));
    }
    ConversationRef::check(text, field, "invalid_session_id")?;
    if let Ok(group) = GroupId::parse(text) {
        return Ok(ConversationId::Group(group));
    }
    if text.starts_with("15") {
        if let Ok(id) = SessionIdText::parse_any(text) {
            return Ok(ConversationId::Direct(id));
        }
    }
    session_id(text, field).map(ConversationId::Direct)
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let bad = || {
        ApiError::bad_request(
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
        )
    };
    let text = value.to_str().map_err(|_| bad())?;
    if text.len() > MAX_IDEMPOTENCY_KEY || !formats::IdempotencyKey::is_valid(text) {
        return Err(bad());
    }
    Ok(Some(text.to_owned()))
}

/// Queue a message for sending (`accounts:<id>:send`).
#[utoipa::path(
    params(
        ("session_id" = formats::SessionId, Path, description = "The sending account"),
        ("Idempotency-Key" = Option<formats::IdempotencyKey>, Header, nullable = false, description = "Makes retries safe")
    ),
    request_body(description = "JSON, or multipart/form-data: a `json` part with the body and one part per file", content(
        (SendMessage = "application/json"),
        (SendMultipart = "multipart/form-data")
    )),
    responses(
        (status = 202, body = Accepted),
        (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account, unknown or deleted quoted message, or a group the account has not joined"),
        (status = 422, body = super::error::ErrorBody, description = "Quoted message of another conversation"),
        (status = 413, body = super::error::ErrorBody, description = "`attachment_too_large` (over 10,000,000 bytes) or `payload_too_large`"),
        (status = 409, body = super::error::ErrorBody, description = "`idempotency_conflict` (Idempotency-Key reused with another body), `group_state` (the account left the group or was removed) or `group_destroyed`"),
        (status = 429, body = super::error::ErrorBody, description = "`rate_limited`: the key, or the account's `sending.max_per_minute`, is over its rate; see `Retry-After`")
    ),
    security(("bearer" = [])), tag = "messages"
)]
#[post("/accounts/{session_id}/messages")]
#[tracing::instrument(name = "api.send_message", skip_all, fields(message_id))]
async fn send_message(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let account = AccountPath::parse(&path)?.authorise(&principal, Access::Send)?;
    // Attachments hook: JSON or multipart body, files size-checked before anything is stored.
    let limit = state.settings.api.max_body_bytes;
    let (body, files) = super::attachments::read_send_body(&req, payload, limit).await?;
    let conversation = message_target(&body.to, "to")?;
    chat::check_text(&body.text, !files.is_empty())?;
    let key = idempotency_key(&req)?;
    let account = account.existing(&state).await?;
    state.limits.check_send(account.as_str())?; // sending.max_per_minute
    let id = new_message_id();
    // The Conversation actor that sends it continues this trace. Remembered before the commit:
    // the commit's notice can start the send before this handler runs again.
    state.metrics.links.remember(Key::Message(&id));
    let text = chat::NewText {
        id: id.clone(),
        text: body.text,
        quote: body.quote.map(|q| q.id),
        idempotency_key: key,
    };
    let sent = chat::send_text(&state.store, &account, &conversation, text, &files).await;
    let sent = sent.inspect_err(|_| state.metrics.links.forget(Key::Message(&id)))?;
    if let Some(response) = &sent.accepted_request {
        wake(&state, &account, response);
    }
    let stored = sent.message;
    tracing::Span::current().record("message_id", stored.id.as_str());
    if sent.created {
        wake(
            &state,
            &account,
            &chat::Queued {
                id: stored.id.clone(),
                conversation: Some(conversation),
            },
        );
    } else {
        // An idempotent repeat: the first request's message, sent in its own trace.
        state.metrics.links.forget(Key::Message(&id));
    }
    Ok(HttpResponse::Accepted().json(Accepted {
        id: stored.id,
        status: stored.status,
        timestamp: stored.timestamp,
    }))
}

/// Message history, newest first (`accounts:<id>:read`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"), HistoryQuery),
    responses((status = 200, body = MessagePage), (status = 404, body = super::error::ErrorBody, description = "Unknown account, or no message `after` names")),
    security(("bearer" = [])), tag = "messages"
)]
#[get("/accounts/{session_id}/messages")]
async fn list_messages(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let account = AccountPath::parse(&path)?.authorise(&principal, Access::Read)?;
    let query = query.into_inner();
    let with = query
        .with
        .as_deref()
        .map(|w| message_target(w, "with"))
        .transpose()?;
    let limit = page_limit(query.limit, 50, 200)?;
    formats::check_opt::<MessageId>(query.after.as_deref(), "after", "invalid_query")?;
    formats::check_opt::<MessageId>(query.before.as_deref(), "before", "invalid_query")?;
    let account = account.existing(&state).await?;
    let from = query.after.as_ref().or(query.before.as_ref());
    let before = match from {
        Some(id) => Some(
            state
                .store
                .get_message(account.as_str(), id)
                .await?
                .ok_or(ApiError::NotFound("message"))?,
        ),
        None => None,
    };
    let mut messages = state
        .store
        .list_messages(
            account.as_str(),
            with.as_ref().map(ConversationId::to_text).as_deref(),
            before.as_ref(),
            limit + 1,
        )
        .await?;
    let next = if messages.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        messages.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        messages.last().map(|m| m.id.clone())
    } else {
        None
    };
    super::attachments::with_attachments(&state, account.as_str(), &mut messages).await?; // issue 5
    Ok(HttpResponse::Ok().json(MessagePage { messages, next }))
}

/// One message (`accounts:<id>:read`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"), ("id" = MessageId, Path, description = "Message id")),
    responses((status = 200, body = Message), (status = 404, body = super::error::ErrorBody, description = "Unknown account or message, or a deleted message (history still lists it, with `deleted_at`)")),
    security(("bearer" = [])), tag = "messages"
)]
#[get("/accounts/{session_id}/messages/{id}")]
async fn get_message(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, id) = path.into_inner();
    let account = AccountPath::parse(&account)?
        .authorise(&principal, Access::Read)?
        .id();
    let id = MessageId::check(&id, "id", "invalid_id")?;
    let mut message = state
        .store
        .get_message(account.as_str(), id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    if message.deleted_at.is_some() {
        return Err(ApiError::Deleted("the message was deleted"));
    }
    let one = std::slice::from_mut(&mut message);
    super::attachments::with_attachments(&state, account.as_str(), one).await?; // issue 5
    Ok(HttpResponse::Ok().json(message))
}

/// Conversations, most recent first (`accounts:<id>:read`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size, 1 to 1000 (default 100)"),
        ("after" = Option<ConversationCursor>, Query, description = "The `next` of the previous page; absent for the first page")),
    responses((status = 200, body = ConversationList), (status = 400, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "messages"
)]
#[get("/accounts/{session_id}/conversations")]
async fn list_conversations(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit()?;
    let after = Keyset::decode_opt::<ConversationCursor>(query.after.as_deref())?;
    let account = account_in_path(&state, &principal, Access::Read, &path).await?;
    let rows = state
        .store
        .list_conversations_page(
            account.as_str(),
            after.as_ref().map(|k| (k.at, k.id.as_str())),
            limit + 1,
        )
        .await?;
    let (mut conversations, next) = paging::cut(rows, limit, |c| {
        Keyset {
            at: c.last_message_at,
            id: c.peer.clone(),
        }
        .encode()
    });
    super::attachments::with_avatars(&state, account.as_str(), &mut conversations).await?; // issue 5
    Ok(HttpResponse::Ok().json(ConversationList {
        conversations,
        next,
    }))
}

/// The schema of [`SendMessage`] as derived, without the rule across its fields.
const SEND_FIELDS: &str = "SendMessageFields";

/// `{"text": non-empty}`, or the same for another property: one branch of "something to send".
fn non_empty(property: &str, array: bool) -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let value: utoipa::openapi::schema::Schema = if array {
        ArrayBuilder::new().min_items(Some(1)).into()
    } else {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .into()
    };
    ObjectBuilder::new()
        .property(property, value)
        .required(property)
        .into()
}

/// Completes the send schemas (called by [`super::contract::complete`]): `SendMessage` needs
/// `text` or `attachments` (the chat domain's rule, [`chat::check_text`]); the derived object
/// is kept as `SendMessageFields`, which the multipart form ([`SendMultipart`]) uses.
pub(crate) fn complete_send_schemas(
    schemas: &mut std::collections::BTreeMap<
        String,
        utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    >,
) {
    use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder};
    use utoipa::openapi::Ref;
    let Some(fields) = schemas.remove("SendMessage") else {
        return;
    };
    schemas.insert(SEND_FIELDS.to_owned(), fields);
    let something = AnyOfBuilder::new()
        .item(non_empty("text", false))
        .item(non_empty("attachments", true));
    let send = AllOfBuilder::new()
        .item(Ref::from_schema_name(SEND_FIELDS))
        .item(something)
        .description(Some(
            "A message: `to`, and `text` or `attachments` (or both)",
        ));
    schemas.insert("SendMessage".to_owned(), send.into());
}

/// `POST …/messages` as `multipart/form-data`: a part `json` holding the message (text may be
/// empty when files come as parts), and every other part a file (its `Content-Type` and
/// `filename` are the attachment's).
pub struct SendMultipart;

impl utoipa::PartialSchema for SendMultipart {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, AllOfBuilder, AnyOfBuilder, KnownFormat, ObjectBuilder,
            SchemaFormat, Type,
        };
        use utoipa::openapi::Ref;
        let file = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("A file"));
        let form = ObjectBuilder::new()
            .property("json", Ref::from_schema_name(SEND_FIELDS))
            .required("json")
            .property_names(Some(formats::FormPartName::string_schema()))
            .additional_properties(Some(AdditionalProperties::RefOr(
                utoipa::openapi::RefOr::T(file.into()),
            )));
        let json_with = |branch| {
            ObjectBuilder::new()
                .property("json", branch)
                .required("json")
        };
        let something = AnyOfBuilder::new()
            .item(json_with(non_empty("text", false)))
            .item(json_with(non_empty("attachments", true)))
            .item(ObjectBuilder::new().min_properties(Some(2)));
        AllOfBuilder::new()
            .item(form)
            .item(something)
            .description(Some(
                "A part `json` with the message, and one part per file; `text` may be empty \
                 when there are files",
            ))
            .into()
    }
}

impl utoipa::ToSchema for SendMultipart {}
