//! Change notices: the one way the store tells the rest of the gateway, on this replica and on
//! every other, that something changed and it should look at the database (design.md §6: "any
//! replica accepts any API call and the owner acts on it promptly").
//!
//! One path for every notice, one API on [`super::Store`]: [`super::Store::announce`] (now) and
//! `StoreTx::announce_on_commit` (when, and only if, the transaction commits; `OnCommit`).
//! Every notice is sent in-process (a `tokio::sync::broadcast`, [`super::Store::subscribe_notices`]).
//! On PostgreSQL it is also `NOTIFY`ed on the channel [`CHANNEL`] — inside the writing
//! transaction when there is one, so it is delivered exactly when the change becomes visible —
//! and one LISTEN connection per store forwards notices from other replicas into the same
//! broadcast. SQLite is single-process, so the broadcast alone is complete there.
//!
//! Committed events are the one special case: their wake-up is a `watch` of the newest cursor
//! ([`super::Store::subscribe_events`]: long-polls and webhook workers only need "something
//! after cursor N"), and [`Notice::Events`] only carries that cursor between replicas.
//!
//! A notice is a hint to look at the database, never the data itself: a lost notice (a dropped
//! LISTEN connection) is covered by [`Notice::Resync`] and by the periodic scans every consumer
//! keeps. Not to be confused with the *event outbox* (`store::events`, what webhooks deliver) or
//! the *send queue* (`store::send_queue`, outgoing messages waiting for a swarm).
//!
//! Payload (NOTIFY payloads are text, at most 8000 bytes): `<origin> <kind>[ <argument>]`, where
//! `origin` identifies the sending store (so it ignores its own echo), `kind` is one of `events`,
//! `outgoing`, `account`, `webhooks`, `leases`, and the argument is a cursor (`events`) or a
//! Session ID (`outgoing`, `account`).

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::AnyPool;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::StoreError;

/// The PostgreSQL NOTIFY channel.
pub const CHANNEL: &str = "session_gateway";

/// What changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Events up to `latest` were committed (PostgreSQL only; in-process wake-ups use
    /// [`super::Store::subscribe_events`], which this also advances).
    Events {
        /// The newest committed cursor.
        latest: i64,
    },
    /// An outgoing message was queued for `account`: its owner should send it now.
    OutgoingQueued {
        /// The account's Session ID.
        account: String,
        /// The queued row's `peer`, in this process only: its owner kicks that one
        /// conversation instead of reading the account's queue. The NOTIFY payload does not
        /// carry it (its format predates it, and replicas of every version read it), so a
        /// notice from another replica has `None` here and its owner reads the queue.
        peer: Option<String>,
        /// The queued row's id, in this process only (as `peer`): an owner told of the same
        /// row twice (by the API that queued it and by this notice) kicks its conversation once.
        id: Option<String>,
    },
    /// An account was created, changed or deleted: lease managers rebalance, the owner
    /// starts, pauses or stops it.
    AccountChanged {
        /// The account's Session ID.
        account: String,
    },
    /// A webhook was created, changed, deleted or had deliveries replayed.
    WebhooksChanged,
    /// A replica joined, left or released leases: lease managers rebalance now.
    LeasesChanged,
    /// Notices may have been missed (the LISTEN connection was re-established): rescan.
    Resync,
}

impl Notice {
    fn encode(&self, origin: &str) -> String {
        match self {
            Self::Events { latest } => format!("{origin} events {latest}"),
            Self::OutgoingQueued { account, .. } => format!("{origin} outgoing {account}"),
            Self::AccountChanged { account } => format!("{origin} account {account}"),
            Self::WebhooksChanged => format!("{origin} webhooks"),
            Self::LeasesChanged => format!("{origin} leases"),
            Self::Resync => format!("{origin} resync"),
        }
    }

    /// Parses a payload into its origin and notice; `None` for anything malformed.
    fn decode(payload: &str) -> Option<(&str, Self)> {
        let mut parts = payload.split(' ');
        let origin = parts.next().filter(|o| !o.is_empty())?;
        let kind = parts.next()?;
        let argument = parts.next();
        if parts.next().is_some() {
            return None;
        }
        let account = |a: Option<&str>| {
            a.filter(|a| {
                !a.is_empty() && a.len() <= 128 && a.bytes().all(|b| b.is_ascii_hexdigit())
            })
            .map(str::to_owned)
        };
        let notice = match (kind, argument) {
            ("events", Some(n)) => Self::Events {
                latest: n.parse().ok().filter(|n: &i64| *n >= 0)?,
            },
            ("outgoing", a) => Self::OutgoingQueued {
                account: account(a)?,
                peer: None,
                id: None,
            },
            ("account", a) => Self::AccountChanged {
                account: account(a)?,
            },
            ("webhooks", None) => Self::WebhooksChanged,
            ("leases", None) => Self::LeasesChanged,
            ("resync", None) => Self::Resync,
            _ => return None,
        };
        Some((origin, notice))
    }
}

/// The in-process side: a broadcast plus this store's origin id.
#[derive(Clone, Debug)]
pub(crate) struct Notifier {
    sender: broadcast::Sender<Notice>,
    origin: Arc<str>,
}

