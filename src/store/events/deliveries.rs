//! Per-webhook delivery state (`webhook_deliveries`): what each webhook has been sent of the
//! outbox, claimed, retried, listed and replayed. Rows are created with their event (see
//! [`super`]) or, for webhooks that missed events, by a replay.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::{event_from_row, event_id, Event, EVENT_COLUMNS};
use crate::store::{opt_json_column, Notice, Store, StoreError, StoreTx};

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx was received.
    Delivered,
    /// Failed for longer than `webhooks.dead_after_secs`; replay re-queues it.
    Dead,
}

impl DeliveryStatus {
    /// Column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "dead" => Ok(Self::Dead),
            other => Err(StoreError::Corrupt(format!("delivery status {other:?}"))),
        }
    }
}

/// One webhook's delivery state for one event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// The event id (`evt_<cursor>`).
    pub event_id: String,
    /// Status.
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: i64,
    /// Next attempt time, ms (meaningful while pending).
    pub next_attempt_at: i64,
    /// First attempt time, ms.
    pub first_attempt_at: Option<i64>,
    /// Last attempt time, ms.
    pub last_attempt_at: Option<i64>,
    /// HTTP status of the last attempt, if one was received.
    pub last_status: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Ordering key: deliveries with the same key go out one at a time, in cursor order.
    #[serde(skip)]
    pub order_key: String,
    /// The event's cursor.
    #[serde(skip)]
    pub event_cursor: i64,
}

/// The outcome of one attempt, recorded by [`Store::record_attempt`].
#[derive(Clone, Debug)]
pub enum AttemptOutcome {
    /// 2xx.
    Delivered {
        /// The HTTP status.
        status: u16,
    },
    /// Failed; retry at `next_attempt_at`, or dead-letter when `None`.
    Failed {
        /// HTTP status, if a response came.
        status: Option<u16>,
        /// Short reason (no secrets, no bodies).
        error: String,
        /// When to retry; `None` = dead.
        next_attempt_at: Option<i64>,
    },
}

/// Which deliveries a replay re-queues.
#[derive(Clone, Debug, Default)]
pub struct ReplayFilter {
    /// Re-queue every delivery (and create missing ones) for events at or after this cursor;
    /// without it only dead deliveries are re-queued.
    pub from_cursor: Option<i64>,
}

pub(super) fn delivery_from_row(row: &AnyRow) -> Result<Delivery, StoreError> {
    let cursor: i64 = row.try_get("event_cursor")?;
    Ok(Delivery {
        event_id: event_id(cursor),
        status: DeliveryStatus::parse(&row.try_get::<String, _>("status")?)?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        first_attempt_at: row.try_get("first_attempt_at")?,
        last_attempt_at: row.try_get("last_attempt_at")?,
        last_status: row.try_get("last_status")?,
        last_error: row.try_get("last_error")?,
        order_key: row.try_get("order_key")?,
        event_cursor: cursor,
    })
}

/// Just the filter columns of a webhook, to fan an event out without opening secrets.
#[derive(Debug)]
pub(in crate::store) struct HookFilter {
    pub(super) id: String,
    pub(super) events: Option<Vec<String>>,
    pub(super) accounts: Option<Vec<String>>,
}

impl HookFilter {
    pub(super) fn matches(&self, event_type: &str, account: Option<&str>) -> bool {
        let type_ok = self
            .events
            .as_ref()
            .is_none_or(|t| t.iter().any(|t| t == event_type));
        let account_ok = match (&self.accounts, account) {
            (None, _) => true,
            (Some(list), Some(a)) => list.iter().any(|x| x == a),
            (Some(_), None) => false,
        };
        type_ok && account_ok
    }
}

pub(super) fn order_key(account: Option<&str>, conversation: Option<&str>) -> String {
    format!("{}/{}", account.unwrap_or(""), conversation.unwrap_or(""))
}

/// `columns` of a webhook's (`$1`) queue heads, at most `$2`: each conversation's oldest
/// pending delivery `d` (joined with `join`), oldest first. The CTEs' columns (`order_key`,
/// `head_cursor`) are named apart from the tables', so `columns` need no qualifier.
///
/// `queues` walks the conversations that have pending deliveries, one order key after the
/// next (a loose index scan: each step is one seek in the index of pending deliveries,
/// migration 0016), and `heads` finds each one's oldest with one more seek. A scan costs a few
/// seeks per conversation however many deliveries wait: the scan it replaced read every
/// pending delivery, which after a receiver's outage of minutes meant thousands of rows read
/// after every attempt (50 ms a scan at 60,000 pending, against 0.1 ms now). `CROSS JOIN`
/// keeps SQLite from putting the deliveries table in the outer loop (SQLite 3.46 does
/// otherwise: every delivery row against every head); PostgreSQL treats it as a plain join.
fn heads(columns: &str, join: &str) -> String {
    format!(
        "WITH RECURSIVE queues (order_key) AS ( \
         SELECT MIN(order_key) FROM webhook_deliveries \
         WHERE webhook_id = $1 AND status = 'pending' \
         UNION ALL \
         SELECT (SELECT MIN(q.order_key) FROM webhook_deliveries q \
         WHERE q.webhook_id = $1 AND q.status = 'pending' AND q.order_key > queues.order_key) \
         FROM queues WHERE queues.order_key IS NOT NULL), \
         heads (head_cursor) AS ( \
         SELECT (SELECT MIN(h.event_cursor) FROM webhook_deliveries h \
         WHERE h.webhook_id = $1 AND h.status = 'pending' AND h.order_key = queues.order_key) \
         FROM queues WHERE queues.order_key IS NOT NULL) \
         SELECT {columns} FROM heads CROSS JOIN webhook_deliveries d {join} \
         WHERE d.webhook_id = $1 AND d.event_cursor = heads.head_cursor \
         ORDER BY d.event_cursor LIMIT $2"
    )
}

