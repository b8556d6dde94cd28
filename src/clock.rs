//! The gateway's one clock read. Everything below takes time as an argument (u64 or i64
//! milliseconds since the Unix epoch) so tests and the protocol layer stay deterministic.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, as stored in every `*_at` and `timestamp` column.
///
/// A clock set before 1970 reads as 0 rather than failing: timestamps are informational and
/// ordering relies on database sequences, never on this value.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
