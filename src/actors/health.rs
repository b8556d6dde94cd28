//! Per-account health (issue 15): each Identity actor notes on the [`HealthBoard`] when a poll
//! cycle finished or failed and at what interval it polls; the [`HealthFlusher`] writes what
//! changed to the store every [`FLUSH_MS`] (never once per poll: 10,000
//! accounts would cost 2,000 writes a second), so any replica can show it
//! ([`crate::store::Store::account_health`]) and list stale accounts.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::{ActorError, Deps};
use crate::clock::now_ms;
use crate::store::health::PollHealth;

pub use crate::store::health::FLUSH_MS;

/// Longest error text kept.
const MAX_ERROR: usize = 300;

/// What the Identity actors of this replica saw, and which accounts changed since the last
/// flush. Cheap to clone (an `Arc`).
#[derive(Clone, Default)]
pub struct HealthBoard {
    inner: Arc<Mutex<Board>>,
}

#[derive(Default)]
struct Board {
    accounts: HashMap<String, PollHealth>,
    /// A set: every poll notes its account, and a list searched per note cost O(accounts).
    changed: HashSet<String>,
}

impl std::fmt::Debug for HealthBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthBoard").finish_non_exhaustive()
    }
}

impl HealthBoard {
    fn lock(&self) -> MutexGuard<'_, Board> {
        // Plain data: still consistent after a panic elsewhere.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, account: &str, change: impl FnOnce(&mut PollHealth)) {
        let mut board = self.lock();
        change(board.accounts.entry(account.to_owned()).or_default());
        if !board.changed.contains(account) {
            board.changed.insert(account.to_owned());
        }
    }

    /// A poll cycle of `account` finished; it polls every `interval_ms` now; `swarm` is the
    /// swarm it polls (Ed25519 hex), when known.
    pub fn polled(&self, account: &str, interval_ms: u64, swarm: Arc<[String]>) {
        let now = now_ms();
        self.update(account, |h| {
            h.last_poll_at = Some(now);
            h.poll_interval_ms = i64::try_from(interval_ms).unwrap_or(i64::MAX);
            if !swarm.is_empty() {
                h.swarm = swarm;
            }
        });
    }

    /// A poll cycle of `account` failed with `error`.
    pub fn failed(&self, account: &str, error: &str) {
        let now = now_ms();
        let text: String = error.chars().take(MAX_ERROR).collect();
        self.update(account, |h| {
            h.last_error = Some(text);
            h.last_error_at = Some(now);
        });
    }

    /// The accounts changed since the last call, with their health; the change list is
    /// emptied.
    fn take_changed(&self) -> Vec<(String, PollHealth)> {
        let mut board = self.lock();
        let changed = std::mem::take(&mut board.changed);
        let mut rows: Vec<_> = (changed.into_iter())
            .filter_map(|a| board.accounts.get(&a).cloned().map(|h| (a, h)))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }
}

/// Writes the board's changes every [`FLUSH_MS`].
pub type HealthFlusher = super::ticker::Ticker<Flush>;

/// The [`HealthFlusher`]'s round.
pub struct Flush;

impl super::ticker::Periodic for Flush {
    type Error = ActorError;

    fn interval(_: &super::ActorSettings) -> Duration {
        Duration::from_millis(FLUSH_MS)
    }

    async fn round(deps: Deps) -> Result<(), ActorError> {
        let rows = deps.health.take_changed();
        if rows.is_empty() {
            return Ok(());
        }
        deps.store.put_health(&rows, now_ms()).await?;
        Ok(())
    }

    fn failed(error: &dyn std::fmt::Display) {
        tracing::warn!(%error, "writing account health failed");
    }
}
