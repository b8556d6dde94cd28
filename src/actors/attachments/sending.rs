//! Sending files: each file of a queued message is uploaded once (its url, key and digest are
//! recorded, so a retry reuses them) and becomes a pointer in the outgoing `DataMessage`.

use super::{upload, TransferError};
use crate::actors::{ActorError, Deps};
use crate::clock::now_ms;
use crate::protocol::attachment::AttachmentKey;
use crate::protocol::chat::pointer::{AttachmentInfo, AttachmentMeta, PointerKey};
use crate::store::attachments::StoredAttachment;
use crate::store::send_queue::QueuedMessage;

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
