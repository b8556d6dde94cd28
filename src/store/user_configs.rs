//! The account's own config messages (migration `0008_user_configs.sql`, groups.md §1): the
//! heads of its UserGroups config (namespace 5) as read from its own swarm or pushed by us,
//! decrypted and sealed under the master key (they carry group seeds and grants). The next
//! merge (§1.2) starts from them; a push replaces the heads it merged.

use super::groups::StoredConfig;
use super::secrets::RecordKind;
use super::{Store, StoreError, StoreTx};

fn record_id(account: &str, namespace: i64, hash: &str) -> String {
    format!("{account}/{namespace}/{hash}")
}

impl StoreTx {
    /// Keeps a config message of the account's `namespace`, sealed (no change if known).
    /// Returns whether it is new.
    pub async fn add_user_config(
        &mut self,
        store: &Store,
        account: &str,
        namespace: i64,
        config: &StoredConfig,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sealed = store.master().seal(
            RecordKind::UserConfig,
            &record_id(account, namespace, &config.hash),
            &config.data,
        );
        let done = sqlx::query(
            "INSERT INTO user_configs (account, namespace, hash, seqno, data_sealed, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account, namespace, hash) DO NOTHING",
        )
        .bind(account)
        .bind(namespace)
        .bind(&config.hash)
        .bind(config.seqno)
        .bind(sealed)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Forgets the named heads of `namespace` (superseded by a push, or redundant). Only the
    /// heads a merge read are named, so one stored meanwhile stays.
    pub async fn remove_user_configs(
        &mut self,
        account: &str,
        namespace: i64,
        hashes: &[String],
    ) -> Result<(), StoreError> {
        for hash in hashes {
            sqlx::query(
                "DELETE FROM user_configs WHERE account = $1 AND namespace = $2 AND hash = $3",
            )
            .bind(account)
            .bind(namespace)
            .bind(hash)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }
}

impl Store {
    /// The stored heads of the account's `namespace`, opened, by seqno.
    pub async fn user_configs(
        &self,
        account: &str,
        namespace: i64,
    ) -> Result<Vec<StoredConfig>, StoreError> {
        let rows = sqlx::query(
            "SELECT hash, seqno, data_sealed FROM user_configs \
             WHERE account = $1 AND namespace = $2 ORDER BY seqno, hash",
        )
        .bind(account)
        .bind(namespace)
        .fetch_all(self.reads())
        .await?;
        super::group_state::open_configs(self, &rows, RecordKind::UserConfig, |hash| {
            record_id(account, namespace, hash)
        })
    }

    /// When the account's config heads were last extended (network time, ms; 0 = never).
    pub async fn user_config_extended(&self, account: &str) -> Result<i64, StoreError> {
        use sqlx::Row as _;
        Ok(
            sqlx::query("SELECT user_config_extended_at FROM accounts WHERE session_id = $1")
                .bind(account)
                .fetch_optional(self.reads())
                .await?
                .map(|row| row.try_get("user_config_extended_at"))
                .transpose()?
                .unwrap_or(0),
        )
    }

    /// Records that the account's config heads were extended at `at` (network time, ms). A
    /// relaxed write ([`Store::execute_relaxed`]): lost in a power failure, the heads are
    /// extended again, which changes nothing on the swarm. Every new account's first poll
    /// writes it, and 10,000 synced commits after a bulk import kept the one SQLite writer
    /// busy for seconds (the API's `POST` waited behind them).
    pub async fn set_user_config_extended(&self, account: &str, at: i64) -> Result<(), StoreError> {
        let query =
            sqlx::query("UPDATE accounts SET user_config_extended_at = $1 WHERE session_id = $2")
                .bind(at)
                .bind(account);
        self.execute_relaxed(query).await?;
        Ok(())
    }
}
