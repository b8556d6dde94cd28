//! Attachments and avatars over HTTP (issue 5; messages.md §4, §5).
//!
//! * `POST …/messages` bodies with files: JSON `"attachments":[{"content_type","file_name"?,
//!   "data_base64"}]`, or `multipart/form-data` with a `json` part (the usual body) and one part
//!   per file ([`read_send_body`]). A file over 10,000,000 bytes is a 413
//!   `attachment_too_large` before anything is stored or uploaded.
//! * `GET /v1/accounts/{sid}/attachments/{id}`: the decrypted bytes.
//! * `GET /v1/accounts/{sid}/conversations/{peer}/avatar`: a contact's avatar, fetched and
//!   decrypted on first use, then cached.
//! * `PATCH /v1/accounts/{sid}` `{"avatar_base64"}`: [`set_avatar`].

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{get, web, HttpMessage as _, HttpRequest, HttpResponse};
use base64::Engine as _;
use futures::StreamExt as _;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::account_path::{Access, AccountPath};
use super::messages::SendMessage;
use super::{session_id, ApiError, ApiState, Principal};
use crate::actors::attachments::AvatarError;
use crate::clock::now_ms;
use crate::protocol::attachment::MAX_ATTACHMENT_BYTES;
use crate::protocol::chat::pointer::check_upload_size;
use crate::store::attachments::{AttachmentStatus, NewAttachment};
use crate::store::messages::Message;

/// Largest `POST …/messages` body that carries files (JSON or multipart): one 10,000,000-byte
/// file in base64 (13,333,336 bytes) plus the rest of the body, with room to spare. Larger
/// bodies are a 413 `payload_too_large`, answered after the body has been read off the socket
/// so the client sees the status rather than a reset.
pub const MAX_SEND_BODY_BYTES: usize = 14 * 1024 * 1024;
/// Beyond this much we stop draining an oversized body and let the connection close.
const MAX_DRAIN_BYTES: usize = 64 * 1024 * 1024;
/// Longest file name.
const MAX_FILE_NAME_CHARS: usize = 255;

pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_attachment).service(get_contact_avatar);
}

/// One file of a JSON send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentInput {
    /// MIME type, e.g. `image/png`.
    pub content_type: String,
    /// Original file name.
    pub file_name: Option<String>,
    /// The bytes, standard base64; at most 10,000,000 bytes decoded.
    pub data_base64: String,
}

fn too_large(len: usize) -> ApiError {
    ApiError::TooLarge {
        code: "attachment_too_large",
        message: format!("attachment of {len} bytes is over the {MAX_ATTACHMENT_BYTES}-byte limit"),
    }
}

fn check_file(content_type: &str, file_name: Option<&str>, len: usize) -> Result<(), ApiError> {
    check_upload_size(len).map_err(|_| too_large(len))?;
    let bad_type = content_type.is_empty()
        || content_type.len() > 255
        || !content_type
            .bytes()
            .all(|b| b.is_ascii_graphic() || b == b' ');
    if bad_type {
        return Err(ApiError::bad_request(
            "invalid_attachment",
            "content_type must be a MIME type",
        ));
    }
    if let Some(name) = file_name {
        if name.is_empty()
            || name.chars().count() > MAX_FILE_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(ApiError::bad_request(
                "invalid_attachment",
                format!("file_name must be 1 to {MAX_FILE_NAME_CHARS} characters, no control characters"),
            ));
        }
    }
    Ok(())
}

/// Decodes the JSON body's `attachments` into files, refusing any over the limit.
pub(crate) fn decode_json_files(
    inputs: &[AttachmentInput],
) -> Result<Vec<NewAttachment>, ApiError> {
    inputs
        .iter()
        .map(|input| {
            // 4 base64 characters carry 3 bytes: refuse before decoding what cannot fit.
            let bound = input.data_base64.len() / 4 * 3;
            if bound > MAX_ATTACHMENT_BYTES + 2 {
                return Err(too_large(bound));
            }
            let data = base64::engine::general_purpose::STANDARD
                .decode(input.data_base64.trim())
                .map_err(|e| {
                    ApiError::bad_request("invalid_attachment", format!("data_base64: {e}"))
                })?;
            check_file(&input.content_type, input.file_name.as_deref(), data.len())?;
            Ok(NewAttachment {
                content_type: input.content_type.clone(),
                file_name: input.file_name.clone(),
                data,
            })
        })
        .collect()
}

/// Reads the rest of an oversized body (up to [`MAX_DRAIN_BYTES`]) so the 413 reaches the
/// client, then returns `error`.
async fn drain(
    mut payload: impl futures::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
    error: ApiError,
) -> ApiError {
    let mut seen = 0usize;
    while let Some(Ok(chunk)) = payload.next().await {
        seen += chunk.len();
        if seen > MAX_DRAIN_BYTES {
            break;
        }
    }
    error
}

