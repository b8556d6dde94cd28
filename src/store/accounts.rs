//! The `accounts` table: one row per Session account, its seed sealed under the master key
//! (AAD = the Session ID, so a seed moved to another row does not open).

use futures::TryStreamExt as _;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row as _;
use zeroize::Zeroizing;

use super::events::NewEvent;
use super::{Notice, RecordKind, Store, StoreError, StoreTx};
use crate::events::EventData;
use crate::ids::SessionIdText;

/// Whether the gateway runs an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Polled and able to send.
    Active,
    /// Kept, but neither polled nor sending.
    Paused,
}

impl AccountStatus {
    /// The wire and column value (`active`, `paused`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "active" => Ok(Self::Active),
            "paused" => Ok(Self::Paused),
            other => Err(StoreError::Corrupt(format!("account status {other:?}"))),
        }
    }
}

/// An account row without its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The account's Session ID.
    pub session_id: SessionIdText,
    /// Optional name shown to contacts.
    pub display_name: Option<String>,
    /// Running or paused.
    pub status: AccountStatus,
    /// Creation time, ms.
    pub created_at: i64,
    /// Last change, ms.
    pub updated_at: i64,
}

/// A change to an account; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct AccountPatch {
    /// `Some(None)` clears the name.
    pub display_name: Option<Option<String>>,
    /// New status.
    pub status: Option<AccountStatus>,
}

pub(super) const COLUMNS: &str = "session_id, display_name, status, created_at, updated_at";

