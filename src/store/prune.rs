//! Retention by age (issue 15): what a busy gateway stops keeping once it is old enough, so the
//! database reaches a steady size instead of growing with every message. The retention job
//! ([`crate::actors::retention`]) calls [`Store::prune`] once a minute with the configured
//! [`RetentionPolicy`]; each kind is pruned in bounded batches, oldest first:
//!
//! * **Deliveries** that are finished (`delivered`, or `dead` and not replayed since) and whose
//!   last attempt is older than the limit.
//! * **Events** older than the limit that no webhook still needs: an event with a `pending`
//!   delivery (not yet delivered, or waiting for a disabled webhook) or a `dead` one (which a
//!   replay may still send) is kept; its delivered deliveries go with it.
//! * **Messages** stored longer ago than the limit and no longer queued, each with what it left
//!   elsewhere ([`StoreTx::forget_message_content`]: event bodies redacted, attachments and
//!   quoted text dropped), as an expired message is.
//! * **Attachment bytes** stored longer ago than the limit, of messages no longer queued: the
//!   row stays with status `expired` (the API says so), only the bytes go.
//!
//! Time is an argument (`now`), so tests prune "eight days later" without waiting. Two replicas
//! may prune at once: on PostgreSQL each batch takes its rows `FOR UPDATE SKIP LOCKED`, so the
//! two take different rows, and every delete repeats its condition, so a row that changed in
//! between (a dead delivery replayed) is left alone.

use std::time::Duration;

use sqlx::Row as _;

use super::sql::placeholders;
use super::{Store, StoreError, StoreTx};

/// How long each kind of row is kept (`None`: forever), and how many of each one round prunes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Events no webhook still needs.
    pub events: Option<Duration>,
    /// Finished webhook deliveries.
    pub deliveries: Option<Duration>,
    /// Messages (with their events' content).
    pub messages: Option<Duration>,
    /// Attachment bytes (the rows stay).
    pub attachment_bytes: Option<Duration>,
    /// Most rows of each kind one [`Store::prune`] call removes.
    pub batch: u32,
}

impl Default for RetentionPolicy {
    /// Keeps everything.
    fn default() -> Self {
        Self {
            events: None,
            deliveries: None,
            messages: None,
            attachment_bytes: None,
            batch: 1000,
        }
    }
}

/// How many rows one [`Store::prune`] call removed, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Events deleted.
    pub events: u64,
    /// Deliveries deleted (on their own, or with their event).
    pub deliveries: u64,
    /// Messages deleted.
    pub messages: u64,
    /// Attachments whose bytes were dropped.
    pub attachment_bytes: u64,
}

impl Pruned {
    /// Whether nothing was removed.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Rows per transaction: a SQLite gateway has one connection, so a batch holds it briefly.
const EVENTS_PER_TX: i64 = 500;
/// Messages per transaction (each is several statements: its events, quotes, attachments).
const MESSAGES_PER_TX: i64 = 100;

/// `now - age` in ms, the time before which a row is old enough.
fn cutoff(now: i64, age: Duration) -> i64 {
    now.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX))
}

impl Store {
    /// One round of retention at time `now` (ms): each kind the policy limits, oldest first, at
    /// most `policy.batch` rows of each.
    pub async fn prune(&self, policy: &RetentionPolicy, now: i64) -> Result<Pruned, StoreError> {
        let batch = i64::from(policy.batch.max(1));
        let mut pruned = Pruned::default();
        if let Some(age) = policy.deliveries {
            pruned.deliveries += self.prune_deliveries(cutoff(now, age), batch).await?;
        }
        if let Some(age) = policy.events {
            let (events, deliveries) = self.prune_events(cutoff(now, age), batch).await?;
            pruned.events += events;
            pruned.deliveries += deliveries;
        }
        if let Some(age) = policy.messages {
            pruned.messages += self.prune_messages(cutoff(now, age), batch).await?;
        }
        if let Some(age) = policy.attachment_bytes {
            pruned.attachment_bytes += self
                .prune_attachment_bytes(cutoff(now, age), now, batch)
                .await?;
        }
        Ok(pruned)
    }

    /// Deletes up to `limit` finished deliveries last attempted before `before`.
    async fn prune_deliveries(&self, before: i64, limit: i64) -> Result<u64, StoreError> {
        let finished = "status IN ('delivered', 'dead') AND last_attempt_at < $1";
        let sql = format!(
            "DELETE FROM webhook_deliveries WHERE {finished} AND (webhook_id, event_cursor) IN \
             (SELECT webhook_id, event_cursor FROM webhook_deliveries WHERE {finished} \
             ORDER BY last_attempt_at LIMIT $2{})",
            self.backend().skip_locked()
        );
        let query = sqlx::query(&sql).bind(before).bind(limit);
        let done = self.execute_synced(query).await?;
        Ok(done.rows_affected())
    }

