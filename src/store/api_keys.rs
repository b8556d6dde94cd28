//! The `api_keys` table: scoped bearer keys, stored as SHA-256 of the key (the key is 256 random
//! bits, so a plain hash is enough; it is compared in constant time by the caller).
//!
//! Keys look like `sgk_<id>_<secret>`: `id` (32 hex digits) finds the row. They are minted
//! here, for the API (`POST /v1/api-keys`) and the admin CLI (`api-keys create`) alike.

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row as _;
use zeroize::Zeroizing;

use super::{json_column, to_json, Store, StoreError};
use crate::ids::SessionIdText;

/// A permission a key carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everything.
    Admin,
    /// Read one account (account, messages, conversations, its events).
    Read(SessionIdText),
    /// Send from one account.
    Send(SessionIdText),
}

/// A scope that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown scope {0:?}: expected admin, accounts:<session_id>:read or accounts:<session_id>:send"
)]
pub struct ScopeError(String);

impl Scope {
    /// Parses `admin`, `accounts:<session_id>:read` or `accounts:<session_id>:send`.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        if text == "admin" {
            return Ok(Self::Admin);
        }
        let bad = || ScopeError(text.chars().take(100).collect());
        let rest = text.strip_prefix("accounts:").ok_or_else(bad)?;
        let (id, action) = rest.rsplit_once(':').ok_or_else(bad)?;
        let id = SessionIdText::parse(id).map_err(|_| bad())?;
        match action {
            "read" => Ok(Self::Read(id)),
            "send" => Ok(Self::Send(id)),
            _ => Err(bad()),
        }
    }

    /// The scope's text form.
    pub fn as_string(&self) -> String {
        match self {
            Self::Admin => "admin".to_owned(),
            Self::Read(id) => format!("accounts:{}:read", id.as_str()),
            Self::Send(id) => format!("accounts:{}:send", id.as_str()),
        }
    }
}

/// Longest key name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Whether `name` may label a key: at most [`MAX_NAME_CHARS`] characters, no control characters.
pub fn valid_name(name: &str) -> bool {
    name.chars().count() <= MAX_NAME_CHARS && !name.chars().any(char::is_control)
}

/// SHA-256 of a key, as stored.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A new key: `(id, full key)`. The key is shown to the client once and stored only hashed.
pub fn generate_key() -> (String, Zeroizing<String>) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut secret = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(secret.as_mut());
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret.as_ref());
    let key = Zeroizing::new(format!("sgk_{id}_{secret}"));
    (id, key)
}

/// A stored key without its secret part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public id (also the key's prefix).
    pub id: String,
    /// The operator's label, if given.
    pub name: Option<String>,
    /// SHA-256 of the whole key.
    pub key_hash: Vec<u8>,
    /// Scope strings (`admin`, `accounts:<session_id>:read`, `accounts:<session_id>:send`).
    pub scopes: Vec<String>,
    /// Creation time, ms.
    pub created_at: i64,
}

const COLUMNS: &str = "id, name, key_hash, scopes, created_at";

fn key_from_row(row: &AnyRow) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        key_hash: row.try_get("key_hash")?,
        scopes: json_column(row, "scopes")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Mints and stores a new key with `scopes` (and an optional `name`); returns its record
    /// and the key itself, which is shown once and never stored.
    pub async fn create_api_key(
        &self,
        name: Option<&str>,
        scopes: &[Scope],
        now: i64,
    ) -> Result<(ApiKeyRecord, Zeroizing<String>), StoreError> {
        let (id, key) = generate_key();
        let record = ApiKeyRecord {
            id,
            name: name.map(str::to_owned),
            key_hash: hash_key(&key).to_vec(),
            scopes: scopes.iter().map(Scope::as_string).collect(),
            created_at: now,
        };
        self.insert_api_key(&record).await?;
        Ok((record, key))
    }

    /// Stores a new key record.
    pub async fn insert_api_key(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        let query = sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&record.id)
        .bind(record.name.as_deref())
        .bind(&record.key_hash)
        .bind(to_json(&record.scopes)?)
        .bind(record.created_at);
        self.execute_synced(query).await?;
        Ok(())
    }

    /// One key by id.
    pub async fn get_api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reads())
            .await?
            .as_ref()
            .map(key_from_row)
            .transpose()
    }

    /// All keys, oldest first.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_keys ORDER BY created_at, id"
        ))
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(key_from_row)
        .collect()
    }

    /// A page of keys in `(created_at, id)` order after `after` (the previous page's last
    /// key), at most `limit` (keyset paging: no repeats or gaps while keys come and go).
    pub async fn list_api_keys_page(
        &self,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_keys \
             WHERE ($1 IS NULL OR created_at > $1 OR (created_at = $1 AND id > $2)) \
             ORDER BY created_at, id LIMIT $3"
        ))
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(limit)
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(key_from_row)
        .collect()
    }

    /// Revokes a key. False if absent.
    pub async fn delete_api_key(&self, id: &str) -> Result<bool, StoreError> {
        let query = sqlx::query("DELETE FROM api_keys WHERE id = $1").bind(id);
        let done = self.execute_synced(query).await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

    #[test]
    fn scopes_round_trip() {
        for text in [
            "admin".to_owned(),
            format!("accounts:{ID}:read"),
            format!("accounts:{ID}:send"),
        ] {
            assert_eq!(Scope::parse(&text).unwrap().as_string(), text);
        }
        for bad in [
            "",
            "root",
            "accounts:05:read",
            &format!("accounts:{ID}:write"),
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn junk_scopes_never_panic(text in "\\PC{0,90}") {
            let _ = Scope::parse(&text);
        }
    }

    #[test]
    fn names_are_short_and_printable() {
        assert!(valid_name("dashboard (EU)"));
        assert!(valid_name(&"é".repeat(MAX_NAME_CHARS)));
        assert!(!valid_name(&"x".repeat(MAX_NAME_CHARS + 1)));
        assert!(!valid_name("line\nbreak"));
    }

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let (id, key) = generate_key();
        assert!(key.starts_with(&format!("sgk_{id}_")));
        assert_eq!(id.len(), 32);
        assert_eq!(hash_key(&key).len(), 32);
    }
}
