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

mod avatars;
mod downloads;
mod files;
mod send_body;
#[cfg(test)]
mod tests;

use utoipa_actix_web::service_config::ServiceConfig;

pub(crate) use avatars::{
    avatar_path, fetch_avatar_image, set_avatar, upload_avatar_image, with_avatars,
};
pub(crate) use downloads::with_attachments;
pub use files::AttachmentInput;
pub(crate) use send_body::read_send_body;

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
    cfg.service(downloads::get_attachment)
        .service(avatars::get_contact_avatar);
}
