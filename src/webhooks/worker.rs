//! One endpoint's delivery loop (see the module docs of [`super`]).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracing::Instrument as _;

use super::signature;
use super::targets::{TargetError, TargetPolicy};
use crate::clock::now_ms;
use crate::config::WebhookSettings;
use crate::metrics::Metrics;
use crate::store::events::{AttemptOutcome, ClaimedAttempt, Delivery, Event};
use crate::store::webhooks::Webhook;
use crate::store::Store;
use crate::telemetry::links::Key;

/// Conversation queue heads examined per pass.
const SCAN: i64 = 1000;

/// Freed slots a worker may give to the heads its last scan left waiting while wake-ups ask
/// for a new scan (see [`run`]).
const SERVED_BETWEEN_SCANS: u32 = 8;

/// How long a claim outlives the HTTP timeout (recording the outcome takes one write).
const CLAIM_MARGIN_MS: i64 = 5_000;

/// An idle worker looks again this often without being woken: deliveries re-queued by another
/// process on SQLite (`session-gateway webhooks replay` next to a running gateway) wake nobody.
const IDLE_RESCAN: Duration = Duration::from_secs(30);

/// Shared by every worker.
pub(super) struct Context {
    pub store: Store,
    pub settings: WebhookSettings,
    pub metrics: Metrics,
    pub client: reqwest::Client,
    /// Which targets may be called (the client's resolver checks names; literals here).
    pub targets: Arc<TargetPolicy>,
    /// Becomes true when the gateway stops.
    pub stop: tokio::sync::watch::Receiver<bool>,
}

