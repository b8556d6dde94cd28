//! Network time (`network.md` §4.7 "Client timing"; SD `NetworkTime.ts`): every node answer
//! carries its clock in `t`; we keep the last 10 offsets `local − t` and sign with
//! `local − offset`. Desktop averages the window; we take its median so one node with a wild
//! clock (the threat model's dishonest operator) cannot drag every signature out of the ±60 s
//! window.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Offsets kept (SD: 10).
pub const WINDOW: usize = 10;

/// The local wall clock in ms since the epoch.
pub fn local_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A rolling window of clock offsets, shared by every account (internal lock, never held
/// across an await).
#[derive(Debug, Default)]
pub struct NetworkClock {
    offsets: Mutex<VecDeque<i64>>,
}

impl NetworkClock {
    /// Records a node's time `server_t_ms`, read when the local clock said `local_ms`.
    pub fn observe(&self, server_t_ms: u64, local_ms: u64) {
        let offset = i128::from(local_ms) - i128::from(server_t_ms);
        let offset = i64::try_from(offset).unwrap_or(0);
        let mut window = self.lock();
        if window.len() >= WINDOW {
            window.pop_front();
        }
        window.push_back(offset);
    }

    /// The current offset `local − network`, ms: the median of the window (0 when empty).
    pub fn offset_ms(&self) -> i64 {
        let mut v: Vec<i64> = self.lock().iter().copied().collect();
        if v.is_empty() {
            return 0;
        }
        v.sort_unstable();
        let mid = v.len() / 2;
        match (
            v.len() % 2,
            v.get(mid),
            mid.checked_sub(1).and_then(|m| v.get(m)),
        ) {
            (1, Some(m), _) => *m,
            (_, Some(hi), Some(lo)) => lo + (hi - lo) / 2,
            _ => 0,
        }
    }

    /// Network time for `local_ms`.
    pub fn at(&self, local_ms: u64) -> u64 {
        local_ms.saturating_add_signed(self.offset_ms().saturating_neg())
    }

    /// Network time now: what every signature timestamp uses.
    pub fn now_ms(&self) -> u64 {
        self.at(local_now_ms())
    }

    /// Forgets every offset (a node rejected our clock: the window is out of date).
    pub fn reset(&self) {
        self.lock().clear();
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
    fn extreme_values_saturate() {
        let c = NetworkClock::default();
        c.observe(u64::MAX, 0);
        c.observe(0, u64::MAX);
        let _ = c.offset_ms();
        let _ = c.at(u64::MAX);
        let _ = c.at(0);
    }
}