    /// Deletes up to `limit` events recorded before `before` that no webhook still needs, with
    /// their delivered deliveries. Returns (events, deliveries) deleted.
    async fn prune_events(&self, before: i64, limit: i64) -> Result<(u64, u64), StoreError> {
        let mut total = (0, 0);
        while total.0 < u64::try_from(limit).unwrap_or(0) {
            let room = limit - i64::try_from(total.0).unwrap_or(limit);
            let mut tx = self.begin().await?;
            let (events, deliveries) = tx.prune_events(before, room.min(EVENTS_PER_TX)).await?;
            tx.commit().await?;
            total = (total.0 + events, total.1 + deliveries);
            if events == 0 {
                break;
            }
        }
        Ok(total)
    }

    /// Deletes up to `limit` messages stored before `before` that are not queued, with what
    /// they left in events, quotes and attachments.
    async fn prune_messages(&self, before: i64, limit: i64) -> Result<u64, StoreError> {
        let mut total = 0;
        while total < u64::try_from(limit).unwrap_or(0) {
            let room = limit - i64::try_from(total).unwrap_or(limit);
            let mut tx = self.begin().await?;
            let deleted = tx.prune_messages(before, room.min(MESSAGES_PER_TX)).await?;
            tx.commit().await?;
            total += deleted;
            if deleted == 0 {
                break;
            }
        }
        Ok(total)
    }

    /// Drops the bytes of up to `limit` attachments stored before `before` whose message is
    /// not queued; their rows stay, with status `expired`.
    async fn prune_attachment_bytes(
        &self,
        before: i64,
        now: i64,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let old = "a.data IS NOT NULL AND a.created_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM messages m WHERE m.id = a.message_id AND m.status = 'queued')";
        let sql = format!(
            "UPDATE attachments SET data = NULL, data_sealed = 0, status = 'expired', \
             updated_at = $2 WHERE id IN (SELECT a.id FROM attachments a WHERE {old} \
             ORDER BY a.created_at LIMIT $3{}) AND data IS NOT NULL",
            self.backend().skip_locked()
        );
        let query = sqlx::query(&sql).bind(before).bind(now).bind(limit);
        let done = self.execute_synced(query).await?;
        Ok(done.rows_affected())
    }
}

impl StoreTx {
    /// One batch of [`Store::prune_events`].
    async fn prune_events(&mut self, before: i64, limit: i64) -> Result<(u64, u64), StoreError> {
        let cursors: Vec<i64> = sqlx::query(&format!(
            "SELECT e.cursor FROM events e WHERE e.timestamp < $1 AND NOT EXISTS \
             (SELECT 1 FROM webhook_deliveries d WHERE d.event_cursor = e.cursor \
             AND d.status <> 'delivered') ORDER BY e.timestamp LIMIT $2{}",
            self.backend().skip_locked()
        ))
        .bind(before)
        .bind(limit)
        .fetch_all(self.conn())
        .await?
        .iter()
        .map(|row| row.try_get("cursor"))
        .collect::<Result<_, _>>()?;
        if cursors.is_empty() {
            return Ok((0, 0));
        }
        let list = placeholders(1, cursors.len());
        // Only delivered rows: one replayed since the SELECT is pending again, and keeps both
        // itself and (through the NOT EXISTS below) its event.
        let sql = format!(
            "DELETE FROM webhook_deliveries WHERE status = 'delivered' AND event_cursor IN ({list})"
        );
        let mut query = sqlx::query(&sql);
        for cursor in &cursors {
            query = query.bind(cursor);
        }
        let deliveries = query.execute(self.conn()).await?.rows_affected();
        let sql = format!(
            "DELETE FROM events WHERE cursor IN ({list}) AND NOT EXISTS \
             (SELECT 1 FROM webhook_deliveries d WHERE d.event_cursor = events.cursor)"
        );
        let mut query = sqlx::query(&sql);
        for cursor in &cursors {
            query = query.bind(cursor);
        }
        let events = query.execute(self.conn()).await?.rows_affected();
        Ok((events, deliveries))
    }

    /// One batch of [`Store::prune_messages`].
    async fn prune_messages(&mut self, before: i64, limit: i64) -> Result<u64, StoreError> {
        let ids: Vec<String> = sqlx::query(&format!(
            "SELECT id FROM messages WHERE created_at < $1 AND status <> 'queued' \
             ORDER BY created_at LIMIT $2{}",
            self.backend().skip_locked()
        ))
        .bind(before)
        .bind(limit)
        .fetch_all(self.conn())
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()?;
        let mut deleted = 0;
        for id in ids {
            let done = sqlx::query("DELETE FROM messages WHERE id = $1 AND status <> 'queued'")
                .bind(&id)
                .execute(self.conn())
                .await?;
            if done.rows_affected() > 0 {
                self.forget_message_content(&id).await?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_never_overflow() {
        assert_eq!(cutoff(10_000, Duration::from_secs(1)), 9_000);
        assert_eq!(cutoff(0, Duration::MAX), -i64::MAX);
    }
}
