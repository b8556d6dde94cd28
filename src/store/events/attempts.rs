//! One attempt of one delivery, as the webhook worker sees it: claim the row, read what the
//! attempt needs, record the outcome, find the conversation's next pending head.
//!
//! On SQLite each pair that follows the other runs as one multi-statement query on the
//! writer's connection ([`Store::claim_attempt`], [`Store::settle_attempt`]): one hand-off to
//! the connection's thread instead of two (the writer's, then a reader's), and the reads find
//! the writer's page cache warm where a reader's starts cold after every commit. Two hand-offs
//! fewer per delivery, for every message sent and received (issue 16). On PostgreSQL the
//! statements run one after the other, as their own functions do.
//!
//! The pairs are read with `fetch_all`: `sqlx`'s `Any` driver answers `fetch_optional` from
//! the first result only, which for a pair is the `UPDATE`'s (no row). SQLite is the one
//! backend `sqlx` lets run several statements in one query (a behaviour its docs call
//! deprecated): `tests/store_retention.rs` checks both backends' answers.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row as _};

use super::deliveries::{delivery_from_row, DELIVERY_COLUMNS};
use super::{event_from_row, AttemptOutcome, Delivery, DeliveryStatus, Event, EVENT_COLUMNS};
use crate::store::webhooks::{Webhook, COLUMNS as WEBHOOK_COLUMNS};
use crate::store::{Backend, Store, StoreError};

/// A claimed delivery ([`Store::claim_attempt`]).
#[derive(Debug)]
pub struct ClaimedAttempt {
    /// The row as claimed.
    pub delivery: Delivery,
    /// The webhook as it is now.
    pub hook: Webhook,
    /// The delivery's event, if it still exists.
    pub event: Option<Event>,
}

/// The claim's compare-and-set (see [`Store::claim_delivery`]); binds `$1..$6` with
/// [`bind_claim`].
fn claim_sql(backend: Backend) -> String {
    format!(
        "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE webhook_id = $2 \
         AND event_cursor = $3 AND status = 'pending' AND attempts = $4 \
         AND next_attempt_at = $5 AND next_attempt_at <= $6 AND event_cursor IN \
         (SELECT event_cursor FROM webhook_deliveries WHERE webhook_id = $2 \
         AND event_cursor = $3 AND status = 'pending' AND attempts = $4 \
         AND next_attempt_at = $5 AND next_attempt_at <= $6{})",
        backend.skip_locked()
    )
}

fn bind_claim<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    webhook_id: &'q str,
    delivery: &Delivery,
    now: i64,
    until: i64,
) -> Query<'q, Any, AnyArguments<'q>> {
    query
        .bind(until)
        .bind(webhook_id)
        .bind(delivery.event_cursor)
        .bind(delivery.attempts)
        .bind(delivery.next_attempt_at)
        .bind(now)
}

/// The webhook (parameter `hook`) joined with the event (parameter `cursor`). The two tables
/// share no column name, so neither list needs a qualifier.
fn inputs_sql(hook: &str, cursor: &str) -> String {
    format!(
        "SELECT {WEBHOOK_COLUMNS}, {EVENT_COLUMNS} FROM webhooks \
         LEFT JOIN events ON events.cursor = {cursor} WHERE webhooks.id = {hook}"
    )
}

/// The outcome's compare-and-set (see [`Store::record_attempt`]); binds `$1..$9` with
/// [`bind_record`].
const RECORD_SQL: &str = "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, \
     next_attempt_at = $2, first_attempt_at = COALESCE(first_attempt_at, $3), \
     last_attempt_at = $3, last_status = $4, last_error = $5 \
     WHERE webhook_id = $6 AND event_cursor = $7 AND status = 'pending' \
     AND attempts = $8 AND next_attempt_at = $9";

fn bind_record<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    webhook_id: &'q str,
    delivery: &Delivery,
    now: i64,
    outcome: &'q AttemptOutcome,
) -> Query<'q, Any, AnyArguments<'q>> {
    let (status, http, error, next) = match outcome {
        AttemptOutcome::Delivered { status } => {
            (DeliveryStatus::Delivered, Some(*status), None, now)
        }
        AttemptOutcome::Failed {
            status,
            error,
            next_attempt_at,
        } => match next_attempt_at {
            Some(at) => (DeliveryStatus::Pending, *status, Some(error.as_str()), *at),
            None => (DeliveryStatus::Dead, *status, Some(error.as_str()), now),
        },
    };
    query
        .bind(status.as_str())
        .bind(next)
        .bind(now)
        .bind(http.map(i64::from))
        .bind(error)
        .bind(webhook_id)
        .bind(delivery.event_cursor)
        .bind(delivery.attempts)
        .bind(delivery.next_attempt_at)
}

/// The oldest pending delivery of one webhook (parameter `hook`) in one conversation
/// (parameter `order_key`): one seek in the index of pending deliveries.
fn head_sql(hook: &str, order_key: &str) -> String {
    format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
         WHERE webhook_id = {hook} AND status = 'pending' AND order_key = {order_key} \
         ORDER BY event_cursor LIMIT 1"
    )
}

impl Store {
    /// What one attempt of a delivery needs, in one read: the webhook `webhook_id` as it is
    /// now (a secret rotated or a URL changed since its worker started applies already), and
    /// the event `cursor`, if each still exists.
    pub async fn attempt_inputs(
        &self,
        webhook_id: &str,
        cursor: i64,
    ) -> Result<Option<(Webhook, Option<Event>)>, StoreError> {
        sqlx::query(&inputs_sql("$1", "$2"))
            .bind(webhook_id)
            .bind(cursor)
            .fetch_optional(self.reads())
            .await?
            .map(|row| self.inputs_from_row(&row))
            .transpose()
    }

