//! [`Pruner`]: deletes disappearing messages whose timer ran out (`expires_at`: sent + timer
//! for "after send", read + timer for "after read"), each with a `message.expired` event in
//! the transaction that deletes it. One per replica, over all accounts: the delete is guarded
//! by its condition, so of two replicas racing for a row exactly one deletes it and emits the
//! event.

use std::fmt::Display;
use std::time::Duration;

use super::ticker::{Periodic, Ticker};
use super::{ActorError, ActorSettings, Deps};
use crate::clock::now_ms;
use crate::events::EventData;
use crate::store::events::NewEvent;

/// How often expired messages are looked for.
pub const PRUNE_INTERVAL: Duration = Duration::from_millis(500);
/// Most messages deleted per round.
const BATCH: i64 = 200;

/// The expiry actor: a [`Ticker`] running [`Expiry`] every [`PRUNE_INTERVAL`].
pub type Pruner = Ticker<Expiry>;

/// The [`Pruner`]'s round: [`prune`].
pub struct Expiry;

impl Periodic for Expiry {
    type Error = ActorError;

    fn interval(_: &ActorSettings) -> Duration {
        PRUNE_INTERVAL
    }

    async fn round(deps: Deps) -> Result<(), ActorError> {
        prune(&deps).await.map(|_| ())
    }

    fn failed(error: &dyn Display) {
        tracing::warn!(%error, "pruning expired messages failed");
    }
}

/// One round: deletes what has expired by now; returns how many.
pub async fn prune(deps: &Deps) -> Result<usize, ActorError> {
    let now = now_ms();
    let expired = deps.store.expired_messages(now, BATCH).await?;
    let mut deleted = 0;
    for message in expired {
        let mut tx = deps.store.begin().await?;
        let account = match message.direction {
            crate::store::messages::Direction::Incoming => message.to.clone(),
            crate::store::messages::Direction::Outgoing => message.from.clone(),
        };
        if tx.delete_expired(&message.id, now).await? {
            tx.append_event(&NewEvent {
                account: Some(account),
                conversation: Some(message.conversation.clone()),
                timestamp: now,
                data: EventData::message_expired(&message.conversation, &message.id),
            })
            .await?;
            deleted += 1;
        }
        tx.commit().await?;
    }
    Ok(deleted)
}