/// [`drain`] for a multipart body: reads the remaining parts off the socket.
async fn drain_multipart(mut parts: actix_multipart::Multipart, error: ApiError) -> ApiError {
    let mut seen = 0usize;
    while let Some(Ok(mut field)) = parts.next().await {
        while let Some(Ok(chunk)) = field.next().await {
            seen += chunk.len();
            if seen > MAX_DRAIN_BYTES {
                return error;
            }
        }
    }
    error
}

/// Reads a `POST …/messages` body: JSON (files inline, base64) or `multipart/form-data` (a
/// `json` part plus file parts). Returns the message body and its files, all within limits:
/// `json_limit` (`api.max_body_bytes`) for the message itself, [`MAX_SEND_BODY_BYTES`] for a
/// body with files.
pub(crate) async fn read_send_body(
    req: &HttpRequest,
    payload: web::Payload,
    json_limit: usize,
) -> Result<(SendMessage, Vec<NewAttachment>), ApiError> {
    let mime = req.mime_type().ok().flatten();
    let is_multipart = mime
        .as_ref()
        .is_some_and(|m| m.type_() == "multipart" && m.subtype() == "form-data");
    if is_multipart {
        return read_multipart(req, payload, json_limit).await;
    }
    let is_json = mime
        .as_ref()
        .is_some_and(|m| m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let mut payload = payload;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
        if body.len() + chunk.len() > MAX_SEND_BODY_BYTES {
            return Err(drain(payload, ApiError::PayloadTooLarge(MAX_SEND_BODY_BYTES)).await);
        }
        body.extend_from_slice(&chunk);
    }
    if body.len() > json_limit && !has_attachments_key(&body) {
        // Without files the usual body limit applies.
        return Err(ApiError::PayloadTooLarge(json_limit));
    }
    let message: SendMessage = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    if body.len() > json_limit && message.attachments.is_empty() {
        return Err(ApiError::PayloadTooLarge(json_limit));
    }
    let files = decode_json_files(&message.attachments)?;
    Ok((message, files))
}

/// Cheap pre-check before parsing a large body: does it mention `"attachments"` at all?
fn has_attachments_key(body: &[u8]) -> bool {
    body.windows(13).any(|w| w == b"\"attachments\"")
}

async fn read_multipart(
    req: &HttpRequest,
    payload: web::Payload,
    json_limit: usize,
) -> Result<(SendMessage, Vec<NewAttachment>), ApiError> {
    let mut parts = actix_multipart::Multipart::new(req.headers(), payload);
    let mut message: Option<SendMessage> = None;
    let mut files = Vec::new();
    let mut total = 0usize;
    let bad = |e: actix_multipart::MultipartError| {
        ApiError::bad_request("invalid_multipart", e.to_string())
    };
    while let Some(field) = parts.next().await {
        let mut field = field.map_err(bad)?;
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(str::to_owned);
        let content_type = field.content_type().map_or_else(
            || "application/octet-stream".to_owned(),
            ToString::to_string,
        );
        let limit = if name == "json" {
            json_limit
        } else {
            MAX_ATTACHMENT_BYTES
        };
        let mut data = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(bad)?;
            total += chunk.len();
            if data.len() + chunk.len() > limit || total > MAX_SEND_BODY_BYTES {
                let error = if name == "json" {
                    ApiError::PayloadTooLarge(json_limit)
                } else if total > MAX_SEND_BODY_BYTES {
                    ApiError::PayloadTooLarge(MAX_SEND_BODY_BYTES)
                } else {
                    too_large(data.len() + chunk.len())
                };
                drop(field);
                return Err(drain_multipart(parts, error).await);
            }
            data.extend_from_slice(&chunk);
        }
        if name == "json" {
            let parsed: SendMessage = serde_json::from_slice(&data)
                .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
            files.extend(decode_json_files(&parsed.attachments)?);
            message = Some(parsed);
        } else {
            check_file(&content_type, file_name.as_deref(), data.len())?;
            files.push(NewAttachment {
                content_type,
                file_name,
                data,
            });
        }
    }
    let message = message.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_multipart",
            "a part named `json` with the message body is required",
        )
    })?;
    Ok((message, files))
}

/// Fills in the attachments of messages read from the store (history, single message).
pub(crate) async fn with_attachments(
    state: &ApiState,
    account: &str,
    messages: &mut [Message],
) -> Result<(), ApiError> {
    for message in messages {
        message.attachments = state.store.attachment_views(account, &message.id).await?;
    }
    Ok(())
}

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

fn disposition(file_name: Option<&str>) -> ContentDisposition {
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: file_name
            .map(|name| vec![DispositionParam::Filename(name.to_owned())])
            .unwrap_or_default(),
    }
}

