//! What the network client measures, told to whoever watches it.
//!
//! The network layer imports only `protocol` (design.md §3), so it does not know the gateway's
//! Prometheus families: it reports each onion request and each path failure to a
//! [`NetworkObserver`], and the gateway's `metrics::Metrics` implements that trait. Pool, path,
//! swarm-cache and clock figures are read instead ([`crate::network::SessionNetwork::stats`]).

/// Receives the client's measurements as they happen. Called on the I/O runtime from inside a
/// request, so an implementation must be quick and must not block.
pub trait NetworkObserver: Send + Sync {
    /// One onion request ended after `seconds` (build, send, reply); `failure` is its kind and
    /// HTTP status ([`crate::network::SendError::metric_labels`]) if it failed.
    fn onion_request(&self, seconds: f64, failure: Option<(&'static str, Option<u16>)>);

    /// An onion request counted against its path.
    fn path_failure(&self);
}
