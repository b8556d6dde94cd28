//! [`PathPool`]: the thin supervising actor over the network client's paths.
//!
//! `network::SessionNetwork` already builds paths from its node pool (distinct nodes, tested
//! guards), counts failures per path and node the way Session Desktop does, replaces bad paths
//! and refreshes the pool, all behind its own locks and single-flight futures. Duplicating that
//! in per-path actors would give two owners of the same state, so this actor only adds
//! supervision: it keeps the paths built ahead of demand (a failed rebuild is retried on the next
//! tick rather than on an account's poll) and publishes pool, path, swarm-cache and clock
//! figures to the `network{figure}` gauge.

use std::fmt::Display;
use std::time::Duration;

use super::ticker::{Periodic, Ticker};
use super::{ActorSettings, Deps};
use crate::network::NetworkError;

/// The path-supervising actor: a [`Ticker`] running [`PathCheck`] at start and then every
/// `path_check_ms`.
pub type PathPool = Ticker<PathCheck>;

/// The [`PathPool`]'s round: build the missing paths (and the pool first if needed), then
/// publish the figures.
pub struct PathCheck;

impl Periodic for PathCheck {
    type Error = NetworkError;

    const AT_START: bool = true;

    fn interval(settings: &ActorSettings) -> Duration {
        Duration::from_millis(settings.path_check_ms)
    }

    async fn round(deps: Deps) -> Result<(), NetworkError> {
        deps.network.bootstrap().await
    }

    fn failed(error: &dyn Display) {
        tracing::info!(%error, "onion paths not available yet");
    }

    fn after_round(deps: &Deps) {
        publish(deps);
    }
}

/// Sets the `network{figure}` gauge from the client's current figures.
fn publish(deps: &Deps) {
    let stats = deps.network.stats();
    let gauge = &deps.metrics.network;
    let set = |figure: &str, value: usize| {
        gauge
            .with_label_values(&[figure])
            .set(i64::try_from(value).unwrap_or(i64::MAX));
    };
    set("pool_size", stats.pool_size);
    set("paths", stats.paths);
    set("cached_swarms", stats.cached_swarms);
    set("owned_paths", stats.owned_paths);
    let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    set("batched_requests", count(stats.batched_requests));
    set("batched_retrieves", count(stats.batched_retrieves));
    set("batched_stores", count(stats.batched_stores));
    gauge
        .with_label_values(&["clock_offset_ms"])
        .set(stats.clock_offset_ms);
}
