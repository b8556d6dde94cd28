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

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use super::{ActorError, Deps};
use crate::clock::now_ms;
use crate::events::EventData;
use crate::network::{NetworkError, SessionNetwork};
use crate::protocol::attachment::{encrypt_attachment, AttachmentError, AttachmentKey};
use crate::protocol::chat::pointer::{
    check_upload_size, AttachmentInfo, AttachmentMeta, PointerKey,
};
use crate::protocol::chat::ChatError;
use crate::protocol::chat::IncomingMessage;
use crate::protocol::protos::DataMessage;
use crate::store::attachments::{FetchOutcome, IncomingPointer, StoredAttachment};
use crate::store::events::NewEvent;
use crate::store::messages::Message;
use crate::store::send_queue::QueuedMessage;
use crate::store::{StoreError, StoreTx};

/// Concurrent downloads per gateway.
pub const FETCH_CONCURRENCY: usize = 4;
/// Download attempts for network failures before an attachment fails.
pub const FETCH_ATTEMPTS: u32 = 5;
/// MIME type recorded for a pointer without one.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

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
            NetworkError::FileServer { status: 404, .. } => Self::NotFound,
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

/// The pointers of a queued text message's files, each uploaded now unless an earlier attempt
/// did (its url, key and digest are stored, so a retry never uploads again).
pub async fn outgoing_pointers(
    deps: &Deps,
    message: &QueuedMessage,
) -> Result<Vec<AttachmentInfo>, ActorError> {
    let mut pointers = Vec::new();
    for stored in deps.store.message_attachments(&message.id).await? {
        let info = match uploaded_info(&stored) {
            Some(info) => info,
            None => upload_stored(deps, &stored).await?,
        };
        pointers.push(info);
    }
    Ok(pointers)
}

fn meta_of(stored: &StoredAttachment) -> AttachmentMeta {
    AttachmentMeta {
        content_type: Some(stored.view.content_type.clone()),
        file_name: stored.view.file_name.clone(),
        ..AttachmentMeta::default()
    }
}

/// The pointer of an attachment a previous attempt uploaded.
fn uploaded_info(stored: &StoredAttachment) -> Option<AttachmentInfo> {
    let url = stored.remote_url.clone()?;
    let key = AttachmentKey::from_slice(stored.key.as_deref()?.as_slice()).ok()?;
    let digest: [u8; 32] = stored.digest.as_deref()?.try_into().ok()?;
    Some(AttachmentInfo {
        id: crate::protocol::chat::pointer::file_id_from_url(&url),
        url,
        key: PointerKey::Legacy(key),
        digest: Some(digest),
        size: u32::try_from(stored.view.size).ok(),
        meta: meta_of(stored),
    })
}

async fn upload_stored(
    deps: &Deps,
    stored: &StoredAttachment,
) -> Result<AttachmentInfo, ActorError> {
    let data = stored.data.as_deref().unwrap_or_default();
    let info = upload(&deps.network, data, meta_of(stored))
        .await
        .map_err(|e| match e {
            TransferError::Network(n) => ActorError::Network(n),
            other => ActorError::Attachment(other.to_string()),
        })?;
    let digest = info.digest.unwrap_or_default();
    deps.store
        .mark_uploaded(
            &stored.view.id,
            &info.url,
            info.key.expose_secret(),
            &digest,
            now_ms(),
        )
        .await?;
    Ok(info)
}

/// The attachment pointers of an incoming `DataMessage`. (The sender's profile is the chat
/// side's: [`crate::protocol::chat::ChatEvent::ProfileUpdated`] stores it on the conversation.)
#[derive(Debug, Default, Clone)]
pub struct IncomingParts {
    /// Pointers that parse (a pointer without URL or with a bad key is skipped).
    pub pointers: Vec<IncomingPointer>,
}

impl IncomingParts {
    /// Reads the pointers of a received `DataMessage`.
    pub fn of(data: &DataMessage) -> Self {
        let pointers = data
            .attachments
            .iter()
            .filter_map(|p| AttachmentInfo::parse(p).ok())
            .map(|info| incoming_pointer(&info))
            .collect();
        Self { pointers }
    }

    /// The same for a message [`crate::protocol::chat::classify`] already read.
    pub fn of_message(m: &IncomingMessage) -> Self {
        Self {
            pointers: m.attachments.iter().map(incoming_pointer).collect(),
        }
    }

