//! Reading what peers send, bounded (issue 13, attack 5): every answer is streamed with a
//! per-answer limit, whether or not it declares a Content-Length (a chunked answer has
//! none), and the bytes held by all answers in flight together come from one budget.
//!
//! Without this, a guard streaming a chunked answer without end was read until the timeout,
//! and 256 requests in flight could each hold a 32 MiB answer and its decoded copies.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes all answers being read or decoded may hold together. Requests past it wait for
/// earlier answers to be done with.
pub const MAX_BYTES_IN_FLIGHT: usize = 256 * 1024 * 1024;

/// The budget is counted in units of this many bytes (a semaphore permit each).
const UNIT: usize = 1024;

/// Why an answer was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The answer is larger than its limit (declared or streamed).
    #[error("answer larger than {limit} bytes")]
    TooLarge {
        /// The limit it passed.
        limit: usize,
    },
    /// The connection failed while the body was read.
    #[error("reading the answer failed: {0}")]
    Body(String),
    /// The body did not arrive within the request's time.
    #[error("reading the answer timed out")]
    Timeout,
}

/// The shared byte budget (cheap to clone).
#[derive(Debug, Clone)]
pub struct ReplyBudget {
    units: Arc<Semaphore>,
}

impl Default for ReplyBudget {
    fn default() -> Self {
        Self::new(MAX_BYTES_IN_FLIGHT)
    }
}

/// An answer's bytes and the share of the budget they hold (released on drop: keep it until
/// the answer has been decoded, since decoding makes copies).
#[derive(Debug)]
pub struct BoundedBody {
    /// The body.
    pub bytes: Vec<u8>,
    _held: Option<OwnedSemaphorePermit>,
}

impl ReplyBudget {
    /// A budget of `bytes` (at least one unit).
    pub fn new(bytes: usize) -> Self {
        let units = (bytes / UNIT).clamp(1, Semaphore::MAX_PERMITS);
        Self {
            units: Arc::new(Semaphore::new(units)),
        }
    }

    /// Units currently free (tests, metrics).
    pub fn available_bytes(&self) -> usize {
        self.units.available_permits().saturating_mul(UNIT)
    }

    /// Reads `resp`'s body, at most `limit` bytes, holding budget for what it has read. A
    /// declared length over the limit fails before anything is read.
    pub async fn read(
        &self,
        mut resp: reqwest::Response,
        limit: usize,
    ) -> Result<BoundedBody, ReadError> {
        let declared = resp.content_length().unwrap_or(0);
        if usize::try_from(declared).map_or(true, |n| n > limit) {
            return Err(ReadError::TooLarge { limit });
        }
        let mut bytes = Vec::new();
        let mut held: Option<OwnedSemaphorePermit> = None;
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) if e.is_timeout() => return Err(ReadError::Timeout),
                Err(e) => return Err(ReadError::Body(e.to_string())),
            };
            let total = bytes.len().saturating_add(chunk.len());
            if total > limit {
                return Err(ReadError::TooLarge { limit });
            }
            let need =
                units_for(total).saturating_sub(held.as_ref().map_or(0, |h| h.num_permits()));
            if need > 0 {
                // The semaphore is never closed, so this only waits.
                let more = self
                    .units
                    .clone()
                    .acquire_many_owned(u32::try_from(need).unwrap_or(u32::MAX))
                    .await
                    .map_err(|_| ReadError::Body("reply budget closed".into()))?;
                match held.as_mut() {
                    Some(h) => h.merge(more),
                    None => held = Some(more),
                }
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(BoundedBody { bytes, _held: held })
    }
}

fn units_for(bytes: usize) -> usize {
    bytes.div_ceil(UNIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_up() {
        assert_eq!(units_for(0), 0);
        assert_eq!(units_for(1), 1);
        assert_eq!(units_for(UNIT), 1);
        assert_eq!(units_for(UNIT + 1), 2);
        assert_eq!(ReplyBudget::new(0).available_bytes(), UNIT);
        assert_eq!(ReplyBudget::new(10 * UNIT).available_bytes(), 10 * UNIT);
    }

    fn response(body: Vec<u8>) -> reqwest::Response {
        reqwest::Response::from(http::Response::new(body))
    }

    #[tokio::test]
    async fn answers_are_limited_and_hold_the_budget_until_dropped() {
        let budget = ReplyBudget::new(8 * UNIT);
        let err = budget.read(response(vec![1; 5 * UNIT]), 4 * UNIT).await;
        assert_eq!(err.unwrap_err(), ReadError::TooLarge { limit: 4 * UNIT });
        assert_eq!(
            budget.available_bytes(),
            8 * UNIT,
            "nothing held after a refusal"
        );
        let body = budget.read(response(vec![1; 3 * UNIT + 1]), 4 * UNIT).await;
        let body = body.unwrap();
        assert_eq!(body.bytes.len(), 3 * UNIT + 1);
        assert_eq!(budget.available_bytes(), 4 * UNIT);
        drop(body);
        assert_eq!(budget.available_bytes(), 8 * UNIT);
    }
}
