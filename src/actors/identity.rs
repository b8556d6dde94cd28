//! [`Identity`]: one account. It opens the account's sealed seed into memory (and nowhere
//! else), polls the account's swarm on an adaptive, jittered interval ([`super::schedule`]),
//! runs one poll cycle at a time ([`super::poll_cycle`]: its own swarm, then the groups and
//! community servers it leads, through the receive pipeline [`super::inbox`]) and owns one [`Conversation`] per conversation with queued outgoing messages
//! or fresh arrivals: after each poll's commit it hands every conversation that got something
//! to its actor ([`Incoming`]), starting the actor if needed.
//!
//! Polls never overlap: the next one is scheduled when the previous one has finished. The cursor
//! lives in the database (advanced in the same transaction as the messages) and is mirrored
//! here so an empty poll touches the database not at all.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tracing::Instrument as _;

use super::conversation::{Activity, Conversation, ConversationIdle, Fenced, Incoming, Kick};
use super::inbox::{PollOutcome, Touched};
use super::keys::AccountKeys;
use super::poll_cycle::{cycle, CycleOutcome};
use super::schedule::{after_more, first_poll, jittered, poll_interval};
use super::sources::{load_cursor, OwnSwarm, Source as _};
use super::supervisor::ChildStopped;
use super::{ActorError, Deps, Task};
use crate::ids::{ConversationId, SessionIdText};
use crate::network::NamespaceCursor;
use crate::protocol::storage::MessageHash;
use crate::store::LeaseToken;

/// A message seen only as tampered copies this many polls in a row is skipped, so a swarm that
/// tampers with everything cannot stall the account forever. The network layer already asks
/// every member the network lists before it hands on a tampered copy, so a strike means no
/// reachable member served it intact; the retries cover members that were briefly unreachable.
const MAX_TAMPER_STRIKES: u32 = 32;

/// The API queued a message from this account to `peer`.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Queued {
    /// The recipient's Session ID.
    pub peer: String,
    /// The queued row, when known (this process queued it).
    pub id: Option<String>,
}

/// Messages were queued for this account through some replica's API (a notice without the
/// peer): look at the queue and kick every conversation with queued messages.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Requeue;

/// Stop this account (deleted or paused).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Retire;

/// What the start-up task loads.
struct Loaded {
    keys: Arc<AccountKeys>,
    cursor: NamespaceCursor,
    queued_peers: Vec<String>,
}

async fn load(deps: Deps, account: SessionIdText) -> Result<Loaded, ActorError> {
    // Never closed; a closed semaphore would only mean loading without the limit.
    let _permit = deps.startups.clone().acquire_owned().await.ok();
    let seed = deps
        .store
        .account_seed(&account)
        .await?
        .ok_or(ActorError::AccountGone)?;
    let keys = Arc::new(AccountKeys::from_stored_seed(&account, &seed)?);
    let key = OwnSwarm::new(keys.clone(), Default::default(), None).cursor_key();
    // The account's cursor from before per-member cursors is the fallback for a member with
    // none of its own (it is no longer advanced).
    let fallback = deps
        .store
        .poll_cursor(&key.subject, i64::from(key.namespace.0))
        .await?;
    let cursor = load_cursor(&deps.store, &key.subject, key.namespace, fallback).await?;
    let queued_peers = deps.store.queued_peers(account.as_str()).await?;
    Ok(Loaded {
        keys,
        cursor,
        queued_peers,
    })
}

/// The conversation a queued row's peer names; `None` (logged) when it names none: the API
/// queues only to valid IDs, so such a row is left alone.
fn conversation_of(account: &SessionIdText, peer: &str) -> Option<ConversationId> {
    ConversationId::parse(peer)
        .inspect_err(|error| tracing::warn!(%account, %error, "queued row to an invalid peer"))
        .ok()
}

/// A running conversation, how many Kicks it was sent, and the last queued row it was kicked
/// for.
struct ConversationSlot {
    addr: Addr<Conversation>,
    kicks: u64,
    last_queued: Option<String>,
}

