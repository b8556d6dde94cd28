//! What the status page (`GET /`, issue 15) reads: every account with its health in one query,
//! each webhook's delivery queue, and the latest failures of any kind (sends, deliveries,
//! polls), newest first.

use serde::Serialize;
use sqlx::Row as _;

use super::accounts::{account_from_row, Account};
use super::health::{health_from_row, AccountHealth, HEALTH_COLUMNS};
use super::{Store, StoreError};

/// One account with its health.
#[derive(Clone, Debug)]
pub struct AccountOverview {
    /// The account.
    pub account: Account,
    /// Its polls, as the replica running it last wrote them.
    pub health: AccountHealth,
}

/// One webhook's delivery queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WebhookQueue {
    /// The webhook's id.
    pub id: String,
    /// Where it delivers.
    pub url: String,
    /// Whether it is attempted.
    pub enabled: bool,
    /// Deliveries waiting (the queue).
    pub pending: i64,
    /// Dead-lettered deliveries.
    pub dead: i64,
    /// Delivered (and not pruned yet).
    pub delivered: i64,
    /// The newest error of an undelivered delivery, with its time (ms).
    pub last_error: Option<String>,
    /// When it happened, ms.
    pub last_error_at: Option<i64>,
}

/// What failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// An outgoing message failed (retries or deadline exhausted, or refused).
    Send,
    /// A webhook delivery attempt failed (it is retried, or dead).
    Delivery,
    /// An account's poll failed.
    Poll,
}

/// One recent failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Failure {
    /// When, ms.
    pub at: i64,
    /// What failed.
    pub kind: FailureKind,
    /// The account (send, poll) or webhook (delivery) it belongs to.
    pub subject: String,
    /// The message id (send) or event id (delivery); `null` for a poll.
    pub item: Option<String>,
    /// Why.
    pub error: String,
}

impl Store {
    /// Up to `limit` accounts, oldest first, each with its health.
    pub async fn accounts_overview(&self, limit: i64) -> Result<Vec<AccountOverview>, StoreError> {
        sqlx::query(&format!(
            "SELECT a.session_id, a.display_name, a.status, a.created_at, a.updated_at, \
             {HEALTH_COLUMNS} FROM accounts a \
             LEFT JOIN account_health h ON h.account = a.session_id \
             LEFT JOIN account_leases l ON l.account = a.session_id \
             ORDER BY a.created_at, a.session_id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(|row| {
            Ok(AccountOverview {
                account: account_from_row(row)?,
                health: health_from_row(row)?,
            })
        })
        .collect()
    }

    /// Every webhook's queue, oldest webhook first.
    pub async fn webhook_queues(&self) -> Result<Vec<WebhookQueue>, StoreError> {
        let mut queues: Vec<WebhookQueue> =
            sqlx::query("SELECT id, url, enabled FROM webhooks ORDER BY created_at, id")
                .fetch_all(self.reads())
                .await?
                .iter()
                .map(|row| {
                    Ok(WebhookQueue {
                        id: row.try_get("id")?,
                        url: row.try_get("url")?,
                        enabled: row.try_get::<i64, _>("enabled")? != 0,
                        pending: 0,
                        dead: 0,
                        delivered: 0,
                        last_error: None,
                        last_error_at: None,
                    })
                })
                .collect::<Result<_, StoreError>>()?;
        let counts = sqlx::query(
            "SELECT webhook_id, status, COUNT(*) AS n FROM webhook_deliveries \
             GROUP BY webhook_id, status",
        )
        .fetch_all(self.reads())
        .await?;
        for row in &counts {
            let id: String = row.try_get("webhook_id")?;
            let status: String = row.try_get("status")?;
            let n: i64 = row.try_get("n")?;
            if let Some(queue) = queues.iter_mut().find(|q| q.id == id) {
                match status.as_str() {
                    "pending" => queue.pending = n,
                    "dead" => queue.dead = n,
                    _ => queue.delivered += n,
                }
            }
        }
        for failure in self.delivery_failures(1000).await? {
            if let Some(queue) = queues.iter_mut().find(|q| q.id == failure.subject) {
                if queue.last_error_at.is_none_or(|at| at < failure.at) {
                    queue.last_error = Some(failure.error);
                    queue.last_error_at = Some(failure.at);
                }
            }
        }
        Ok(queues)
    }

    /// The `limit` newest failures of any kind, newest first.
    pub async fn recent_failures(&self, limit: i64) -> Result<Vec<Failure>, StoreError> {
        let mut all = self.delivery_failures(limit).await?;
        let sends = sqlx::query(
            "SELECT id, account, failure_reason, updated_at FROM messages \
             WHERE status = 'failed' ORDER BY updated_at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.reads())
        .await?;
        for row in &sends {
            all.push(Failure {
                at: row.try_get("updated_at")?,
                kind: FailureKind::Send,
                subject: row.try_get("account")?,
                item: Some(row.try_get("id")?),
                error: row
                    .try_get::<Option<String>, _>("failure_reason")?
                    .unwrap_or_default(),
            });
        }
        let polls = sqlx::query(
            "SELECT account, last_error, last_error_at FROM account_health \
             WHERE last_error IS NOT NULL AND last_error_at IS NOT NULL \
             ORDER BY last_error_at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.reads())
        .await?;
        for row in &polls {
            all.push(Failure {
                at: row.try_get("last_error_at")?,
                kind: FailureKind::Poll,
                subject: row.try_get("account")?,
                item: None,
                error: row.try_get("last_error")?,
            });
        }
        all.sort_by_key(|f| std::cmp::Reverse(f.at));
        all.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(all)
    }

    /// The newest failed attempts of deliveries not delivered since.
    async fn delivery_failures(&self, limit: i64) -> Result<Vec<Failure>, StoreError> {
        sqlx::query(
            "SELECT webhook_id, event_cursor, last_error, last_attempt_at FROM webhook_deliveries \
             WHERE status IN ('pending', 'dead') AND last_error IS NOT NULL \
             AND last_attempt_at IS NOT NULL ORDER BY last_attempt_at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(|row| {
            Ok(Failure {
                at: row.try_get("last_attempt_at")?,
                kind: FailureKind::Delivery,
                subject: row.try_get("webhook_id")?,
                item: Some(super::events::event_id(row.try_get("event_cursor")?)),
                error: row.try_get("last_error")?,
            })
        })
        .collect()
    }
}