/// Delivers `hook`'s pending deliveries until aborted.
///
/// A full scan of the queue heads ([`Store::pending_heads`]) runs when something may have
/// changed anywhere: at start, on a wake (a new event, a replay, an endpoint change), when a
/// known head falls due, after a store error. The due heads it finds beyond the free slots
/// wait, oldest first, for slots to free up. An attempt's completion changes only its own
/// conversation's queue, so the worker then looks at that one head (one index seek, read with
/// the attempt's outcome by [`Store::settle_attempt`], or by [`Store::pending_head`] if that
/// failed) and gives the freed slot to the oldest due head it knows of.
///
/// Under a backlog every new event wakes the worker while its slots are all taken. Those
/// wake-ups ask for a scan only when a slot frees, and only once every
/// [`SERVED_BETWEEN_SCANS`] freed slots while known heads still wait: a new event can only
/// add a conversation the worker does not know of yet (a known one's next head turns up when
/// its head completes), and that one waits at most that many attempts. A waiting head that
/// another replica delivered meanwhile fails its claim (the claim checks it is still the
/// pending head), and its conversation's next head is read as after any attempt.
pub(super) async fn run(ctx: Arc<Context>, hook: Webhook, wake: Arc<Notify>) {
    let hook = Arc::new(hook);
    warn_if_cleartext(&hook);
    let max_in_flight = ctx.settings.max_in_flight.max(1);
    let mut in_flight: JoinSet<Attempted> = JoinSet::new();
    let mut stop = ctx.stop.clone();
    let mut busy: HashSet<String> = HashSet::new();
    let mut store_errors = 0u32;
    // A receiver's `Retry-After` (on 429/503) holds every attempt to it until then.
    let mut paused_until = 0i64;
    // A full scan is due; the earliest known head not yet due.
    let mut scan = true;
    let mut next_due: Option<i64> = None;
    // Due heads with no free slot yet, oldest first; the last scan hit its row limit (there
    // may be heads it did not see); slots given to waiting heads since the last scan.
    let mut waiting: VecDeque<Delivery> = VecDeque::new();
    let mut truncated = false;
    let mut served = 0u32;
    loop {
        let now = now_ms();
        if next_due.is_some_and(|due| due <= now) {
            scan = true;
        }
        if scan && now < paused_until {
            next_due = Some(paused_until);
        } else if scan && in_flight.len() >= max_in_flight {
            // No free slot: whatever the scan found would wait anyway. It runs when an attempt
            // ends, once for all the wake-ups that came meanwhile.
            next_due = None;
        } else if scan {
            scan = false;
            next_due = None;
            waiting.clear();
            served = 0;
            match ctx.store.pending_heads(&hook.id, SCAN).await {
                Ok(pending) => {
                    store_errors = 0;
                    truncated = pending.len() >= usize::try_from(SCAN).unwrap_or(usize::MAX);
                    let mut blocked: HashSet<String> = busy.clone();
                    for delivery in pending {
                        if !blocked.insert(delivery.order_key.clone()) {
                            continue; // an earlier delivery of this conversation is not done yet
                        }
                        if delivery.next_attempt_at > now {
                            next_due = earliest(next_due, delivery.next_attempt_at);
                        } else if in_flight.len() >= max_in_flight {
                            waiting.push_back(delivery); // a completion starts it
                        } else {
                            busy.insert(delivery.order_key.clone());
                            in_flight.spawn(attempt(ctx.clone(), hook.clone(), delivery));
                        }
                    }
                }
                Err(error) => {
                    store_errors = store_errors.saturating_add(1);
                    tracing::warn!(%error, webhook = %hook.id, "cannot read pending deliveries");
                    let backoff = 100u64.saturating_mul(1 << store_errors.min(8));
                    let backoff = i64::try_from(backoff).unwrap_or(i64::MAX);
                    next_due = Some(now.saturating_add(backoff));
                }
            }
        }
        let sleep = next_due.map(|due| {
            Duration::from_millis(u64::try_from(due.saturating_sub(now_ms())).unwrap_or(0))
        });
        tokio::select! {
            // Stopping: abort the attempts and wait until they are gone, so no request from a
            // stopped gateway reaches a receiver afterwards.
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow_and_update() {
                    in_flight.shutdown().await;
                    return;
                }
            }
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                let Ok(done) = done else {
                    // A panicked attempt: forget every busy key; the rows are still pending.
                    busy.clear();
                    scan = true;
                    continue;
                };
                busy.remove(&done.order_key);
                paused_until = paused_until.max(done.retry_at.unwrap_or(0));
                let scan_now = truncated
                    || now_ms() < paused_until
                    || (scan && (waiting.is_empty() || served >= SERVED_BETWEEN_SCANS));
                if scan_now {
                    scan = true;
                    continue;
                }
                let head = match done.next {
                    Some(head) => Ok(head),
                    None => ctx.store.pending_head(&hook.id, &done.order_key).await,
                };
                match head {
                    Ok(Some(head)) if head.next_attempt_at > now_ms() => {
                        next_due = earliest(next_due, head.next_attempt_at);
                    }
                    Ok(Some(head)) => wait_in_order(&mut waiting, head),
                    Ok(None) => {}
                    Err(error) => {
                        tracing::debug!(%error, webhook = %hook.id, "cannot read a queue head");
                        scan = true;
                        continue;
                    }
                }
                // A slot was just freed, and only this loop fills slots.
                if let Some(next) = oldest_free(&mut waiting, &busy) {
                    served = served.saturating_add(1);
                    busy.insert(next.order_key.clone());
                    in_flight.spawn(attempt(ctx.clone(), hook.clone(), next));
                }
            }
            () = wake.notified() => scan = true,
            // A known head fell due (the loop's first check), or the idle rescan.
            () = tokio::time::sleep(sleep.map_or(IDLE_RESCAN, |s| s.min(IDLE_RESCAN))) => {
                scan |= sleep.is_none_or(|s| s >= IDLE_RESCAN);
            }
        }
    }
}

/// Puts a due head among the waiting ones, which stay oldest first (by event cursor).
fn wait_in_order(waiting: &mut VecDeque<Delivery>, head: Delivery) {
    let at = waiting.partition_point(|d| d.event_cursor < head.event_cursor);
    waiting.insert(at, head);
}

/// Takes the oldest waiting head whose conversation has no attempt in flight.
fn oldest_free(waiting: &mut VecDeque<Delivery>, busy: &HashSet<String>) -> Option<Delivery> {
    let at = waiting.iter().position(|d| !busy.contains(&d.order_key))?;
    waiting.remove(at)
}

/// The earlier of a known due time and another.
fn earliest(due: Option<i64>, at: i64) -> Option<i64> {
    Some(due.map_or(at, |d| d.min(at)))
}

/// What an attempt tells its worker.
struct Attempted {
    /// The delivery's ordering key (its conversation is free again).
    order_key: String,
    /// The receiver asked (429/503 `Retry-After`) for no attempt before this time, ms.
    retry_at: Option<i64>,
    /// The conversation's pending head as read with the outcome's record, if recorded.
    next: Option<Option<Delivery>>,
}

impl From<String> for Attempted {
    fn from(order_key: String) -> Self {
        Self {
            order_key,
            retry_at: None,
            next: None,
        }
    }
}

