//! Keeping the node pool and the onion paths ready: pool refreshes (from seeds, or from three
//! pooled nodes once paths exist) and path builds, each single-flight, and the choice of a
//! path for one request.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use futures::future::{BoxFuture, FutureExt};
use rand::rngs::OsRng;

use super::{join_flight, lock, Inner, MIN_NODES};
use crate::network::clock::local_now_ms;
use crate::network::config::PathIsolation;
use crate::network::error::{NetworkError, SendError};
use crate::network::node::{parse_node_list, ServiceNode};
use crate::network::paths::{test_guards, Path, GUARD_TEST_ROUNDS};
use crate::network::pool::{intersect, REQUIRED_FOR_AGREEMENT};
use crate::network::seeds;
use crate::protocol::onion::SnodeEd25519;
use crate::protocol::storage::{AccountId, StorageRequest};

impl Inner {
    /// Refreshes the pool when it is empty, small or stale (single-flight). A failed refresh
    /// with a usable pool is logged, not returned.
    pub(in crate::network) async fn ensure_pool(self: &Arc<Self>) -> Result<(), NetworkError> {
        let (needed, usable) = {
            let pool = lock(&self.pool);
            let c = &self.config;
            (
                pool.needs_refresh(local_now_ms(), c.min_pool_size, c.pool_max_age_ms),
                pool.len() >= MIN_NODES,
            )
        };
        if !needed {
            return Ok(());
        }
        let this = self.clone();
        let flight = join_flight(&self.refresh_flight, move || {
            async move { this.refresh_pool().await }.boxed()
        });
        match flight.await {
            Err(e) if usable => {
                tracing::warn!(error = %e, "pool refresh failed; keeping the old pool");
                Ok(())
            }
            other => other,
        }
    }

    async fn refresh_pool(self: Arc<Self>) -> Result<(), NetworkError> {
        let from_snodes = self.config.refresh_from_snodes
            && lock(&self.pool).len() >= 16
            && !lock(&self.paths).is_empty();
        let nodes = match from_snodes {
            true => match self.nodes_from_snodes().await {
                Ok(nodes) => nodes,
                Err(e) => {
                    tracing::debug!(error = %e, "refresh from snodes failed; asking a seed");
                    self.nodes_from_seeds().await?
                }
            },
            false => self.nodes_from_seeds().await?,
        };
        let mut pool = lock(&self.pool);
        pool.replace(nodes, local_now_ms());
        let pool = &*pool;
        lock(&self.swarms).retain_nodes(|ed| pool.get(ed).is_some());
        Ok(())
    }

    async fn nodes_from_seeds(&self) -> Result<Vec<ServiceNode>, NetworkError> {
        let c = &self.config;
        seeds::fetch_nodes(
            &self.seed_clients,
            &c.seeds,
            Duration::from_millis(c.seed_timeout_ms),
            c.seed_retries,
            Duration::from_millis(c.seed_backoff_ms),
        )
        .await
    }

