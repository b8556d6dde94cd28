//! The enabled webhooks' filters, kept between transactions on SQLite.
//!
//! Every transaction that appends an event reads which webhooks are enabled (each gets a
//! delivery row of the events it matches): one statement on the writer connection per sent
//! message and per poll batch. On SQLite one process writes the database, and every change of a
//! webhook goes through this store, so the filters can be kept until one changes:
//!
//! - a write outside a transaction ([`super::super::Store::insert_webhook`], `update_webhook`)
//!   empties the cache before and after it runs: a transaction that reads the filters while
//!   it runs reads them from the database, and puts what it read back only if no change began
//!   since it looked ([`HookCache::fill`] checks the generation);
//! - a transaction that changes a webhook ([`super::super::StoreTx::writes_webhooks`]) neither
//!   reads nor fills the cache (it must see its own change, which may yet roll back), and
//!   empties it when it ends.
//!
//! On PostgreSQL another replica may change a webhook at any moment: every transaction reads
//! the filters, as before.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::HookFilter;

/// See the module docs.
pub(in crate::store) struct HookCache {
    /// False on PostgreSQL: nothing is kept, every transaction reads the filters.
    keeps: bool,
    state: Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    /// Bumped by every change: a read begun under an older one is not kept.
    generation: u64,
    hooks: Option<Arc<[HookFilter]>>,
}

impl HookCache {
    /// A cache that keeps the filters when `keeps` (SQLite), or one that never does.
    pub(in crate::store) fn new(keeps: bool) -> Self {
        Self {
            keeps,
            state: Mutex::default(),
        }
    }

    /// The cached filters, or the generation under which to [`fill`](Self::fill) them after
    /// reading them from the database.
    pub(in crate::store) fn get(&self) -> Result<Arc<[HookFilter]>, u64> {
        let state = self.lock();
        state.hooks.clone().ok_or(state.generation)
    }

    /// Keeps `hooks`, read from the database after [`get`](Self::get) gave `generation`,
    /// unless a change began since.
    pub(in crate::store) fn fill(&self, generation: u64, hooks: Arc<[HookFilter]>) {
        let mut state = self.lock();
        if self.keeps && state.generation == generation {
            state.hooks = Some(hooks);
        }
    }

    /// Forgets the filters: a webhook changes (or changed).
    pub(in crate::store) fn invalidate(&self) {
        let mut state = self.lock();
        state.generation += 1;
        state.hooks = None;
    }

    /// The lock, whatever a panicking holder left (no code that can panic runs under it).
    fn lock(&self) -> MutexGuard<'_, Cached> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for HookCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookCache").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks(ids: &[&str]) -> Arc<[HookFilter]> {
        ids.iter()
            .map(|id| HookFilter {
                id: (*id).to_owned(),
                events: None,
                accounts: None,
            })
            .collect()
    }

    #[test]
    fn a_read_begun_before_a_change_is_not_kept() {
        let cache = HookCache::new(true);
        let generation = cache.get().unwrap_err();
        cache.invalidate(); // a webhook changed while the read ran
        cache.fill(generation, hooks(&["old"]));
        let generation = cache.get().expect_err("the stale read was dropped");
        cache.fill(generation, hooks(&["new"]));
        let kept = cache.get().unwrap_or_else(|_| hooks(&[]));
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].id, "new");
        cache.invalidate();
        assert!(cache.get().is_err());
    }

    #[test]
    fn a_cache_that_does_not_keep_never_answers() {
        let cache = HookCache::new(false);
        let generation = cache.get().unwrap_err();
        cache.fill(generation, hooks(&["a"]));
        assert!(
            cache.get().is_err(),
            "PostgreSQL reads the filters every time"
        );
    }
}
