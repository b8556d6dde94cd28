//! The `api_keys` table: scoped bearer keys, stored as SHA-256 of the key (the key is 256 random
//! bits, so a plain hash is enough; it is compared in constant time by the caller).

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::{json_column, to_json, Store, StoreError};

/// A stored key without its secret part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public id (also the key's prefix).
    pub id: String,
    /// SHA-256 of the whole key.
    pub key_hash: Vec<u8>,
    /// Scope strings (`admin`, `accounts:<session_id>:read`, `accounts:<session_id>:send`).
    pub scopes: Vec<String>,
    /// Creation time, ms.
    pub created_at: i64,
}

fn key_from_row(row: &AnyRow) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        key_hash: row.try_get("key_hash")?,
        scopes: json_column(row, "scopes")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Stores a new key record.
    pub async fn insert_api_key(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&record.id)
        .bind(&record.key_hash)
        .bind(to_json(&record.scopes)?)
        .bind(record.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// One key by id.
    pub async fn get_api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        sqlx::query("SELECT id, key_hash, scopes, created_at FROM api_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(key_from_row)
            .transpose()
    }

    /// All keys, oldest first.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        sqlx::query("SELECT id, key_hash, scopes, created_at FROM api_keys ORDER BY created_at, id")
            .fetch_all(self.pool())
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
        sqlx::query(
            "SELECT id, key_hash, scopes, created_at FROM api_keys \
             WHERE ($1 IS NULL OR created_at > $1 OR (created_at = $1 AND id > $2)) \
             ORDER BY created_at, id LIMIT $3",
        )
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(key_from_row)
        .collect()
    }

    /// Revokes a key. False if absent.
    pub async fn delete_api_key(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM api_keys WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
