//! [`Ticker`]: the one skeleton of the gateway's periodic actors ([`super::pruner::Pruner`],
//! [`super::PathPool`], [`super::attachments::Refetcher`], [`super::retention::Retainer`],
//! [`super::health::HealthFlusher`]).
//!
//! Each of them runs one round of work every interval as a [`Task`] on the I/O runtime, never
//! two rounds at once (a tick that comes while a round still runs is skipped, so a slow
//! database does not pile rounds up), and logs a failed round rather than stopping: the next
//! tick tries again. What differs, the round itself, its interval and what a failure says, is a
//! [`Periodic`] job.

use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use actix::prelude::*;

use super::{ActorSettings, Deps, Task};

/// A job a [`Ticker`] runs periodically. Jobs hold no state: everything a round needs is in
/// [`Deps`].
pub trait Periodic: 'static {
    /// Why a round failed.
    type Error: Display + Send + 'static;

    /// Whether the first round runs as the actor starts, rather than one interval later.
    const AT_START: bool = false;

    /// How often a round starts.
    fn interval(settings: &ActorSettings) -> Duration;

    /// One round, run as a task on the I/O runtime.
    fn round(deps: Deps) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static;

    /// Logs a failed round (or a round whose task panicked), once per failure.
    fn failed(error: &dyn Display);

    /// Runs on the actor's thread after every round, whatever its outcome.
    fn after_round(_deps: &Deps) {}
}

/// The actor that runs the job `J` every [`Periodic::interval`], one round at a time.
pub struct Ticker<J> {
    deps: Deps,
    /// A round is in flight; ticks are skipped until it ends.
    running: bool,
    job: PhantomData<fn() -> J>,
}

impl<J: Periodic> Ticker<J> {
    /// A ticker over `deps`; it starts ticking when started as an actor.
    pub fn new(deps: Deps) -> Self {
        Self {
            deps,
            running: false,
            job: PhantomData,
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.running {
            return;
        }
        self.running = true;
        let task = Task::spawn(&self.deps, J::round(self.deps.clone()));
        ctx.spawn(task.into_actor(self).map(|result, act, _| {
            act.running = false;
            match result {
                Ok(Ok(())) => {}
                Ok(Err(error)) => J::failed(&error),
                Err(error) => J::failed(&error),
            }
            J::after_round(&act.deps);
        }));
    }
}

impl<J: Periodic> Actor for Ticker<J> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if J::AT_START {
            self.tick(ctx);
        }
        ctx.run_interval(J::interval(&self.deps.settings), |act, ctx| act.tick(ctx));
    }
}