    /// The head of one conversation's pending queue for one webhook: its oldest pending
    /// delivery, if any. The worker looks here after an attempt, when only that
    /// conversation's head can have changed, instead of scanning every queue again
    /// ([`Store::pending_heads`]).
    pub async fn pending_head(
        &self,
        webhook_id: &str,
        order_key: &str,
    ) -> Result<Option<Delivery>, StoreError> {
        sqlx::query(&head_sql("$1", "$2"))
            .bind(webhook_id)
            .bind(order_key)
            .fetch_optional(self.reads())
            .await?
            .as_ref()
            .map(delivery_from_row)
            .transpose()
    }

    /// Claims a delivery due at `now` for one attempt by moving its `next_attempt_at` to `until`, so no
    /// other worker (on any replica) attempts it before this one records the outcome or, if
    /// this replica dies mid-attempt, before `until` passes (then it is retried: at-least-once,
    /// same event id). Returns the claimed row, or `None` if another worker claimed it or it
    /// changed since it was read. On PostgreSQL the row is picked `FOR UPDATE SKIP LOCKED`:
    /// a claimer never waits behind another's claim of the same row. The compare-and-set
    /// conditions are repeated on the outer `UPDATE`: a sub-select reads its own snapshot, and
    /// only the outer statement re-checks them on the newest row version (READ COMMITTED).
    pub async fn claim_delivery(
        &self,
        webhook_id: &str,
        delivery: &Delivery,
        now: i64,
        until: i64,
    ) -> Result<Option<Delivery>, StoreError> {
        let sql = claim_sql(self.backend());
        let claim = bind_claim(sqlx::query(&sql), webhook_id, delivery, now, until);
        let done = self.execute_relaxed(claim).await?;
        Ok((done.rows_affected() > 0).then(|| claimed(delivery, until)))
    }

    /// [`Store::claim_delivery`], then, if claimed, [`Store::attempt_inputs`] of the claimed
    /// row: `None` if the row was not claimed or the webhook is gone. On SQLite in one query
    /// on the writer (see the module docs): its `SELECT` answers only if the `UPDATE` before
    /// it changed the row (`changes()`).
    pub async fn claim_attempt(
        &self,
        webhook_id: &str,
        delivery: &Delivery,
        now: i64,
        until: i64,
    ) -> Result<Option<ClaimedAttempt>, StoreError> {
        let inputs = if self.backend() == Backend::Postgres {
            if self
                .claim_delivery(webhook_id, delivery, now, until)
                .await?
                .is_none()
            {
                return Ok(None);
            }
            self.attempt_inputs(webhook_id, delivery.event_cursor)
                .await?
        } else {
            let sql = format!(
                "{}; {} AND changes() > 0",
                claim_sql(Backend::Sqlite),
                inputs_sql("$2", "$3")
            );
            bind_claim(sqlx::query(&sql), webhook_id, delivery, now, until)
                .fetch_all(&self.pool)
                .await?
                .first()
                .map(|row| self.inputs_from_row(row))
                .transpose()?
        };
        Ok(inputs.map(|(hook, event)| ClaimedAttempt {
            delivery: claimed(delivery, until),
            hook,
            event,
        }))
    }

    /// Records one attempt's outcome on `delivery` (the row as read before the attempt). If the
    /// row changed meanwhile (a replay reset it), the outcome is dropped: the replay wins and the
    /// event is sent again.
    pub async fn record_attempt(
        &self,
        webhook_id: &str,
        delivery: &Delivery,
        now: i64,
        outcome: &AttemptOutcome,
    ) -> Result<(), StoreError> {
        let record = bind_record(sqlx::query(RECORD_SQL), webhook_id, delivery, now, outcome);
        self.execute_relaxed(record).await?;
        Ok(())
    }

    /// [`Store::record_attempt`], then the [`Store::pending_head`] of the delivery's
    /// conversation as it is after the record. On SQLite in one query on the writer (see the
    /// module docs).
    pub async fn settle_attempt(
        &self,
        webhook_id: &str,
        delivery: &Delivery,
        now: i64,
        outcome: &AttemptOutcome,
    ) -> Result<Option<Delivery>, StoreError> {
        if self.backend() == Backend::Postgres {
            self.record_attempt(webhook_id, delivery, now, outcome)
                .await?;
            return self.pending_head(webhook_id, &delivery.order_key).await;
        }
        let sql = format!("{RECORD_SQL}; {}", head_sql("$6", "$10"));
        let query = bind_record(sqlx::query(&sql), webhook_id, delivery, now, outcome)
            .bind(delivery.order_key.as_str());
        query
            .fetch_all(&self.pool)
            .await?
            .first()
            .map(delivery_from_row)
            .transpose()
    }

    fn inputs_from_row(&self, row: &AnyRow) -> Result<(Webhook, Option<Event>), StoreError> {
        let hook = self.webhook_from_row(row)?;
        let event = match row.try_get::<Option<i64>, _>("cursor")? {
            Some(_) => Some(event_from_row(row)?),
            None => None,
        };
        Ok((hook, event))
    }
}

/// `delivery` as its claim left it.
fn claimed(delivery: &Delivery, until: i64) -> Delivery {
    Delivery {
        next_attempt_at: until,
        ..delivery.clone()
    }
}
