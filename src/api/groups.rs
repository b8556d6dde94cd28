//! `/v1/accounts/{session_id}/groups`: closed groups (issue 10). Create a group (the account
//! is its admin), list and view the account's groups, invite members (admin), answer an
//! invitation, leave. The rules are the chat domain's ([`crate::chat::groups`]); these handlers
//! parse, authorise, call, wake the senders of what was queued and map the outcome. A group's
//! messages use the message endpoints with its `03…` ID as `to` / `with`.

use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::account_path::{Access, AccountPath};
use super::chat::{wake, Queued};
use super::formats::{self, Format as _};
use super::paging::{self, PageQuery};
use super::{session_id, ApiError, ApiState, Principal};
use crate::chat::groups;
use crate::ids::{GroupId, SessionIdText};
use crate::store::groups::GroupListing;
use crate::store::modes::{GroupRole, GroupState};

pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_group)
        .service(list_groups)
        .service(get_group)
        .service(invite_members)
        .service(accept_invite)
        .service(decline_invite)
        .service(leave_group);
}

/// `POST …/groups` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// The group's name, 1 to 100 bytes.
    #[schema(value_type = formats::GroupName)]
    pub name: String,
    /// Its description, up to 2000 bytes.
    #[schema(value_type = Option<formats::GroupDescription>)]
    pub description: Option<String>,
    /// Who to invite: `05…` Session IDs (the creator is left out; at most 99).
    #[serde(default)]
    #[schema(value_type = Vec<formats::SessionId>, max_items = 99)]
    pub members: Vec<String>,
}

/// `POST …/groups/{group_id}/members` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteMembers {
    /// Who to invite: `05…` Session IDs (1 to 99; current members are left out).
    #[schema(value_type = Vec<formats::SessionId>, min_items = 1, max_items = 99)]
    pub members: Vec<String>,
    /// Let them read the history still on the swarm (the keys held are shared with them);
    /// by default the group is rekeyed and they read only what comes after.
    #[serde(default)]
    pub share_history: bool,
}

/// `202` response to a group change (an invitation, an admin's edit): what was queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedChanges {
    /// The queued rows' ids, in send order: for an invitation the push of the new keys and
    /// configs, then one invitation per new member; for an admin's change its notices and
    /// the config push. Empty when nothing changed.
    pub queued: Vec<String>,
}

impl QueuedChanges {
    /// Wakes the senders of `queued` and answers `202` with their ids.
    pub(crate) fn accepted(
        state: &ApiState,
        account: &SessionIdText,
        queued: Vec<crate::chat::Queued>,
    ) -> HttpResponse {
        for q in &queued {
            wake(state, account, q);
        }
        HttpResponse::Accepted().json(Self {
            queued: queued.into_iter().map(|q| q.id).collect(),
        })
    }
}

/// A member as the group's members config lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// Session ID.
    pub session_id: String,
    /// `admin` or `member`.
    pub role: GroupRole,
    /// `joined`, `invited` (invitation sent, not yet accepted), `invite_failed` or `removed`.
    pub status: String,
}

/// A group as the account sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    /// The group's `03…` ID (also the conversation ID of its messages).
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// The account's role: `admin` or `member`.
    pub role: GroupRole,
    /// The account's membership: `invited`, `joined`, `declined`, `left` or `kicked`.
    pub state: GroupState,
    /// Who invited the account (`null` for a group it created).
    pub invited_by: Option<String>,
    /// When the account joined, ms (`null` until it did).
    pub joined_at: Option<i64>,
    /// An admin destroyed the group.
    pub destroyed: bool,
    /// Members with role and status (one group's view only; empty until the members config
    /// arrived).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<MemberView>>,
}

impl From<GroupListing> for GroupView {
    fn from(listing: GroupListing) -> Self {
        let membership = listing.membership;
        Self {
            id: membership.group,
            name: listing.name,
            description: listing.description,
            role: membership.role,
            state: membership.state,
            invited_by: membership.inviter,
            joined_at: membership.joined_at,
            destroyed: listing.destroyed,
            members: None,
        }
    }
}

impl From<groups::GroupView> for GroupView {
    fn from(group: groups::GroupView) -> Self {
        let members = group
            .members
            .into_iter()
            .map(|m| MemberView {
                session_id: m.session_id,
                role: m.role,
                status: m.status.to_owned(),
            })
            .collect();
        Self {
            members: Some(members),
            ..Self::from(GroupListing {
                membership: group.membership,
                name: group.name,
                description: group.description,
                destroyed: group.destroyed,
            })
        }
    }
}

