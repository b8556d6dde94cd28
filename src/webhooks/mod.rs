//! Webhook delivery: the event outbox (`webhook_deliveries`) pushed to each endpoint.
//!
//! * One task per enabled endpoint ([`worker`]), started and restarted by a dispatcher task: a
//!   slow or dead endpoint only ever occupies its own task and its own `max_in_flight` slots.
//! * Per endpoint, deliveries of one conversation go one at a time in event order; different
//!   conversations proceed in parallel.
//! * Standard Webhooks headers ([`signature`]); 2xx = delivered; anything else (or a timeout) is
//!   retried with exponential backoff and full jitter until `webhooks.dead_after_secs` after the
//!   first attempt, then dead-lettered. The `webhook-id` (event id) never changes across retries.
//! * Everything lives in the database, so a restart resumes where it stopped (at-least-once).

pub mod signature;
pub mod targets;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::config::WebhookSettings;
use crate::metrics::Metrics;
use crate::store::{Notice, Store};
use targets::{GuardedResolver, TargetPolicy};

/// Wakes the dispatcher after webhooks change or deliveries are replayed.
#[derive(Clone, Debug, Default)]
pub struct WebhookHandle {
    wake: Arc<Notify>,
}

impl WebhookHandle {
    /// Asks the dispatcher to reload endpoints and every worker to look for due deliveries.
    pub fn poke(&self) {
        self.wake.notify_one();
    }
}

/// A running worker; aborted when dropped (so dropping the dispatcher stops every worker).
struct Running {
    task: JoinHandle<()>,
    wake: Arc<Notify>,
    updated_at: i64,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How often the dispatcher re-checks endpoints without being poked (restarts crashed workers).
const RECONCILE_EVERY: Duration = Duration::from_secs(10);

/// Starts the dispatcher. It stops, after stopping every worker (and so every attempt), when
/// `stop` becomes true; aborting the returned task stops it without waiting for the workers.
/// Every request goes to a target `targets` allows, checked after DNS resolution.
pub fn spawn(
    store: Store,
    settings: WebhookSettings,
    targets: Arc<TargetPolicy>,
    metrics: Metrics,
    handle: WebhookHandle,
    stop: tokio::sync::watch::Receiver<bool>,
) -> JoinHandle<()> {
    // Subscribed before the task runs: an event committed right after start-up still wakes
    // the dispatcher (and the gateway is listening when `Gateway::start` returns).
    let wakes = (store.subscribe_events(), store.subscribe_notices());
    let ctx = (store, settings, targets);
    tokio::spawn(dispatch(ctx, metrics, handle, stop, wakes))
}

async fn dispatch(
    (store, settings, targets): (Store, WebhookSettings, Arc<TargetPolicy>),
    metrics: Metrics,
    handle: WebhookHandle,
    mut stop: tokio::sync::watch::Receiver<bool>,
    wakes: (
        tokio::sync::watch::Receiver<i64>,
        tokio::sync::broadcast::Receiver<crate::store::Notice>,
    ),
) {
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(GuardedResolver::new(targets.clone())))
        .user_agent(concat!("session-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the webhook HTTP client");
            return;
        }
    };
    let ctx = Arc::new(worker::Context {
        store: store.clone(),
        settings,
        metrics,
        client,
        targets,
        stop: stop.clone(),
    });
    let (mut commits, mut notices) = wakes;
    let mut running: HashMap<String, Running> = HashMap::new();
    let mut reconcile = true;
    // Whether the workers should scan their queues: new events (here or on another replica),
    // replays and endpoint changes may add due deliveries; a queued message, an account or a
    // lease change add none, and waking every worker for each of those cost a scan each.
    let mut wake_workers = true;
    loop {
        if reconcile {
            reconcile_workers(&ctx, &mut running).await;
        }
        if wake_workers {
            for worker in running.values() {
                worker.wake.notify_one();
            }
        }
        (reconcile, wake_workers) = tokio::select! {
            changed = stop.changed() => {
                let stopping = changed.is_err() || *stop.borrow_and_update();
                if stopping {
                    // Each worker sees the same signal, stops its attempts and returns.
                    for (_, worker) in running.drain() {
                        let _ = (&mut { worker }.task).await;
                    }
                    return;
                }
                (false, false)
            }
            changed = commits.changed() => {
                if changed.is_err() {
                    return;
                }
                (false, true)
            }
            () = handle.wake.notified() => (true, true),
            // Webhook changes made through another replica (PostgreSQL NOTIFY), or notices
            // missed: reload and wake. Other notices neither.
            notice = notices.recv() => {
                if matches!(notice, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
                let other = matches!(
                    notice,
                    Ok(Notice::OutgoingQueued { .. }
                        | Notice::AccountChanged { .. }
                        | Notice::LeasesChanged)
                );
                (!other, !other)
            }
            () = tokio::time::sleep(RECONCILE_EVERY) => (true, true),
        };
    }
}

async fn reconcile_workers(ctx: &Arc<worker::Context>, running: &mut HashMap<String, Running>) {
    let hooks = match ctx.store.list_webhooks().await {
        Ok(hooks) => hooks,
        Err(error) => {
            tracing::warn!(%error, "cannot list webhooks; keeping current workers");
            return;
        }
    };
    running.retain(|id, worker| {
        hooks
            .iter()
            .any(|h| &h.id == id && h.enabled && h.updated_at == worker.updated_at)
            && !worker.task.is_finished()
    });
    for hook in hooks.into_iter().filter(|h| h.enabled) {
        if running.contains_key(&hook.id) {
            continue;
        }
        let wake = Arc::new(Notify::new());
        let id = hook.id.clone();
        let updated_at = hook.updated_at;
        let task = tokio::spawn(worker::run(ctx.clone(), hook, wake.clone()));
        running.insert(
            id,
            Running {
                task,
                wake,
                updated_at,
            },
        );
    }
}
