//! Prometheus metrics (`GET /metrics`, text exposition format).
//!
//! Counters are updated where things happen; gauges that describe stored state (accounts by
//! status, webhook queue depth) are computed from the database at scrape time, so they are right
//! after a restart and across replicas.
//!
//! Every family is listed, with its type, labels and meaning, in the README's metrics table;
//! `tests/telemetry.rs` reads that table and finds each name in `/metrics` (and each exported
//! name in the table), so the two cannot drift. Label values known in advance are created at
//! zero, so a family is visible before its first event.

use prometheus::{
    Counter, Encoder as _, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::network::NetworkObserver;

/// The gateway's metric families.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `webhook_attempts_total{outcome}`: delivered, failed (will retry), dead.
    pub webhook_attempts: IntCounterVec,
    /// `http_requests_total{class}`: API responses by status class (2xx, 4xx, 5xx).
    pub http_requests: IntCounterVec,
    /// `accounts{status}`: accounts by status (scrape time).
    pub accounts: IntGaugeVec,
    /// `webhook_deliveries{status}`: deliveries by status (scrape time).
    pub webhook_deliveries: IntGaugeVec,
    /// `messages_dropped_total{reason}`: retrieved messages rejected before delivery
    /// (`tampered`: data does not hash to its swarm hash; `undecryptable`, `bad_signature`,
    /// `invalid_envelope`, `invalid_content`, `bad_sync_target`).
    pub messages_dropped: IntCounterVec,
    /// `messages_received_total{kind}`: verified messages stored (`incoming`, `sync`), or
    /// understood and not stored (`other`: receipts, typing, config messages).
    pub messages_received: IntCounterVec,
    /// `messages_sent_total{outcome}`: outgoing attempts (`sent`, `retry`, `failed`).
    pub messages_sent: IntCounterVec,
    /// `polls_total{outcome}`: swarm polls (`ok`, `error`).
    pub polls: IntCounterVec,
    /// `identities{state}`: Identity actors by state (`running`, `restarting`).
    pub identities: IntGaugeVec,
    /// `network{figure}`: `pool_size`, `paths`, `owned_paths`, `cached_swarms`,
    /// `clock_offset_ms`, `batched_requests`, `batched_retrieves`, `batched_stores`.
    pub network: IntGaugeVec,
    /// `poll_lag_seconds`: at each poll, the time since the account's last successful poll.
    pub poll_lag: Histogram,
    /// `database_writer_held_seconds_total`: how long SQLite's one writer connection was lent
    /// out (scrape time; stays 0 on PostgreSQL).
    pub database_writer_held: Counter,
    /// `onion_request_duration_seconds`: one onion request (build, send, reply), any outcome.
    pub onion_duration: Histogram,
    /// `onion_request_failures_total{kind,code}`: failed onion requests by kind
    /// (`unreachable`, `timeout`, `path`, `destination`, …) and HTTP status (`none` if none).
    pub onion_failures: IntCounterVec,
    /// `path_failures_total`: onion requests that counted against their path.
    pub path_failures: IntCounter,
    /// Not a metric: the span contexts that join a trace across the database (a queued message,
    /// a stored event). Kept here because this is the per-gateway handle the API, the actors and
    /// the webhook workers all hold.
    pub links: crate::telemetry::links::Links,
}

/// `onion_request_failures_total` kinds (one per `network::SendError` variant).
pub const ONION_FAILURE_KINDS: [&str; 11] = [
    "unreachable",
    "timeout",
    "next_node_not_found",
    "path",
    "bad_reply",
    "misdirected",
    "clock_out_of_sync",
    "destination",
    "invalid_body",
    "no_path",
    "build",
];

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn counter(registry: &Registry, name: &str, help: &str, label: &str) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help).namespace("session_gateway"), &[label])
        .unwrap_or_else(|e| unreachable!("static metric definition {name}: {e}"));
    // Registration fails only for duplicate names, which are static here.
    let _ = registry.register(Box::new(metric.clone()));
    metric
}

fn gauge(registry: &Registry, name: &str, help: &str, label: &str) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help).namespace("session_gateway"), &[label])
        .unwrap_or_else(|e| unreachable!("static metric definition {name}: {e}"));
    let _ = registry.register(Box::new(metric.clone()));
    metric
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    let opts = HistogramOpts::new(name, help)
        .namespace("session_gateway")
        .buckets(buckets.to_vec());
    let metric = Histogram::with_opts(opts)
        .unwrap_or_else(|e| unreachable!("static metric definition {name}: {e}"));
    let _ = registry.register(Box::new(metric.clone()));
    metric
}