/// A failed attempt: the HTTP status (if any answer came), a short reason, and when the
/// receiver asked to be retried (`Retry-After` on 429/503, as ms since the epoch).
struct Failure {
    status: Option<u16>,
    error: String,
    retry_at: Option<i64>,
}

impl Failure {
    fn without_answer(error: String) -> Self {
        Self {
            status: None,
            error,
            retry_at: None,
        }
    }
}

/// One HTTP attempt, recorded in the store.
async fn attempt(ctx: Arc<Context>, hook: Arc<Webhook>, delivery: Delivery) -> Attempted {
    let now = now_ms();
    // Claim the row first: several replicas run a worker for the same endpoint, and only the
    // claimer attempts. The claim outlives the request timeout by a margin, so a claim can
    // lapse only if this replica stops mid-attempt (then another retries: at-least-once).
    let timeout = i64::try_from(ctx.settings.timeout_ms).unwrap_or(i64::MAX);
    let until = now.saturating_add(timeout).saturating_add(CLAIM_MARGIN_MS);
    // The event and the endpoint are read with the claim, for the one delivery attempted
    // (the scan reads heads only). The endpoint as it is now: a secret rotated (or a URL
    // changed) since this worker started applies to this attempt already. A delivery row
    // never outlives its event (a foreign key; deleting an account removes both), so a
    // missing event means the row is going too; a deleted endpoint takes its rows with it, and
    // a disabled one keeps them pending for when it is enabled again. Either way the claim
    // lapses.
    let (delivery, hook, event) = match ctx
        .store
        .claim_attempt(&hook.id, &delivery, now, until)
        .await
    {
        Ok(Some(ClaimedAttempt {
            delivery,
            hook,
            event: Some(event),
        })) if hook.enabled => (delivery, Arc::new(hook), event),
        // Another worker has it, it changed, or its endpoint or event is gone or disabled.
        Ok(_) => return delivery.order_key.into(),
        Err(error) => {
            tracing::warn!(%error, webhook = %hook.id, "cannot claim a delivery");
            return delivery.order_key.into();
        }
    };
    // A child of the span that stored the event (the message's send, or the poll that
    // received it), so the delivery is part of that trace.
    let span = tracing::info_span!(
        "webhook.deliver",
        event_id = %event.id,
        event_type = %event.event_type,
        webhook = %hook.id,
        attempt = delivery.attempts + 1,
        status = tracing::field::Empty,
    );
    ctx.metrics.links.adopt(&span, Key::Event(&event.id));
    let outcome = post(&ctx, &hook, &event, now)
        .instrument(span.clone())
        .await;
    let status = match &outcome {
        Ok(status) => Some(*status),
        Err(failure) => failure.status,
    };
    if let Some(status) = status {
        span.record("status", status);
    }
    let retry_at = outcome.as_ref().err().and_then(|f| f.retry_at);
    let outcome = match outcome {
        Ok(status) => {
            ctx.metrics
                .webhook_attempts
                .with_label_values(&["delivered"])
                .inc();
            AttemptOutcome::Delivered { status }
        }
        Err(Failure {
            status,
            error,
            retry_at,
        }) => {
            let first = delivery.first_attempt_at.unwrap_or(now);
            let dead_after = i64::try_from(ctx.settings.dead_after_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX);
            let next_attempt_at = if now.saturating_sub(first) >= dead_after {
                ctx.metrics
                    .webhook_attempts
                    .with_label_values(&["dead"])
                    .inc();
                None
            } else {
                ctx.metrics
                    .webhook_attempts
                    .with_label_values(&["failed"])
                    .inc();
                let backed_off = now.saturating_add(backoff(&ctx.settings, delivery.attempts));
                // Not before the receiver asked to be retried.
                Some(backed_off.max(retry_at.unwrap_or(0)))
            };
            AttemptOutcome::Failed {
                status,
                error,
                next_attempt_at,
            }
        }
    };
    let next = match ctx
        .store
        .settle_attempt(&hook.id, &delivery, now_ms(), &outcome)
        .await
    {
        Ok(next) => Some(next),
        Err(error) => {
            // Unrecorded, the row stays pending and is retried: at-least-once, same event id.
            // (On SQLite the record may have landed and only the head's read failed: the
            // worker reads the head again.)
            tracing::warn!(%error, webhook = %hook.id, "cannot record a delivery attempt");
            None
        }
    };
    if status == Some(410) {
        // Gone: the receiver says the endpoint will never take deliveries again. Disabling
        // stops its worker (the dispatcher reconciles on the change); the undelivered rows stay
        // pending for when an operator enables it again.
        match ctx.store.disable_gone_webhook(&hook, now_ms()).await {
            Ok(true) => tracing::warn!(webhook = %hook.id, "endpoint answered 410 Gone: disabled"),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%error, webhook = %hook.id, "cannot disable a gone webhook")
            }
        }
    }
    Attempted {
        order_key: delivery.order_key,
        retry_at,
        next,
    }
}

