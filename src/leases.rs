//! Which accounts this replica runs (design.md §6): a [`LeaseManager`] task heartbeats the
//! replica, renews its account leases, takes free ones and gives up extra ones so that every
//! live replica holds about `ceil(accounts / live replicas)`, and reports changes as
//! [`LeaseEvent`]s for the Supervisor to start and stop Identity actors.
//!
//! One round, every `renew_interval` (and at once when another replica joins or leaves, a
//! lease is released, or an account is created or deleted):
//! 1. read the database clock (`now`); heartbeat `replicas` until `now + ttl`;
//! 2. renew every lease still held until `now + ttl`; any not renewed is *lost*;
//! 3. `target = ceil(accounts / live replicas)`; above it, release the excess (lost, then
//!    released so another replica takes it at once); below it, acquire free or expired leases.
//!
//! Safety does not depend on this task being timely: a lease that could not be renewed is
//! reported lost locally before it can expire in the database (the local deadline is measured
//! from before the round's first query), and every state change an Identity commits is fenced
//! by the lease epoch ([`crate::store::StoreTx::fence`]), so a replica that lost an account can
//! no longer commit for it even if it has not noticed yet.
//!
//! SQLite (one replica) runs the same rounds; at start it expires leases left by earlier runs,
//! so it owns every account from its first round.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::store::{LeaseToken, Notice, Store, StoreError};

/// How soon a failed round is tried again (at most the renewal interval).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Lease timing and identity.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// This replica's id (unique among live replicas).
    pub replica_id: String,
    /// How long a lease (and a heartbeat) lasts without renewal.
    pub ttl: Duration,
    /// How often leases are renewed; at most a third of `ttl` so two rounds can fail before a
    /// lease is at risk.
    pub renew_interval: Duration,
}

impl LeaseConfig {
    /// A config with a fresh id and `renew_interval = ttl / 3`.
    pub fn new(prefix: &str, ttl: Duration) -> Self {
        Self {
            replica_id: format!(
                "{prefix}-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            ),
            ttl,
            renew_interval: ttl / 3,
        }
    }
}

/// A change in the set of accounts this replica holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseEvent {
    /// Start running these accounts (write their state under these tokens).
    Acquired(Vec<LeaseToken>),
    /// Stop running these accounts. Each token's `expires_at` is when this replica's hold ended
    /// (its last renewal's expiry, the release time, or, when renewals fell behind, the
    /// database's estimated time when it gave them up).
    Lost(Vec<LeaseToken>),
}

/// The accounts held right now, by Session ID.
pub type Held = Arc<BTreeMap<Arc<str>, LeaseToken>>;

/// A running lease manager. Dropping it aborts the task without releasing (as a crash would);
/// call [`LeaseHandle::shutdown`] for a clean stop.
pub struct LeaseHandle {
    task: JoinHandle<()>,
    held: watch::Receiver<Held>,
    events: Option<mpsc::UnboundedReceiver<LeaseEvent>>,
    observers: tokio::sync::broadcast::Sender<LeaseEvent>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    replica_id: String,
}

impl Drop for LeaseHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LeaseHandle {
    /// This replica's id.
    pub fn replica_id(&self) -> &str {
        &self.replica_id
    }

    /// The held set, updated after every round (renewals move `expires_at`).
    pub fn held(&self) -> watch::Receiver<Held> {
        self.held.clone()
    }

    /// The stream of acquired/lost sets; the first call takes it (one consumer, the Supervisor).
    pub fn take_events(&mut self) -> Option<mpsc::UnboundedReceiver<LeaseEvent>> {
        self.events.take()
    }

    /// A copy of the acquired/lost stream for observers (tests record lease windows with it
    /// while the Supervisor consumes [`LeaseHandle::take_events`]). Lagging observers miss
    /// events.
    pub fn observe(&self) -> tokio::sync::broadcast::Receiver<LeaseEvent> {
        self.observers.subscribe()
    }