/// Download an attachment's decrypted bytes (`accounts:<id>:read`).
#[utoipa::path(
    params(
        ("session_id" = String, Path, description = "The account"),
        ("id" = String, Path, description = "Attachment id (`att_…`)")
    ),
    responses(
        (status = 200, description = "The file, with its Content-Type and Content-Disposition", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody, description = "`attachment_pending`: not fetched yet (a download that failed for network reasons is queued again by this request)"),
        (status = 422, body = super::error::ErrorBody, description = "`attachment_rejected`: tampered, gone or refused, with the reason")
    ),
    security(("bearer" = [])), tag = "attachments"
)]
#[get("/accounts/{session_id}/attachments/{id}")]
async fn get_attachment(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (account, id) = path.into_inner();
    let account = AccountPath::parse(&account)?
        .authorise(&principal, Access::Read)?
        .id();
    let stored = state
        .store
        .get_attachment(account.as_str(), &id)
        .await?
        .ok_or(ApiError::NotFound("attachment"))?;
    let view = &stored.view;
    let pending = || ApiError::Conflict {
        code: "attachment_pending",
        message: "the attachment has not been fetched yet; wait for attachment.available".into(),
    };
    match (view.status, stored.data) {
        // Network weather is not a verdict: fetch it again (tampering stays rejected).
        (AttachmentStatus::Failed, _)
            if state
                .store
                .requeue_unreachable_attachment(account.as_str(), &id, now_ms())
                .await? =>
        {
            state.actors.attachments_queued(&account);
            Err(pending())
        }
        (AttachmentStatus::Failed, _) => Err(ApiError::Unprocessable {
            code: "attachment_rejected",
            message: view
                .failure_reason
                .clone()
                .unwrap_or_else(|| "failed".into()),
        }),
        (_, Some(data))
            if view.status != AttachmentStatus::Queued || stored.direction == "outgoing" =>
        {
            Ok(HttpResponse::Ok()
                .content_type(view.content_type.as_str())
                .insert_header(disposition(view.file_name.as_deref()))
                .body(data))
        }
        _ => Err(pending()),
    }
}

/// A contact's avatar image, fetched and decrypted on first request (`accounts:<id>:read`).
#[utoipa::path(
    params(
        ("session_id" = String, Path, description = "The account"),
        ("peer" = String, Path, description = "The contact's Session ID")
    ),
    responses(
        (status = 200, description = "The image bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = super::error::ErrorBody, description = "No avatar known for this contact"),
        (status = 422, body = super::error::ErrorBody, description = "`avatar_rejected`: could not be fetched or decrypted"),
        (status = 503, body = super::error::ErrorBody)
    ),
    security(("bearer" = [])), tag = "attachments"
)]
#[get("/accounts/{session_id}/conversations/{peer}/avatar")]
async fn get_contact_avatar(
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
        Some(text) => {
            let image = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| {
                    ApiError::bad_request("invalid_avatar", format!("avatar_base64: {e}"))
                })?;
            if image.is_empty() {
                return Err(ApiError::bad_request(
                    "invalid_avatar",
                    "avatar_base64 is empty",
                ));
            }
            let avatar = state
                .actors
                .upload_avatar(&image)
                .await
                .map_err(avatar_error)?;
            Some(avatar)
        }
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn input(data_base64: String) -> AttachmentInput {
        AttachmentInput {
            content_type: "application/octet-stream".into(),
            file_name: None,
            data_base64,
        }
    }

    #[test]
    fn the_limit_is_on_decoded_bytes() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let at_limit = b64.encode(vec![0u8; MAX_ATTACHMENT_BYTES]);
        assert_eq!(
            decode_json_files(&[input(at_limit)]).unwrap()[0].data.len(),
            MAX_ATTACHMENT_BYTES
        );
        let over = b64.encode(vec![0u8; MAX_ATTACHMENT_BYTES + 1]);
        let error = decode_json_files(&[input(over)]).unwrap_err();
        assert!(matches!(
            error,
            ApiError::TooLarge {
                code: "attachment_too_large",
                ..
            }
        ));
        let bad = decode_json_files(&[input("not base64!".into())]).unwrap_err();
        assert!(matches!(error_code(&bad), "invalid_attachment"));
    }

    fn error_code(error: &ApiError) -> &'static str {
        match error {
            ApiError::BadRequest { code, .. } => code,
            _ => "other",
        }
    }

    #[test]
    fn file_names_and_types_are_checked() {
        assert!(check_file("image/png", Some("a.png"), 1).is_ok());
        assert!(check_file("", None, 1).is_err());
        assert!(check_file("image/png", Some("a\nb"), 1).is_err());
        assert!(check_file("image/png", Some(""), 1).is_err());
    }

    #[test]
    fn attachments_key_precheck() {
        assert!(has_attachments_key(br#"{"to":"05","attachments":[]}"#));
        assert!(!has_attachments_key(br#"{"to":"05","text":"files"}"#));
    }

    proptest! {
        /// Junk base64 and MIME types give errors, never panics.
        #[test]
        fn decoding_junk_never_panics(data in ".{0,64}", content_type in ".{0,16}") {
            let _ = decode_json_files(&[AttachmentInput {
                content_type,
                file_name: None,
                data_base64: data,
            }]);
        }
    }
}
