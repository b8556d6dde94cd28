//! The `webhooks` table: endpoints, their filters and their signing secrets (sealed under the
//! master key with AAD = the webhook id; several secrets during a rotation).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::events::HookCache;
use super::{opt_json_column, to_json, Notice, RecordKind, Store, StoreError};

/// One signing secret (`whsec_<base64>`, Standard Webhooks), with an end of life once rotated out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSecret {
    /// The secret as given to the receiver.
    pub secret: String,
    /// After this time (ms) it no longer signs; `None` for the current secret.
    pub expires_at: Option<i64>,
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSecret")
            .field("secret", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A webhook endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    /// Opaque id (`wh_…`).
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// Event types delivered; `None` = all.
    pub events: Option<Vec<String>>,
    /// Accounts (Session IDs) whose events are delivered; `None` = all.
    pub accounts: Option<Vec<String>>,
    /// Current secret first, then rotated-out ones still in their grace period.
    pub secrets: Vec<WebhookSecret>,
    /// Disabled endpoints get no new deliveries and are not attempted.
    pub enabled: bool,
    /// Creation time, ms.
    pub created_at: i64,
    /// Last change, ms.
    pub updated_at: i64,
}

impl Webhook {
    /// Whether an event of `event_type` for `account` goes to this endpoint.
    pub fn matches(&self, event_type: &str, account: Option<&str>) -> bool {
        let type_ok = self
            .events
            .as_ref()
            .is_none_or(|types| types.iter().any(|t| t == event_type));
        let account_ok = match (&self.accounts, account) {
            (None, _) => true,
            (Some(list), Some(account)) => list.iter().any(|a| a == account),
            (Some(_), None) => false,
        };
        self.enabled && type_ok && account_ok
    }

    /// Secrets that sign at `now` (the current one and any still in their grace period).
    pub fn signing_secrets(&self, now: i64) -> impl Iterator<Item = &WebhookSecret> {
        self.secrets
            .iter()
            .filter(move |s| s.expires_at.is_none_or(|at| at > now))
    }
}

pub(super) const COLUMNS: &str =
    "id, url, events, accounts, secrets_sealed, enabled, created_at, updated_at";

impl Store {
    pub(super) fn webhook_from_row(&self, row: &AnyRow) -> Result<Webhook, StoreError> {
        let id: String = row.try_get("id")?;
        let sealed: Vec<u8> = row.try_get("secrets_sealed")?;
        let plain = self
            .master()
            .open(RecordKind::WebhookSecrets, &id, &sealed)?;
        let secrets = serde_json::from_slice(&plain)
            .map_err(|e| StoreError::Corrupt(format!("webhook secrets: {e}")))?;
        Ok(Webhook {
            url: row.try_get("url")?,
            events: opt_json_column(row, "events")?,
            accounts: opt_json_column(row, "accounts")?,
            secrets,
            enabled: row.try_get::<i64, _>("enabled")? != 0,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            id,
        })
    }

    fn seal_secrets(&self, hook: &Webhook) -> Result<Vec<u8>, StoreError> {
        let plain = zeroize::Zeroizing::new(to_json(&hook.secrets)?);
        Ok(self
            .master()
            .seal(RecordKind::WebhookSecrets, &hook.id, plain.as_bytes()))
    }

    /// Empties the enabled webhooks' cache (SQLite: [`HookCache`]) now and when the guard is
    /// dropped: around a webhook's write outside a transaction, however the write ends (a
    /// request's future may be dropped after the statement ran).
    fn webhooks_changing(&self) -> HooksChanging {
        self.hook_cache.invalidate();
        HooksChanging(self.hook_cache.clone())
    }

    /// Stores a new webhook.
    pub async fn insert_webhook(&self, hook: &Webhook) -> Result<(), StoreError> {
        let changing = self.webhooks_changing();
        sqlx::query(&format!(
            "INSERT INTO webhooks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&hook.id)
        .bind(&hook.url)
        .bind(hook.events.as_ref().map(to_json).transpose()?)
        .bind(hook.accounts.as_ref().map(to_json).transpose()?)
        .bind(self.seal_secrets(hook)?)
        .bind(i64::from(hook.enabled))
        .bind(hook.created_at)
        .bind(hook.updated_at)
        .execute(self.pool())
        .await?;
        drop(changing);
        self.synced().await?;
        self.announce(Notice::WebhooksChanged).await
    }

    /// Overwrites every field of an existing webhook. False if absent.
    pub async fn update_webhook(&self, hook: &Webhook) -> Result<bool, StoreError> {
        let changing = self.webhooks_changing();
        let done = sqlx::query(
            "UPDATE webhooks SET url = $1, events = $2, accounts = $3, secrets_sealed = $4, \
             enabled = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(&hook.url)
        .bind(hook.events.as_ref().map(to_json).transpose()?)
        .bind(hook.accounts.as_ref().map(to_json).transpose()?)
        .bind(self.seal_secrets(hook)?)
        .bind(i64::from(hook.enabled))
        .bind(hook.updated_at)
        .bind(&hook.id)
        .execute(self.pool())
        .await?;
        drop(changing);
        self.synced().await?;
        if done.rows_affected() > 0 {
            self.announce(Notice::WebhooksChanged).await?;
        }
        Ok(done.rows_affected() > 0)
    }

    /// One webhook.
    pub async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reads())
            .await?
            .as_ref()
            .map(|row| self.webhook_from_row(row))
            .transpose()
    }

    /// All webhooks, oldest first.
    pub async fn list_webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM webhooks ORDER BY created_at, id"
        ))
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(|row| self.webhook_from_row(row))
        .collect()
    }

    /// A page of webhooks in `(created_at, id)` order after `after` (the previous page's last
    /// webhook), at most `limit`.
    pub async fn list_webhooks_page(
        &self,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<Webhook>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM webhooks \
             WHERE ($1 IS NULL OR created_at > $1 OR (created_at = $1 AND id > $2)) \
             ORDER BY created_at, id LIMIT $3"
        ))
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(limit)
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(|row| self.webhook_from_row(row))
        .collect()
    }

    /// Disables an endpoint that answered `410 Gone` and records `webhook.disabled` in the
    /// same transaction. False (and no event) if it is absent or already disabled, so several
    /// replicas' workers meeting the same 410 record it once.
    pub async fn disable_gone_webhook(&self, hook: &Webhook, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        tx.writes_webhooks();
        let done = sqlx::query(
            "UPDATE webhooks SET enabled = 0, updated_at = $1 WHERE id = $2 AND enabled = 1",
        )
        .bind(now)
        .bind(&hook.id)
        .execute(tx.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        tx.append_event(&crate::store::events::NewEvent {
            account: None,
            conversation: None,
            timestamp: now,
            data: crate::events::EventData::webhook_disabled(&hook.id, &hook.url),
        })
        .await?;
        tx.announce_on_commit(Notice::WebhooksChanged);
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes a webhook and its deliveries. False if absent.
    pub async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        tx.writes_webhooks();
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
            .bind(id)
            .execute(tx.conn())
            .await?;
        let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(tx.conn())
            .await?;
        tx.announce_on_commit(Notice::WebhooksChanged);
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}

/// See [`Store::webhooks_changing`].
struct HooksChanging(Arc<HookCache>);

impl Drop for HooksChanging {
    fn drop(&mut self) {
        self.0.invalidate();
    }
}
