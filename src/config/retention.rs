//! `[retention]`: how long the gateway keeps what only grows (issue 15). Pruned once a minute
//! by the retention job (`src/actors/retention.rs` over `src/store/prune.rs`); 0 keeps a kind
//! forever.

use serde::Deserialize;

/// `[retention]`. The defaults bound a busy gateway's database: a week of events and delivery
/// logs (what a consumer may resume or replay after an outage), a month of message history,
/// and attachment bytes for 14 days (as long as the file server keeps the encrypted file).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// `retention.events_days`: events older than this are deleted once no webhook still needs
    /// them (no pending or dead delivery) (default 7; 0 = forever).
    pub events_days: u32,
    /// `retention.deliveries_days`: delivered and dead webhook deliveries whose last attempt is
    /// older than this are deleted (default 7; 0 = forever; a delivered one also goes with its
    /// event).
    pub deliveries_days: u32,
    /// `retention.messages_days`: messages stored longer ago than this are deleted, their
    /// events' content redacted (default 30; 0 = forever). Queued messages are kept.
    pub messages_days: u32,
    /// `retention.attachment_bytes_days`: attachment bytes stored longer ago than this are
    /// dropped; the attachment shows status `expired` (default 14; 0 = forever).
    pub attachment_bytes_days: u32,
    /// `retention.interval_ms`: how often a pruning round runs (default 60000).
    pub interval_ms: u64,
    /// `retention.batch`: most rows of each kind one round removes (default 1000).
    pub batch: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            events_days: 7,
            deliveries_days: 7,
            messages_days: 30,
            attachment_bytes_days: 14,
            interval_ms: 60_000,
            batch: 1_000,
        }
    }
}

impl RetentionSettings {
    /// A limit in days as a duration; `None` for 0 (keep forever).
    pub fn days(days: u32) -> Option<std::time::Duration> {
        (days > 0).then(|| std::time::Duration::from_secs(u64::from(days) * 86_400))
    }
}