    /// Records the pointers (queued) in the message's transaction, and
    /// puts the attachment views into the message (for its event).
    pub async fn record(
        &self,
        tx: &mut StoreTx,
        message: &mut Message,
        now: i64,
    ) -> Result<(), StoreError> {
        let account = match message.direction {
            crate::store::messages::Direction::Incoming => message.to.clone(),
            crate::store::messages::Direction::Outgoing => message.from.clone(),
        };
        message.attachments = tx
            .insert_incoming_attachments(&account, &message.id, &self.pointers, now)
            .await?;
        Ok(())
    }
}

/// What the store records of a received pointer.
fn incoming_pointer(info: &AttachmentInfo) -> IncomingPointer {
    IncomingPointer {
        content_type: info
            .meta
            .content_type
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
        file_name: info.meta.file_name.clone().filter(|n| !n.is_empty()),
        size: info.size.map_or(0, i64::from),
        url: info.url.clone(),
        key: Zeroizing::new(info.key.expose_secret().to_vec()),
        digest: info.digest.map(|d| d.to_vec()),
    }
}

/// Downloads queued incoming attachments in the background, a few at a time. Cheap to clone.
#[derive(Clone)]
pub struct Fetcher {
    permits: Arc<Semaphore>,
    in_flight: Arc<Mutex<HashSet<String>>>,
}

impl Default for Fetcher {
    fn default() -> Self {
        Self {
            permits: Arc::new(Semaphore::new(FETCH_CONCURRENCY)),
            in_flight: Arc::default(),
        }
    }
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher").finish_non_exhaustive()
    }
}

impl Fetcher {
    /// Starts fetching every queued incoming attachment of every account (at start-up).
    pub fn sweep(&self, deps: &Deps) {
        let fetcher = self.clone();
        let task_deps = deps.clone();
        deps.io.spawn(async move {
            match task_deps.store.accounts_with_pending_attachments().await {
                Ok(accounts) => {
                    for account in accounts {
                        fetcher.kick(&task_deps, &account);
                    }
                }
                Err(error) => tracing::warn!(%error, "could not list pending attachments"),
            }
        });
    }

    /// Starts fetching every queued incoming attachment of `account` not already in flight.
    pub fn kick(&self, deps: &Deps, account: &str) {
        let fetcher = self.clone();
        let task_deps = deps.clone();
        let account = account.to_owned();
        deps.io.spawn(async move {
            let pending = match task_deps
                .store
                .pending_incoming_attachments(&account, 100)
                .await
            {
                Ok(pending) => pending,
                Err(error) => {
                    tracing::warn!(%error, "could not list pending attachments");
                    return;
                }
            };
            for stored in pending {
                let fresh = fetcher
                    .in_flight
                    .lock()
                    .map(|mut set| set.insert(stored.view.id.clone()))
                    .unwrap_or(false);
                if fresh {
                    let fetcher = fetcher.clone();
                    let deps = task_deps.clone();
                    let account = account.clone();
                    task_deps.io.spawn(async move {
                        let id = stored.view.id.clone();
                        if let Ok(_permit) = fetcher.permits.acquire().await {
                            if let Err(error) = fetch_one(&deps, &account, stored).await {
                                tracing::warn!(%error, "attachment fetch not recorded");
                            }
                        }
                        if let Ok(mut set) = fetcher.in_flight.lock() {
                            set.remove(&id);
                        }
                    });
                }
            }
        });
    }
}

/// Rebuilds the pointer of a queued incoming attachment.
fn incoming_info(stored: &StoredAttachment) -> Result<AttachmentInfo, TransferError> {
    let key: &[u8] = stored.key.as_deref().map_or(&[], |k| k.as_slice());
    let pointer = crate::protocol::protos::AttachmentPointer {
        url: stored.remote_url.clone(),
        key: Some(key.to_vec()),
        digest: stored.digest.clone(),
        size: u32::try_from(stored.view.size).ok(),
        ..Default::default()
    };
    Ok(AttachmentInfo::parse(&pointer)?)
}

