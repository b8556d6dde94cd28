//! Avatars over HTTP: contacts' avatars (fetched on first use, then cached), conversation
//! avatar links, and setting the account's own avatar.

use actix_web::{get, web, HttpResponse};
use base64::Engine as _;

use super::files::too_large;
use crate::actors::attachments::AvatarError;
use crate::api::account_path::{Access, AccountPath};
use crate::api::formats::{Format as _, ImageBase64};
use crate::api::{session_id, ApiError, ApiState, Principal};
use crate::clock::now_ms;
use crate::protocol::chat::Avatar;

/// Fills in the avatar link of conversations whose peer's profile named an avatar.
pub(crate) async fn with_avatars(
    state: &ApiState,
    account: &str,
    conversations: &mut [crate::store::messages::Conversation],
) -> Result<(), ApiError> {
    let peers = state.store.peers_with_avatars(account).await?;
    for conversation in conversations {
        if peers.binary_search(&conversation.peer).is_ok() {
            conversation.avatar = Some(avatar_path(account, &conversation.peer));
        }
    }
    Ok(())
}

/// Where the API serves a contact's avatar image.
pub(crate) fn avatar_path(account: &str, peer: &str) -> String {
    format!("/v1/accounts/{account}/conversations/{peer}/avatar")
}

/// A contact's avatar image, fetched and decrypted on first request (`accounts:<id>:read`).
#[utoipa::path(
    params(
        ("session_id" = crate::api::formats::SessionId, Path, description = "The account"),
        ("peer" = crate::api::formats::SessionId, Path, description = "The contact's Session ID")
    ),
    responses(
        (status = 200, description = "The image bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = crate::api::error::ErrorBody, description = "No avatar known for this contact"),
        (status = 422, body = crate::api::error::ErrorBody, description = "`avatar_rejected`: could not be fetched or decrypted"),
        (status = 503, body = crate::api::error::ErrorBody)
    ),
    security(("bearer" = [])), tag = "attachments"
)]
#[get("/accounts/{session_id}/conversations/{peer}/avatar")]
pub(super) async fn get_contact_avatar(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, peer) = path.into_inner();
    let account = AccountPath::parse(&account)?;
    let peer = session_id(&peer, "peer")?;
    let account = account.authorise(&principal, Access::Read)?.id();
    let known = state
        .store
        .contact_avatar(account.as_str(), peer.as_str())
        .await?
        .ok_or(ApiError::NotFound("avatar"))?;
    let image = match known.image {
        Some(image) => image,
        None => {
            let image = state
                .actors
                .fetch_avatar(&known.avatar)
                .await
                .map_err(avatar_error)?;
            state
                .store
                .cache_contact_avatar(account.as_str(), peer.as_str(), &known.avatar.url, &image)
                .await?;
            image
        }
    };
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .body(image))
}

/// The API's answer to an avatar the actors could not upload or fetch.
fn avatar_error(error: AvatarError) -> ApiError {
    match error {
        AvatarError::NoNetwork => ApiError::Unavailable("no network".into()),
        AvatarError::TooLarge(len) => too_large(len),
        AvatarError::Transfer(e) if e.is_retryable() => ApiError::Unavailable(e.to_string()),
        e @ (AvatarError::Transfer(_) | AvatarError::Undecryptable(_)) => ApiError::Unprocessable {
            code: "avatar_rejected",
            message: e.to_string(),
        },
    }
}

/// Downloads and decrypts an avatar (a group's picture) through the actors.
pub(crate) async fn fetch_avatar_image(
    state: &ApiState,
    avatar: &Avatar,
) -> Result<Vec<u8>, ApiError> {
    state
        .actors
        .fetch_avatar(avatar)
        .await
        .map_err(avatar_error)
}

/// An `avatar_base64` field's image, encrypted under a fresh profile key and uploaded by the
/// actors (an account's avatar, a group's picture).
pub(crate) async fn upload_avatar_image(state: &ApiState, text: &str) -> Result<Avatar, ApiError> {
    ImageBase64::check(text, "avatar_base64", "invalid_avatar")?;
    let image = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| ApiError::bad_request("invalid_avatar", format!("avatar_base64: {e}")))?;
    if image.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_avatar",
            "avatar_base64 is empty",
        ));
    }
    state
        .actors
        .upload_avatar(&image)
        .await
        .map_err(avatar_error)
}

/// `PATCH /v1/accounts/{sid}` `avatar_base64`: a new image gets a fresh 32-byte profile key, is
/// encrypted (AES-256-GCM) and uploaded by the actors, and recorded; `null` removes the avatar. Outgoing messages
/// carry it from then on.
pub(crate) async fn set_avatar(
    state: &ApiState,
    account: &str,
    avatar_base64: Option<&str>,
) -> Result<(), ApiError> {
    let avatar = match avatar_base64 {
        None => None,
        Some(text) => Some(upload_avatar_image(state, text).await?),
    };
    if !state
        .store
        .set_own_avatar(account, avatar.as_ref(), now_ms())
        .await?
    {
        return Err(ApiError::NotFound("account"));
    }
    Ok(())
}
