//! `/v1/accounts/{session_id}/communities`: community rooms (issue 12). Join a room by its
//! URL, list and view the joined rooms, leave; and, for a moderator, ban, unban and delete
//! every post of a user. A room's posts, reactions and deletions use the message endpoints
//! with the room's conversation ID (`http(s)://host[:port]/room`) as `to` / `with`; a blinded
//! DM uses the author's `15…` ID as `to`.
//!
//! `{room}` is the room's conversation ID, percent-encoded (`http%3A%2F%2Fhost%2Froom`), or its
//! join URL. Joining talks to the server (capabilities and room info, through the onion);
//! everything else is recorded and queued like any message.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::account_path::{Access, AccountPath};
use super::formats::{self, Format as _};
use super::groups::QueuedChanges;
use super::paging::{self, PageQuery};
use super::{ApiError, ApiState, Principal};
use crate::actors::rooms::JoinError;
use crate::chat::community::{self, JoinedRoom};
use crate::ids::{ConversationId, SessionIdText};
use crate::protocol::community::CommunityUrl;
use crate::store::chat::RoomAction;

pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(join_community)
        .service(list_communities)
        .service(get_community)
        .service(leave_community)
        .service(ban_user)
        .service(unban_user)
        .service(delete_user_posts);
}

/// `POST …/communities` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinCommunity {
    /// The join URL: `http(s)://host[:port]/room?public_key=<64 hex>`.
    #[schema(value_type = formats::JoinUrl)]
    pub url: String,
}

/// `POST …/communities/{room}/bans` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BanUser {
    /// Who: the `15…` blinded ID (as the room shows authors) or a `05…` Session ID.
    #[schema(value_type = formats::UserId)]
    pub user: String,
    /// How long, seconds (absent: until unbanned).
    #[schema(maximum = 4_294_967_295_u64)]
    pub timeout_seconds: Option<u32>,
}

/// A joined room as the account sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityView {
    /// The room's conversation ID (`http(s)://host[:port]/room`): `to` and `with` of its
    /// messages.
    pub conversation: String,
    /// The join URL.
    pub url: String,
    /// The room token.
    pub room: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The account's blinded ID in the room (`15…`): the author of its posts there.
    pub blinded_id: String,
    /// The account moderates the room.
    pub moderator: bool,
    /// The room's moderators and admins (IDs).
    pub moderators: Vec<String>,
    /// When the account joined, ms.
    pub joined_at: i64,
}

impl From<JoinedRoom> for CommunityView {
    fn from(joined: JoinedRoom) -> Self {
        Self {
            url: joined.url(),
            conversation: joined.room.room,
            room: joined.room.token,
            name: joined.room.name,
            description: joined.room.description,
            blinded_id: joined.member.blinded_id,
            moderator: joined.member.moderator,
            moderators: joined.room.moderators,
            joined_at: joined.member.joined_at,
        }
    }
}

/// `GET …/communities` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityList {
    /// The rooms the account is in, by conversation ID.
    pub communities: Vec<CommunityView>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<String>,
}

impl From<JoinError> for ApiError {
    fn from(error: JoinError) -> Self {
        let message = error.to_string();
        match error {
            JoinError::NoNetwork | JoinError::Unreachable(_) => Self::Unavailable(message),
            JoinError::NotBlinded => Self::Unprocessable {
                code: "community_unsupported",
                message,
            },
            JoinError::Refused { status: 404, .. } => Self::NotFound("room"),
            JoinError::Refused { .. } => Self::Refused {
                code: "community_refused",
                message,
            },
            JoinError::Actor(crate::actors::ActorError::Store(e)) => e.into(),
            JoinError::Actor(e) => Self::Internal(e.to_string()),
        }
    }
}

/// A `{room}` segment as text: the router decoded it once; a client that encoded it twice
/// (`https%3A%2F%2F…`) is decoded again, as [`super::conversation_path::parse`] does.
fn decoded_room(segment: &str) -> String {
    let encoded = ["http%3A", "https%3A"].iter().any(|scheme| {
        segment
            .get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
    });
    if encoded {
        crate::protocol::community::percent_decode(segment).unwrap_or_default()
    } else {
        segment.to_owned()
    }
}