async fn fetch_one(deps: &Deps, account: &str, stored: StoredAttachment) -> Result<(), ActorError> {
    let mut outcome = Err(TransferError::NotFound);
    for attempt in 0..FETCH_ATTEMPTS {
        outcome = match incoming_info(&stored) {
            Ok(info) => download(&deps.network, &info).await,
            Err(error) => Err(error),
        };
        match &outcome {
            Err(error) if error.is_retryable() => {
                deps.store
                    .count_fetch_attempt(&stored.view.id, now_ms())
                    .await?;
                tracing::debug!(%error, attempt, "attachment download failed; retrying");
                // Back off between attempts (network weather, not synchronisation).
                tokio::time::sleep(Duration::from_millis(200 << attempt.min(6))).await;
            }
            _ => break,
        }
    }
    let reason = outcome.as_ref().err().map(ToString::to_string);
    let reason = reason.as_deref().unwrap_or("failed");
    let settled = match &outcome {
        Ok(data) => FetchOutcome::Available(data),
        Err(error) if error.is_retryable() => FetchOutcome::Unreachable(reason),
        Err(_) => FetchOutcome::Rejected(reason),
    };
    let now = now_ms();
    let message = deps
        .store
        .get_message(account, &stored.view.message_id)
        .await?;
    let mut tx = deps.store.begin().await?;
    let Some(view) = tx
        .settle_incoming_attachment(&stored.view.id, settled, now)
        .await?
    else {
        return Ok(());
    };
    let available = view.status == crate::store::attachments::AttachmentStatus::Available;
    tx.append_event(&NewEvent {
        account: Some(account.to_owned()),
        conversation: message.map(|m| m.conversation),
        timestamp: now,
        data: EventData::attachment(available, &view).map_err(corrupt)?,
    })
    .await?;
    tx.commit().await?;
    Ok(())
}

fn corrupt(e: serde_json::Error) -> ActorError {
    ActorError::Store(StoreError::Corrupt(e.to_string()))
}

/// Every `attachment_retry_ms`, queues again the incoming attachments whose download failed
/// for network reasons at least that long ago and starts fetching them; tampered or refused
/// ones stay failed. One per replica (an actor, so it stops with the gateway).
pub type Refetcher = super::ticker::Ticker<Refetch>;

/// The [`Refetcher`]'s round.
pub struct Refetch;

impl super::ticker::Periodic for Refetch {
    type Error = ActorError;

    fn interval(settings: &super::ActorSettings) -> Duration {
        Duration::from_millis(settings.attachment_retry_ms)
    }

    async fn round(deps: Deps) -> Result<(), ActorError> {
        let every = i64::try_from(deps.settings.attachment_retry_ms).unwrap_or(i64::MAX);
        let now = now_ms();
        let accounts = deps
            .store
            .requeue_unreachable_attachments(now.saturating_sub(every), now)
            .await?;
        for account in &accounts {
            deps.attachments.kick(&deps, account);
        }
        Ok(())
    }

