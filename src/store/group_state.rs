//! A group's swarm state as its local members share it (migrations `0006_groups.sql`,
//! `0009_group_upkeep.sql`): the keys messages, the config messages (sealed under the master
//! key), when their TTLs were last extended, and the per-namespace fallback cursors.

use sqlx::Row as _;
use zeroize::Zeroizing;

use super::secrets::RecordKind;
use super::{Store, StoreError, StoreTx};

/// A keys message as stored on the swarm.
#[derive(Clone, Debug)]
pub struct StoredKeys {
    /// Its swarm hash.
    pub hash: String,
    /// The message.
    pub data: Vec<u8>,
    /// Its swarm timestamp, ms.
    pub timestamp: i64,
}

/// A config message (decrypted, verified) of a group.
#[derive(Clone, Debug)]
pub struct StoredConfig {
    /// Its swarm hash.
    pub hash: String,
    /// Its seqno.
    pub seqno: i64,
    /// The config message (bencoded).
    pub data: Zeroizing<Vec<u8>>,
}

fn config_id(group: &str, namespace: i64, hash: &str) -> String {
    format!("{group}/{namespace}/{hash}")
}

/// Opens config rows (`hash`, `seqno`, `data_sealed`) sealed as `kind` under `id(hash)`: a
/// group's or an account's config heads.
pub(super) fn open_configs(
    store: &Store,
    rows: &[sqlx::any::AnyRow],
    kind: RecordKind,
    id: impl Fn(&str) -> String,
) -> Result<Vec<StoredConfig>, StoreError> {
    rows.iter()
        .map(|row| {
            let hash: String = row.try_get("hash")?;
            let sealed: Vec<u8> = row.try_get("data_sealed")?;
            let data = store
                .master()
                .open(kind, &id(&hash), &sealed)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(StoredConfig {
                hash,
                seqno: row.try_get("seqno")?,
                data,
            })
        })
        .collect()
}

impl StoreTx {
    /// Keeps a keys message (no change if known); true when it is new.
    pub async fn add_group_keys(
        &mut self,
        group: &str,
        keys: &StoredKeys,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO group_keys (group_id, hash, data, timestamp) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (group_id, hash) DO NOTHING",
        )
        .bind(group)
        .bind(&keys.hash)
        .bind(&keys.data)
        .bind(keys.timestamp)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Keeps a config message of `namespace` (13 info, 14 members), sealed.
    pub async fn add_group_config(
        &mut self,
        store: &Store,
        group: &str,
        namespace: i64,
        config: &StoredConfig,
        now: i64,
    ) -> Result<(), StoreError> {
        let sealed = store.master().seal(
            RecordKind::GroupConfig,
            &config_id(group, namespace, &config.hash),
            &config.data,
        );
        sqlx::query(
            "INSERT INTO group_configs (group_id, namespace, hash, seqno, data_sealed, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (group_id, namespace, hash) DO NOTHING",
        )
        .bind(group)
        .bind(namespace)
        .bind(&config.hash)
        .bind(config.seqno)
        .bind(sealed)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Forgets the config messages of `namespace` below `seqno` (heads a newer one supersedes).
    pub async fn prune_group_configs_below(
        &mut self,
        group: &str,
        namespace: i64,
        seqno: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM group_configs WHERE group_id = $1 AND namespace = $2 AND seqno < $3",
        )
        .bind(group)
        .bind(namespace)
        .bind(seqno)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Forgets the config messages of `namespace` that no merge can use any more: `lag` or
    /// more seqnos behind the newest (§1.2 step 2).
    pub async fn prune_group_configs_lagging(
        &mut self,
        group: &str,
        namespace: i64,
        lag: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM group_configs WHERE group_id = $1 AND namespace = $2 AND seqno + $3 <= \
             (SELECT MAX(seqno) FROM group_configs WHERE group_id = $1 AND namespace = $2)",
        )
        .bind(group)
        .bind(namespace)
        .bind(lag)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Advances a group namespace's cursor.
    pub async fn set_group_cursor(
        &mut self,
        group: &str,
        namespace: i64,
        last_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO group_cursors (group_id, namespace, last_hash, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (group_id, namespace) DO UPDATE \
             SET last_hash = excluded.last_hash, updated_at = excluded.updated_at",
        )
        .bind(group)
        .bind(namespace)
        .bind(last_hash)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records that the group's keys and configs were extended at `at` (network time, ms).
    pub async fn set_group_ttl_extended(&mut self, group: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE groups SET ttl_extended_at = $1 WHERE id = $2")
            .bind(at)
            .bind(group)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    /// The keys messages of `group`, oldest first.
    pub async fn group_keys(&self, group: &str) -> Result<Vec<StoredKeys>, StoreError> {
        let rows = sqlx::query(
            "SELECT hash, data, timestamp FROM group_keys WHERE group_id = $1 \
             ORDER BY timestamp, hash",
        )
        .bind(group)
        .fetch_all(self.reads())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredKeys {
                    hash: row.try_get("hash")?,
                    data: row.try_get("data")?,
                    timestamp: row.try_get("timestamp")?,
                })
            })
            .collect()
    }

    /// The config messages of `group` in `namespace`, opened.
    pub async fn group_configs(
        &self,
        group: &str,
        namespace: i64,
    ) -> Result<Vec<StoredConfig>, StoreError> {
        let rows = sqlx::query(
            "SELECT hash, seqno, data_sealed FROM group_configs \
             WHERE group_id = $1 AND namespace = $2 ORDER BY seqno, hash",
        )
        .bind(group)
        .bind(namespace)
        .fetch_all(self.reads())
        .await?;
        open_configs(self, &rows, RecordKind::GroupConfig, |hash| {
            config_id(group, namespace, hash)
        })
    }

    /// When the group's keys and configs were last extended (network time, ms; 0 = never).
    pub async fn group_ttl_extended(&self, group: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT ttl_extended_at FROM groups WHERE id = $1")
                .bind(group)
                .fetch_optional(self.reads())
                .await?
                .map(|row| row.try_get("ttl_extended_at"))
                .transpose()?
                .unwrap_or(0),
        )
    }

    /// The last hash read in a group namespace.
    pub async fn group_cursor(
        &self,
        group: &str,
        namespace: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query(
            "SELECT last_hash FROM group_cursors WHERE group_id = $1 AND namespace = $2",
        )
        .bind(group)
        .bind(namespace)
        .fetch_optional(self.reads())
        .await?
        .map(|row| row.try_get("last_hash"))
        .transpose()?)
    }
}
