//! Observability sections: OpenTelemetry traces and log output (design.md §8).

use serde::Deserialize;

/// `[telemetry]`: OpenTelemetry traces over OTLP (design.md §8). Without an endpoint no exporter
/// is built and spans cost what `tracing` alone costs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// `telemetry.otlp_endpoint`: an OTLP/HTTP (protobuf) collector, e.g.
    /// `http://otel-collector:4318`; `/v1/traces` is appended unless already there (default:
    /// none, no traces exported).
    pub otlp_endpoint: Option<String>,
    /// `telemetry.service_name`: the `service.name` resource attribute (default
    /// `session-gateway`).
    pub service_name: String,
    /// `telemetry.export_timeout_ms`: one export request (default 10000).
    pub export_timeout_ms: u64,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "session-gateway".to_owned(),
            export_timeout_ms: 10_000,
        }
    }
}

/// `[logging]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingSettings {
    /// `logging.format`: `json` (one object per line) or `text` (default: `json` when stderr is
    /// not a terminal, as in a container, else `text`).
    pub format: Option<LogFormat>,
    /// `logging.level`: which log lines are written, as a `RUST_LOG` directive (default `info`;
    /// `RUST_LOG`, when set, wins). Exported traces do not depend on it.
    pub level: String,
}

impl Default for LoggingSettings {
    fn default() -> Self {
        Self {
            format: None,
            level: "info".to_owned(),
        }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (containers, log shippers).
    Json,
    /// Human-readable lines.
    Text,
}

impl LoggingSettings {
    /// The configured format, or `json` unless `stderr_is_terminal`.
    pub fn resolve(&self, stderr_is_terminal: bool) -> LogFormat {
        self.format.unwrap_or(if stderr_is_terminal {
            LogFormat::Text
        } else {
            LogFormat::Json
        })
    }
}
