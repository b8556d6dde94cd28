//! The network layer's errors (style.md habit 4): [`SendError`] says which hop or node failed
//! one request; [`NetworkError`] is what an API call returns after retries.

use crate::protocol::onion::{BuildError, ReplyError, SnodeEd25519};
use crate::protocol::storage::response::SwarmInfo;
use crate::protocol::storage::RequestError as BuildRequestError;

/// Longest peer-supplied text kept in an error.
pub(crate) const MAX_TEXT: usize = 200;

/// Truncates peer text for an error message.
pub(crate) fn clip(text: &str) -> String {
    text.chars().take(MAX_TEXT).collect()
}

/// How one request (direct, or onion over one path) failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The guard (or, for a direct request, the node) could not be reached.
    #[error("node {node} unreachable: {reason}")]
    Unreachable {
        /// The node we connected to.
        node: SnodeEd25519,
        /// Connection error text.
        reason: String,
    },
    /// No answer within the timeout.
    #[error("node {node} timed out")]
    Timeout {
        /// The node we connected to (the guard).
        node: SnodeEd25519,
    },
    /// A relay on the path did not know the next node (`Next node not found: <ed>`).
    #[error("path via guard {guard}: relay could not find node {missing}")]
    NextNodeNotFound {
        /// The path's guard.
        guard: SnodeEd25519,
        /// The node named in the error.
        missing: SnodeEd25519,
    },
    /// A non-200 answer from the path (relay error, relay timeout 504, not ready 503, …).
    #[error("path via guard {guard}: HTTP {status}: {message}")]
    Path {
        /// The path's guard.
        guard: SnodeEd25519,
        /// HTTP status.
        status: u16,
        /// Plain-text reason (truncated).
        message: String,
    },
    /// The 200 reply did not decrypt or decode (a corrupting destination or relay).
    #[error("reply from destination {destination} unreadable: {reason}")]
    BadReply {
        /// The destination (a snode's Ed25519 hex, or the server host).
        destination: String,
        /// Decoding failure.
        reason: ReplyError,
    },
    /// The destination answered 421: the account is not in its swarm.
    #[error("node {node} is not in the account's swarm (421)")]
    Misdirected {
        /// The destination.
        node: SnodeEd25519,
        /// The swarm the node says is right, if its body parsed.
        swarm: Option<Box<SwarmInfo>>,
    },
    /// 406/425: the request's timestamp is outside the node's window.
    #[error("node {node} rejected our clock (HTTP {status})")]
    ClockOutOfSync {
        /// The destination.
        node: String,
        /// 406 or 425.
        status: u16,
    },
    /// 401/403/404 or another non-2xx status from the destination itself.
    #[error("destination {node} answered HTTP {status}: {message}")]
    Destination {
        /// The destination.
        node: String,
        /// Status.
        status: u16,
        /// Its text (truncated).
        message: String,
    },
    /// The destination's 2xx body is not what the method returns.
    #[error("destination {node} sent an invalid {what} answer")]
    InvalidBody {
        /// The destination.
        node: String,
        /// Which answer.
        what: &'static str,
    },
    /// No usable onion path (pool too small, no guard answered).
    #[error("no onion path: {reason}")]
    NoPath {
        /// Why paths could not be had.
        reason: String,
    },
    /// The onion request could not be built (bad node keys).
    #[error("cannot build onion request: {0}")]
    Build(#[from] BuildError),
}

impl SendError {
    /// The failure's kind and HTTP status, as `session_gateway_onion_request_failures_total`
    /// labels them (one kind per variant; listed in `metrics::ONION_FAILURE_KINDS`).
    pub fn metric_labels(&self) -> (&'static str, Option<u16>) {
        match self {
            Self::Unreachable { .. } => ("unreachable", None),
            Self::Timeout { .. } => ("timeout", None),
            Self::NextNodeNotFound { .. } => ("next_node_not_found", None),
            Self::Path { status, .. } => ("path", Some(*status)),
            Self::BadReply { .. } => ("bad_reply", None),
            Self::Misdirected { .. } => ("misdirected", Some(421)),
            Self::ClockOutOfSync { status, .. } => ("clock_out_of_sync", Some(*status)),
            Self::Destination { status, .. } => ("destination", Some(*status)),
            Self::InvalidBody { .. } => ("invalid_body", None),
            Self::NoPath { .. } => ("no_path", None),
            Self::Build(_) => ("build", None),
        }
    }

    /// True for failures a retry on another node or path may fix (not 401/403/404, not a
    /// request we cannot build).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Destination { status, .. } => !matches!(status, 401 | 403 | 404),
            Self::Build(_) | Self::ClockOutOfSync { .. } => false,
            _ => true,
        }
    }
}

/// Why a network API call failed after its retries.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NetworkError {
    /// No seed gave a node list.
    #[error("no seed answered: {0}")]
    Seeds(String),
    /// Too few usable nodes to build paths or find a swarm.
    #[error("not enough service nodes: need {need}, have {have}")]
    NotEnoughNodes {
        /// Nodes needed.
        need: usize,
        /// Nodes usable.
        have: usize,
    },
    /// No onion path for the request: no guard passed its `info` test, or no tested guard
    /// may carry this request (the destination itself is the only one).
    #[error("no onion path: no tested guard node can carry the request")]
    NoGuards,
    /// The account's swarm could not be found.
    #[error("swarm lookup failed: {0}")]
    NoSwarm(String),
    /// The request itself is invalid (too large, empty list, …).
    #[error("invalid request: {0}")]
    InvalidRequest(#[from] BuildRequestError),
    /// A failure retrying cannot fix (clock rejected twice, 401, 403, 404).
    #[error("{0}")]
    Rejected(SendError),
    /// Every attempt failed; the last failure is kept.
    #[error("failed after {attempts} attempts; last: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: SendError,
    },
    /// The file server answered with an error status.
    #[error("file server answered HTTP {status}: {message}")]
    FileServer {
        /// v4 status code.
        status: u16,
        /// Its text (truncated).
        message: String,
    },
    /// A community server answered with an error status.
    #[error("community server answered HTTP {status}: {message}")]
    Community {
        /// v4 status code.
        status: u16,
        /// Its text (truncated).
        message: String,
    },
    /// Configuration that cannot work (bad file server URL or key, no seeds).
    #[error("invalid network configuration: {0}")]
    Config(String),
}
