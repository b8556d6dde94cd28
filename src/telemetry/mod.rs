//! Logs and traces (design.md §8): one `tracing` subscriber with a log layer (JSON or text on
//! stderr) and, only when `telemetry.otlp_endpoint` is set, an OpenTelemetry layer that exports
//! the gateway's spans over OTLP/HTTP.
//!
//! Spans worth a trace: `api.send_message` → `message.send` (the Conversation actor, possibly
//! much later and on another thread) → `network.store` → `onion.request` → `webhook.deliver`;
//! and `poll` → `network.retrieve` → `onion.request` → `inbox.commit` → `webhook.deliver`. The
//! hops that cross the database (a queued message, a stored event) carry their span context
//! through [`links::Links`], an in-memory map keyed by message or event id; it is filled only
//! while an exporter is installed.
//!
//! Nothing secret is recorded: spans carry message and event ids and short account prefixes,
//! never text, keys or full Session IDs.

pub mod links;
mod otlp;

use std::io::IsTerminal as _;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{filter, EnvFilter, Layer as _};

use crate::config::{LogFormat, Settings};

pub use otlp::traces_url;

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built (a malformed endpoint).
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    /// A global subscriber is already installed.
    #[error("a tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Keeps the trace pipeline alive; dropping it flushes and stops the exporter.
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl TelemetryGuard {
    /// True when spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports every finished span now. Blocks a thread of the blocking pool (the batch
    /// exporter waits on its own thread), so it is safe inside the runtime that does the export.
    pub async fn flush(&self) {
        if let Some(provider) = self.provider.clone() {
            let flushed = tokio::task::spawn_blocking(move || provider.force_flush()).await;
            if let Ok(Err(error)) = flushed {
                tracing::warn!(%error, "trace flush failed");
            }
        }
    }

    /// Exports what is left and stops the exporter, without blocking a runtime thread (dropping
    /// the guard does the same, blocking: do that outside the runtime, as `serve` does).
    pub async fn shutdown(mut self) {
        if let Some(provider) = self.provider.take() {
            links::set_enabled(false);
            let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            links::set_enabled(false);
            // Shutting down waits for the exporter thread; an error here only means spans lost.
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber: `RUST_LOG` (else `logging.level`) filters the log lines, written
/// to stderr as `logging.format` says; with `telemetry.otlp_endpoint`, the gateway's own spans
/// (target `session_gateway`, INFO and above) are exported too, through `io` (the runtime the
/// export requests run on).
pub fn init(
    settings: &Settings,
    io: tokio::runtime::Handle,
) -> Result<TelemetryGuard, TelemetryError> {
    let mut logging = settings.logging.clone();
    if logging.format.is_none() {
        // The older spelling (images and charts built before `logging.format`).
        logging.format = match std::env::var("SESSION_GATEWAY_LOG_FORMAT").as_deref() {
            Ok("json") => Some(LogFormat::Json),
            Ok("text") => Some(LogFormat::Text),
            _ => None,
        };
    }
    let format = logging.resolve(std::io::stderr().is_terminal());
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(&settings.logging.level));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(format == LogFormat::Text && std::io::stderr().is_terminal());
    let logs = match format {
        LogFormat::Json => logs.json().with_filter(filter).boxed(),
        LogFormat::Text => logs.with_filter(filter).boxed(),
    };
    let (traces, provider) = match &settings.telemetry.otlp_endpoint {
        Some(endpoint) => {
            let provider = otlp::provider(&settings.telemetry, endpoint, io)?;
            let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "session-gateway");
            let ours = filter::Targets::new().with_target("session_gateway", tracing::Level::INFO);
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(ours);
            (Some(layer), Some(provider))
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    if provider.is_some() {
        links::set_enabled(true);
        tracing::info!(
            endpoint = settings
                .telemetry
                .otlp_endpoint
                .as_deref()
                .unwrap_or_default(),
            "exporting traces over OTLP/HTTP"
        );
    }
    Ok(TelemetryGuard { provider })
}