/// Creates `values` of a one-label counter at zero.
fn zeros(metric: &IntCounterVec, values: &[&str]) {
    for value in values {
        metric.with_label_values(&[value]);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry (one per gateway, so parallel tests do not share counters).
    pub fn new() -> Self {
        let registry = Registry::new();
        Self {
            webhook_attempts: counter(
                &registry,
                "webhook_attempts_total",
                "Webhook delivery attempts by outcome",
                "outcome",
            ),
            http_requests: counter(
                &registry,
                "http_requests_total",
                "API responses by status class",
                "class",
            ),
            accounts: gauge(&registry, "accounts", "Accounts by status", "status"),
            webhook_deliveries: gauge(
                &registry,
                "webhook_deliveries",
                "Webhook deliveries by status",
                "status",
            ),
            messages_dropped: counter(
                &registry,
                "messages_dropped_total",
                "Retrieved messages rejected before delivery, by reason",
                "reason",
            ),
            messages_received: counter(
                &registry,
                "messages_received_total",
                "Verified messages stored, by kind",
                "kind",
            ),
            messages_sent: counter(
                &registry,
                "messages_sent_total",
                "Outgoing message attempts by outcome",
                "outcome",
            ),
            polls: counter(
                &registry,
                "polls_total",
                "Swarm polls by outcome",
                "outcome",
            ),
            identities: gauge(&registry, "identities", "Identity actors by state", "state"),
            network: gauge(
                &registry,
                "network",
                "Network client figures (pool, paths, swarms, clock)",
                "figure",
            ),
            poll_lag: histogram(
                &registry,
                "poll_lag_seconds",
                "Time since the account's last successful poll, sampled at each poll",
                &[
                    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0,
                ],
            ),
            database_writer_held: Counter::with_opts(
                Opts::new(
                    "database_writer_held_seconds_total",
                    "Time SQLite's one writer connection was lent out",
                )
                .namespace("session_gateway"),
            )
            .unwrap_or_else(|e| unreachable!("static metric definition: {e}")),
            onion_duration: histogram(
                &registry,
                "onion_request_duration_seconds",
                "Onion request latency, any outcome",
                &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
            ),
            onion_failures: IntCounterVec::new(
                Opts::new(
                    "onion_request_failures_total",
                    "Failed onion requests by kind and HTTP status",
                )
                .namespace("session_gateway"),
                &["kind", "code"],
            )
            .unwrap_or_else(|e| unreachable!("static metric definition: {e}")),
            path_failures: IntCounter::with_opts(
                Opts::new(
                    "path_failures_total",
                    "Onion requests that counted against their path",
                )
                .namespace("session_gateway"),
            )
            .unwrap_or_else(|e| unreachable!("static metric definition: {e}")),
            links: Default::default(),
            registry,
        }
        .registered()
    }

    /// Registers the families built outside the helpers and creates the known label values.
    fn registered(self) -> Self {
        let _ = self
            .registry
            .register(Box::new(self.onion_failures.clone()));
        let _ = self.registry.register(Box::new(self.path_failures.clone()));
        let _ = self
            .registry
            .register(Box::new(self.database_writer_held.clone()));
        for kind in ONION_FAILURE_KINDS {
            self.onion_failures.with_label_values(&[kind, "none"]);
        }
        zeros(&self.webhook_attempts, &["delivered", "failed", "dead"]);
        zeros(&self.http_requests, &["2xx", "3xx", "4xx", "5xx"]);
        zeros(&self.messages_received, &["incoming", "sync", "other"]);
        zeros(&self.messages_sent, &["sent", "retry", "failed"]);
        zeros(&self.polls, &["ok", "error"]);
        zeros(
            &self.messages_dropped,
            &[
                "tampered",
                "undecryptable",
                "bad_signature",
                "invalid_envelope",
                "invalid_content",
                "bad_sync_target",
            ],
        );
        for state in ["running", "restarting"] {
            self.identities.with_label_values(&[state]);
        }
        self
    }

    /// Sets the stored-state gauges from the database's counts (scrape time). Known statuses
    /// with no rows read 0.
    pub fn set_stored_counts(&self, accounts: &[(String, i64)], deliveries: &[(String, i64)]) {
        self.accounts.reset();
        self.webhook_deliveries.reset();
        for status in ["active", "paused"] {
            self.accounts.with_label_values(&[status]).set(0);
        }
        for status in ["pending", "delivered", "dead"] {
            self.webhook_deliveries.with_label_values(&[status]).set(0);
        }
        for (status, n) in accounts {
            self.accounts.with_label_values(&[status]).set(*n);
        }
        for (status, n) in deliveries {
            self.webhook_deliveries.with_label_values(&[status]).set(*n);
        }
    }

    /// Sets `accounts{status="stale"}`: active accounts not polled within three intervals
    /// (scrape time; after [`Self::set_stored_counts`], which resets the family).
    pub fn set_stale_accounts(&self, stale: usize) {
        self.accounts
            .with_label_values(&["stale"])
            .set(i64::try_from(stale).unwrap_or(i64::MAX));
    }

    /// Sets `database_writer_held_seconds_total` to the store's figure (scrape time); a figure
    /// below the counter (none should be) leaves it as it is.
    pub fn set_writer_held(&self, held: std::time::Duration) {
        let more = held.as_secs_f64() - self.database_writer_held.get();
        if more > 0.0 {
            self.database_writer_held.inc_by(more);
        }
    }

    /// The text exposition of every family.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The network client's measurements land in `onion_request_duration_seconds`,
/// `onion_request_failures_total` and `path_failures_total`.
impl NetworkObserver for Metrics {
    /// Records one onion request: its latency and, if it failed, its kind and status.
    fn onion_request(&self, seconds: f64, failure: Option<(&'static str, Option<u16>)>) {
        self.onion_duration.observe(seconds);
        if let Some((kind, code)) = failure {
            let code = code.map_or_else(|| "none".to_owned(), |c| c.to_string());
            self.onion_failures.with_label_values(&[kind, &code]).inc();
        }
    }

    fn path_failure(&self) {
        self.path_failures.inc();
    }
}
