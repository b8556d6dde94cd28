//! Display name and avatar as they travel inside messages (messages.md §4, §3.3 `LokiProfile`).
//!
//! ```text
//! LokiProfile {                          carried by DataMessage.profile (101) + profileKey (6)
//!   displayName       (1) string         and by MessageRequestResponse.profile (3) + profileKey (2)
//!   profilePicture    (2) string         avatar URL on the file server (no `#e=` key fragment)
//!   lastUpdateSeconds (3) uint64         when the profile last changed, seconds
//! }
//! profileKey = the avatar's 32-byte AES-256-GCM key
//! avatar blob (uploaded) = IV(12) ‖ AES-256-GCM(profileKey, IV, image) ‖ tag(16)
//! ```

use rand::{CryptoRng, RngCore};

use super::pointer::check_upload_size;
use super::ChatError;
use crate::protocol::attachment::{encrypt_avatar, ProfileKey};
use crate::protocol::protos::LokiProfile;

/// An avatar: where the encrypted picture is and the key that opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avatar {
    /// The file-server URL of the encrypted blob.
    pub url: String,
    /// The 32-byte key (`profileKey`).
    pub key: ProfileKey,
}

/// A user's profile: ours to send, or a contact's as received.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    /// The display name, when set and non-empty.
    pub display_name: Option<String>,
    /// The avatar, when there is one (a URL without a valid 32-byte key is no avatar).
    pub avatar: Option<Avatar>,
    /// When the profile last changed, seconds since the epoch; receivers ignore older ones.
    pub updated_seconds: Option<u64>,
}

impl Profile {
    /// A profile with a display name and no avatar.
    pub fn named(display_name: impl Into<String>, updated_seconds: u64) -> Self {
        Self {
            display_name: Some(display_name.into()),
            avatar: None,
            updated_seconds: Some(updated_seconds),
        }
    }

    /// The `LokiProfile` and `profileKey` to send (§4): `displayName` only when non-empty,
    /// `profilePicture` and the key only together.
    pub fn to_proto(&self) -> (LokiProfile, Option<Vec<u8>>) {
        let profile = LokiProfile {
            display_name: self.display_name.clone().filter(|name| !name.is_empty()),
            profile_picture: self.avatar.as_ref().map(|avatar| avatar.url.clone()),
            last_update_seconds: self.updated_seconds,
        };
        let key = self
            .avatar
            .as_ref()
            .map(|avatar| avatar.key.expose_secret().to_vec());
        (profile, key)
    }

    /// Reads a received `LokiProfile` and `profileKey`. `None` when neither carries anything.
    /// An avatar URL whose key is absent or not 32 bytes yields no avatar (it could not be
    /// decrypted), as DESKTOP does.
    pub fn from_proto(profile: Option<&LokiProfile>, key: Option<&[u8]>) -> Option<Self> {
        let profile = profile?;
        let display_name = profile.display_name.clone().filter(|n| !n.is_empty());
        let url = profile.profile_picture.clone().filter(|u| !u.is_empty());
        let avatar = match (url, key.map(ProfileKey::from_slice)) {
            (Some(url), Some(Ok(key))) => Some(Avatar { url, key }),
            _ => None,
        };
        let empty = display_name.is_none() && avatar.is_none();
        if empty && profile.last_update_seconds.is_none() {
            return None;
        }
        Some(Self {
            display_name,
            avatar,
            updated_seconds: profile.last_update_seconds,
        })
    }
}

/// An avatar encrypted for upload under a fresh profile key.
#[derive(Debug, Clone)]
pub struct PreparedAvatar {
    /// The new profile key: goes into [`Avatar::key`] once the blob has a URL.
    pub key: ProfileKey,
    /// `IV ‖ ciphertext ‖ tag`, to upload to the file server.
    pub blob: Vec<u8>,
}

impl PreparedAvatar {
    /// The [`Avatar`] once the file server has returned the blob's URL.
    pub fn into_avatar(self, url: impl Into<String>) -> Avatar {
        Avatar {
            url: url.into(),
            key: self.key,
        }
    }
}

/// Encrypts an avatar image with a fresh 32-byte profile key (§4: a new key per upload, so an
/// old key does not open the new picture). Refuses images over the file server's limit before
/// any work (§5.1).
pub fn prepare_avatar<R: RngCore + CryptoRng>(
    image: &[u8],
    rng: &mut R,
) -> Result<PreparedAvatar, ChatError> {
    check_upload_size(image.len())?;
    let key = ProfileKey::random(rng);
    let blob = encrypt_avatar(image, &key, rng)?;
    Ok(PreparedAvatar { key, blob })
}