/// The account and room of a `…/communities/{room}` path, once the caller has `access`.
async fn room_of(
    state: &ApiState,
    path: &(String, String),
    principal: &Principal,
    access: Access,
) -> Result<(SessionIdText, String), ApiError> {
    let account = AccountPath::parse(&path.0)?;
    formats::RoomRef::check(&decoded_room(&path.1), "room", "invalid_room")?;
    let room = match super::conversation_path::parse(&path.1) {
        Ok(ConversationId::Community(room)) => room.to_string(),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_room",
                format!("room: {:?} is not a community room URL", path.1),
            ))
        }
    };
    let account = account
        .authorise(principal, access)?
        .existing(state)
        .await?;
    Ok((account, room))
}

/// Join a community room (`accounts:<id>:send`): the server's capabilities and the room's
/// info are fetched through the onion, signed with the account's blinded ID;
/// `community.joined` is emitted. New messages arrive from then on as `message.received`
/// with the room as `conversation`.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account")),
    request_body = JoinCommunity,
    responses(
        (status = 201, body = CommunityView, description = "Joined"),
        (status = 200, body = CommunityView, description = "Already a member"),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_url` or `invalid_json`"),
        (status = 403, body = super::error::ErrorBody, description = "`community_refused`: the server refused (banned, no access), or `forbidden`"),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account, or the server has no such room"),
        (status = 422, body = super::error::ErrorBody, description = "`community_unsupported`: the server does not offer blinded IDs"),
        (status = 503, body = super::error::ErrorBody, description = "The server could not be reached")
    ),
    security(("bearer" = [])), tag = "communities"
)]
#[post("/accounts/{session_id}/communities")]
async fn join_community(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
    body: super::json_body::JsonBody<JoinCommunity>,
) -> Result<HttpResponse, ApiError> {
    let account = AccountPath::parse(&path)?.authorise(&principal, Access::Send)?;
    formats::JoinUrl::check(&body.url, "url", "invalid_url")?;
    let url = CommunityUrl::parse(&body.url)
        .map_err(|e| ApiError::bad_request("invalid_url", format!("url: {e}")))?;
    let account = account.existing(&state).await?;
    let (joined, new) = state.actors.join_room(&account, &url).await?;
    let view = CommunityView::from(joined);
    Ok(if new {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// The rooms the account is in (`accounts:<id>:read`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size, 1 to 1000 (default 100)"),
        ("after" = Option<formats::RoomUrl>, Query, description = "The `next` of the previous page (a room's conversation ID); absent for the first page")),
    responses((status = 200, body = CommunityList),
        (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account")),
    security(("bearer" = [])), tag = "communities"
)]
#[get("/accounts/{session_id}/communities")]
async fn list_communities(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit()?;
    formats::check_opt::<formats::RoomUrl>(query.after.as_deref(), "after", "invalid_query")?;
    let account = AccountPath::parse(&path)?
        .authorise(&principal, Access::Read)?
        .existing(&state)
        .await?;
    let all: Vec<CommunityView> = community::rooms(&state.store, &account)
        .await?
        .into_iter()
        .map(CommunityView::from)
        .collect();
    let (communities, next) = paging::in_memory(all, query.after.as_deref(), limit, |c| {
        c.conversation.as_str()
    });
    Ok(HttpResponse::Ok().json(CommunityList { communities, next }))
}

/// One joined room (`accounts:<id>:read`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"),
        ("room" = formats::RoomRef, Path, description = "The room's conversation ID, percent-encoded")),
    responses((status = 200, body = CommunityView),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_room`"),
        (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account, or a room it is not in")),
    security(("bearer" = [])), tag = "communities"
)]
#[get("/accounts/{session_id}/communities/{room}")]
async fn get_community(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, room) = room_of(&state, &path, &principal, Access::Read).await?;
    let joined = community::room(&state.store, &account, &room).await?;
    Ok(HttpResponse::Ok().json(CommunityView::from(joined)))
}