/// A row's `session_id`, checked.
fn session_id_of(row: &AnyRow) -> Result<SessionIdText, StoreError> {
    let id: String = row.try_get("session_id")?;
    SessionIdText::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn account_from_row(row: &AnyRow) -> Result<Account, StoreError> {
    Ok(Account {
        session_id: session_id_of(row)?,
        display_name: row.try_get("display_name")?,
        status: AccountStatus::parse(&row.try_get::<String, _>("status")?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Inserts a new account with its seed sealed. `None` if the Session ID already exists.
    pub async fn insert_account(
        &self,
        session_id: &SessionIdText,
        display_name: Option<&str>,
        seed: &[u8],
        now: i64,
    ) -> Result<Option<Account>, StoreError> {
        let sealed = self
            .master()
            .seal(RecordKind::AccountSeed, session_id.as_str(), seed);
        let query = sqlx::query(
            "INSERT INTO accounts (session_id, display_name, seed_sealed, status, created_at, \
             updated_at) VALUES ($1, $2, $3, 'active', $4, $4) ON CONFLICT (session_id) DO NOTHING",
        )
        .bind(session_id.as_str())
        .bind(display_name)
        .bind(sealed)
        .bind(now);
        let done = self.execute_synced(query).await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.announce(Notice::AccountChanged {
            account: session_id.as_str().to_owned(),
        })
        .await?;
        self.get_account(session_id).await
    }

    /// One account.
    pub async fn get_account(&self, id: &SessionIdText) -> Result<Option<Account>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM accounts WHERE session_id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(self.reads())
        .await?
        .as_ref()
        .map(account_from_row)
        .transpose()
    }

    /// The Session IDs of the active accounts, in no particular order: what the supervisor
    /// reconciles its Identity actors with every 15 s. One column of the active rows only, and
    /// only the IDs are kept (issue 16: every account's full row, read at once, was a
    /// start-up's largest transient allocation after the polls). PostgreSQL streams the rows;
    /// SQLite's connections hand them over together.
    pub async fn active_accounts(&self) -> Result<Vec<SessionIdText>, StoreError> {
        let mut rows = sqlx::query("SELECT session_id FROM accounts WHERE status = 'active'")
            .fetch(self.reads());
        let mut ids = Vec::new();
        while let Some(row) = rows.try_next().await? {
            ids.push(session_id_of(&row)?);
        }
        Ok(ids)
    }

    /// All accounts, oldest first.
    pub async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM accounts ORDER BY created_at, session_id"
        ))
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(account_from_row)
        .collect()
    }

    /// A page of accounts in `(created_at, session_id)` order after `after` (the previous
    /// page's last account), at most `limit`.
    pub async fn list_accounts_page(
        &self,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<Account>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM accounts \
             WHERE ($1 IS NULL OR created_at > $1 OR (created_at = $1 AND session_id > $2)) \
             ORDER BY created_at, session_id LIMIT $3"
        ))
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(limit)
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(account_from_row)
        .collect()
    }

    /// The account's decrypted seed (for the Identity actor and phrase export).
    pub async fn account_seed(
        &self,
        id: &SessionIdText,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let row = sqlx::query("SELECT seed_sealed FROM accounts WHERE session_id = $1")
            .bind(id.as_str())
            .fetch_optional(self.reads())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let sealed: Vec<u8> = row.try_get("seed_sealed")?;
        Ok(Some(self.master().open(
            RecordKind::AccountSeed,
            id.as_str(),
            &sealed,
        )?))
    }

    /// Deletes an account with its messages, conversations, cursors, events and their
    /// webhook deliveries. False if absent.
    pub async fn delete_account(&self, id: &SessionIdText) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        tx.delete_account_events(id.as_str()).await?;
        for table in [
            "poll_cursors",
            "messages",
            "conversations",
            "account_leases",
            "received_signed",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE account = $1"))
                .bind(id.as_str())
                .execute(tx.conn())
                .await?;
        }
        sqlx::query("DELETE FROM node_cursors WHERE subject = $1")
            .bind(id.as_str())
            .execute(tx.conn())
            .await?;
        let done = sqlx::query("DELETE FROM accounts WHERE session_id = $1")
            .bind(id.as_str())
            .execute(tx.conn())
            .await?;
        if done.rows_affected() > 0 {
            tx.announce_on_commit(Notice::AccountChanged {
                account: id.as_str().to_owned(),
            });
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Applies `patch` and, when the status changed, records `account.status_changed`, in one
    /// transaction. The account after the change; `None` if absent.
    pub async fn patch_account(
        &self,
        id: &SessionIdText,
        patch: &AccountPatch,
        now: i64,
    ) -> Result<Option<Account>, StoreError> {
        let mut tx = self.begin().await?;
        let Some((before, after)) = tx.update_account(id, patch, now).await? else {
            return Ok(None);
        };
        if before.status != after.status {
            tx.append_event(&NewEvent {
                account: Some(id.as_str().to_owned()),
                conversation: None,
                timestamp: now,
                data: EventData::account_status(after.status.as_str(), before.status.as_str()),
            })
            .await?;
        }
        tx.commit().await?;
        Ok(Some(after))
    }
}

impl StoreTx {
    /// Applies `patch`; returns the account before and after, or `None` if it does not exist.
    async fn update_account(
        &mut self,
        id: &SessionIdText,
        patch: &AccountPatch,
        now: i64,
    ) -> Result<Option<(Account, Account)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM accounts WHERE session_id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(self.conn())
        .await?;
        let Some(before) = row.as_ref().map(account_from_row).transpose()? else {
            return Ok(None);
        };
        let mut after = before.clone();
        if let Some(name) = &patch.display_name {
            after.display_name.clone_from(name);
        }
        if let Some(status) = patch.status {
            after.status = status;
        }
        after.updated_at = now;
        sqlx::query(
            "UPDATE accounts SET display_name = $1, status = $2, updated_at = $3 \
             WHERE session_id = $4",
        )
        .bind(after.display_name.as_deref())
        .bind(after.status.as_str())
        .bind(now)
        .bind(id.as_str())
        .execute(self.conn())
        .await?;
        self.announce_on_commit(Notice::AccountChanged {
            account: id.as_str().to_owned(),
        });
        Ok(Some((before, after)))
    }
}
