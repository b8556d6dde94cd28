//! Avatars on the file server (messages.md §5.3): our own, encrypted under a fresh profile key
//! and uploaded; a contact's, downloaded and decrypted on first use. The API calls these
//! through [`crate::actors::ActorsHandle`], so it never touches the network or the crypto.

use crate::network::SessionNetwork;
use crate::protocol::attachment::{decrypt_avatar, AttachmentError};
use crate::protocol::chat::profile::{prepare_avatar, Avatar};

use super::TransferError;

/// Why an avatar could not be uploaded or fetched.
#[derive(Debug, thiserror::Error)]
pub enum AvatarError {
    /// This gateway runs without a network (e.g. offline tools).
    #[error("no network")]
    NoNetwork,
    /// The image is over the file server's limit (the length is in the variant).
    #[error("too large: {0} bytes")]
    TooLarge(usize),
    /// The upload or download failed (network weather, or a refusal).
    #[error(transparent)]
    Transfer(#[from] TransferError),
    /// The downloaded blob does not decrypt under the contact's profile key.
    #[error("tampered: {0}")]
    Undecryptable(AttachmentError),
}

/// Encrypts `image` under a fresh 32-byte profile key (AES-256-GCM) and uploads it; the
/// avatar (url and key) our outgoing messages carry from then on. The size is checked before
/// the network is needed, so `network` is `None` only fails an image of an acceptable size.
pub async fn upload_avatar(
    network: Option<&SessionNetwork>,
    image: &[u8],
) -> Result<Avatar, AvatarError> {
    let prepared = prepare_avatar(image, &mut rand::rngs::OsRng)
        .map_err(|_| AvatarError::TooLarge(image.len()))?;
    let network = network.ok_or(AvatarError::NoNetwork)?;
    let uploaded = network
        .upload_file(prepared.blob.clone())
        .await
        .map_err(TransferError::from)?;
    Ok(prepared.into_avatar(uploaded.url))
}

/// Downloads a contact's `avatar` and decrypts it with its profile key: the image bytes.
pub async fn fetch_avatar(
    network: Option<&SessionNetwork>,
    avatar: &Avatar,
) -> Result<Vec<u8>, AvatarError> {
    let network = network.ok_or(AvatarError::NoNetwork)?;
    let blob = network
        .download_file(&avatar.url)
        .await
        .map_err(TransferError::from)?;
    decrypt_avatar(&blob, &avatar.key).map_err(AvatarError::Undecryptable)
}