    /// Releases every lease, removes the replica row and announces it, so the others take the
    /// accounts over at once.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// The task's state.
pub struct LeaseManager {
    store: Store,
    config: LeaseConfig,
    held: BTreeMap<Arc<str>, LeaseToken>,
    /// Local instant by which each held lease must have been renewed.
    deadline: Option<Instant>,
    /// The database clock as last read, and the local instant just after: an estimate of
    /// the database's time when no query can be made.
    db_clock: Option<(i64, Instant)>,
    held_tx: watch::Sender<Held>,
    events: mpsc::UnboundedSender<LeaseEvent>,
    observers: tokio::sync::broadcast::Sender<LeaseEvent>,
}

impl LeaseManager {
    /// Starts the manager task.
    pub fn spawn(store: Store, config: LeaseConfig) -> LeaseHandle {
        let (held_tx, held) = watch::channel(Held::default());
        let (events_tx, events) = mpsc::unbounded_channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel();
        let replica_id = config.replica_id.clone();
        let (observers, _) = tokio::sync::broadcast::channel(1024);
        let manager = Self {
            observers: observers.clone(),
            store,
            config,
            held: BTreeMap::new(),
            deadline: None,
            db_clock: None,
            held_tx,
            events: events_tx,
        };
        LeaseHandle {
            task: tokio::spawn(manager.run(stop_rx)),
            held,
            events: Some(events),
            observers,
            stop: Some(stop),
            replica_id,
        }
    }

