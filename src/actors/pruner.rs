//! [`Pruner`]: deletes disappearing messages whose timer ran out (`expires_at`: sent + timer
//! for "after send", read + timer for "after read"), each with a `message.expired` event in
//! the transaction that deletes it. One per replica, over all accounts: the delete is guarded
//! by its condition, so of two replicas racing for a row exactly one deletes it and emits the
//! event.

use std::time::Duration;

use actix::prelude::*;
use serde_json::json;

use super::{ActorError, Deps, Task};
use crate::clock::now_ms;
use crate::store::events::{EventType, NewEvent};

/// How often expired messages are looked for.
pub const PRUNE_INTERVAL: Duration = Duration::from_millis(500);
/// Most messages deleted per round.
const BATCH: i64 = 200;

/// The expiry actor.
pub struct Pruner {
    deps: Deps,
    running: bool,
}

impl Pruner {
    /// A pruner over `deps.store`.
    pub fn new(deps: Deps) -> Self {
        Self {
            deps,
            running: false,
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.running {
            return;
        }
        self.running = true;
        let deps = self.deps.clone();
        let task = Task::spawn(&self.deps, async move { prune(&deps).await });
        ctx.spawn(task.into_actor(self).map(|result, act, _| {
            act.running = false;
            if let Err(error) | Ok(Err(error)) = result.map(|r| r.map(|_| ())) {
                tracing::warn!(%error, "pruning expired messages failed");
            }
        }));
    }
}

impl Actor for Pruner {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(PRUNE_INTERVAL, |act, ctx| act.tick(ctx));
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
                event_type: EventType::MessageExpired,
                account: Some(account),
                conversation: Some(message.conversation.clone()),
                timestamp: now,
                data: json!({"conversation": message.conversation, "message_id": message.id}),
            })
            .await?;
            deleted += 1;
        }
        tx.commit().await?;
    }
    Ok(deleted)
}