/// Full-jitter exponential backoff: uniform in [0, min(max, initial·2^attempts)] ms.
fn backoff(settings: &WebhookSettings, attempts_before: i64) -> i64 {
    let exponent = u32::try_from(attempts_before.clamp(0, 40)).unwrap_or(40);
    let cap = settings
        .initial_backoff_ms
        .saturating_mul(1u64 << exponent)
        .min(settings.max_backoff_ms);
    let delay = rand::thread_rng().gen_range(0..=cap);
    i64::try_from(delay).unwrap_or(i64::MAX)
}

/// POSTs the event; `Ok(status)` on 2xx, else what failed.
async fn post(ctx: &Context, hook: &Webhook, event: &Event, now: i64) -> Result<u16, Failure> {
    let url = reqwest::Url::parse(&hook.url)
        .map_err(|e| Failure::without_answer(format!("bad url: {e}")))?;
    // Address literals here; names are checked by the client's resolver after resolution.
    ctx.targets
        .check_url(&url)
        .map_err(|e| Failure::without_answer(format!("target refused: {e}")))?;
    let body = serde_json::to_vec(event)
        .map_err(|e| Failure::without_answer(format!("cannot encode event: {e}")))?;
    let timestamp = now / 1000;
    let signatures = signature::header(
        hook.signing_secrets(now).map(|s| s.secret.as_str()),
        &event.id,
        timestamp,
        &body,
    );
    let response = ctx
        .client
        .post(url)
        .timeout(Duration::from_millis(ctx.settings.timeout_ms))
        .header("content-type", "application/json")
        .header("webhook-id", &event.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signatures)
        .body(body)
        .send()
        .await
        .map_err(|e| Failure::without_answer(describe(&e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(status.as_u16());
    }
    let retry_at = match status.as_u16() {
        429 | 503 => response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| retry_after(value, std::time::SystemTime::now()))
            .map(|wait| {
                // Measured from the answer; capped at the dead-letter horizon, past which
                // waiting longer changes nothing (the next failure dead-letters).
                let wait = wait.min(Duration::from_secs(ctx.settings.dead_after_secs));
                let wait = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
                // +1: `now_ms` truncates, and the wait must never come out shorter than asked.
                now_ms().saturating_add(wait).saturating_add(1)
            }),
        _ => None,
    };
    Err(Failure {
        status: Some(status.as_u16()),
        error: format!("HTTP {}", status.as_u16()),
        retry_at,
    })
}

/// A `Retry-After` value (delay-seconds or an HTTP date) as a wait from `now`; `None` when it
/// is neither.
fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Logs once per worker start that `hook` sends events in clear over a network.
fn warn_if_cleartext(hook: &Webhook) {
    let cleartext = reqwest::Url::parse(&hook.url).is_ok_and(|u| TargetPolicy::is_cleartext(&u));
    if cleartext {
        tracing::warn!(
            webhook = %hook.id,
            "webhook target is http:// outside loopback: events (message text) travel in clear"
        );
    }
}

fn describe(error: &reqwest::Error) -> String {
    // A target the resolver refused: say so (the operator's fix is a setting, not a retry).
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<TargetError>() {
            return format!("target refused: {refused}");
        }
        source = e.source();
    }
    if error.is_timeout() {
        "timeout".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_after(" 5 ", now), Some(Duration::from_secs(5)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(retry_after(&later, now), Some(Duration::from_secs(7)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(retry_after(&earlier, now), Some(Duration::ZERO));
        for junk in ["", "-1", "soon", "1.5"] {
            assert_eq!(retry_after(junk, now), None, "{junk}");
        }
    }

    #[test]
    fn backoff_stays_under_its_cap() {
        let settings = WebhookSettings {
            initial_backoff_ms: 100,
            max_backoff_ms: 1000,
            ..WebhookSettings::default()
        };
        for attempts in [0, 1, 3, 10, 1000, -5] {
            let d = backoff(&settings, attempts);
            assert!((0..=1000).contains(&d), "{attempts}: {d}");
        }
        assert!((0..=100).contains(&backoff(&settings, 0)));
    }
}