    /// §2.3: `get_service_nodes` from 3 random pool nodes through onion paths; the
    /// intersection must hold at least 24 nodes.
    ///
    /// Returns a boxed future: this sits on a cycle (send → paths → pool refresh → send) that
    /// the compiler can only prove `Send` through a named type.
    pub(super) fn nodes_from_snodes(
        self: &Arc<Self>,
    ) -> BoxFuture<'static, Result<Vec<ServiceNode>, NetworkError>> {
        let this = self.clone();
        async move {
            let targets = lock(&this.pool).random(&mut OsRng, &[], 3);
            let request = StorageRequest::get_service_nodes();
            let paths: Vec<Option<Path>> = {
                let set = lock(&this.paths);
                targets
                    .iter()
                    .map(|t| set.choose(&mut OsRng, Some(t)))
                    .collect()
            };
            if targets.len() < 3 {
                return Err(NetworkError::NotEnoughNodes {
                    need: 3,
                    have: targets.len(),
                });
            }
            let answers = join_all(targets.iter().zip(paths).map(|(t, p)| {
                let this = &this;
                let request = &request;
                async move {
                    match p {
                        Some(p) => this.send_via(&p, t, request).await,
                        None => Err(SendError::Unreachable {
                            node: t.ed25519,
                            reason: "no path avoids this node".into(),
                        }),
                    }
                }
            }))
            .await;
            let mut lists = Vec::new();
            for answer in answers {
                let answer = answer.map_err(|e| NetworkError::Seeds(e.to_string()))?;
                let result = answer.body.get("result").cloned().unwrap_or_default();
                let (nodes, _) =
                    parse_node_list(&result).map_err(|e| NetworkError::Seeds(e.to_string()))?;
                lists.push(nodes);
            }
            let agreed = intersect(&lists);
            if agreed.len() < REQUIRED_FOR_AGREEMENT {
                return Err(NetworkError::NotEnoughNodes {
                    need: REQUIRED_FOR_AGREEMENT,
                    have: agreed.len(),
                });
            }
            Ok(agreed)
        }
        .boxed()
    }

    /// Makes sure `path_count` paths exist (single-flight build).
    pub(in crate::network) async fn ensure_paths(self: &Arc<Self>) -> Result<(), NetworkError> {
        self.ensure_pool().await?;
        if lock(&self.paths).len() >= self.config.path_count.max(1) {
            return Ok(());
        }
        let this = self.clone();
        join_flight(&self.build_flight, move || {
            async move { this.build_paths().await }.boxed()
        })
        .await
    }

    async fn build_paths(self: Arc<Self>) -> Result<(), NetworkError> {
        let (candidates, missing) = {
            let pool = lock(&self.pool);
            let paths = lock(&self.paths);
            if pool.len() < MIN_NODES {
                return Err(NetworkError::NotEnoughNodes {
                    need: MIN_NODES,
                    have: pool.len(),
                });
            }
            let missing = self.config.path_count.max(1).saturating_sub(paths.len());
            let candidates =
                pool.random(&mut OsRng, &paths.used_nodes(), missing * GUARD_TEST_ROUNDS);
            (candidates, missing)
        };
        let (guards, failed) = test_guards(&self.transport, &self.clock, candidates, missing).await;
        let mut pool = lock(&self.pool);
        for ed in &failed {
            pool.strike(ed);
        }
        let mut paths = lock(&self.paths);
        let reserved: Vec<SnodeEd25519> = guards.iter().map(|g| g.ed25519).collect();
        for guard in guards {
            if !paths.add_with_guard(guard, &reserved, &pool, &mut OsRng, local_now_ms()) {
                tracing::warn!(pool = pool.len(), "pool too small for another path");
            }
        }
        if paths.is_empty() {
            return Err(NetworkError::NoGuards);
        }
        Ok(())
    }

    /// The path for one request naming `owner` (if any) to `dest`: under per-account
    /// isolation the owner's own path, otherwise a random shared one; either avoids `dest`
    /// (and its /24 where it can). Rebuilds missing paths first, and rotates expired ones.
    pub(super) async fn path_for(
        self: &Arc<Self>,
        owner: Option<&AccountId>,
        dest: Option<&ServiceNode>,
    ) -> Result<Path, NetworkError> {
        self.ensure_paths().await?;
        let now = local_now_ms();
        let max_age = self.config.path_max_age_ms;
        let isolated = self.config.path_isolation == PathIsolation::PerAccount;
        // An account's own path keeps off its swarm (its usual destinations).
        let swarm: Vec<SnodeEd25519> = match owner.filter(|_| isolated) {
            Some(owner) => (lock(&self.swarms).get(owner, self.clock.now_ms()))
                .unwrap_or_default()
                .iter()
                .map(|n| n.ed25519)
                .collect(),
            None => Vec::new(),
        };
        let pool = lock(&self.pool);
        let mut paths = lock(&self.paths);
        let rotated = paths.rotate_expired(now, max_age, &pool, &mut OsRng);
        if rotated > 0 {
            tracing::debug!(
                rotated,
                "onion paths rotated (relays replaced, guards kept)"
            );
        }
        let chosen = match owner.filter(|_| isolated) {
            Some(owner) => {
                let timing = (now, max_age);
                paths.owned_path(owner, dest, &swarm, &pool, &mut OsRng, timing)
            }
            None => paths.choose(&mut OsRng, dest),
        };
        chosen.ok_or(NetworkError::NoGuards)
    }

    /// A random pooled node not in `exclude`.
    pub(in crate::network) fn pool_random(&self, exclude: &[SnodeEd25519]) -> Option<ServiceNode> {
        lock(&self.pool).random(&mut OsRng, exclude, 1).pop()
    }
}