/// `GET …/groups` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupList {
    /// The account's groups in every state (without their members), by group ID.
    pub groups: Vec<GroupView>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// Parses the `{group_id}` path segment (400 `invalid_group_id`).
pub(crate) fn group_id(text: &str) -> Result<GroupId, ApiError> {
    GroupId::parse(text).map_err(|e| {
        ApiError::bad_request(
            "invalid_group_id",
            format!("group_id: {e} (a 03… group ID)"),
        )
    })
}

/// Parses a `members` list of `05…` Session IDs (400 `invalid_session_id`), at most
/// [`MAX_LISTED_MEMBERS`] of them (400 `invalid_group`).
fn member_ids(members: &[String]) -> Result<Vec<SessionIdText>, ApiError> {
    if members.len() > MAX_LISTED_MEMBERS {
        return Err(ApiError::bad_request(
            "invalid_group",
            format!("members lists at most {MAX_LISTED_MEMBERS} Session IDs"),
        ));
    }
    members.iter().map(|m| session_id(m, "members")).collect()
}

/// Most Session IDs one request may list: a group has at most 100 members, its admin one.
const MAX_LISTED_MEMBERS: usize = 99;

/// The account and group of a `…/groups/{group_id}` path, once the caller has `access` to
/// the account and it exists.
pub(crate) async fn group_of(
    state: &ApiState,
    path: &(String, String),
    principal: &Principal,
    access: Access,
) -> Result<(SessionIdText, GroupId), ApiError> {
    let account = AccountPath::parse(&path.0)?;
    let group = group_id(&path.1)?;
    let account = account
        .authorise(principal, access)?
        .existing(state)
        .await?;
    Ok((account, group))
}

/// The view of one group with its members (404 unless the account was invited to it).
async fn view(
    state: &ApiState,
    account: &SessionIdText,
    group: &GroupId,
) -> Result<GroupView, ApiError> {
    Ok(groups::view(&state.store, account, group.as_str())
        .await?
        .into())
}

/// Create a closed group with the account as its admin and invite `members`
/// (`accounts:<id>:send`). The group's keys and configs are queued for its swarm and one
/// invitation for each member; `group.joined` is emitted for the creator.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account, the group's admin")),
    request_body = CreateGroup,
    responses(
        (status = 201, body = GroupView, description = "Created: the creator `admin` and `joined`, the invitees `invited`"),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_group` (name, description, too many members), `invalid_session_id` (a member) or `invalid_json`"),
        (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account")
    ),
    security(("bearer" = [])), tag = "groups"
)]
#[post("/accounts/{session_id}/groups")]
async fn create_group(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
    body: super::json_body::JsonBody<CreateGroup>,
) -> Result<HttpResponse, ApiError> {
    let account = AccountPath::parse(&path)?.authorise(&principal, Access::Send)?;
    let body = body.into_inner();
    formats::GroupName::check(&body.name, "name", "invalid_group")?;
    formats::check_opt::<formats::GroupDescription>(
        body.description.as_deref(),
        "description",
        "invalid_group",
    )?;
    let members = member_ids(&body.members)?;
    let account = account.existing(&state).await?;
    let new = groups::NewGroup {
        name: body.name,
        description: body.description,
        members,
    };
    let created = groups::create_group(&state.store, &account, new).await?;
    for queued in &created.queued {
        wake(&state, &account, queued);
    }
    Ok(HttpResponse::Created().json(GroupView::from(created.group)))
}

/// The account's groups, in every state (`accounts:<id>:read`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size, 1 to 1000 (default 100)"),
        ("after" = Option<formats::GroupId>, Query, description = "The `next` of the previous page (a group ID); absent for the first page")),
    responses((status = 200, body = GroupList), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account")),
    security(("bearer" = [])), tag = "groups"
)]
#[get("/accounts/{session_id}/groups")]
async fn list_groups(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit()?;
    formats::check_opt::<formats::GroupId>(query.after.as_deref(), "after", "invalid_query")?;
    let account = AccountPath::parse(&path)?
        .authorise(&principal, Access::Read)?
        .existing(&state)
        .await?;
    let all: Vec<GroupView> = groups::list_groups(&state.store, &account)
        .await?
        .into_iter()
        .map(GroupView::from)
        .collect();
    let (groups, next) = paging::in_memory(all, query.after.as_deref(), limit, |g| g.id.as_str());
    Ok(HttpResponse::Ok().json(GroupList { groups, next }))
}

/// One group with its members (`accounts:<id>:read`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"),
        ("group_id" = formats::GroupId, Path, description = "The group's 03… ID")),
    responses((status = 200, body = GroupView),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_group_id`"),
        (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account, a group the account was never invited to, or a destroyed group (the list still shows it)")),
    security(("bearer" = [])), tag = "groups"
)]
#[get("/accounts/{session_id}/groups/{group_id}")]
async fn get_group(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, group) = group_of(&state, &path, &principal, Access::Read).await?;
    let view = view(&state, &account, &group).await?;
    if view.destroyed {
        // Gone from its own path; the list still shows it, with `destroyed: true`.
        return Err(ApiError::Deleted("the group was destroyed"));
    }
    Ok(HttpResponse::Ok().json(view))
}

