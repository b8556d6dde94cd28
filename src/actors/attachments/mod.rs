//! Attachments and avatars in the gateway's pipelines (messages.md §4, §5).
//!
//! * **Upload** ([`upload`]): size check (10,000,000 plaintext bytes, §5.1) → legacy
//!   AES-CBC + HMAC encryption with padding and digest (§5.2) → `POST /file` through onion
//!   requests v4 → the [`AttachmentInfo`] that becomes an `AttachmentPointer`.
//! * **Download** ([`download`]): `GET /file/<id>` → HMAC and digest check (legacy) or stream
//!   tags ('S') → plaintext truncated to `size`.
//! * **Sending** ([`outgoing_pointers`], called by `outgoing.rs`): uploads each file of the
//!   queued message once (url, key, digest recorded, so a retry reuses them); the pointers go
//!   into the `DataMessage` the chat builder makes, with our profile.
//! * **Receiving** ([`IncomingParts`], the hooks in `inbox.rs`): the pointers are recorded
//!   `queued` with the message in its transaction; the [`Fetcher`] downloads them in the
//!   background (bounded concurrency; retries network errors, never tampering) and emits
//!   `attachment.available` / `attachment.failed`.
//! * **Avatars** ([`upload_avatar`], [`fetch_avatar`]): our own, encrypted and uploaded; a
//!   contact's, downloaded and decrypted (the API calls them through the actors' handle).
//!
//! Files: sending in `sending.rs`, receiving in `incoming.rs`, avatars in `avatars.rs`.

use crate::network::{NetworkError, SessionNetwork};
use crate::protocol::attachment::{encrypt_attachment, AttachmentError};
use crate::protocol::chat::pointer::{check_upload_size, AttachmentInfo, AttachmentMeta};
use crate::protocol::chat::ChatError;

mod avatars;
mod incoming;
mod rooms;
mod sending;

pub use crate::chat::incoming::IncomingParts;
pub use avatars::{fetch_avatar, upload_avatar, AvatarError};
pub use incoming::{Fetcher, Refetch, Refetcher};
pub use rooms::room_pointers;
pub use sending::outgoing_pointers;

/// Concurrent downloads per gateway.
pub const FETCH_CONCURRENCY: usize = 4;
/// Download attempts for network failures before an attachment fails.
pub const FETCH_ATTEMPTS: u32 = 5;

/// Why an attachment could not be uploaded or downloaded. The `Display` text is the
/// `failure_reason` clients see.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// Over the file server's 10,000,000-byte limit.
    #[error("too large: {0} bytes is more than 10000000")]
    TooLarge(usize),
    /// The legacy HMAC does not match: the blob was altered.
    #[error("tampered: bad hmac")]
    BadHmac,
    /// The blob's SHA-256 differs from the pointer's digest.
    #[error("tampered: digest mismatch")]
    DigestMismatch,
    /// The blob failed another integrity check (padding, stream tags, format byte).
    #[error("tampered: {0}")]
    Undecryptable(AttachmentError),
    /// The file server does not have the file (expired or never uploaded).
    #[error("not found")]
    NotFound,
    /// The pointer cannot be fetched (no URL, not a file server URL, bad key length).
    #[error("invalid pointer: {0}")]
    BadPointer(#[from] ChatError),
    /// The file server refused the request for good (a 4xx other than 404, e.g. 413 when its
    /// configured limit is below what the blob needs).
    #[error("file server refused: {status} {message}")]
    Refused {
        /// HTTP status from the file server.
        status: u16,
        /// Its text (truncated).
        message: String,
    },
    /// The pointer names a file server other than the configured one.
    #[error("unsupported file server")]
    OtherServer,
    /// The network gave up (after its own retries); worth trying again later.
    #[error("network: {0}")]
    Network(NetworkError),
}

impl TransferError {
    /// True for failures a later attempt may fix (network weather), false for verdicts.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Network(_))
    }
}

impl From<AttachmentError> for TransferError {
    fn from(error: AttachmentError) -> Self {
        match error {
            AttachmentError::TooLarge(n) => Self::TooLarge(n),
            AttachmentError::BadMac => Self::BadHmac,
            AttachmentError::BadDigest => Self::DigestMismatch,
            other => Self::Undecryptable(other),
        }
    }
}

impl From<NetworkError> for TransferError {
    fn from(error: NetworkError) -> Self {
        match error {
            NetworkError::FileServer { status: 404, .. }
            | NetworkError::Community { status: 404, .. } => Self::NotFound,
            NetworkError::Community { status, message } if (400..500).contains(&status) => {
                Self::Refused { status, message }
            }
            NetworkError::FileServer { status, message } if (400..500).contains(&status) => {
                Self::Refused { status, message }
            }
            NetworkError::Config(_) => Self::OtherServer,
            other => Self::Network(other),
        }
    }
}

/// Encrypts `plaintext` (legacy format, padded) and uploads it; returns the pointer.
pub async fn upload(
    network: &SessionNetwork,
    plaintext: &[u8],
    meta: AttachmentMeta,
) -> Result<AttachmentInfo, TransferError> {
    check_upload_size(plaintext.len())?;
    let encrypted = encrypt_attachment(plaintext, &mut rand::rngs::OsRng)?;
    let uploaded = network.upload_file(encrypted.blob.clone()).await?;
    Ok(AttachmentInfo::from_upload(&uploaded.url, &encrypted, meta))
}

/// Downloads the blob `info` points to and returns the verified plaintext.
pub async fn download(
    network: &SessionNetwork,
    info: &AttachmentInfo,
) -> Result<Vec<u8>, TransferError> {
    info.file_url()?;
    let blob = network.download_file(&info.url).await?;
    Ok(info.decrypt(&blob)?)
}

#[cfg(test)]
mod tests;