/// Leave a room (`accounts:<id>:send`): it is no longer polled for the account; its history
/// stays.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"),
        ("room" = formats::RoomRef, Path, description = "The room's conversation ID, percent-encoded")),
    responses((status = 204, description = "Left"),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_room`"),
        (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account, or a room it is not in")),
    security(("bearer" = [])), tag = "communities"
)]
#[delete("/accounts/{session_id}/communities/{room}")]
async fn leave_community(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, room) = room_of(&state, &path, &principal, Access::Send).await?;
    community::leave(&state.store, &account, &room).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Queues a moderator's `action` and answers `202`.
async fn moderate(
    state: &ApiState,
    account: &SessionIdText,
    room: &str,
    action: RoomAction,
) -> Result<HttpResponse, ApiError> {
    let queued = community::moderate(&state.store, account, room, action).await?;
    Ok(QueuedChanges::accepted(state, account, vec![queued]))
}

/// A moderator's step on the user a `…/{room}/…/{user}` path names.
async fn moderate_user(
    state: &ApiState,
    principal: &Principal,
    (account, room, user): (String, String, String),
    action: impl FnOnce(String) -> RoomAction,
) -> Result<HttpResponse, ApiError> {
    let (account, room) = room_of(state, &(account, room), principal, Access::Send).await?;
    let user = user_id(&user)?;
    moderate(state, &account, &room, action(user)).await
}

/// Checks a user ID named by a moderator: a `15…`, `25…` or `05…` ID (400 `invalid_user`).
fn user_id(text: &str) -> Result<String, ApiError> {
    crate::ids::SessionIdText::parse_any(text)
        .ok()
        .filter(|id| id.kind() != crate::ids::SessionIdKind::Group)
        .map(|id| id.as_str().to_owned())
        .ok_or_else(|| {
            ApiError::bad_request("invalid_user", format!("user: {text:?} is not a user ID"))
        })
}

/// Ban a user from the room (moderator; `accounts:<id>:send`), queued to the server.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account, a moderator of the room"),
        ("room" = formats::RoomRef, Path, description = "The room's conversation ID, percent-encoded")),
    request_body = BanUser,
    responses((status = 202, body = QueuedChanges),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_room`, `invalid_user` or `invalid_json`"),
        (status = 403, body = super::error::ErrorBody, description = "`not_moderator` or `forbidden`"),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account, or a room it is not in")),
    security(("bearer" = [])), tag = "communities"
)]
#[post("/accounts/{session_id}/communities/{room}/bans")]
async fn ban_user(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: super::json_body::JsonBody<BanUser>,
) -> Result<HttpResponse, ApiError> {
    let (account, room) = room_of(&state, &path, &principal, Access::Send).await?;
    let user = user_id(&body.user)?;
    let action = RoomAction::Ban {
        user,
        timeout_seconds: body.timeout_seconds.map(u64::from),
    };
    moderate(&state, &account, &room, action).await
}

/// Lift a ban (moderator; `accounts:<id>:send`), queued to the server.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account, a moderator of the room"),
        ("room" = formats::RoomRef, Path, description = "The room's conversation ID, percent-encoded"),
        ("user" = formats::UserId, Path, description = "The banned user's ID")),
    responses((status = 202, body = QueuedChanges),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_room` or `invalid_user`"),
        (status = 403, body = super::error::ErrorBody, description = "`not_moderator` or `forbidden`"),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account, or a room it is not in")),
    security(("bearer" = [])), tag = "communities"
)]
#[delete("/accounts/{session_id}/communities/{room}/bans/{user}")]
async fn unban_user(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    moderate_user(&state, &principal, path.into_inner(), |user| {
        RoomAction::Unban { user }
    })
    .await
}

/// Delete every post of a user in the room (moderator; `accounts:<id>:send`), queued to the
/// server; the posts disappear here as the room's next poll reports them deleted.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account, a moderator of the room"),
        ("room" = formats::RoomRef, Path, description = "The room's conversation ID, percent-encoded"),
        ("user" = formats::UserId, Path, description = "The author's ID")),
    responses((status = 202, body = QueuedChanges),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_room` or `invalid_user`"),
        (status = 403, body = super::error::ErrorBody, description = "`not_moderator` or `forbidden`"),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account, or a room it is not in")),
    security(("bearer" = [])), tag = "communities"
)]
#[delete("/accounts/{session_id}/communities/{room}/users/{user}/messages")]
async fn delete_user_posts(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    moderate_user(&state, &principal, path.into_inner(), |user| {
        RoomAction::DeleteAll { user }
    })
    .await
}
