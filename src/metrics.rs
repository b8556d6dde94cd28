//! Prometheus metrics (`GET /metrics`, text exposition format).
//!
//! Counters are updated where things happen; gauges that describe stored state (accounts by
//! status, webhook queue depth) are computed from the database at scrape time, so they are right
//! after a restart and across replicas.

use prometheus::{Encoder as _, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

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
}

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
            registry,
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
