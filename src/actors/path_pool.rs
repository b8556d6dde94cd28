//! [`PathPool`]: the thin supervising actor over the network client's paths.
//!
//! `network::SessionNetwork` already builds paths from its node pool (distinct nodes, tested
//! guards), counts failures per path and node the way Session Desktop does, replaces bad paths
//! and refreshes the pool, all behind its own locks and single-flight futures. Duplicating that
//! in per-path actors would give two owners of the same state, so this actor only adds
//! supervision: it keeps the paths built ahead of demand (a failed rebuild is retried on the next
//! tick rather than on an account's poll) and publishes pool, path, swarm-cache and clock
//! figures to the `network{figure}` gauge.

use std::time::Duration;

use actix::prelude::*;

use super::{Deps, Task};

/// The path-supervising actor.
pub struct PathPool {
    deps: Deps,
    checking: bool,
}

impl PathPool {
    /// A pool supervisor over `deps.network`.
    pub fn new(deps: Deps) -> Self {
        Self {
            deps,
            checking: false,
        }
    }

    fn check(&mut self, ctx: &mut Context<Self>) {
        if self.checking {
            return;
        }
        self.checking = true;
        let network = self.deps.network.clone();
        let task = Task::spawn(&self.deps, async move { network.bootstrap().await });
        ctx.spawn(task.into_actor(self).map(|result, act, _| {
            act.checking = false;
            if let Ok(Err(error)) = result {
                tracing::info!(%error, "onion paths not available yet");
            }
            act.publish();
        }));
    }

    fn publish(&self) {
        let stats = self.deps.network.stats();
        let gauge = &self.deps.metrics.network;
        let set = |figure: &str, value: usize| {
            gauge
                .with_label_values(&[figure])
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        };
        set("pool_size", stats.pool_size);
        set("paths", stats.paths);
        set("cached_swarms", stats.cached_swarms);
        gauge
            .with_label_values(&["clock_offset_ms"])
            .set(stats.clock_offset_ms);
    }
}

impl Actor for PathPool {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.check(ctx);
        let every = Duration::from_millis(self.deps.settings.path_check_ms);
        ctx.run_interval(every, |act, ctx| act.check(ctx));
    }
}