/// The per-account actor.
pub struct Identity {
    account: SessionIdText,
    generation: u64,
    deps: Deps,
    supervisor: Recipient<ChildStopped>,
    /// The lease this replica runs the account under; commits are fenced by it. `None` when
    /// the supervisor follows no leases.
    lease: Option<LeaseToken>,
    /// A fenced commit found the lease gone: the stop is quiet and not restarted.
    lease_lost: bool,
    keys: Option<Arc<AccountKeys>>,
    /// The own swarm's cursor per member, as committed (the database is not read per poll).
    cursor: NamespaceCursor,
    /// The UserGroups cursor the last cycle's poll plan read (`None` before the first cycle and
    /// after a failed one: the next cycle reads it from the database).
    user_groups_cursor: Option<Option<MessageHash>>,
    /// Polls in a row that said more messages wait ([`after_more`]).
    more_run: u32,
    last_activity: Instant,
    /// The last successful poll (the actor's start before the first), for the poll-lag metric.
    last_polled: Instant,
    polling: bool,
    next_poll: Option<(SpawnHandle, Instant)>,
    conversations: HashMap<ConversationId, ConversationSlot>,
    /// Conversations queued before the keys were loaded.
    pending: HashSet<ConversationId>,
    /// Tampered hashes and how often they were seen.
    strikes: HashMap<String, u32>,
    /// Why the actor stopped, reported to the supervisor.
    failure: Option<String>,
}

impl Identity {
    /// An actor for `account` (its `generation`-th start), reporting its end to `supervisor`,
    /// committing under `lease` when set.
    pub fn new(
        account: SessionIdText,
        generation: u64,
        deps: Deps,
        supervisor: Recipient<ChildStopped>,
        lease: Option<LeaseToken>,
    ) -> Self {
        Self {
            account,
            generation,
            deps,
            supervisor,
            lease,
            lease_lost: false,
            keys: None,
            cursor: NamespaceCursor::default(),
            user_groups_cursor: None,
            more_run: 0,
            last_activity: Instant::now(),
            last_polled: Instant::now(),
            polling: false,
            next_poll: None,
            conversations: HashMap::new(),
            pending: HashSet::new(),
            strikes: HashMap::new(),
            failure: None,
        }
    }

    /// Kicks the conversation with `peer` (a queued row's peer), if it names one.
    fn kick_peer(&mut self, peer: &str, ctx: &mut Context<Self>) {
        if let Some(conversation) = conversation_of(&self.account, peer) {
            self.kick(conversation, ctx);
        }
    }

    fn kick(&mut self, conversation: ConversationId, ctx: &mut Context<Self>) {
        let Some(slot) = self.slot(conversation, ctx) else {
            return;
        };
        slot.kicks += 1;
        slot.addr.do_send(Kick);
    }

    /// Hands what a poll committed for a conversation to its actor.
    fn incoming(&mut self, conversation: ConversationId, latest: i64, ctx: &mut Context<Self>) {
        let Some(slot) = self.slot(conversation, ctx) else {
            return;
        };
        slot.kicks += 1;
        slot.addr.do_send(Incoming { latest });
    }

    /// The running actor of `conversation`, started if absent; `None` (and remembered) before
    /// the keys are loaded.
    fn slot(
        &mut self,
        conversation: ConversationId,
        ctx: &mut Context<Self>,
    ) -> Option<&mut ConversationSlot> {
        let Some(keys) = self.keys.clone() else {
            self.pending.insert(conversation);
            return None;
        };
        let slot = self
            .conversations
            .entry(conversation.clone())
            .or_insert_with(|| {
                let me = ctx.address();
                ConversationSlot {
                    last_queued: None,
                    addr: Conversation::new(
                        self.deps.clone(),
                        keys,
                        conversation,
                        (
                            me.clone().recipient(),
                            me.clone().recipient(),
                            me.recipient(),
                        ),
                        self.lease.clone(),
                    )
                    .start(),
                    kicks: 0,
                }
            });
        Some(slot)
    }

    fn schedule_poll(&mut self, ctx: &mut Context<Self>, delay_ms: u64) {
        if let Some((handle, _)) = self.next_poll.take() {
            ctx.cancel_future(handle);
        }
        let delay = Duration::from_millis(delay_ms);
        let handle = ctx.run_later(delay, |act, ctx| {
            act.next_poll = None;
            act.poll(ctx);
        });
        self.next_poll = Some((handle, Instant::now() + delay));
    }

    /// Notes on the health board that a poll cycle finished, with the interval it polls at
    /// and the swarm it polls.
    fn note_health(&self) {
        let since = u64::try_from(self.last_activity.elapsed().as_millis()).unwrap_or(u64::MAX);
        let interval = poll_interval(&self.deps.settings, since);
        let swarm = self
            .keys
            .as_ref()
            .map(|keys| self.deps.network.cached_swarm(&keys.account))
            .unwrap_or_default();
        self.deps
            .health
            .polled(self.account.as_str(), interval, swarm);
    }