    async fn run(mut self, mut stop: tokio::sync::oneshot::Receiver<()>) {
        let mut notices = self.store.subscribe_notices();
        if let Err(error) = self
            .store
            .take_over_single_replica(&self.config.replica_id)
            .await
        {
            tracing::warn!(%error, "cannot clear leases of earlier runs");
        }
        loop {
            let pause = match self.round().await {
                Ok(()) => self.config.renew_interval,
                Err(error) => {
                    tracing::warn!(%error, "lease round failed");
                    // Soon, not a whole interval later (20 s on SQLite): a full disk or a
                    // dropped connection often clears within seconds, and accounts created
                    // meanwhile wait for this round to get their leases.
                    RETRY_AFTER_FAILURE.min(self.config.renew_interval)
                }
            };
            self.drop_overdue();
            let next = Instant::now() + pause;
            let wake = self
                .deadline
                .filter(|_| !self.held.is_empty())
                .map_or(next, |d| d.min(next));
            let wait = tokio::time::sleep_until(wake);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    _ = &mut stop => {
                        self.release_all().await;
                        return;
                    }
                    () = &mut wait => break,
                    notice = notices.recv() => match notice {
                        Ok(Notice::LeasesChanged | Notice::AccountChanged { .. } | Notice::Resync)
                        | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {}
                    },
                }
            }
        }
    }

    /// One heartbeat/renew/rebalance round.
    async fn round(&mut self) -> Result<(), StoreError> {
        let started = Instant::now();
        let ttl = i64::try_from(self.config.ttl.as_millis()).unwrap_or(i64::MAX);
        let me = self.config.replica_id.clone();
        let now = self.store.db_now().await?;
        self.db_clock = Some((now, Instant::now()));
        let until = now.saturating_add(ttl);
        if self.store.heartbeat(&me, now, until).await? {
            // A new replica: the others rebalance now rather than at their next round.
            self.store.announce(Notice::LeasesChanged).await?;
        }

        let (renewed, strays): (Vec<LeaseToken>, Vec<LeaseToken>) = self
            .store
            .renew_leases(&me, now, until)
            .await?
            .into_iter()
            .partition(|l| {
                self.held
                    .get(&l.account)
                    .is_some_and(|h| h.epoch == l.epoch)
            });
        // Rows still ours that were already reported lost (a late renewal): give them back.
        for stray in &strays {
            self.store.release_lease(stray, now).await?;
        }
        let renewed: BTreeMap<Arc<str>, LeaseToken> = renewed
            .into_iter()
            .map(|l| (l.account.clone(), l))
            .collect();
        let lost: Vec<LeaseToken> = self
            .held
            .values()
            .filter(|l| !renewed.contains_key(&l.account))
            .cloned()
            .collect();
        self.held = renewed;
        self.publish();
        // Measured from before the first query, minus a margin for stopping the actors, so the
        // local hold always ends before the database lets another replica in.
        let margin = self.config.renew_interval / 2;
        self.deadline = Some(started + self.config.ttl.saturating_sub(margin));
        self.emit(LeaseEvent::Lost(lost));

        let live = self.store.live_replicas(now).await?.len().max(1);
        let accounts = usize::try_from(self.store.count_accounts().await?).unwrap_or(0);
        let target = accounts.div_ceil(live);
        if self.held.len() > target {
            self.release_excess(self.held.len() - target, now).await?;
        } else if self.held.len() < target {
            let want = i64::try_from(target - self.held.len()).unwrap_or(0);
            let acquired = self.store.acquire_leases(&me, now, until, want).await?;
            for lease in &acquired {
                self.held.insert(lease.account.clone(), lease.clone());
            }
            self.emit(LeaseEvent::Acquired(acquired));
        }
        self.publish();
        let took = started.elapsed();
        if took > self.config.renew_interval {
            // The hold ends at the deadline whatever the round's pace: a slow round (a busy
            // database connection, starved threads) is the first sign of losing every lease.
            tracing::warn!(
                took_ms = took.as_millis(),
                held = self.held.len(),
                "slow lease round"
            );
        }
        Ok(())
    }

    /// Gives up `count` leases, newest first (they have the least state warmed up).
    async fn release_excess(&mut self, count: usize, now: i64) -> Result<(), StoreError> {
        let mut newest: Vec<LeaseToken> = self.held.values().cloned().collect();
        newest.sort_by_key(|l| std::cmp::Reverse(l.acquired_at));
        newest.truncate(count);
        // Report them lost first: the Supervisor stops the actors while the lease is still ours.
        let ended: Vec<LeaseToken> = newest
            .iter()
            .map(|l| LeaseToken {
                expires_at: now,
                ..l.clone()
            })
            .collect();
        for lease in &newest {
            self.held.remove(&lease.account);
        }
        self.publish();
        self.emit(LeaseEvent::Lost(ended));
        for lease in &newest {
            self.store.release_lease(lease, now).await?;
        }
        self.store.announce(Notice::LeasesChanged).await
    }

    /// Reports every lease lost when its renewal is overdue (the database was unreachable).
    fn drop_overdue(&mut self) {
        if self.deadline.is_some_and(|d| Instant::now() >= d) && !self.held.is_empty() {
            // The hold ends now, before the leases' expiry: a later round gives the rows back
            // at once (strays), so another replica may take them before that expiry. Report
            // the end as the database's estimated time now, not the expiry.
            let ended = self.db_clock.map(|(db, at)| {
                let elapsed = i64::try_from(at.elapsed().as_millis()).unwrap_or(i64::MAX);
                db.saturating_add(elapsed)
            });
            let lost: Vec<LeaseToken> = std::mem::take(&mut self.held)
                .into_values()
                .map(|l| LeaseToken {
                    expires_at: ended.map_or(l.expires_at, |e| e.min(l.expires_at)),
                    ..l
                })
                .collect();
            tracing::warn!(count = lost.len(), "leases could not be renewed in time");
            self.publish();
            self.emit(LeaseEvent::Lost(lost));
        }
    }

    async fn release_all(&mut self) {
        let me = self.config.replica_id.clone();
        let held: Vec<LeaseToken> = std::mem::take(&mut self.held).into_values().collect();
        let result: Result<(), StoreError> = async {
            let now = self.store.db_now().await?;
            let ended = held
                .iter()
                .map(|l| LeaseToken {
                    expires_at: now,
                    ..l.clone()
                })
                .collect();
            self.publish();
            self.emit(LeaseEvent::Lost(ended));
            for lease in &held {
                self.store.release_lease(lease, now).await?;
            }
            self.store.remove_replica(&me, now).await?;
            self.store.announce(Notice::LeasesChanged).await
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, "cannot release leases cleanly; they will expire");
        }
    }

    fn emit(&self, event: LeaseEvent) {
        let empty = match &event {
            LeaseEvent::Acquired(l) | LeaseEvent::Lost(l) => l.is_empty(),
        };
        if !empty {
            let _ = self.observers.send(event.clone());
            let _ = self.events.send(event);
        }
    }

    fn publish(&self) {
        self.held_tx.send_replace(Arc::new(self.held.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_ids_are_unique_and_renewal_is_a_third_of_the_ttl() {
        let a = LeaseConfig::new("gw", Duration::from_secs(9));
        let b = LeaseConfig::new("gw", Duration::from_secs(9));
        assert_ne!(a.replica_id, b.replica_id);
        assert!(a.replica_id.starts_with("gw-"));
        assert_eq!(a.renew_interval, Duration::from_secs(3));
    }
}
