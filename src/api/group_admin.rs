//! Group administration endpoints (issue 11): edit a group's info, destroy it, remove and
//! promote members. Admin only (`not_group_admin` otherwise); each answers `202` with the
//! queued rows (the notices and config push of [`crate::chat::groups::admin`]). Deleting any
//! member's message as an admin is `DELETE …/messages/{id}` (see `api::chat`).

use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::account_path::Access;
use super::formats;
use super::groups::{group_of, QueuedChanges};
use super::{session_id, ApiError, ApiState, Principal};
use crate::chat::groups::admin::{self, InfoEdit};
use crate::ids::{GroupId, SessionIdText};
use crate::protocol::groups::config::info::ProfilePic;

pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(group_avatar)
        .service(edit_group)
        .service(destroy_group)
        .service(remove_member)
        .service(promote_member);
}

/// `PATCH …/groups/{group_id}` body; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditGroup {
    /// The new name, 1 to 100 bytes.
    #[schema(value_type = Option<formats::GroupName>)]
    pub name: Option<String>,
    /// The new description, up to 2000 bytes (`""` clears it).
    #[schema(value_type = Option<formats::GroupDescription>)]
    pub description: Option<String>,
    /// Disappearing messages for the whole group: seconds after sending, 1 to 1,209,600
    /// (14 days); `0` turns them off.
    #[schema(maximum = 1_209_600)]
    pub disappearing_seconds: Option<u32>,
    /// The group's picture: an image, standard base64, at most 10,000,000 bytes, encrypted
    /// and uploaded to the file server as Session clients do; `null` removes it.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<formats::ImageBase64>)]
    pub avatar_base64: Option<Option<String>>,
}

/// `DELETE …/members/{member}` query.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RemoveQuery {
    /// Also delete the member's messages for everyone (DeleteMemberContent).
    #[serde(default)]
    pub delete_messages: bool,
}

/// The account, group and member of a `…/groups/{group_id}/members/{member}` path, once the
/// caller may send for the account and it exists.
async fn member_of(
    state: &ApiState,
    (account, group, member): (String, String, String),
    principal: &Principal,
) -> Result<(SessionIdText, GroupId, SessionIdText), ApiError> {
    let member = session_id(&member, "member")?;
    let (account, group) = group_of(state, &(account, group), principal, Access::Send).await?;
    Ok((account, group, member))
}

/// Change the group's name, description, picture or disappearing-messages timer (admin;
/// `accounts:<id>:send`). Members see `group.updated` naming what changed; a new name or
/// timer is also announced in the group, as Session clients show it.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account, an admin of the group"),
        ("group_id" = formats::GroupId, Path, description = "The group's 03… ID")),
    request_body = EditGroup,
    responses((status = 202, body = QueuedChanges, description = "Queued (empty when nothing changed)"),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_group_id`, `invalid_group` (name, description, timer), `invalid_avatar` or `invalid_json`"),
        (status = 413, body = super::error::ErrorBody, description = "`payload_too_large`: the picture is over 10,000,000 bytes"),
        (status = 503, body = super::error::ErrorBody, description = "The picture could not be uploaded (no network)"),
        (status = 403, body = super::error::ErrorBody, description = "`not_group_admin` (or `forbidden`)"),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account or group"),
        (status = 409, body = super::error::ErrorBody, description = "`group_destroyed`")),
    security(("bearer" = [])), tag = "groups"
)]
#[patch("/accounts/{session_id}/groups/{group_id}")]
async fn edit_group(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (account, group) = group_of(&state, &path, &principal, Access::Send).await?;
    // The picture may be up to 10,000,000 bytes: the send limit, not `api.max_body_bytes`.
    let limit = super::attachments::MAX_SEND_BODY_BYTES;
    let body: EditGroup = super::required_json(&req, payload, limit).await?;
    formats::check_opt::<formats::GroupName>(body.name.as_deref(), "name", "invalid_group")?;
    formats::check_opt::<formats::GroupDescription>(
        body.description.as_deref(),
        "description",
        "invalid_group",
    )?;
    if body
        .disappearing_seconds
        .is_some_and(|s| s > crate::chat::MAX_DISAPPEARING_SECONDS as u32)
    {
        return Err(ApiError::bad_request(
            "invalid_group",
            "disappearing_seconds must be 0 (off) to 1209600 (14 days)",
        ));
    }
    let avatar = match body.avatar_base64 {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => {
            let avatar = super::attachments::upload_avatar_image(&state, &text).await?;
            Some(Some(ProfilePic {
                url: avatar.url,
                key: *avatar.key.expose_secret(),
            }))
        }
    };
    let edit = InfoEdit {
        name: body.name,
        description: body.description,
        disappearing_seconds: body.disappearing_seconds,
        avatar,
    };
    let queued = admin::edit_info(&state.store, &account, &group, edit).await?;
    Ok(QueuedChanges::accepted(&state, &account, queued))
}

/// The group's picture, fetched from the file server and decrypted on each request
/// (`accounts:<id>:read`; any member or invitee).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account"),
        ("group_id" = formats::GroupId, Path, description = "The group's 03… ID")),
    responses(
        (status = 200, description = "The image bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_group_id`"),
        (status = 403, body = super::error::ErrorBody),
        (status = 204, description = "The group has no picture"),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account or group, or a destroyed group"),
        (status = 422, body = super::error::ErrorBody, description = "`avatar_rejected`: could not be fetched or decrypted"),
        (status = 503, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "groups"
)]
#[get("/accounts/{session_id}/groups/{group_id}/avatar")]
async fn group_avatar(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, group) = group_of(&state, &path, &principal, Access::Read).await?;
    // Only an account invited to the group may see its picture, while the group exists.
    let view = crate::chat::groups::view(&state.store, &account, group.as_str()).await?;
    if view.destroyed {
        return Err(ApiError::Deleted("the group was destroyed"));
    }
    let info = crate::chat::groups::state::current_info(&state.store, group.as_str()).await?;
    // No picture is a state of the group, not a missing group: 204, not 404.
    let Some(picture) = info.profile_pic else {
        return Ok(HttpResponse::NoContent().finish());
    };
    let avatar = crate::protocol::chat::Avatar {
        url: picture.url,
        key: crate::protocol::attachment::ProfileKey::from_bytes(picture.key),
    };
    let image = super::attachments::fetch_avatar_image(&state, &avatar).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .body(image))
}

