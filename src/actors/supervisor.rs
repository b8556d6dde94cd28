//! [`Supervisor`]: runs one [`Identity`] per active account. It starts them all at start-up,
//! follows account creation, pause and deletion ([`AccountChanged`], sent by the API, plus a
//! periodic reconciliation with the database), and restarts a child that stopped on its own
//! (a failed start, or a panic noticed through its closed mailbox) after a doubling delay.
//! Counts go to the `identities{state}` gauge and to [`SupervisorCounts`] for readiness.
//!
//! Leases (design.md §6): built [`Supervisor::with_leases`], it runs an account only while this
//! replica holds its lease. [`LeaseEvent::Lost`] retires the Identity at once (its Conversations
//! with it); [`LeaseEvent::Acquired`] starts it, and the Identity picks up the account's queued
//! messages from the database. The Identity commits under the lease's fencing token, so a
//! replica that lost an account it has not yet heard about cannot commit for it; such an
//! Identity stops quietly and is not restarted. On SQLite the lease manager owns every account,
//! so behaviour is as without leases. The supervisor also follows the store's notices (NOTIFY
//! from other replicas on PostgreSQL): a message queued through any replica's API wakes the
//! owner's Identity at once, an account change elsewhere is applied, and a resync reconciles.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::identity::{Queued, Requeue, Retire};
use super::schedule::backoff;
use super::{Deps, Identity, Task};
use crate::ids::SessionIdText;
use crate::leases::LeaseEvent;
use crate::store::accounts::{Account, AccountStatus};
use crate::store::{LeaseToken, Notice};

/// How often the supervisor compares its children with the accounts table.
const RECONCILE_EVERY: Duration = Duration::from_secs(15);
/// Largest restart delay.
const MAX_RESTART_BACKOFF_MS: u64 = 60_000;
/// A child that ran this long before stopping restarts with the shortest delay again.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);

/// Live counts, readable without messaging the actor.
#[derive(Debug, Default)]
pub struct SupervisorCounts {
    /// Identity actors running.
    pub running: AtomicUsize,
    /// Accounts waiting for a restart.
    pub restarting: AtomicUsize,
    /// Restarts so far.
    pub restarts: AtomicU64,
}

/// An account was created, imported, changed or deleted: start or stop its Identity.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct AccountChanged {
    /// The account.
    pub account: SessionIdText,
}

/// The API queued a message: wake the sender's conversation with `peer`.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct MessageQueued {
    /// The sending account.
    pub account: String,
    /// The recipient.
    pub peer: String,
    /// The queued row.
    pub id: String,
}

/// An Identity stopped; `reason` is set when it stopped on an error.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct ChildStopped {
    /// The account.
    pub account: String,
    /// Which start of the account this was (a retired actor's late report is ignored).
    pub generation: u64,
    /// Why, if it failed.
    pub reason: Option<String>,
    /// A fenced commit found the account's lease gone: this replica no longer owns it.
    pub lease_lost: bool,
}

/// The lease manager reported a change (forwarded from [`crate::leases::LeaseHandle`]).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Leases(pub LeaseEvent);

/// A store notice (from this or another replica), or `None` when notices were missed.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
struct Noticed(Option<Notice>);

/// One account's slot.
struct Child {
    account: SessionIdText,
    /// The lease it runs under, when following leases.
    lease: Option<LeaseToken>,
    /// The running actor; `None` while waiting for a restart.
    addr: Option<Addr<Identity>>,
    generation: u64,
    started_at: Instant,
    /// Consecutive restarts without a healthy run.
    restarts: u32,
    timer: Option<SpawnHandle>,
}

/// The supervisor actor.
pub struct Supervisor {
    deps: Deps,
    children: HashMap<String, Child>,
    counts: Arc<SupervisorCounts>,
    generations: u64,
    /// The leases this replica holds; `None` runs every active account (no lease manager).
    held: Option<HashMap<Arc<str>, LeaseToken>>,
    /// The lease manager's events, until `started` forwards them to the actor.
    lease_events: Option<tokio::sync::mpsc::UnboundedReceiver<LeaseEvent>>,
    /// The forwarding tasks (aborted with the actor).
    forwarders: Vec<Task<()>>,
}

impl Supervisor {
    /// A supervisor that publishes its counts in `counts`.
    pub fn new(deps: Deps, counts: Arc<SupervisorCounts>) -> Self {
        Self {
            deps,
            children: HashMap::new(),
            counts,
            generations: 0,
            held: None,
            lease_events: None,
            forwarders: Vec::new(),
        }
    }

    /// A supervisor that runs only the accounts whose leases `events` reports acquired.
    pub fn with_leases(
        deps: Deps,
        counts: Arc<SupervisorCounts>,
        events: tokio::sync::mpsc::UnboundedReceiver<LeaseEvent>,
    ) -> Self {
        Self {
            held: Some(HashMap::new()),
            lease_events: Some(events),
            ..Self::new(deps, counts)
        }
    }

