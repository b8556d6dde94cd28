//! Avatars (messages.md §4): ours (url + profile key on the account row, key sealed) and our
//! contacts' as their latest profile named them (`contact_avatars`, image cached lazily).

use sqlx::Row as _;

use super::secrets::RecordKind;
use super::{Store, StoreError, StoreTx};
use crate::protocol::attachment::ProfileKey;
use crate::protocol::chat::profile::{Avatar, Profile};

/// A contact's avatar as last announced, and the decrypted image once fetched.
#[derive(Debug, Clone)]
pub struct ContactAvatar {
    /// URL and profile key.
    pub avatar: Avatar,
    /// `lastUpdateSeconds` of the profile that named it.
    pub updated_seconds: i64,
    /// The decrypted image, once fetched.
    pub image: Option<Vec<u8>>,
}

fn contact_record(account: &str, peer: &str) -> String {
    format!("{account}/{peer}")
}

fn open_key(store: &Store, id: &str, sealed: &[u8]) -> Result<ProfileKey, StoreError> {
    let key = store.master().open(RecordKind::ProfileKey, id, sealed)?;
    ProfileKey::from_slice(&key).map_err(|e| StoreError::Corrupt(e.to_string()))
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
                .seal(RecordKind::ProfileKey, account, a.key.expose_secret())
        });
        let done = sqlx::query(
            "UPDATE accounts SET avatar_url = $1, avatar_key_sealed = $2, avatar_updated_at = $3, \
             updated_at = $3 WHERE session_id = $4",
        )
        .bind(avatar.map(|a| a.url.as_str()))
        .bind(sealed)
        .bind(updated_ms)
        .bind(account)
        .execute(self.pool())
        .await?;
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
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(Profile::default());
        };
        let url: Option<String> = row.try_get("avatar_url")?;
        let sealed: Option<Vec<u8>> = row.try_get("avatar_key_sealed")?;
        let avatar = match (url, sealed) {
            (Some(url), Some(sealed)) => Some(Avatar {
                url,
                key: open_key(self, account, &sealed)?,
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

    /// A contact's avatar, if its profile named one.
    pub async fn contact_avatar(
        &self,
        account: &str,
        peer: &str,
    ) -> Result<Option<ContactAvatar>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT url, key_sealed, updated_seconds, image FROM contact_avatars \
             WHERE account = $1 AND peer = $2",
        )
        .bind(account)
        .bind(peer)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let sealed: Vec<u8> = row.try_get("key_sealed")?;
        Ok(Some(ContactAvatar {
            avatar: Avatar {
                url: row.try_get("url")?,
                key: open_key(self, &contact_record(account, peer), &sealed)?,
            },
            updated_seconds: row.try_get("updated_seconds")?,
            image: row.try_get("image")?,
        }))
    }

    /// The peers of an account whose profile named an avatar.
    pub async fn peers_with_avatars(&self, account: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query("SELECT peer FROM contact_avatars WHERE account = $1 ORDER BY peer")
            .bind(account)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| row.try_get("peer").map_err(StoreError::from))
            .collect()
    }

    /// Caches a contact's decrypted avatar, if the URL is still the current one.
    pub async fn cache_contact_avatar(
        &self,
        account: &str,
        peer: &str,
        url: &str,
        image: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE contact_avatars SET image = $1 WHERE account = $2 AND peer = $3 AND url = $4",
        )
        .bind(image)
        .bind(account)
        .bind(peer)
        .bind(url)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

impl StoreTx {
    /// Records the avatar a contact's profile names, unless a newer profile was seen already.
    /// A changed URL drops the cached image.
    pub async fn upsert_contact_avatar(
        &mut self,
        account: &str,
        peer: &str,
        avatar: &Avatar,
        updated_seconds: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let sealed = self.master.seal(
            RecordKind::ProfileKey,
            &contact_record(account, peer),
            avatar.key.expose_secret(),
        );
        sqlx::query(
            "INSERT INTO contact_avatars (account, peer, url, key_sealed, updated_seconds, \
             image, updated_at) VALUES ($1, $2, $3, $4, $5, NULL, $6) \
             ON CONFLICT (account, peer) DO UPDATE SET url = excluded.url, \
             key_sealed = excluded.key_sealed, updated_seconds = excluded.updated_seconds, \
             image = CASE WHEN contact_avatars.url = excluded.url THEN contact_avatars.image \
             ELSE NULL END, updated_at = excluded.updated_at \
             WHERE excluded.updated_seconds >= contact_avatars.updated_seconds",
        )
        .bind(account)
        .bind(peer)
        .bind(&avatar.url)
        .bind(sealed)
        .bind(updated_seconds)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