/// Destroy the group for everyone (admin; `accounts:<id>:send`): members get
/// `group.destroyed` and nobody can post to it any more (`409 group_destroyed`).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account, an admin of the group"),
        ("group_id" = formats::GroupId, Path, description = "The group's 03… ID")),
    responses((status = 202, body = QueuedChanges),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_group_id`"),
        (status = 403, body = super::error::ErrorBody, description = "`not_group_admin` (or `forbidden`)"),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account or group"),
        (status = 409, body = super::error::ErrorBody, description = "`group_destroyed`: already destroyed")),
    security(("bearer" = [])), tag = "groups"
)]
#[delete("/accounts/{session_id}/groups/{group_id}")]
async fn destroy_group(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, group) = group_of(&state, &path, &principal, Access::Send).await?;
    let queued = admin::destroy_group(&state.store, &account, &group).await?;
    Ok(QueuedChanges::accepted(&state, &account, queued))
}

/// Remove a member (admin; `accounts:<id>:send`), as Session clients do: the kicked notice,
/// the member's swarm access revoked, the members config without it and a new key it does not
/// get; `?delete_messages=true` also deletes its messages for everyone. Members see
/// `group.member_removed`, the removed member `group.kicked`.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account, an admin of the group"),
        ("group_id" = formats::GroupId, Path, description = "The group's 03… ID"),
        ("member" = formats::SessionId, Path, description = "The member's 05… Session ID"),
        RemoveQuery),
    responses((status = 202, body = QueuedChanges),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_group_id`, `invalid_session_id`, `invalid_group` (removing oneself) or `invalid_query`"),
        (status = 403, body = super::error::ErrorBody, description = "`not_group_admin` (or `forbidden`)"),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account, group or member"),
        (status = 409, body = super::error::ErrorBody, description = "`group_destroyed`")),
    security(("bearer" = [])), tag = "groups"
)]
#[delete("/accounts/{session_id}/groups/{group_id}/members/{member}")]
async fn remove_member(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String, String)>,
    query: web::Query<RemoveQuery>,
) -> Result<HttpResponse, ApiError> {
    let (account, group, member) = member_of(&state, path.into_inner(), &principal).await?;
    let queued = admin::remove_members(
        &state.store,
        &account,
        &group,
        &[member],
        query.delete_messages,
    )
    .await?;
    Ok(QueuedChanges::accepted(&state, &account, queued))
}

/// Promote a member to admin (admin; `accounts:<id>:send`): the group's key goes to the
/// member 1:1 and the members config marks it admin. Everyone sees `group.member_promoted`.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account, an admin of the group"),
        ("group_id" = formats::GroupId, Path, description = "The group's 03… ID"),
        ("member" = formats::SessionId, Path, description = "The member's 05… Session ID")),
    responses((status = 202, body = QueuedChanges, description = "Queued (empty when already an admin)"),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_group_id` or `invalid_session_id`"),
        (status = 403, body = super::error::ErrorBody, description = "`not_group_admin` (or `forbidden`)"),
        (status = 404, body = super::error::ErrorBody, description = "Unknown account, group or member"),
        (status = 409, body = super::error::ErrorBody, description = "`group_destroyed`")),
    security(("bearer" = [])), tag = "groups"
)]
#[post("/accounts/{session_id}/groups/{group_id}/members/{member}/promote")]
async fn promote_member(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, group, member) = member_of(&state, path.into_inner(), &principal).await?;
    let queued = admin::promote_member(&state.store, &account, &group, &member).await?;
    Ok(QueuedChanges::accepted(&state, &account, queued))
}
