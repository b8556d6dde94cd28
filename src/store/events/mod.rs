//! The event outbox (`events`) and its per-webhook delivery state (`webhook_deliveries`).
//!
//! An event and one delivery row per matching webhook are written in the caller's transaction, so
//! an event can never exist without its deliveries (or the reverse). `cursor` is the monotonic
//! event number; the public event id is `evt_<cursor>`, identical on every retry.

mod attempts;
mod deliveries;
mod hook_cache;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::sql::placeholders;
use super::{json_column, to_json, Backend, Store, StoreError, StoreTx};

pub use attempts::ClaimedAttempt;
pub(super) use deliveries::HookFilter;
use deliveries::{enabled_hooks, order_key};
pub use deliveries::{AttemptOutcome, Delivery, DeliveryStatus, ReplayFilter};
pub(super) use hook_cache::HookCache;

pub use crate::events::{EventData, EventType};

/// A stored event as clients and webhooks see it: `{"id","type","account","timestamp","data"}`.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Event {
    /// `evt_<cursor>`; the same on every delivery attempt (`webhook-id`).
    pub id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The account the event belongs to (its Session ID), if any.
    pub account: Option<String>,
    /// When the event was recorded, ms since the Unix epoch.
    pub timestamp: i64,
    /// Type-specific payload (a message object for `message.*`).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// The monotonic cursor (`GET /v1/events?after=`).
    #[serde(skip)]
    pub cursor: i64,
}

/// An event to append.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// The account's Session ID.
    pub account: Option<String>,
    /// The conversation (peer Session ID) for ordering deliveries; `None` orders per account.
    pub conversation: Option<String>,
    /// Recorded time, ms.
    pub timestamp: i64,
    /// The typed body; it names the event type too.
    pub data: EventData,
}

/// `evt_<cursor>`.
pub fn event_id(cursor: i64) -> String {
    format!("evt_{cursor}")
}

/// Parses `evt_<cursor>` or a bare cursor.
pub fn parse_event_id(text: &str) -> Option<i64> {
    text.strip_prefix("evt_")
        .unwrap_or(text)
        .parse()
        .ok()
        .filter(|c| *c >= 0)
}

/// The columns [`event_from_row`] reads.
const EVENT_COLUMNS: &str = "cursor, type, account, timestamp, data";

fn event_from_row(row: &AnyRow) -> Result<Event, StoreError> {
    let cursor: i64 = row.try_get("cursor")?;
    Ok(Event {
        id: event_id(cursor),
        event_type: row.try_get("type")?,
        account: row.try_get("account")?,
        timestamp: row.try_get("timestamp")?,
        data: json_column(row, "data")?,
        cursor,
    })
}

/// The PostgreSQL advisory lock key that orders event cursors ("SGEV").
const EVENT_CURSOR_LOCK: i64 = 0x5347_4556;

impl StoreTx {
    /// Makes cursors commit in cursor order. A PostgreSQL sequence hands out numbers at insert
    /// time but transactions commit in any order, so a reader that saw cursor 8 could miss 7
    /// committing just after and never look back. Taking one transaction-level advisory lock
    /// before drawing from the sequence, and holding it to commit or rollback, makes event
    /// writers take turns: a cursor is drawn only after every lower one is committed or rolled
    /// back. Writers without events are not affected; SQLite's one connection already behaves
    /// this way.
    async fn lock_event_cursor(&mut self) -> Result<(), StoreError> {
        if self.backend() == Backend::Postgres && !self.event_lock {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(EVENT_CURSOR_LOCK)
                .execute(self.conn())
                .await?;
            self.event_lock = true;
        }
        Ok(())
    }