    /// The lease for `account` if this replica may run it (`Some(None)`: no leases followed).
    fn lease_for(&self, account: &str) -> Option<Option<LeaseToken>> {
        match &self.held {
            None => Some(None),
            Some(held) => held.get(account).map(|l| Some(l.clone())),
        }
    }

    /// Forwards lease events and store notices to the actor, from tasks on the I/O runtime.
    fn forward(&mut self, ctx: &mut Context<Self>) {
        if let Some(mut events) = self.lease_events.take() {
            let addr = ctx.address();
            self.forwarders.push(Task::spawn(&self.deps, async move {
                while let Some(event) = events.recv().await {
                    if addr.try_send(Leases(event)).is_err() {
                        break;
                    }
                }
            }));
        }
        let mut notices = self.deps.store.subscribe_notices();
        let addr = ctx.address();
        self.forwarders.push(Task::spawn(&self.deps, async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let notice = match notices.recv().await {
                    Ok(Notice::Events { .. } | Notice::WebhooksChanged | Notice::LeasesChanged) => {
                        continue
                    }
                    Ok(notice) => Some(notice),
                    Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => break,
                };
                if addr.try_send(Noticed(notice)).is_err() {
                    break;
                }
            }
        }));
    }
    fn publish(&self) {
        let running = self.children.values().filter(|c| c.addr.is_some()).count();
        let restarting = self.children.len() - running;
        self.counts.running.store(running, Ordering::Relaxed);
        self.counts.restarting.store(restarting, Ordering::Relaxed);
        let gauge = &self.deps.metrics.identities;
        gauge
            .with_label_values(&["running"])
            .set(gauge_value(running));
        gauge
            .with_label_values(&["restarting"])
            .set(gauge_value(restarting));
    }

    fn spawn_child(&mut self, account: &SessionIdText, ctx: &mut Context<Self>) {
        let Some(lease) = self.lease_for(account.as_str()) else {
            return;
        };
        self.generations += 1;
        let generation = self.generations;
        let addr = Identity::new(
            account.clone(),
            generation,
            self.deps.clone(),
            ctx.address().recipient(),
            lease.clone(),
        )
        .start();
        let child = self
            .children
            .entry(account.as_str().to_owned())
            .or_insert_with(|| Child {
                account: account.clone(),
                lease: None,
                addr: None,
                generation,
                started_at: Instant::now(),
                restarts: 0,
                timer: None,
            });
        child.addr = Some(addr);
        child.lease = lease;
        child.generation = generation;
        child.started_at = Instant::now();
        child.timer = None;
    }

    fn retire(&mut self, account: &str, ctx: &mut Context<Self>) {
        if let Some(child) = self.children.remove(account) {
            if let Some(timer) = child.timer {
                ctx.cancel_future(timer);
            }
            if let Some(addr) = child.addr {
                addr.do_send(Retire);
            }
        }
    }

    /// Applies the database's view of one account.
    fn apply(&mut self, id: &SessionIdText, row: Option<Account>, ctx: &mut Context<Self>) {
        let wanted = row.is_some_and(|a| a.status == AccountStatus::Active)
            && self.lease_for(id.as_str()).is_some();
        let present = self.children.contains_key(id.as_str());
        if wanted && !present {
            self.spawn_child(id, ctx);
        } else if !wanted && present {
            self.retire(id.as_str(), ctx);
        }
    }

    fn schedule_restart(&mut self, account: &str, ctx: &mut Context<Self>) {
        let Some(child) = self.children.get_mut(account) else {
            return;
        };
        child.addr = None;
        if child.started_at.elapsed() >= HEALTHY_AFTER {
            child.restarts = 0;
        }
        child.restarts += 1;
        let delay = backoff(
            &mut rand::thread_rng(),
            child.restarts,
            self.deps.settings.restart_backoff_ms,
            MAX_RESTART_BACKOFF_MS,
        );
        let id = child.account.clone();
        child.timer = Some(
            ctx.run_later(Duration::from_millis(delay), move |act, ctx| {
                if act
                    .children
                    .get(id.as_str())
                    .is_some_and(|c| c.addr.is_none())
                {
                    act.counts.restarts.fetch_add(1, Ordering::Relaxed);
                    act.spawn_child(&id, ctx);
                    act.publish();
                }
            }),
        );
    }

    fn reconcile(&mut self, ctx: &mut Context<Self>) {
        // Children whose mailbox closed without a ChildStopped (a panic) restart too.
        let dead: Vec<String> = self
            .children
            .iter()
            .filter(|(_, c)| c.addr.as_ref().is_some_and(|a| !a.connected()))
            .map(|(k, _)| k.clone())
            .collect();
        for account in dead {
            tracing::warn!(account = %short(&account), "identity actor died; restarting");
            self.schedule_restart(&account, ctx);
        }
        let store = self.deps.store.clone();
        let task = Task::spawn(&self.deps, async move { store.active_accounts().await });
        ctx.spawn(task.into_actor(self).map(|result, act, ctx| {
            match result {
                Ok(Ok(accounts)) => {
                    let mut active: HashMap<String, SessionIdText> = accounts
                        .into_iter()
                        .filter(|id| act.lease_for(id.as_str()).is_some())
                        .map(|id| (id.as_str().to_owned(), id))
                        .collect();
                    let gone: Vec<String> = act
                        .children
                        .keys()
                        .filter(|k| !active.contains_key(*k))
                        .cloned()
                        .collect();
                    for account in gone {
                        act.retire(&account, ctx);
                    }
                    active.retain(|k, _| !act.children.contains_key(k));
                    for account in active.into_values() {
                        act.spawn_child(&account, ctx);
                    }
                }
                Ok(Err(error)) => tracing::warn!(%error, "cannot list accounts"),
                Err(error) => tracing::warn!(%error, "cannot list accounts"),
            }
            act.publish();
        }));
    }
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn short(account: &str) -> &str {
    account.get(..10).unwrap_or(account)
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.forward(ctx);
        self.reconcile(ctx);
        ctx.run_interval(RECONCILE_EVERY, |act, ctx| act.reconcile(ctx));
    }
}