/// Invite members (admin; `accounts:<id>:send`): they are added to the members config, the
/// group is rekeyed for everyone (new members do not read earlier messages) and an invitation
/// is queued to each; `group.member_added` per new member.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account, an admin of the group"),
        ("group_id" = formats::GroupId, Path, description = "The group's 03… ID")),
    request_body = InviteMembers,
    responses((status = 202, body = QueuedChanges),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_group_id`, `invalid_session_id` (a member), `invalid_group` (no members, too many) or `invalid_json`"),
        (status = 403, body = super::error::ErrorBody, description = "`not_group_admin`: the account is not a joined admin of the group (or `forbidden`)"),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account or group")),
    security(("bearer" = [])), tag = "groups"
)]
#[post("/accounts/{session_id}/groups/{group_id}/members")]
async fn invite_members(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: super::json_body::JsonBody<InviteMembers>,
) -> Result<HttpResponse, ApiError> {
    let account = AccountPath::parse(&path.0)?;
    let group = group_id(&path.1)?;
    let account = account.authorise(&principal, Access::Send)?;
    let members = member_ids(&body.members)?;
    if members.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_group",
            "members must name at least one Session ID",
        ));
    }
    let account = account.existing(&state).await?;
    let queued =
        groups::invite_members(&state.store, &account, &group, &members, body.share_history)
            .await?;
    Ok(QueuedChanges::accepted(&state, &account, queued))
}

/// Accept an invitation (`accounts:<id>:send`): the account joins, its answer is queued to the
/// group, `group.joined` is emitted and the group's messages are delivered from now on.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"),
        ("group_id" = formats::GroupId, Path, description = "The group's 03… ID")),
    responses((status = 200, body = GroupView),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_group_id`"),
        (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account or group"),
        (status = 409, body = super::error::ErrorBody, description = "`group_state`: the membership is not `invited`")),
    security(("bearer" = [])), tag = "groups"
)]
#[post("/accounts/{session_id}/groups/{group_id}/accept")]
async fn accept_invite(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, group) = group_of(&state, &path, &principal, Access::Send).await?;
    let queued = groups::accept_invite(&state.store, &account, &group).await?;
    wake(&state, &account, &queued);
    Ok(HttpResponse::Ok().json(view(&state, &account, &group).await?))
}

/// Decline an invitation (`accounts:<id>:send`): nothing is sent (as in Session clients) and
/// the group is not polled.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"),
        ("group_id" = formats::GroupId, Path, description = "The group's 03… ID")),
    responses((status = 200, body = GroupView),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_group_id`"),
        (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account or group"),
        (status = 409, body = super::error::ErrorBody, description = "`group_state`: the membership is not `invited`")),
    security(("bearer" = [])), tag = "groups"
)]
#[post("/accounts/{session_id}/groups/{group_id}/decline")]
async fn decline_invite(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, group) = group_of(&state, &path, &principal, Access::Send).await?;
    groups::decline_invite(&state.store, &account, &group).await?;
    Ok(HttpResponse::Ok().json(view(&state, &account, &group).await?))
}

/// Leave a joined group (`accounts:<id>:send`): the leaving notice is queued to the group and
/// the group is no longer polled for the account.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"),
        ("group_id" = formats::GroupId, Path, description = "The group's 03… ID")),
    responses((status = 202, body = Queued, description = "The leaving notice was queued"),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_group_id`"),
        (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account or group"),
        (status = 409, body = super::error::ErrorBody, description = "`group_state`: the membership is not `joined`")),
    security(("bearer" = [])), tag = "groups"
)]
#[post("/accounts/{session_id}/groups/{group_id}/leave")]
async fn leave_group(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, group) = group_of(&state, &path, &principal, Access::Send).await?;
    let queued = groups::leave_group(&state.store, &account, &group).await?;
    wake(&state, &account, &queued);
    Ok(HttpResponse::Accepted().json(Queued { id: queued.id }))
}
