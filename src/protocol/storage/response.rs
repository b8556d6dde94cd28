//! Service-node answers to storage RPC methods (§3.3, §4.6), as serde types.
//!
//! Every top-level answer carries `"t"` (node time, ms) and `"hf"` (`[major, minor]`) except
//! `get_expiries` and batch wrappers; both are optional here. Swarm ("recursive") methods answer
//! `{"swarm": {"<node ed25519 hex>": entry, …}, "t", "hf"}`, where each entry is a result signed
//! by that node or a failure marker; see [`SwarmEntry`]. Base64 in JSON mode.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{MessageHash, StorageError};
use crate::protocol::swarm::SwarmId;

/// Decodes a base64 Ed25519 signature as the server accepts it: 86 characters, or 88 ending in
/// `==` (§4.2).
pub fn decode_signature(text: &str) -> Result<Signature, StorageError> {
    let body = match text.len() {
        86 => text,
        88 => text
            .strip_suffix("==")
            .ok_or(StorageError::InvalidSignature)?,
        _ => return Err(StorageError::InvalidSignature),
    };
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(body)
        .map_err(|_| StorageError::InvalidSignature)?;
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|_| StorageError::InvalidSignature)?;
    Ok(Signature::from_bytes(&bytes))
}

/// Encodes a signature the way nodes and Desktop do (padded base64, 88 characters).
pub fn encode_signature(signature: &Signature) -> String {
    STANDARD.encode(signature.to_bytes())
}

/// Checks a node's entry signature (`signature`, base64) over `message` with the node's key.
pub fn verify_node_signature(node: &VerifyingKey, message: &[u8], signature_b64: &str) -> bool {
    decode_signature(signature_b64).is_ok_and(|sig| node.verify_strict(message, &sig).is_ok())
}

/// A swarm member's failure marker (`"failed": true` plus at most a few details).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedEntry {
    /// Always `true` on the wire.
    pub failed: bool,
    /// The peer did not answer within 5 s.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timeout: bool,
    /// HTTP-like status the peer returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// Its reason text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The peer's answer did not parse.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bad_peer_response: bool,
    /// The peer's database failed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub query_failure: bool,
}

/// One node's entry in a swarm answer: its signed result, or a failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SwarmEntry<E> {
    /// The member's signed result.
    Ok(E),
    /// The member failed.
    Failed(FailedEntry),
}

impl<'de, E: serde::de::DeserializeOwned> Deserialize<'de> for SwarmEntry<E> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let failed = value.get("failed").and_then(serde_json::Value::as_bool) == Some(true);
        let parsed = if failed {
            serde_json::from_value(value).map(SwarmEntry::Failed)
        } else {
            serde_json::from_value(value).map(SwarmEntry::Ok)
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

/// The answer of a swarm method: entries keyed by node Ed25519 hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmResponse<E> {
    /// One entry per swarm member, the entry node included.
    #[serde(bound(deserialize = "E: serde::de::DeserializeOwned"))]
    pub swarm: BTreeMap<String, SwarmEntry<E>>,
    /// Compatibility copy of the stored hash (`store` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<MessageHash>,
    /// Node time, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<u64>,
    /// Hardfork `[major, minor]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf: Option<Vec<u32>>,
}

/// A `store` entry; the node signs the hash as ASCII.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreEntry {
    /// The stored message's hash.
    pub hash: MessageHash,
    /// Node signature over the hash, base64.
    pub signature: String,
    /// The expiry the node applied, ms.
    pub expiry: u64,
    /// The message was already stored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already: bool,
    /// Node time (only the entry node's own entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<u64>,
}

/// A `delete` entry; signs `PUBKEY_HEX ‖ requested ‖ deleted`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteEntry {
    /// Hashes this node deleted, sorted.
    pub deleted: Vec<MessageHash>,
    /// Node signature, base64.
    pub signature: String,
}

/// Affected hashes: a sorted list for one namespace, or by namespace (decimal keys) for `"all"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AffectedHashes {
    /// One namespace.
    List(Vec<MessageHash>),
    /// `"all"`: namespace (decimal text) → sorted hashes.
    ByNamespace(BTreeMap<String, Vec<MessageHash>>),
}

impl AffectedHashes {
    /// Every hash, totally sorted: the order the node signs.
    pub fn sorted(&self) -> Vec<MessageHash> {
        let mut all: Vec<MessageHash> = match self {
            Self::List(list) => list.clone(),
            Self::ByNamespace(map) => map.values().flatten().cloned().collect(),
        };
        all.sort();
        all
    }
}

