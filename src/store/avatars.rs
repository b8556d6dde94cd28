//! Avatars (messages.md §4): ours (url + profile key on the account row, key sealed) and our
//! contacts'. A contact's profile (name, avatar URL, sealed key) is the conversation's
//! ([`super::chat`]); this module only reads it and caches the decrypted image per URL
//! (`contact_avatar_images`).

use sqlx::Row as _;

use super::secrets::RecordKind;
use super::{Store, StoreError};
use crate::protocol::attachment::ProfileKey;
use crate::protocol::chat::profile::{Avatar, Profile};

/// A contact's avatar as their profile names it, and the decrypted image once fetched.
#[derive(Debug, Clone)]
pub struct ContactAvatar {
    /// URL and profile key.
    pub avatar: Avatar,
    /// The decrypted image, once fetched.
    pub image: Option<Vec<u8>>,
}

fn profile_key(bytes: &[u8]) -> Result<ProfileKey, StoreError> {
    ProfileKey::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// Sets (or with `None` removes) the account's avatar; `updated_ms` becomes the profile's
    /// last update time. False when the account does not exist.
    pub async fn set_own_avatar(
        &self,
        account: &str,
        avatar: Option<&Avatar>,
        updated_ms: i64,
    ) -> Result<bool, StoreError> {
        let sealed = avatar.map(|a| {
            self.master()
                .seal(RecordKind::OwnProfileKey, account, a.key.expose_secret())
        });
        let query = sqlx::query(
            "UPDATE accounts SET avatar_url = $1, avatar_key_sealed = $2, avatar_updated_at = $3, \
             updated_at = $3 WHERE session_id = $4",
        )
        .bind(avatar.map(|a| a.url.as_str()))
        .bind(sealed)
        .bind(updated_ms)
        .bind(account);
        let done = self.execute_synced(query).await?;
        Ok(done.rows_affected() > 0)
    }

    /// The profile outgoing messages carry: display name, avatar, and when it last changed
    /// (seconds; the later of the account's and the avatar's update times).
    pub async fn own_profile(&self, account: &str) -> Result<Profile, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT display_name, avatar_url, avatar_key_sealed, avatar_updated_at, updated_at \
             FROM accounts WHERE session_id = $1",
        )
        .bind(account)
        .fetch_optional(self.reads())
        .await?
        else {
            return Ok(Profile::default());
        };
        let url: Option<String> = row.try_get("avatar_url")?;
        let sealed: Option<Vec<u8>> = row.try_get("avatar_key_sealed")?;
        let avatar = match (url, sealed) {
            (Some(url), Some(sealed)) => Some(Avatar {
                url,
                key: profile_key(&self.master().open(
                    RecordKind::OwnProfileKey,
                    account,
                    &sealed,
                )?)?,
            }),
            _ => None,
        };
        let updated: i64 = row.try_get("updated_at")?;
        let avatar_updated: Option<i64> = row.try_get("avatar_updated_at")?;
        let updated_ms = updated.max(avatar_updated.unwrap_or(0));
        Ok(Profile {
            display_name: row.try_get("display_name")?,
            avatar,
            updated_seconds: u64::try_from(updated_ms / 1000).ok(),
        })
    }

    /// A contact's avatar as the conversation's profile names it (URL and key), with the
    /// decrypted image when it is cached for that URL. `None` when the profile names none.
    pub async fn contact_avatar(
        &self,
        account: &str,
        peer: &str,
    ) -> Result<Option<ContactAvatar>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT c.profile_avatar_url, c.profile_key_sealed, i.image FROM conversations c \
             LEFT JOIN contact_avatar_images i ON i.account = c.account AND i.peer = c.peer \
             AND i.url = c.profile_avatar_url WHERE c.account = $1 AND c.peer = $2",
        )
        .bind(account)
        .bind(peer)
        .fetch_optional(self.reads())
        .await?
        else {
            return Ok(None);
        };
        let url: Option<String> = row.try_get("profile_avatar_url")?;
        let sealed: Option<Vec<u8>> = row.try_get("profile_key_sealed")?;
        let (Some(url), Some(sealed)) = (url, sealed) else {
            return Ok(None);
        };
        Ok(Some(ContactAvatar {
            avatar: Avatar {
                url,
                key: profile_key(&self.open_profile_key(account, peer, &sealed)?)?,
            },
            image: row.try_get("image")?,
        }))
    }

    /// The peers of an account whose profile names an avatar.
    pub async fn peers_with_avatars(&self, account: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query(
            "SELECT peer FROM conversations WHERE account = $1 \
             AND profile_avatar_url IS NOT NULL AND profile_key_sealed IS NOT NULL ORDER BY peer",
        )
        .bind(account)
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(|row| row.try_get("peer").map_err(StoreError::from))
        .collect()
    }

    /// Caches a contact's decrypted avatar fetched from `url`, if the profile still names that
    /// URL (a profile that changed meanwhile keeps the cache empty).
    pub async fn cache_contact_avatar(
        &self,
        account: &str,
        peer: &str,
        url: &str,
        image: &[u8],
    ) -> Result<(), StoreError> {
        let query = sqlx::query(
            "INSERT INTO contact_avatar_images (account, peer, url, image) \
             SELECT account, peer, profile_avatar_url, $1 FROM conversations \
             WHERE account = $2 AND peer = $3 AND profile_avatar_url = $4 \
             ON CONFLICT (account, peer) DO UPDATE SET url = excluded.url, image = excluded.image",
        )
        .bind(image)
        .bind(account)
        .bind(peer)
        .bind(url);
        self.execute_synced(query).await?;
        Ok(())
    }
}
