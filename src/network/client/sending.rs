//! Sending one onion request (to a service node, the file server or a community server) over a path, with its
//! span, its observation (latency and outcome) and the failure accounting of its path.

use std::sync::Arc;

use tracing::Instrument as _;

use super::Inner;
use crate::network::clock::local_now_ms;
use crate::network::error::SendError;
use crate::network::node::ServiceNode;
use crate::network::paths::Path;
use crate::network::transport::{answer_time, SnodeAnswer};
use crate::protocol::storage::StorageRequest;

impl Inner {
    /// One storage RPC to `dest` over a random path, with failure accounting. The answer's
    /// `t` feeds the clock.
    pub(in crate::network) async fn send(
        self: &Arc<Self>,
        dest: &ServiceNode,
        request: &StorageRequest,
    ) -> Result<SnodeAnswer, SendError> {
        let path =
            self.path_avoiding(Some(&dest.ed25519))
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

    /// One v4 request to `server` (the file server or a community server) over a random path.
    pub(in crate::network) async fn send_server(
        self: &Arc<Self>,
        server: &crate::protocol::onion::ServerTarget,
        request: &crate::protocol::onion::V4Request,
    ) -> Result<crate::protocol::onion::V4Response, SendError> {
        let path = self
            .path_avoiding(None)
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

    /// Asks `node` for `info` through the onion (feeds the clock); used after a 406/425.
    /// The window is cleared first: after a rejection its old offsets are wrong, and a median
    /// over them would ignore the fresh answer.
    pub(in crate::network) async fn resync_clock(self: &Arc<Self>, node: &ServiceNode) {
        self.clock.reset();
        if let Err(e) = self.send(node, &StorageRequest::info()).await {
            tracing::debug!(%node, error = %e, "clock resync failed");
        }
    }
}
