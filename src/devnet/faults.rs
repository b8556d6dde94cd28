//! Per-node faults (issue 3): all off by default, set from `--faults` or the control API.

use prost::Message as _;
use serde::{Deserialize, Serialize};

use crate::protocol::protos::WebSocketMessage;

/// The faults one node shows. JSON form (control API) uses these field names; the `--faults`
/// spec uses the same names (see [`super::config::parse_fault_spec`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fraction (0.0..=1.0) of requests that get no answer at all (the client times out; an
    /// internal relay or swarm peer sees an immediate timeout).
    pub drop: f64,
    /// Extra latency added before each request is handled, in ms.
    pub delay_ms: u64,
    /// Flip a byte of every onion reply this node encrypts or proxies (clients fail to decrypt).
    pub corrupt_onion: bool,
    /// Refuse to store: own swarm entry `{"failed":true,"query_failure":true}`; as the entry
    /// node the whole `store` answers 500 without fan-out.
    pub refuse_store: bool,
    /// Serve tampered message data on `retrieve` (first byte flipped, hash unchanged).
    pub tamper_retrieve: bool,
    /// On `retrieve`, answer only the newest message after the cursor, as a member that
    /// missed the others (or pretends to): a client keeping one cursor for the whole swarm
    /// moves it past messages honest members hold (issue 13, attack 4).
    pub cursor_skip: bool,
    /// On `retrieve`, always say `more: true`, whatever is left.
    pub always_more: bool,
    /// Answer every swarm-bound request with 421 and another swarm's body.
    pub false_421: bool,
    /// Store a re-wrapped copy of each 1:1 message stored here for an account: the same
    /// sealed content in a `WebSocketMessage` with another request id, so under another hash
    /// (issue 13, attack 3). The wrapper is outside the sender's signature; group messages
    /// (encrypted whole for the group) cannot be re-wrapped by a node and get no copy.
    pub replay: bool,
    /// Answer every relay hop with 502 `Next node not found: <ed25519 hex>`.
    pub next_node_not_found: bool,
    /// Answer everything with 503 `Snode not ready`.
    pub not_ready: bool,
    /// Lie about swarms (issue 13, attack 2): `get_swarm` and 421 bodies name the right swarm
    /// id but list the members of another swarm, and a `store` for an account of another
    /// swarm is "confirmed" with this node's own signature without storing anything.
    pub lie_swarm: bool,
    /// Answer every HTTPS request (direct RPC and onion entry) with 200 and a
    /// [`HUGE_REPLY_BYTES`] body streamed in chunks without a Content-Length (attack 5).
    pub huge_reply: bool,
    /// Run this node's clock [`CLOCK_LIE_MS`] ahead: its `t` says so, and it refuses (406)
    /// timestamps that are right by the network's clock (attack 6).
    pub clock_lie: bool,
    /// When set (an account's 66 hex digits), `false_421` and `tamper_retrieve` hit only
    /// requests for that account: one account misdirected or tampered with among others (in
    /// one batched request, say) while the rest are served honestly.
    pub only_account: Option<String>,
}

/// Bytes a `huge_reply` node streams per answer (more than any reply a client should read).
pub const HUGE_REPLY_BYTES: u64 = 48 * 1024 * 1024;

/// How far ahead a `clock_lie` node's clock runs, ms (an hour: far outside the ±60 s window).
pub const CLOCK_LIE_MS: u64 = 3_600_000;

impl Faults {
    /// Draws whether this request is dropped.
    pub fn should_drop(&self) -> bool {
        if self.drop <= 0.0 {
            return false;
        }
        self.drop >= 1.0 || rand::random::<f64>() < self.drop
    }

    /// Whether the account-level faults apply to `account` (see [`Faults::only_account`]).
    pub fn aims_at(&self, account: &[u8; 33]) -> bool {
        self.only_account
            .as_ref()
            .is_none_or(|only| only.eq_ignore_ascii_case(&hex::encode(account)))
    }

    /// True when no fault is on.
    pub fn is_clear(&self) -> bool {
        *self == Self::default()
    }
}

/// Flips one byte in the middle of `bytes` (used for corrupt replies and tampered data).
pub fn corrupt(bytes: &mut [u8]) {
    let mid = bytes.len() / 2;
    if let Some(b) = bytes.get_mut(mid) {
        *b ^= 0x5a;
    }
}

/// `data` re-wrapped as a `replay` node stores it: a 1:1 payload (a `WebSocketMessage`) with a
/// new request id, everything the sender signed unchanged. `None` for anything else.
pub fn rewrap(data: &[u8]) -> Option<Vec<u8>> {
    let mut message = WebSocketMessage::decode(data).ok()?;
    let request = message.request.as_mut()?;
    request.body.as_ref()?;
    let old = request.id.unwrap_or(0);
    request.id = Some(old.wrapping_add(1 + rand::random::<u64>() % 1_000_000));
    Some(message.encode_to_vec())
}
