//! Files in community rooms (communities.md §5): uploaded in plaintext to the room's server
//! (`POST /room/{token}/file`), named in the post's `files` so the server keeps them, and
//! pointed at as `<server>/room/<token>/file/<id>` with no key; each reader downloads them
//! through the room with its own credentials. A keyless pointer is fetched only from the room
//! its message was posted in: anywhere else it is refused.

use super::TransferError;
use crate::actors::keys::AccountKeys;
use crate::actors::sources::community::server_of;
use crate::actors::{ActorError, Deps};
use crate::clock::now_ms;
use crate::ids::SessionIdText;
use crate::network::community::{CommunityServer, MAX_ROOM_FILE};
use crate::protocol::chat::pointer::{AttachmentInfo, AttachmentMeta, PointerKey};
use crate::store::attachments::StoredAttachment;
use crate::store::communities::CommunityRoom;
use crate::store::send_queue::QueuedMessage;

/// The file id of `url` when it is a file of `room`: `<server>/room/<token>/file/<id>`, an
/// optional `/<name>` after it.
fn room_file_id(room: &CommunityRoom, url: &str) -> Option<i64> {
    let rest = url
        .strip_prefix(room.server.as_str())?
        .strip_prefix("/room/")?
        .strip_prefix(room.token.as_str())?
        .strip_prefix("/file/")?;
    let id = rest.split('/').next()?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .then(|| id.parse().ok())
        .flatten()
}

fn keys_error(error: ActorError) -> TransferError {
    TransferError::Network(crate::network::NetworkError::Config(error.to_string()))
}

/// Downloads the room file `info` points to for `account` (its message's room).
pub async fn download(
    deps: &Deps,
    account: &str,
    stored: &StoredAttachment,
    info: &AttachmentInfo,
) -> Result<Vec<u8>, TransferError> {
    let store = &deps.store;
    let message = store
        .get_message(account, &stored.view.message_id)
        .await
        .map_err(|e| keys_error(e.into()))?
        .ok_or(TransferError::NotFound)?;
    let room = store
        .community_room(&message.conversation)
        .await
        .map_err(|e| keys_error(e.into()))?
        .ok_or(TransferError::OtherServer)?;
    let id = room_file_id(&room, &info.url).ok_or(TransferError::OtherServer)?;
    let account_id = SessionIdText::parse(account).map_err(|_| TransferError::NotFound)?;
    let seed = store
        .account_seed(&account_id)
        .await
        .map_err(|e| keys_error(e.into()))?
        .ok_or(TransferError::NotFound)?;
    let keys = AccountKeys::from_stored_seed(&account_id, &seed).map_err(keys_error)?;
    let server = server_of(&room).map_err(keys_error)?;
    let bytes = deps
        .network
        .community_download(&server, &keys.identity, &room.token, id)
        .await?;
    if bytes.len() > MAX_ROOM_FILE {
        return Err(TransferError::TooLarge(bytes.len()));
    }
    Ok(info.decrypt(&bytes)?)
}

/// The pointers of a queued room post's files, each uploaded to the room unless an earlier
/// attempt did (its URL is stored, so a retry never uploads again), and their file ids.
pub async fn room_pointers(
    deps: &Deps,
    keys: &AccountKeys,
    server: &CommunityServer,
    room: &CommunityRoom,
    message: &QueuedMessage,
) -> Result<(Vec<AttachmentInfo>, Vec<i64>), ActorError> {
    let mut pointers = Vec::new();
    let mut ids = Vec::new();
    if !message.has_files {
        return Ok((pointers, ids));
    }
    for stored in deps.store.message_attachments(&message.id).await? {
        let uploaded = stored
            .remote_url
            .as_deref()
            .and_then(|url| Some((url.to_owned(), room_file_id(room, url)?)));
        let (url, id) = match uploaded {
            Some(done) => done,
            None => {
                let data = stored.data.clone().unwrap_or_default();
                let id = deps
                    .network
                    .community_upload(server, &keys.identity, &room.token, data)
                    .await?;
                let url = format!("{}/room/{}/file/{id}", room.server, room.token);
                deps.store
                    .mark_uploaded(&stored.view.id, &url, &[], &[], now_ms())
                    .await?;
                (url, id)
            }
        };
        ids.push(id);
        pointers.push(AttachmentInfo {
            id: u64::try_from(id).unwrap_or(0),
            url,
            key: PointerKey::None,
            digest: None,
            size: u32::try_from(stored.view.size).ok(),
            meta: AttachmentMeta {
                content_type: Some(stored.view.content_type.clone()),
                file_name: stored.view.file_name.clone(),
                ..AttachmentMeta::default()
            },
        });
    }
    Ok((pointers, ids))
}