    /// Appends an event and a pending delivery for every enabled webhook it matches, in one
    /// statement (`append_sql`).
    pub async fn append_event(&mut self, event: &NewEvent) -> Result<Event, StoreError> {
        self.lock_event_cursor().await?;
        let event_type = event.data.event_type();
        // Through a `Value`, so the stored text and the returned `Event` agree key for key.
        let value =
            serde_json::to_value(&event.data).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let data = to_json(&value)?;
        let message_id = super::retention::content_of(event_type, &value);
        let key = order_key(event.account.as_deref(), event.conversation.as_deref());
        // The enabled webhooks are read once per transaction, at its first event (a poll's
        // batch appends many), and on SQLite kept between transactions ([`HookCache`]). A
        // webhook created while the transaction runs gets none of its events, as it would get
        // none of those appended before it was created.
        let hooks = match self.event_hooks.clone() {
            Some(hooks) => hooks,
            None => self.enabled_hooks().await?,
        };
        let matching: Vec<&str> = hooks
            .iter()
            .filter(|hook| hook.matches(event_type.as_str(), event.account.as_deref()))
            .map(|hook| hook.id.as_str())
            .collect();
        let sql = append_sql(self.backend(), matching.len());
        let mut query = sqlx::query(&sql)
            .bind(event_type.as_str())
            .bind(event.account.as_deref())
            .bind(event.conversation.as_deref())
            .bind(event.timestamp)
            .bind(&data)
            .bind(message_id)
            .bind(&key);
        for hook in &matching {
            query = query.bind(*hook);
        }
        // SQLite: the rows of every statement; the event's `RETURNING` is the only one.
        let rows = query.fetch_all(self.conn()).await?;
        let cursor: i64 = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("an event insert returned no cursor".into()))?
            .try_get("cursor")?;
        self.event_hooks = Some(hooks);
        self.on_commit.event_written(cursor);
        Ok(Event {
            id: event_id(cursor),
            event_type: event_type.as_str().to_owned(),
            account: event.account.clone(),
            timestamp: event.timestamp,
            data: value,
            cursor,
        })
    }
}

/// The statement that appends an event (`$1`–`$6`: type, account, conversation, timestamp,
/// data, message id) with a pending delivery, ordered by `$7`, for each of `hooks` webhooks
/// (`$8`, `$9`, …), and returns the event's `cursor`.
///
/// One round trip, not one per row (issue 16): on SQLite each statement is a hand-off to the
/// connection's thread and back, and every sent or received message appends an event. SQLite
/// runs the two inserts as one multi-statement query; the deliveries name the event as the
/// newest one (its cursor is `AUTOINCREMENT`, and nothing else writes between the two on the
/// one writer connection). PostgreSQL, which takes no multi-statement query with parameters,
/// inserts the deliveries from the event's `RETURNING` in a data-modifying `WITH`.
fn append_sql(backend: Backend, hooks: usize) -> String {
    const EVENT: &str = "INSERT INTO events (type, account, conversation, timestamp, data, \
                         message_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING cursor";
    const DELIVERY: &str = "INSERT INTO webhook_deliveries (webhook_id, event_cursor, \
                            order_key, status, attempts, next_attempt_at, created_at)";
    if hooks == 0 {
        return EVENT.to_owned();
    }
    let params = (0..hooks).map(|i| format!("${}", i + 8));
    match backend {
        Backend::Sqlite => {
            let rows: Vec<String> = params
                .map(|hook| {
                    format!("({hook}, (SELECT MAX(cursor) FROM events), $7, 'pending', 0, $4, $4)")
                })
                .collect();
            format!("{EVENT}; {DELIVERY} VALUES {}", rows.join(", "))
        }
        Backend::Postgres => {
            let hooks: Vec<String> = params.map(|hook| format!("({hook})")).collect();
            format!(
                "WITH event AS ({EVENT}), deliveries AS ({DELIVERY} \
                 SELECT hook.id, event.cursor, $7, 'pending', 0, $4, $4 \
                 FROM event, (VALUES {}) AS hook (id)) SELECT cursor FROM event",
                hooks.join(", ")
            )
        }
    }
}