impl Notifier {
    pub(crate) fn new() -> Self {
        // Receivers that fall this far behind get `Lagged` and rescan, as after `Resync`.
        let (sender, _) = broadcast::channel(1024);
        let origin = uuid::Uuid::new_v4().simple().to_string();
        Self {
            sender,
            origin: origin.into(),
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.sender.subscribe()
    }

    /// Sends in-process; having no receiver is fine.
    pub(crate) fn send(&self, notice: Notice) {
        let _ = self.sender.send(notice);
    }
}

/// `SELECT pg_notify(CHANNEL, payload)` on `conn` (inside a transaction: sent at its commit).
pub(crate) async fn pg_notify(
    conn: &mut sqlx::AnyConnection,
    notifier: &Notifier,
    notice: &Notice,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(notice.encode(&notifier.origin))
        .execute(conn)
        .await?;
    Ok(())
}

/// What a transaction announces when, and only if, it commits: its notices and the newest event
/// cursor it wrote.
#[derive(Debug, Default)]
pub(crate) struct OnCommit {
    notices: Vec<Notice>,
    latest_event: Option<i64>,
}

impl OnCommit {
    /// Queues `notice` (once: a transaction touching one account twice announces it once).
    pub(crate) fn push(&mut self, notice: Notice) {
        if !self.notices.contains(&notice) {
            self.notices.push(notice);
        }
    }

    /// Records that the transaction wrote the event at `cursor` (cursors only grow).
    pub(crate) fn event_written(&mut self, cursor: i64) {
        self.latest_event = Some(cursor);
    }

    /// PostgreSQL, before the commit: NOTIFY the notices, then the newest cursor, inside the
    /// transaction, so other replicas hear of them exactly when the data becomes visible.
    pub(crate) async fn notify_in(
        &self,
        conn: &mut sqlx::AnyConnection,
        notifier: &Notifier,
    ) -> Result<(), StoreError> {
        let latest = self.latest_event.map(|latest| Notice::Events { latest });
        for notice in self.notices.iter().chain(latest.as_ref()) {
            pg_notify(conn, notifier, notice).await?;
        }
        Ok(())
    }

    /// After the commit: wakes this process's subscribers (notices, and event waiters when the
    /// transaction wrote events).
    pub(crate) fn committed(self, notifier: &Notifier, events: &watch::Sender<i64>) {
        for notice in self.notices {
            notifier.send(notice);
        }
        if let Some(latest) = self.latest_event {
            forward(Notice::Events { latest }, events, notifier);
        }
    }
}

/// The LISTEN task; dropping the last handle stops it.
#[derive(Debug)]
pub(crate) struct ListenerTask(JoinHandle<()>);

impl ListenerTask {
    pub(crate) fn abort(&self) {
        self.0.abort();
    }
}

impl Drop for ListenerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Connects a LISTEN session (so a bad URL fails `Store::open`) and forwards other replicas'
/// notices: event cursors into `events`, everything else into `notifier`.
pub(crate) async fn listen(
    url: &str,
    pool: AnyPool,
    events: watch::Sender<i64>,
    notifier: Notifier,
) -> Result<ListenerTask, StoreError> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(ListenerTask(tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            match listener.try_recv().await {
                Ok(Some(message)) => {
                    failures = 0;
                    let Some((origin, notice)) = Notice::decode(message.payload()) else {
                        tracing::debug!("ignoring a malformed notice");
                        continue;
                    };
                    if origin != &*notifier.origin {
                        forward(notice, &events, &notifier);
                    }
                }
                Ok(None) => {
                    // The connection dropped and is re-established on the next call; whatever
                    // was sent meanwhile is lost, so consumers rescan.
                    tracing::info!("LISTEN connection lost; resynchronising");
                    if let Ok(latest) = super::latest_cursor(&pool).await {
                        forward(Notice::Events { latest }, &events, &notifier);
                    }
                    notifier.send(Notice::Resync);
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, "LISTEN connection failed; retrying");
                    let backoff = 100u64.saturating_mul(1 << failures.min(6));
                    tokio::time::sleep(Duration::from_millis(backoff)).await;
                }
            }
        }
    })))
}

fn forward(notice: Notice, events: &watch::Sender<i64>, notifier: &Notifier) {
    match notice {
        Notice::Events { latest } => {
            events.send_if_modified(|current| {
                let newer = latest > *current;
                if newer {
                    *current = latest;
                }
                newer
            });
        }
        other => notifier.send(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

    #[test]
    fn notices_round_trip() {
        for notice in [
            Notice::Events { latest: 42 },
            Notice::OutgoingQueued {
                account: ID.into(),
                peer: None,
                id: None,
            },
            Notice::AccountChanged { account: ID.into() },
            Notice::WebhooksChanged,
            Notice::LeasesChanged,
            Notice::Resync,
        ] {
            let payload = notice.encode("abc");
            assert_eq!(Notice::decode(&payload), Some(("abc", notice)));
        }
    }

    #[test]
    fn the_queued_peer_stays_in_process() {
        let here = Notice::OutgoingQueued {
            account: ID.into(),
            peer: Some(ID.replace("05d2", "05e3")),
            id: Some("msg_1".into()),
        };
        let payload = here.encode("abc");
        assert_eq!(payload, format!("abc outgoing {ID}"));
        let elsewhere = Notice::OutgoingQueued {
            account: ID.into(),
            peer: None,
            id: None,
        };
        assert_eq!(Notice::decode(&payload), Some(("abc", elsewhere)));
    }

    #[test]
    fn malformed_payloads_are_rejected() {
        for payload in [
            "",
            "abc",
            " events 1",
            "abc events",
            "abc events -1",
            "abc events 1 2",
            "abc outgoing",
            "abc outgoing not-hex",
            "abc webhooks x",
            "abc unknown",
        ] {
            assert_eq!(Notice::decode(payload), None, "{payload:?}");
        }
    }

    proptest! {
        #[test]
        fn junk_payloads_never_panic(payload in "\\PC{0,200}") {
            let _ = Notice::decode(&payload);
        }
    }
}