    fn schedule_next(&mut self, ctx: &mut Context<Self>) {
        let since = u64::try_from(self.last_activity.elapsed().as_millis()).unwrap_or(u64::MAX);
        let base = poll_interval(&self.deps.settings, since);
        self.schedule_poll(ctx, jittered(&mut rand::thread_rng(), base));
    }

    fn poll(&mut self, ctx: &mut Context<Self>) {
        let Some(keys) = self.keys.clone() else {
            return;
        };
        if self.polling {
            return;
        }
        self.polling = true;
        let skip: HashSet<String> = self
            .strikes
            .iter()
            .filter(|(_, n)| **n >= MAX_TAMPER_STRIKES)
            .map(|(h, _)| h.clone())
            .collect();
        // Each poll cycle is its own trace: retrieve, commit, and the webhook deliveries of
        // what it stored (linked through the events' ids).
        let span = tracing::info_span!(parent: None, "poll", account = keys.short());
        let cycle = cycle(
            self.deps.clone(),
            keys,
            self.cursor.clone(),
            self.user_groups_cursor.take(),
            skip,
            self.lease.clone(),
        );
        let task = Task::spawn(&self.deps, cycle.instrument(span));
        ctx.spawn(task.into_actor(self).map(|result, act, ctx| {
            act.polling = false;
            let lag = act.last_polled.elapsed().as_secs_f64();
            act.deps.metrics.poll_lag.observe(lag);
            match result.and_then(|r| r) {
                Ok(CycleOutcome {
                    own: Ok(mut outcome),
                    groups,
                    user_groups_cursor,
                }) => {
                    act.user_groups_cursor = Some(user_groups_cursor);
                    for group in groups {
                        outcome.consumed += group.consumed;
                        outcome.touched.extend(group.touched);
                        outcome.more |= group.more;
                        if outcome.stopped_at.is_none() {
                            outcome.stopped_at = group.stopped_at;
                        }
                        outcome.stored += group.stored;
                    }
                    act.polled(outcome, ctx)
                }
                Ok(CycleOutcome {
                    own: Err(error),
                    groups,
                    user_groups_cursor,
                }) => {
                    act.user_groups_cursor = Some(user_groups_cursor);
                    // What the groups committed still reaches its conversations.
                    for group in groups {
                        act.hand_over(group.touched, ctx);
                    }
                    act.poll_failed(&error, ctx);
                }
                Err(error) if error.is_lease_lost() => act.fenced(ctx),
                Err(error) => act.poll_failed(&error, ctx),
            }
        }));
    }

    /// Hands the conversations of this account that a poll committed to their actors.
    fn hand_over(&mut self, touched: Vec<Touched>, ctx: &mut Context<Self>) {
        for touched in touched {
            if touched.recipient == self.account.as_str() {
                self.incoming(touched.conversation, touched.latest, ctx);
            }
        }
    }

    /// A poll cycle failed (network or database): counted, reported, and tried again on the
    /// usual interval.
    fn poll_failed(&mut self, error: &ActorError, ctx: &mut Context<Self>) {
        self.deps.metrics.polls.with_label_values(&["error"]).inc();
        tracing::debug!(account = %self.account, %error, "poll failed");
        self.deps
            .health
            .failed(self.account.as_str(), &error.to_string());
        self.schedule_next(ctx);
    }

    /// This replica no longer holds the account: stop without a restart.
    fn fenced(&mut self, ctx: &mut Context<Self>) {
        tracing::info!(account = %self.account, "lease lost; identity stops");
        self.lease_lost = true;
        ctx.stop();
    }

    fn polled(&mut self, outcome: PollOutcome, ctx: &mut Context<Self>) {
        self.last_polled = Instant::now();
        self.note_health();
        self.deps.metrics.polls.with_label_values(&["ok"]).inc();
        if outcome.consumed > 0 {
            self.strikes
                .retain(|h, _| Some(h) == outcome.stopped_at.as_ref());
        }
        self.cursor.advance(&outcome.advanced);
        if outcome.stored > 0 || outcome.keeps_active {
            self.last_activity = Instant::now();
        }
        self.hand_over(outcome.touched, ctx);
        if let Some(hash) = outcome.stopped_at {
            *self.strikes.entry(hash).or_insert(0) += 1;
            // Fetch the honest copy from other members soon, without hammering.
            let soon = self.deps.settings.poll_active_ms / 4;
            self.schedule_poll(ctx, jittered(&mut rand::thread_rng(), soon.max(50)));
        } else if outcome.more {
            self.more_run = self.more_run.saturating_add(1);
            let delay = after_more(self.more_run, self.deps.settings.poll_active_ms);
            self.schedule_poll(ctx, delay);
        } else {
            self.more_run = 0;
            self.schedule_next(ctx);
        }
    }
}