impl StoreTx {
    /// The enabled webhooks' filters: from the cache when it holds them and this transaction
    /// changes no webhook ([`HookCache`]), else from the database.
    async fn enabled_hooks(&mut self) -> Result<std::sync::Arc<[HookFilter]>, StoreError> {
        let generation = if self.writes_webhooks {
            None // neither read nor filled: see `writes_webhooks`
        } else {
            match self.hook_cache.get() {
                Ok(hooks) => return Ok(hooks),
                Err(generation) => Some(generation),
            }
        };
        let hooks: std::sync::Arc<[HookFilter]> = enabled_hooks(self.conn()).await?.into();
        if let Some(generation) = generation {
            self.hook_cache.fill(generation, hooks.clone());
        }
        Ok(hooks)
    }

    /// This transaction changes a webhook: it reads the filters from the database (its own
    /// change included) and the cache is emptied now and when it commits.
    pub(in crate::store) fn writes_webhooks(&mut self) {
        self.writes_webhooks = true;
        self.event_hooks = None;
        self.hook_cache.invalidate();
    }
}

impl Store {
    /// Appends one event in its own transaction (tests and simple producers).
    pub async fn append_event(&self, event: &NewEvent) -> Result<Event, StoreError> {
        let mut tx = self.begin().await?;
        let stored = tx.append_event(event).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// The event at `cursor`, if it is still stored.
    pub async fn event(&self, cursor: i64) -> Result<Option<Event>, StoreError> {
        sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE cursor = $1"
        ))
        .bind(cursor)
        .fetch_optional(self.reads())
        .await?
        .as_ref()
        .map(event_from_row)
        .transpose()
    }

    /// Events after `cursor`, oldest first, optionally for one account.
    pub async fn events_after(
        &self,
        cursor: i64,
        account: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events \
             WHERE cursor > $1 AND ($2 IS NULL OR account = $2) ORDER BY cursor LIMIT $3"
        ))
        .bind(cursor)
        .bind(account)
        .bind(limit)
        .fetch_all(self.reads())
        .await?
        .iter()
        .map(event_from_row)
        .collect()
    }

    /// Events after `cursor`, oldest first, of any of `accounts` (every event when empty).
    pub async fn events_after_for(
        &self,
        cursor: i64,
        accounts: &[String],
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        if accounts.len() <= 1 {
            return self
                .events_after(cursor, accounts.first().map(String::as_str), limit)
                .await;
        }
        // `account IN ($3, $4, …)`: one placeholder per account (callers bound the count).
        let list = placeholders(3, accounts.len());
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events \
             WHERE cursor > $1 AND account IN ({list}) ORDER BY cursor LIMIT $2"
        );
        let mut query = sqlx::query(&sql).bind(cursor).bind(limit);
        for account in accounts {
            query = query.bind(account.as_str());
        }
        query
            .fetch_all(self.reads())
            .await?
            .iter()
            .map(event_from_row)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn event_ids_round_trip() {
        assert_eq!(parse_event_id(&event_id(42)), Some(42));
        assert_eq!(parse_event_id("42"), Some(42));
        assert_eq!(parse_event_id("evt_-1"), None);
        assert_eq!(parse_event_id("evt_x"), None);
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            // The serde name (what webhooks receive) is the filter name.
            assert_eq!(
                serde_json::to_value(t).ok(),
                Some(serde_json::Value::String(t.as_str().into()))
            );
        }
        // Issue 5's types are accepted by webhook filters.
        for name in [
            "message.read",
            "reaction.added",
            "reaction.removed",
            "message.deleted",
            "message.expired",
            "typing.started",
            "typing.stopped",
            "profile.updated",
            "message_request.received",
            "message_request.accepted",
            "conversation.updated",
            "data_extraction.received",
            "community_invitation.received",
            "call.offered",
        ] {
            assert!(EventType::parse(name).is_some(), "{name}");
        }
    }

    proptest! {
        #[test]
        fn junk_event_ids_never_panic(text in "\\PC{0,40}") {
            let _ = parse_event_id(&text);
        }
    }
}
