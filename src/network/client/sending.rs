//! Sending one onion request (to a service node, the file server or a community server) over a path, with its
//! span, its observation (latency and outcome) and the failure accounting of its path.

use std::sync::Arc;

use futures::future::join_all;
use rand::rngs::OsRng;
use tracing::Instrument as _;

use super::{lock, Inner};
use crate::network::clock::{local_now_ms, median, offset_between};
use crate::network::error::SendError;
use crate::network::node::ServiceNode;
use crate::network::paths::Path;
use crate::network::transport::{answer_time, SnodeAnswer};
use crate::protocol::storage::{AccountId, StorageRequest};

/// Nodes asked for their time after a node refused ours.
pub(in crate::network) const CLOCK_SAMPLES: usize = 5;

/// Fewest answers a resample needs to decide anything.
const CLOCK_QUORUM: usize = 3;

/// How far the resampled median must be from our offset for our clock to count as wrong, ms
/// (well inside the nodes' ±60 s window).
pub(in crate::network) const CLOCK_DISAGREEMENT_MS: u64 = 10_000;

/// What a resample after a clock refusal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::network) enum ClockVerdict {
    /// Our clock was off and is now corrected.
    Corrected,
    /// The other nodes agree with our clock: the refusing node is off (or lying).
    RefuserWrong,
    /// Too few nodes answered to tell.
    Unknown,
}

impl Inner {
    /// One storage RPC to `dest` over a path ([`Inner::path_for`] the account it names, if
    /// any), with failure accounting. The answer's `t` feeds the clock.
    pub(in crate::network) async fn send(
        self: &Arc<Self>,
        owner: Option<&AccountId>,
        dest: &ServiceNode,
        request: &StorageRequest,
    ) -> Result<SnodeAnswer, SendError> {
        let path = self
            .path_for(owner, Some(dest))
            .await
            .map_err(|e| SendError::NoPath {
                reason: e.to_string(),
            })?;
        self.send_via(&path, dest, request).await
    }

    /// [`Self::send`] over a given path, without touching the pool (a pool refresh uses it:
    /// going through `send` would wait on the refresh itself).
    pub(super) async fn send_via(
        &self,
        path: &Path,
        dest: &ServiceNode,
        request: &StorageRequest,
    ) -> Result<SnodeAnswer, SendError> {
        let span = tracing::info_span!(
            "onion.request",
            kind = "snode",
            outcome = tracing::field::Empty
        );
        let started = std::time::Instant::now();
        let result = self
            .transport
            .snode(&path.nodes, dest, request, self.enc)
            .instrument(span.clone())
            .await;
        self.observe(&span, started, result.as_ref().err());
        match &result {
            Ok(answer) => {
                if let Some(t) = answer_time(&answer.body) {
                    self.clock.observe(t, local_now_ms());
                }
            }
            Err(e) => self.account_failure(path, Some(&dest.ed25519), e),
        }
        result
    }

    /// One v4 request to `server` (the file server or a community server) over a path
    /// ([`Inner::path_for`] `owner`, the account it is made for, if any).
    pub(in crate::network) async fn send_server(
        self: &Arc<Self>,
        owner: Option<&AccountId>,
        server: &crate::protocol::onion::ServerTarget,
        request: &crate::protocol::onion::V4Request,
    ) -> Result<crate::protocol::onion::V4Response, SendError> {
        let path = self
            .path_for(owner, None)
            .await
            .map_err(|e| SendError::NoPath {
                reason: e.to_string(),
            })?;
        let span = tracing::info_span!(
            "onion.request",
            kind = "server",
            outcome = tracing::field::Empty
        );
        let started = std::time::Instant::now();
        let result = self
            .transport
            .server(&path.nodes, server, request, self.enc)
            .instrument(span.clone())
            .await;
        self.observe(&span, started, result.as_ref().err());
        if let Err(e) = &result {
            self.account_failure(&path, None, e);
        }
        result
    }

    /// Records one onion request's latency and outcome on its span and with the observer.
    pub(super) fn observe(
        &self,
        span: &tracing::Span,
        started: std::time::Instant,
        error: Option<&SendError>,
    ) {
        let labels = error.map(SendError::metric_labels);
        span.record("outcome", labels.map_or("ok", |(kind, _)| kind));
        if let Some(observer) = self.observer.get() {
            observer.onion_request(started.elapsed().as_secs_f64(), labels);
        }
    }

    /// After `refused_by` answered 406/425: asks [`CLOCK_SAMPLES`] other random nodes for
    /// `info` at once and compares the median of their times with ours. If it differs by more
    /// than [`CLOCK_DISAGREEMENT_MS`], our clock was off: the window becomes the fresh samples.
    /// Otherwise the node that refused is the one off (or lying, issue 13 attack 6) and our
    /// clock stays. The refusing node's own time is never adopted.
    pub(in crate::network) async fn resync_clock(
        self: &Arc<Self>,
        refused_by: &ServiceNode,
    ) -> ClockVerdict {
        let nodes = lock(&self.pool).random(&mut OsRng, &[refused_by.ed25519], CLOCK_SAMPLES);
        let request = StorageRequest::info();
        let answers = join_all(nodes.iter().map(|n| {
            let request = &request;
            async move {
                let answer = self.send(None, n, request).await.ok()?;
                let t = answer_time(&answer.body)?;
                Some(offset_between(t, local_now_ms()))
            }
        }))
        .await;
        let fresh: Vec<i64> = answers
            .into_iter()
            .flatten()
            .filter(|o| self.clock.is_plausible(*o))
            .collect();
        let Some(consensus) = median(&fresh).filter(|_| fresh.len() >= CLOCK_QUORUM) else {
            tracing::debug!(answers = fresh.len(), "clock resample got too few answers");
            return ClockVerdict::Unknown;
        };
        if consensus.abs_diff(self.clock.offset_ms()) > CLOCK_DISAGREEMENT_MS {
            tracing::info!(
                offset_ms = consensus,
                "clock offset corrected from several nodes"
            );
            self.clock.replace(&fresh);
            ClockVerdict::Corrected
        } else {
            tracing::debug!(node = %refused_by, "a node refused a clock the others accept");
            ClockVerdict::RefuserWrong
        }
    }
}