    fn failed(error: &dyn std::fmt::Display) {
        tracing::warn!(%error, "requeueing unreachable attachments failed");
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use prost::Message as _;

    use super::*;
    use crate::protocol::attachment::{decrypt_for_pointer, encrypt_attachment_with};

    /// A legacy blob made with a fixed key and IV; the digest-mismatch case is derived by a
    /// second path (the right blob, a wrong digest), since no vector in the notes covers it.
    fn sealed() -> (Vec<u8>, [u8; 64], [u8; 32]) {
        let encrypted = encrypt_attachment_with(
            b"hello attachment",
            AttachmentKey::from_bytes([7u8; 64]),
            [9u8; 16],
        )
        .unwrap();
        (encrypted.blob, [7u8; 64], encrypted.digest)
    }

    #[test]
    fn failure_reasons_name_the_tampering() {
        let (blob, key, digest) = sealed();
        let mut flipped = blob.clone();
        flipped[20] ^= 1;
        let bad_hmac = decrypt_for_pointer(&flipped, &key, Some(&digest), None).unwrap_err();
        assert_eq!(
            TransferError::from(bad_hmac).to_string(),
            "tampered: bad hmac"
        );
        let bad_digest = decrypt_for_pointer(&blob, &key, Some(&[0u8; 32]), None).unwrap_err();
        assert_eq!(
            TransferError::from(bad_digest).to_string(),
            "tampered: digest mismatch"
        );
        let not_found = NetworkError::FileServer {
            status: 404,
            message: String::new(),
        };
        let not_found = TransferError::from(not_found);
        assert_eq!(not_found.to_string(), "not found");
        assert!(!not_found.is_retryable());
    }

    #[test]
    fn incoming_parts_read_pointers() {
        let (_, key, digest) = sealed();
        let data = DataMessage {
            attachments: vec![
                crate::protocol::protos::AttachmentPointer {
                    url: Some("http://filev2.getsession.org/file/123".into()),
                    key: Some(key.to_vec()),
                    digest: Some(digest.to_vec()),
                    size: Some(16),
                    content_type: Some("image/png".into()),
                    file_name: Some("a.png".into()),
                    ..Default::default()
                },
                // No URL: skipped, not fatal.
                crate::protocol::protos::AttachmentPointer::default(),
            ],
            ..DataMessage::default()
        };
        let parts = IncomingParts::of(&data);
        assert_eq!(parts.pointers.len(), 1);
        let pointer = &parts.pointers[0];
        assert_eq!(pointer.content_type, "image/png");
        assert_eq!(pointer.size, 16);
        assert_eq!(pointer.key.as_slice(), key.as_slice());
    }

    /// The bytes we send carry the field numbers of messages.md §3.3/§4/§5.3.
    #[test]
    fn outgoing_text_with_files_uses_the_documented_fields() {
        use crate::protocol::attachment::ProfileKey;
        use crate::protocol::chat::profile::{Avatar, Profile};

        let encrypted =
            encrypt_attachment_with(b"x", AttachmentKey::from_bytes([1u8; 64]), [2u8; 16]).unwrap();
        let meta = AttachmentMeta {
            content_type: Some("a/b".into()),
            file_name: Some("f".into()),
            ..AttachmentMeta::default()
        };
        let info = AttachmentInfo::from_upload("http://h/file/77", &encrypted, meta);
        let profile = Profile {
            display_name: Some("N".into()),
            avatar: Some(Avatar {
                url: "http://h/file/78".into(),
                key: ProfileKey::from_bytes([3u8; 32]),
            }),
            updated_seconds: Some(5),
        };
        let text = crate::protocol::chat::TextMessage {
            body: Some("hi".into()),
            attachments: vec![info.clone()],
            profile: Some(profile),
            ..Default::default()
        };
        let built = text.build(1).unwrap();
        let data = built.content().data_message.clone().unwrap();
        let bytes = data.encode_to_vec();
        // body (1, len) "hi"
        assert_eq!(&bytes[..4], &[0x0a, 2, b'h', b'i']);
        // attachments (2, len), profileKey (6, len 32), profile (101 = 0xaa 0x06, len)
        assert_eq!(bytes[4], 0x12);
        let pointer = info.to_pointer().encode_to_vec();
        // id (1, fixed64) = 77, contentType (2), key (3, 64 bytes), size (4, varint 1)
        assert_eq!(&pointer[..9], &[0x09, 77, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&pointer[9..14], &[0x12, 3, b'a', b'/', b'b']);
        assert_eq!(&pointer[14..16], &[0x1a, 64]);
        assert_eq!(&pointer[80..82], &[0x20, 1]);
        // digest (6, 32 bytes), fileName (7), url (101)
        assert_eq!(&pointer[82..84], &[0x32, 32]);
        assert_eq!(&pointer[116..119], &[0x3a, 1, b'f']);
        assert_eq!(&pointer[119..122], &[0xaa, 0x06, 16]);
        // The pointer is 138 bytes: a two-byte length varint.
        assert_eq!(pointer.len(), 138);
        assert_eq!(&bytes[5..7], &[0x8a, 0x01]);
        let rest = &bytes[7 + pointer.len()..];
        assert_eq!(&rest[..2], &[0x32, 32]);
        assert_eq!(&rest[34..36], &[0xaa, 0x06]);
        let decoded = DataMessage::decode(bytes.as_slice()).unwrap();
        let loki = decoded.profile.unwrap();
        assert_eq!(loki.display_name.as_deref(), Some("N"));
        assert_eq!(loki.profile_picture.as_deref(), Some("http://h/file/78"));
        assert_eq!(loki.last_update_seconds, Some(5));
        assert_eq!(decoded.profile_key.as_deref(), Some(&[3u8; 32][..]));
        // Neither text nor files: nothing to send.
        assert!(crate::protocol::chat::TextMessage::default()
            .build(1)
            .is_err());
    }

    proptest! {
        /// Junk `DataMessage` bytes never make the pointer reader panic.
        #[test]
        fn incoming_parts_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(data) = DataMessage::decode(bytes.as_slice()) {
                let _ = IncomingParts::of(&data);
            }
        }
    }
}