impl Actor for Identity {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let task = Task::spawn(&self.deps, load(self.deps.clone(), self.account.clone()));
        ctx.spawn(
            task.into_actor(self)
                .map(|result, act, ctx| match result.and_then(|r| r) {
                    Ok(loaded) => {
                        act.keys = Some(loaded.keys);
                        act.cursor = loaded.cursor;
                        let mut queued = std::mem::take(&mut act.pending);
                        queued.extend(
                            loaded
                                .queued_peers
                                .iter()
                                .filter_map(|peer| conversation_of(&act.account, peer)),
                        );
                        for conversation in queued {
                            act.kick(conversation, ctx);
                        }
                        let first =
                            first_poll(&mut rand::thread_rng(), act.deps.settings.poll_active_ms);
                        act.schedule_poll(ctx, first);
                    }
                    Err(error) => {
                        tracing::warn!(account = %act.account, %error, "account cannot start");
                        act.failure = Some(error.to_string());
                        ctx.stop();
                    }
                }),
        );
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        for slot in self.conversations.values() {
            slot.addr.do_send(super::conversation::Stop);
        }
        self.supervisor.do_send(ChildStopped {
            account: self.account.as_str().to_owned(),
            generation: self.generation,
            reason: self.failure.take(),
            lease_lost: self.lease_lost,
        });
    }
}

impl Handler<Queued> for Identity {
    type Result = ();

    fn handle(&mut self, msg: Queued, ctx: &mut Context<Self>) {
        // A row queued in this process comes twice: from the API that queued it (at once) and
        // from the store's notice. The second kick would only make the conversation read its
        // queue again after sending the row, to find it empty.
        let Some(conversation) = conversation_of(&self.account, &msg.peer) else {
            return;
        };
        let told = |slot: &ConversationSlot| msg.id.is_some() && slot.last_queued == msg.id;
        if self.conversations.get(&conversation).is_some_and(told) {
            return;
        }
        self.kick(conversation.clone(), ctx);
        if let Some(slot) = self.conversations.get_mut(&conversation) {
            slot.last_queued = msg.id;
        }
    }
}

impl Handler<ConversationIdle> for Identity {
    type Result = ();

    fn handle(&mut self, msg: ConversationIdle, _: &mut Context<Self>) {
        let drained = self
            .conversations
            .get(&msg.conversation)
            .is_some_and(|slot| slot.kicks == msg.kicks);
        if drained {
            if let Some(slot) = self.conversations.remove(&msg.conversation) {
                slot.addr.do_send(super::conversation::Stop);
            }
        }
    }
}

impl Handler<Activity> for Identity {
    type Result = ();

    fn handle(&mut self, _: Activity, ctx: &mut Context<Self>) {
        self.last_activity = Instant::now();
        let active = self.deps.settings.poll_active_ms;
        let later = Instant::now() + Duration::from_millis(active);
        let due_late = self.next_poll.as_ref().is_some_and(|(_, at)| *at > later);
        if due_late && !self.polling {
            self.schedule_poll(ctx, jittered(&mut rand::thread_rng(), active));
        }
    }
}

impl Handler<Retire> for Identity {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<Fenced> for Identity {
    type Result = ();

    fn handle(&mut self, _: Fenced, ctx: &mut Context<Self>) {
        self.fenced(ctx);
    }
}

impl Handler<Requeue> for Identity {
    type Result = ();

    fn handle(&mut self, _: Requeue, ctx: &mut Context<Self>) {
        let store = self.deps.store.clone();
        let account = self.account.as_str().to_owned();
        let task = Task::spawn(
            &self.deps,
            async move { store.queued_peers(&account).await },
        );
        ctx.spawn(task.into_actor(self).map(|result, act, ctx| match result {
            Ok(Ok(peers)) => {
                for peer in peers {
                    act.kick_peer(&peer, ctx);
                }
            }
            Ok(Err(error)) => tracing::warn!(%error, "cannot read queued peers"),
            Err(error) => tracing::warn!(%error, "cannot read queued peers"),
        }));
    }
}
