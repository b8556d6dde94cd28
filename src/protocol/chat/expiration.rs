//! Disappearing-message settings on a Content (messages.md §3.3 fields 12 and 13, §3.5 TTL).
//!
//! ```text
//! Content.expirationType  (12) enum   UNKNOWN = 0 | DELETE_AFTER_READ = 1 | DELETE_AFTER_SEND = 2
//! Content.expirationTimer (13) uint32 seconds, 0 = off
//! ```
//!
//! DESKTOP `ExpirableMessage.contentProto` writes both fields on every expirable message, off
//! included (`UNKNOWN`, `0`), and its `ttl()` stores "after send" messages for exactly the timer.

use super::TTL_CONTENT_MS;
use crate::protocol::protos::content::ExpirationType;
use crate::protocol::protos::Content;

/// A conversation's disappearing-message setting, as sent on and read from a Content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Disappearing {
    /// Messages stay.
    #[default]
    Off,
    /// Deleted this many seconds after sending (storage TTL = the timer).
    AfterSend {
        /// The timer, seconds; never 0.
        seconds: u32,
    },
    /// Deleted this many seconds after the recipient reads it (storage TTL stays 14 days).
    AfterRead {
        /// The timer, seconds; never 0.
        seconds: u32,
    },
}

impl Disappearing {
    /// "After send" with a timer; 0 seconds means off.
    pub fn after_send(seconds: u32) -> Self {
        if seconds == 0 {
            Self::Off
        } else {
            Self::AfterSend { seconds }
        }
    }

    /// "After read" with a timer; 0 seconds means off.
    pub fn after_read(seconds: u32) -> Self {
        if seconds == 0 {
            Self::Off
        } else {
            Self::AfterRead { seconds }
        }
    }

    /// The timer in seconds (0 when off).
    pub fn seconds(self) -> u32 {
        match self {
            Self::Off => 0,
            Self::AfterSend { seconds } | Self::AfterRead { seconds } => seconds,
        }
    }

    /// The mode as the HTTP API names it: `off`, `after_send`, `after_read`.
    pub fn mode(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::AfterSend { .. } => "after_send",
            Self::AfterRead { .. } => "after_read",
        }
    }

    /// The storage TTL of a message sent under this setting (§3.5): the timer for "after send",
    /// the 14-day content default otherwise.
    pub fn ttl_ms(self) -> u64 {
        match self {
            Self::AfterSend { seconds } => u64::from(seconds) * 1000,
            Self::Off | Self::AfterRead { .. } => TTL_CONTENT_MS,
        }
    }

    /// Writes fields 12 and 13 as DESKTOP does (both present, off included).
    pub fn apply(self, content: &mut Content) {
        let kind = match self {
            Self::Off => ExpirationType::Unknown,
            Self::AfterSend { .. } => ExpirationType::DeleteAfterSend,
            Self::AfterRead { .. } => ExpirationType::DeleteAfterRead,
        };
        content.expiration_type = Some(kind as i32);
        content.expiration_timer = Some(self.seconds());
    }

    /// Reads fields 12 and 13. An absent, `UNKNOWN` or unrecognised type, or a zero timer, is
    /// off (DESKTOP `DisappearingMessages.checkForExpireUpdateInContentMessage`).
    pub fn from_content(content: &Content) -> Self {
        let seconds = content.expiration_timer.unwrap_or(0);
        match content.expiration_type.map(ExpirationType::try_from) {
            Some(Ok(ExpirationType::DeleteAfterSend)) => Self::after_send(seconds),
            Some(Ok(ExpirationType::DeleteAfterRead)) => Self::after_read(seconds),
            _ => Self::Off,
        }
    }
}