impl Handler<AccountChanged> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: AccountChanged, ctx: &mut Context<Self>) {
        let store = self.deps.store.clone();
        let id = msg.account.clone();
        let task = Task::spawn(&self.deps, async move { store.get_account(&id).await });
        ctx.spawn(task.into_actor(self).map(move |result, act, ctx| {
            match result {
                Ok(Ok(row)) => act.apply(&msg.account, row, ctx),
                Ok(Err(error)) => tracing::warn!(%error, "cannot read account"),
                Err(error) => tracing::warn!(%error, "cannot read account"),
            }
            act.publish();
        }));
    }
}

impl Handler<MessageQueued> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: MessageQueued, _: &mut Context<Self>) {
        // Not running (restarting, paused): the Identity picks queued rows up when it starts.
        if let Some(addr) = self
            .children
            .get(&msg.account)
            .and_then(|c| c.addr.as_ref())
        {
            addr.do_send(Queued {
                peer: msg.peer,
                id: Some(msg.id),
            });
        }
    }
}

impl Handler<ChildStopped> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: ChildStopped, ctx: &mut Context<Self>) {
        // Retired children were removed before they stopped; anything still here stopped on
        // its own and is wanted back.
        let current = self
            .children
            .get(&msg.account)
            .is_some_and(|c| c.generation == msg.generation && c.addr.is_some());
        if current && msg.lease_lost {
            // Another replica owns the account now; the lease manager reports it lost too.
            tracing::info!(account = %short(&msg.account), "lease lost; identity not restarted");
            if let Some(child) = self.children.remove(&msg.account) {
                if let (Some(held), Some(lease)) = (self.held.as_mut(), child.lease) {
                    if held
                        .get(msg.account.as_str())
                        .is_some_and(|h| h.epoch == lease.epoch)
                    {
                        held.remove(msg.account.as_str());
                    }
                }
            }
            self.publish();
        } else if current {
            tracing::info!(account = %short(&msg.account), reason = ?msg.reason,
                "identity stopped; restarting with backoff");
            self.schedule_restart(&msg.account, ctx);
            self.publish();
        }
    }
}

impl Handler<Leases> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: Leases, ctx: &mut Context<Self>) {
        let Some(held) = self.held.as_mut() else {
            return;
        };
        match msg.0 {
            LeaseEvent::Lost(tokens) => {
                let mut gone = Vec::new();
                for token in tokens {
                    if held
                        .get(&token.account)
                        .is_some_and(|h| h.epoch == token.epoch)
                    {
                        held.remove(&token.account);
                        gone.push(token.account);
                    }
                }
                for account in gone {
                    self.retire(&account, ctx);
                }
                self.publish();
            }
            LeaseEvent::Acquired(tokens) => {
                let mut stale = Vec::new();
                for token in tokens {
                    let replaced = held.insert(token.account.clone(), token.clone());
                    if replaced.is_some_and(|old| old.epoch != token.epoch) {
                        stale.push(token.account);
                    }
                }
                // A child still running under an older epoch would be fenced out: restart it.
                for account in stale {
                    self.retire(&account, ctx);
                }
                // Starts the acquired accounts that are active (one query for the batch).
                self.reconcile(ctx);
            }
        }
    }
}

impl Handler<Noticed> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: Noticed, ctx: &mut Context<Self>) {
        match msg.0 {
            Some(Notice::OutgoingQueued { account, peer, id }) => {
                if let Some(addr) = self.children.get(&account).and_then(|c| c.addr.as_ref()) {
                    // Queued in this process: its conversation is known. From another
                    // replica: read the account's queue.
                    match peer {
                        Some(peer) => addr.do_send(Queued { peer, id }),
                        None => addr.do_send(Requeue),
                    }
                }
            }
            Some(Notice::AccountChanged { account }) => {
                if let Ok(account) = SessionIdText::parse(&account) {
                    ctx.notify(AccountChanged { account });
                }
            }
            Some(_) | None => self.reconcile(ctx),
        }
    }
}
