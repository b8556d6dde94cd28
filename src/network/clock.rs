//! Network time (`network.md` §4.7 "Client timing"; SD `NetworkTime.ts`): every node answer
//! carries its clock in `t`; we keep the last 10 offsets `local − t` and sign with
//! `local − offset`. Desktop averages the window; we take its median so one node with a wild
//! clock (the threat model's dishonest operator) cannot drag every signature out of the ±60 s
//! window.
//!
//! Issue 13, attack 6: an offset beyond [`NetworkClock::max_offset_ms`] is never adopted (a
//! node claiming a wildly different time is lying or broken), and after a node refuses our
//! clock the client resamples several nodes and replaces the window only when their median
//! says so (see `client/sending.rs`), instead of trusting the node that refused.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Offsets kept (SD: 10).
pub const WINDOW: usize = 10;

/// Default bound on the offset, ms: a day. A gateway whose clock is further off than this
/// from the network cannot sign anything a node accepts anyway; the operator must fix it.
pub const DEFAULT_MAX_OFFSET_MS: u64 = 24 * 3600 * 1000;

/// The local wall clock in ms since the epoch.
pub fn local_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A rolling window of clock offsets, shared by every account (internal lock, never held
/// across an await).
#[derive(Debug)]
pub struct NetworkClock {
    offsets: Mutex<VecDeque<i64>>,
    max_offset_ms: u64,
}

impl Default for NetworkClock {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_OFFSET_MS)
    }
}

/// The offset `local − server`, ms (saturating).
pub fn offset_between(server_t_ms: u64, local_ms: u64) -> i64 {
    let offset = i128::from(local_ms) - i128::from(server_t_ms);
    i64::try_from(offset).unwrap_or(if offset < 0 { i64::MIN } else { i64::MAX })
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[i64]) -> Option<i64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let mid = v.len() / 2;
    match (
        v.len() % 2,
        v.get(mid),
        mid.checked_sub(1).and_then(|m| v.get(m)),
    ) {
        (1, Some(m), _) => Some(*m),
        (_, Some(hi), Some(lo)) => {
            let mean = (i128::from(*lo) + i128::from(*hi)) / 2;
            i64::try_from(mean).ok()
        }
        _ => None,
    }
}

impl NetworkClock {
    /// A clock that never adopts an offset larger than `max_offset_ms` either way.
    pub fn new(max_offset_ms: u64) -> Self {
        Self {
            offsets: Mutex::default(),
            max_offset_ms,
        }
    }

    /// The bound on the offset, ms.
    pub fn max_offset_ms(&self) -> u64 {
        self.max_offset_ms
    }

    /// Whether an offset is within the bound.
    pub fn is_plausible(&self, offset_ms: i64) -> bool {
        offset_ms.unsigned_abs() <= self.max_offset_ms
    }

    /// Records a node's time `server_t_ms`, read when the local clock said `local_ms`; an
    /// offset beyond the bound is dropped (returns false).
    pub fn observe(&self, server_t_ms: u64, local_ms: u64) -> bool {
        let offset = offset_between(server_t_ms, local_ms);
        if !self.is_plausible(offset) {
            tracing::debug!(offset, "node time beyond the clock bound ignored");
            return false;
        }
        let mut window = self.lock();
        if window.len() >= WINDOW {
            window.pop_front();
        }
        window.push_back(offset);
        true
    }

    /// Replaces the window with `offsets` (fresh samples of several nodes after a refusal);
    /// those beyond the bound are dropped.
    pub fn replace(&self, offsets: &[i64]) {
        let mut window = self.lock();
        window.clear();
        for o in offsets
            .iter()
            .filter(|o| self.is_plausible(**o))
            .take(WINDOW)
        {
            window.push_back(*o);
        }
    }

    /// The current offset `local − network`, ms: the median of the window (0 when empty).
    pub fn offset_ms(&self) -> i64 {
        let v: Vec<i64> = self.lock().iter().copied().collect();
        median(&v).unwrap_or(0)
    }

    /// Network time for `local_ms`.
    pub fn at(&self, local_ms: u64) -> u64 {
        local_ms.saturating_add_signed(self.offset_ms().saturating_neg())
    }

    /// Network time now: what every signature timestamp uses.
    pub fn now_ms(&self) -> u64 {
        self.at(local_now_ms())
    }

    /// Number of offsets observed (at most [`WINDOW`]).
    pub fn samples(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<i64>> {
        self.offsets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_the_last_ten() {
        let c = NetworkClock::default();
        assert_eq!(c.at(1_000), 1_000);
        c.observe(1_000, 1_500); // local ahead by 500
        assert_eq!(c.offset_ms(), 500);
        assert_eq!(c.at(10_000), 9_500);
        c.observe(2_000, 1_800); // local behind by 200
        assert_eq!(c.offset_ms(), 150);
        // One liar among many honest answers does not move the median far.
        for _ in 0..8 {
            c.observe(5_000, 5_100);
        }
        c.observe(0, 10_000_000);
        assert_eq!(c.samples(), WINDOW);
        assert_eq!(c.offset_ms(), 100);
    }

    #[test]
    fn offsets_are_bounded() {
        let c = NetworkClock::new(1_000);
        assert!(!c.observe(10_000, 20_000), "10 s off, bound 1 s");
        assert_eq!(c.samples(), 0);
        assert!(c.observe(10_000, 10_500));
        c.replace(&[300, 5_000, -200, -7_000]);
        assert_eq!(c.samples(), 2);
        assert_eq!(c.offset_ms(), 50);
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3, 1, 2]), Some(2));
    }

    #[test]
    fn extreme_values_saturate() {
        let c = NetworkClock::new(u64::MAX);
        c.observe(u64::MAX, 0);
        c.observe(0, u64::MAX);
        let _ = c.offset_ms();
        let _ = c.at(u64::MAX);
        let _ = c.at(0);
    }
}
