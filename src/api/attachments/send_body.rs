//! Reading a `POST …/messages` body with files: JSON or `multipart/form-data`, within the
//! size limits, draining oversized bodies so the client sees the 413.

use actix_web::{web, HttpMessage as _, HttpRequest};
use futures::StreamExt as _;

use super::files::{check_file, decode_json_files, too_large};
use super::{MAX_DRAIN_BYTES, MAX_SEND_BODY_BYTES};
use crate::api::formats::{FormPartName, Format as _};
use crate::api::messages::SendMessage;
use crate::api::ApiError;
use crate::protocol::attachment::MAX_ATTACHMENT_BYTES;
use crate::store::attachments::NewAttachment;

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
    let message: SendMessage = crate::api::json_body::from_slice(&body)?;
    if body.len() > json_limit && message.attachments.is_empty() {
        return Err(ApiError::PayloadTooLarge(json_limit));
    }
    let files = decode_json_files(&message.attachments)?;
    Ok((message, files))
}

/// Cheap pre-check before parsing a large body: does it mention `"attachments"` at all?
pub(super) fn has_attachments_key(body: &[u8]) -> bool {
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
        if !FormPartName::is_valid(&name) {
            return Err(ApiError::bad_request(
                "invalid_multipart",
                format!("part name {name:?}: not a valid FormPartName"),
            ));
        }
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
            let parsed: SendMessage = crate::api::json_body::from_slice(&data)?;
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