/// A `delete_all` / `delete_before` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteAllEntry {
    /// What this node deleted.
    pub deleted: AffectedHashes,
    /// Node signature, base64.
    pub signature: String,
}

/// An `expire_all` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireAllEntry {
    /// What this node shortened.
    pub updated: AffectedHashes,
    /// Node signature, base64.
    pub signature: String,
}

/// An `expire` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireEntry {
    /// Hashes updated, sorted.
    pub updated: Vec<MessageHash>,
    /// Hashes not changed (only with `shorten`/`extend`) and their current expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unchanged: Option<BTreeMap<MessageHash, u64>>,
    /// The expiry tried (one requested) or those applied (several), ms.
    pub expiry: super::Expiries,
    /// Node signature, base64.
    pub signature: String,
}

/// A `revoke_subaccount` / `unrevoke_subaccount` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeEntry {
    /// Node signature over `PUBKEY_HEX ‖ timestamp ‖ tokens`, base64.
    pub signature: String,
    /// Tokens removed from the revocation list (`unrevoke` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

/// `store` answer.
pub type StoreResponse = SwarmResponse<StoreEntry>;
/// `delete` answer.
pub type DeleteResponse = SwarmResponse<DeleteEntry>;
/// `delete_all` and `delete_before` answer.
pub type DeleteAllResponse = SwarmResponse<DeleteAllEntry>;
/// `expire_all` answer.
pub type ExpireAllResponse = SwarmResponse<ExpireAllEntry>;
/// `expire` answer.
pub type ExpireResponse = SwarmResponse<ExpireEntry>;
/// `revoke_subaccount` / `unrevoke_subaccount` answer.
pub type RevokeResponse = SwarmResponse<RevokeEntry>;

/// One message of a `retrieve` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrievedMessage {
    /// Its hash.
    pub hash: MessageHash,
    /// Store timestamp, ms.
    pub timestamp: u64,
    /// Expiry, ms (the key is `expiration`, not `expiry`).
    pub expiration: u64,
    /// Body, base64.
    pub data: String,
}

/// `retrieve` answer: messages in order, the last one's hash being the next `last_hash`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrieveResponse {
    /// The messages.
    pub messages: Vec<RetrievedMessage>,
    /// More messages wait beyond the size/count limit.
    #[serde(default)]
    pub more: bool,
    /// Node time, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<u64>,
    /// Hardfork.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf: Option<Vec<u32>>,
}

/// A service node as `get_swarm` (and a 421 body) describes it (§3.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnodeInfo {
    /// `<base32z legacy pubkey>.snode`.
    #[serde(default)]
    pub address: String,
    /// Legacy pubkey, hex.
    #[serde(default)]
    pub pubkey_legacy: String,
    /// X25519 pubkey, hex.
    pub pubkey_x25519: String,
    /// Ed25519 pubkey, hex.
    pub pubkey_ed25519: String,
    /// HTTPS port as a decimal string.
    #[serde(default)]
    pub port: String,
    /// HTTPS port.
    pub port_https: u16,
    /// OxenMQ port.
    #[serde(default)]
    pub port_omq: u16,
    /// QUIC port.
    #[serde(default)]
    pub port_quic: u16,
    /// IPv4 address, dotted; clients skip `0.0.0.0`.
    pub ip: String,
}

/// `get_swarm` answer, and the body of a 421 (§3.3, §3.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmInfo {
    /// The swarm's nodes.
    pub snodes: Vec<SnodeInfo>,
    /// The swarm id (lowercase hex; `ffffffffffffffff` when none).
    pub swarm: SwarmId,
    /// Node time, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<u64>,
    /// Hardfork.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf: Option<Vec<u32>>,
}

/// `info` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoResponse {
    /// Storage server version `[major, minor, patch]`.
    pub version: Vec<u32>,
    /// Node time, ms (the recommended clock source).
    pub timestamp: u64,
    /// Node time, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<u64>,
    /// Hardfork.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf: Option<Vec<u32>>,
}

/// `get_expiries` answer: only hashes that exist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetExpiriesResponse {
    /// Hash → expiry, ms.
    pub expiries: BTreeMap<MessageHash, u64>,
}

/// One subrequest result of `batch` / `sequence`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    /// HTTP-like status of the subrequest.
    pub code: u16,
    /// Its body: JSON, or a string for errors.
    pub body: serde_json::Value,
}

/// `batch` / `sequence` answer, results in request order (`sequence` stops after a failure).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// The results.
    pub results: Vec<BatchResult>,
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
