//! Attachments of messages and avatars (migration `0004_attachments.sql`; messages.md §4, §5).
//!
//! Outgoing: the API stores the plaintext with the queued message in one transaction; the send
//! pipeline uploads it once and records url, key and digest (`uploaded`) so a retried send
//! reuses them. Incoming: the pointers are recorded `queued` with the message in one
//! transaction; the background fetch stores the verified plaintext (`available`) or the reason
//! (`failed`). Pointer and profile keys are sealed with the master key
//! ([`RecordKind::AttachmentKey`](super::secrets::RecordKind::AttachmentKey),
//! [`RecordKind::OwnProfileKey`](super::secrets::RecordKind::OwnProfileKey)).

mod incoming;
mod outgoing;
mod queries;
mod rows;

use serde::Serialize;
use zeroize::Zeroizing;

use super::StoreError;

/// Where an attachment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentStatus {
    /// Outgoing: not uploaded yet. Incoming: not fetched yet.
    Queued,
    /// Outgoing: on the file server (url, key, digest recorded).
    Uploaded,
    /// Incoming: fetched, verified and stored.
    Available,
    /// Incoming: rejected (tampered) or not fetchable; see `failure_reason`.
    Failed,
    /// Its bytes were dropped after `retention.attachment_bytes_days` (the row, with its name,
    /// type and size, stays; [`crate::store::prune`]).
    Expired,
}

impl AttachmentStatus {
    /// Column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Uploaded => "uploaded",
            Self::Available => "available",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "queued" => Ok(Self::Queued),
            "uploaded" => Ok(Self::Uploaded),
            "available" => Ok(Self::Available),
            "failed" => Ok(Self::Failed),
            "expired" => Ok(Self::Expired),
            other => Err(StoreError::Corrupt(format!("attachment status {other:?}"))),
        }
    }
}

/// An attachment as the API and events show it (no key, no bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AttachmentView {
    /// Opaque id (`att_…`).
    pub id: String,
    /// The message it belongs to.
    pub message_id: String,
    /// MIME type.
    pub content_type: String,
    /// Original file name, when the sender gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Plaintext size, bytes.
    pub size: i64,
    /// Status.
    pub status: AttachmentStatus,
    /// Why it failed (status `failed`), e.g. `tampered: bad hmac`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Where to download the plaintext: `/v1/accounts/{sid}/attachments/{id}`.
    pub url: String,
}

/// A file the API accepted for an outgoing message.
#[derive(Clone, Debug)]
pub struct NewAttachment {
    /// MIME type.
    pub content_type: String,
    /// Original file name.
    pub file_name: Option<String>,
    /// The plaintext.
    pub data: Vec<u8>,
}

/// An incoming pointer to record (key still in the clear; sealed on insert).
#[derive(Clone)]
pub struct IncomingPointer {
    /// MIME type (`application/octet-stream` when the sender gave none).
    pub content_type: String,
    /// File name.
    pub file_name: Option<String>,
    /// Declared plaintext size.
    pub size: i64,
    /// The file-server URL.
    pub url: String,
    /// The pointer key (64 or 32 bytes).
    pub key: Zeroizing<Vec<u8>>,
    /// The legacy digest.
    pub digest: Option<Vec<u8>>,
}

/// How the fetch of an incoming attachment ended.
#[derive(Debug, Clone, Copy)]
pub enum FetchOutcome<'a> {
    /// Downloaded and verified: the plaintext.
    Available(&'a [u8]),
    /// A verdict (tampered, not found, invalid pointer): final.
    Rejected(&'a str),
    /// The network failed after the fetcher's retries: a later request may fetch it again.
    Unreachable(&'a str),
}

impl std::fmt::Debug for IncomingPointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingPointer")
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A stored attachment with what the pipelines need: bytes, remote url, opened key.
pub struct StoredAttachment {
    /// The public view.
    pub view: AttachmentView,
    /// Which way it went (`incoming` / `outgoing`).
    pub direction: String,
    /// The plaintext, when stored.
    pub data: Option<Vec<u8>>,
    /// The file-server URL, once uploaded (outgoing) or as the pointer named it (incoming).
    pub remote_url: Option<String>,
    /// The legacy digest.
    pub digest: Option<Vec<u8>>,
    /// The pointer key, opened.
    pub key: Option<Zeroizing<Vec<u8>>>,
    /// Fetch attempts so far (incoming).
    pub attempts: i64,
}

impl std::fmt::Debug for StoredAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredAttachment")
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

/// Fetch attempts (tries, each network failure counted) after which an unreachable attachment
/// is no longer queued again by itself: about ten rounds of retries at the fetcher's pace.
pub const AUTO_REFETCH_ATTEMPTS: i64 = 60;

/// A fresh attachment id.
pub fn new_attachment_id() -> String {
    format!("att_{}", uuid::Uuid::now_v7().simple())
}

/// The API path of an attachment's bytes.
pub fn download_path(account: &str, id: &str) -> String {
    format!("/v1/accounts/{account}/attachments/{id}")
}
