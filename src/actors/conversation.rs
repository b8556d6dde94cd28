//! [`Conversation`]: one account's conversation (design.md §3: one per account and peer or
//! group). It sends the outgoing queue strictly in the order the API accepted the messages: the
//! next message waits until the head is confirmed (`sent`) or given up (`failed`), and a failed
//! attempt is retried after a jittered, doubling delay. The queue itself is the `messages`
//! table (status `queued`), so the actor keeps no state a crash could lose: it remembers how
//! many attempts the head message has had.
//!
//! The Identity hands it each poll's arrivals for this conversation ([`Incoming`], after the
//! poll's commit): what the apply step queued in reply (a message request response, automatic
//! read receipts) goes out at once, without waiting for the store's queue notice to come round
//! through the supervisor.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::keys::AccountKeys;
use super::outgoing::{step, Step};
use super::schedule::backoff;
use super::{Deps, Task};
use crate::ids::ConversationId;
use crate::store::LeaseToken;

/// Look at the queue (sent by the Identity when the API queued a message).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Kick;

/// Something arrived for this conversation and is committed (sent by the Identity after a
/// poll): note it and look at the queue, as a [`Kick`] does.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Incoming {
    /// The newest sent timestamp among what arrived, ms.
    pub latest: i64,
}

/// Sent to the Identity when the queue is empty; `kicks` is how many [`Kick`]s and
/// [`Incoming`]s this actor had received, so the Identity stops it only if none is still on its
/// way.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct ConversationIdle {
    /// The conversation.
    pub conversation: ConversationId,
    /// Kicks (and Incomings) received so far.
    pub kicks: u64,
}

/// Sent to the Identity when a fenced status update found the account's lease gone: this
/// replica no longer owns the account, so the Identity stops (quietly) too.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Fenced;

/// Sent to the Identity after a message was confirmed (the peer is likely to answer: poll
/// faster).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Activity;

/// Where the queue pump stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pump {
    /// Not running; a Kick starts it.
    Idle,
    /// A step is in flight.
    Busy,
    /// Waiting for a retry timer.
    Waiting,
}

/// The per-conversation actor.
pub struct Conversation {
    deps: Deps,
    keys: Arc<AccountKeys>,
    conversation: ConversationId,
    owner: Recipient<ConversationIdle>,
    activity: Recipient<Activity>,
    fenced: Recipient<Fenced>,
    /// The lease status updates are written under (`None`: unfenced).
    lease: Option<LeaseToken>,
    pump: Pump,
    /// The head message the last step retried, and its attempts.
    head: Option<(String, u32)>,
    kicks: u64,
    /// A Kick arrived while a step was in flight: look again when it ends.
    again: bool,
}

impl Conversation {
    /// The actor of `keys`' account's `conversation`, reporting to its Identity (`owner`,
    /// `activity`, `fenced`), writing statuses under `lease` when set.
    pub fn new(
        deps: Deps,
        keys: Arc<AccountKeys>,
        conversation: ConversationId,
        owner: (
            Recipient<ConversationIdle>,
            Recipient<Activity>,
            Recipient<Fenced>,
        ),
        lease: Option<LeaseToken>,
    ) -> Self {
        let (owner, activity, fenced) = owner;
        Self {
            deps,
            keys,
            conversation,
            owner,
            activity,
            fenced,
            lease,
            pump: Pump::Idle,
            head: None,
            kicks: 0,
            again: false,
        }
    }

    fn run(&mut self, ctx: &mut Context<Self>) {
        if self.pump != Pump::Idle {
            self.again = true;
            return;
        }
        self.pump = Pump::Busy;
        self.again = false;
        let task = Task::spawn(
            &self.deps,
            step(
                self.deps.clone(),
                self.keys.clone(),
                self.conversation.clone(),
                self.head.clone(),
                self.lease.clone(),
            ),
        );
        ctx.spawn(task.into_actor(self).map(|result, act, ctx| {
            act.pump = Pump::Idle;
            match result.and_then(|r| r) {
                Ok(Step::Empty) => {
                    act.head = None;
                    act.next_or_idle(ctx);
                }
                Ok(Step::Sent { queued_behind, .. }) => {
                    act.head = None;
                    act.deps
                        .metrics
                        .messages_sent
                        .with_label_values(&["sent"])
                        .inc();
                    act.activity.do_send(Activity);
                    if queued_behind {
                        act.run(ctx);
                    } else {
                        // The queue held only this one: no need to read it again to find it
                        // empty. A message queued since kicked this actor (`again`).
                        act.next_or_idle(ctx);
                    }
                }
                Ok(Step::Failed { .. }) => {
                    act.head = None;
                    act.deps
                        .metrics
                        .messages_sent
                        .with_label_values(&["failed"])
                        .inc();
                    act.run(ctx);
                }
                Ok(Step::Retry { id, attempts }) => {
                    act.deps
                        .metrics
                        .messages_sent
                        .with_label_values(&["retry"])
                        .inc();
                    act.head = Some((id, attempts));
                    act.retry_later(ctx, attempts);
                }
                Err(error) if error.is_lease_lost() => {
                    tracing::info!(account = act.keys.short(), "lease lost; conversation stops");
                    act.fenced.do_send(Fenced);
                    ctx.stop();
                }
                Err(error) => {
                    // The database or the runtime failed: the message is still queued.
                    tracing::warn!(account = act.keys.short(), %error, "send step failed");
                    act.retry_later(ctx, 1);
                }
            }
        }));
    }

    /// The queue was found empty (or held only the message just sent): runs again if a kick
    /// came meanwhile, otherwise tells the owner this conversation is idle.
    fn next_or_idle(&mut self, ctx: &mut Context<Self>) {
        if self.again {
            self.run(ctx);
        } else {
            self.owner.do_send(ConversationIdle {
                conversation: self.conversation.clone(),
                kicks: self.kicks,
            });
        }
    }

    fn retry_later(&mut self, ctx: &mut Context<Self>, attempts: u32) {
        let s = &self.deps.settings;
        let delay = backoff(
            &mut rand::thread_rng(),
            attempts,
            s.send_initial_backoff_ms,
            s.send_max_backoff_ms,
        );
        self.pump = Pump::Waiting;
        ctx.run_later(Duration::from_millis(delay), |act, ctx| {
            act.pump = Pump::Idle;
            act.run(ctx);
        });
    }
}

impl Actor for Conversation {
    type Context = Context<Self>;
}

impl Handler<Kick> for Conversation {
    type Result = ();

    fn handle(&mut self, _: Kick, ctx: &mut Context<Self>) {
        self.kicks += 1;
        // While waiting for a retry the timer will look at the queue; a new message queues
        // behind the head anyway.
        if self.pump != Pump::Waiting {
            self.run(ctx);
        }
    }
}

impl Handler<Incoming> for Conversation {
    type Result = ();

    fn handle(&mut self, msg: Incoming, ctx: &mut Context<Self>) {
        tracing::debug!(
            account = self.keys.short(),
            conversation = %self.conversation,
            latest = msg.latest,
            "incoming; looking at the queue"
        );
        <Self as Handler<Kick>>::handle(self, Kick, ctx);
    }
}

/// Stop (the queue is drained and no Kick is on its way, or the account stopped). An
/// in-flight step is aborted; its message stays `queued` for the next actor.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Stop;

impl Handler<Stop> for Conversation {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
