//! [`Retainer`]: the retention job (issue 15). Every `retention.interval_ms` (a minute by
//! default) it runs one bounded round of [`crate::store::Store::prune`] under the configured
//! [`RetentionPolicy`](crate::store::prune::RetentionPolicy): old finished deliveries, events
//! no webhook needs, old messages (their events redacted) and old attachment bytes. A backlog
//! larger than a round's batch goes over the next rounds, so a first start on a large database
//! never holds the database for long.
//!
//! One runs on every replica: the store's deletes take their rows `FOR UPDATE SKIP LOCKED` and
//! repeat their conditions, so replicas pruning at once share the work and never delete a row
//! that stopped qualifying.

use std::fmt::Display;
use std::time::Duration;

use super::ticker::{Periodic, Ticker};
use super::{ActorError, ActorSettings, Deps};
use crate::clock::now_ms;

/// The retention actor: a [`Ticker`] running [`Retention`].
pub type Retainer = Ticker<Retention>;

/// The [`Retainer`]'s round.
pub struct Retention;

impl Periodic for Retention {
    type Error = ActorError;

    fn interval(settings: &ActorSettings) -> Duration {
        Duration::from_millis(settings.retention_interval_ms)
    }

    async fn round(deps: Deps) -> Result<(), ActorError> {
        let pruned = deps.store.prune(&deps.settings.retention, now_ms()).await?;
        if !pruned.is_empty() {
            tracing::info!(
                events = pruned.events,
                deliveries = pruned.deliveries,
                messages = pruned.messages,
                attachment_bytes = pruned.attachment_bytes,
                "retention: pruned old rows"
            );
        }
        Ok(())
    }

    fn failed(error: &dyn Display) {
        tracing::warn!(%error, "retention round failed");
    }
}