pub(super) const DELIVERY_COLUMNS: &str =
    "event_cursor, order_key, status, attempts, next_attempt_at, \
     first_attempt_at, last_attempt_at, last_status, last_error";

pub(super) async fn enabled_hooks(
    conn: &mut sqlx::AnyConnection,
) -> Result<Vec<HookFilter>, StoreError> {
    sqlx::query("SELECT id, events, accounts FROM webhooks WHERE enabled = 1")
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| {
            Ok(HookFilter {
                id: row.try_get("id")?,
                events: opt_json_column(row, "events")?,
                accounts: opt_json_column(row, "accounts")?,
            })
        })
        .collect()
}
impl Store {
    /// The head of each conversation's pending queue for one webhook (its oldest pending
    /// delivery), with its event, oldest first. Only heads may be attempted, which keeps order per
    /// conversation; a long backlog in one conversation never hides the others.
    pub async fn pending_deliveries(
        &self,
        webhook_id: &str,
        limit: i64,
    ) -> Result<Vec<(Delivery, Event)>, StoreError> {
        sqlx::query(&heads(
            &format!("{DELIVERY_COLUMNS}, {EVENT_COLUMNS}"),
            "JOIN events e ON e.cursor = d.event_cursor",
        ))
        .bind(webhook_id)
        .bind(limit)
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(|row| Ok((delivery_from_row(row)?, event_from_row(row)?)))
        .collect()
    }

    /// [`Store::pending_deliveries`] without the events: the worker's scan, which runs after
    /// every attempt and reads each conversation's head, though only the few it attempts need
    /// their event ([`Store::event`]). With many conversations, parsing every head's event on
    /// every pass was a cost per delivery that grew with the number of conversations.
    pub async fn pending_heads(
        &self,
        webhook_id: &str,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        sqlx::query(&heads(DELIVERY_COLUMNS, ""))
            .bind(webhook_id)
            .bind(limit)
            .fetch_all(self.reads())
            .await?
            .iter()
            .map(delivery_from_row)
            .collect()
    }

    /// A webhook's deliveries, newest event first, optionally with one status, of events
    /// older than `before` (a cursor: the previous page's last), at most `limit`.
    pub async fn list_deliveries(
        &self,
        webhook_id: &str,
        status: Option<DeliveryStatus>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 \
             AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR event_cursor < $3) \
             ORDER BY event_cursor DESC LIMIT $4"
        ))
        .bind(webhook_id)
        .bind(status.map(DeliveryStatus::as_str))
        .bind(before)
        .bind(limit)
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(delivery_from_row)
        .collect()
    }

    /// Re-queues deliveries of one webhook (see [`ReplayFilter`]); returns how many.
    pub async fn replay_deliveries(
        &self,
        webhook_id: &str,
        filter: &ReplayFilter,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let reset = "status = 'pending', attempts = 0, next_attempt_at = $1, \
             first_attempt_at = NULL, last_error = NULL";
        let count = match filter.from_cursor {
            None => sqlx::query(&format!(
                "UPDATE webhook_deliveries SET {reset} WHERE webhook_id = $2 AND status = 'dead'"
            ))
            .bind(now)
            .bind(webhook_id)
            .execute(tx.conn())
            .await?
            .rows_affected(),
            Some(from) => {
                let hook = enabled_hooks(tx.conn())
                    .await?
                    .into_iter()
                    .find(|h| h.id == webhook_id);
                let mut count = sqlx::query(&format!(
                    "UPDATE webhook_deliveries SET {reset} WHERE webhook_id = $2 \
                     AND event_cursor >= $3"
                ))
                .bind(now)
                .bind(webhook_id)
                .bind(from)
                .execute(tx.conn())
                .await?
                .rows_affected();
                if let Some(hook) = hook {
                    count += insert_missing(&mut tx, &hook, from, now).await?;
                }
                count
            }
        };
        tx.announce_on_commit(Notice::WebhooksChanged);
        tx.commit().await?;
        Ok(count)
    }
}

/// Creates deliveries for matching events from `from` on that the webhook never had (it was
/// created later, or filtered them out then).
async fn insert_missing(
    tx: &mut StoreTx,
    hook: &HookFilter,
    from: i64,
    now: i64,
) -> Result<u64, StoreError> {
    let rows = sqlx::query(
        "SELECT e.cursor, e.type, e.account, e.conversation FROM events e \
         WHERE e.cursor >= $1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
         WHERE d.webhook_id = $2 AND d.event_cursor = e.cursor) ORDER BY e.cursor LIMIT 100000",
    )
    .bind(from)
    .bind(&hook.id)
    .fetch_all(tx.conn())
    .await?;
    let mut count = 0;
    for row in rows {
        let event_type: String = row.try_get("type")?;
        let account: Option<String> = row.try_get("account")?;
        let conversation: Option<String> = row.try_get("conversation")?;
        if !hook.matches(&event_type, account.as_deref()) {
            continue;
        }
        sqlx::query(
            "INSERT INTO webhook_deliveries (webhook_id, event_cursor, order_key, status, \
             attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, 'pending', 0, $4, $4)",
        )
        .bind(&hook.id)
        .bind(row.try_get::<i64, _>("cursor")?)
        .bind(order_key(account.as_deref(), conversation.as_deref()))
        .bind(now)
        .execute(tx.conn())
        .await?;
        count += 1;
    }
    Ok(count)
}
