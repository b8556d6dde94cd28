//! Storage RPC requests as JSON values (§4.1, §4.6), in the shape Session Desktop sends.
//!
//! A [`StorageRequest`] serialises to `{"method": "<name>", "params": {…}}`, the body of
//! `/storage_rpc/v1` and of an onion request to a service node. It also deserialises what clients
//! send (the aliases `pubKey`, `lastHash`, `get_snodes_for_pubkey`; `timestamp`/`ttl` of `store`
//! as integer or decimal string; extra keys ignored), so the devnet parses with the same types.
//! Builders that sign live in `builder.rs`.

use serde::{Deserialize, Serialize};

use super::{
    AccountId, MessageHash, Namespace, NamespaceSelector, SubaccountFlags, SubaccountToken,
};

/// Signature fields common to authenticated methods (§4.2), flattened into each method's params.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthParams {
    /// The account's (or subaccount's) Ed25519 signature over the method's signed string, base64
    /// (86 chars unpadded or 88 padded; builders send padded, like Desktop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// For `05` accounts: the Ed25519 key (64 hex, either case) whose X25519 form is the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubkey_ed25519: Option<String>,
    /// A subaccount token (base64 48 chars or hex 72).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount: Option<SubaccountToken>,
    /// The account owner's signature over the token bytes, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subaccount_sig: Option<String>,
}

/// `store` params (§4.6). Exactly one of `ttl` / `expiry` should be present.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreParams {
    /// The recipient account.
    #[serde(alias = "pubKey")]
    pub pubkey: AccountId,
    /// Creation time, ms (integer or decimal string on the wire); also the signature timestamp
    /// unless `sig_timestamp` is given.
    #[serde(deserialize_with = "int_or_string")]
    pub timestamp: u64,
    /// Time to live, ms (integer or decimal string).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_int_or_string"
    )]
    pub ttl: Option<u64>,
    /// Absolute expiry, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<u64>,
    /// Target namespace (default 0).
    #[serde(default)]
    pub namespace: Namespace,
    /// The message, standard base64 (≤ 102,400 chars).
    pub data: String,
    /// Signature timestamp, when it differs from `timestamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig_timestamp: Option<u64>,
    /// Signature fields (absent for public-inbox stores).
    #[serde(flatten)]
    pub auth: AuthParams,
}

/// `retrieve` params (§4.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrieveParams {
    /// The polled account.
    #[serde(alias = "pubKey")]
    pub pubkey: AccountId,
    /// Namespace to read (default 0).
    #[serde(default)]
    pub namespace: Namespace,
    /// Return messages after this one; sent as `""` when there is none yet.
    #[serde(default, alias = "lastHash", with = "last_hash")]
    pub last_hash: Option<MessageHash>,
    /// Most messages to return (0 = unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<i64>,
    /// Byte budget (0 = unset, `-k` = 7,800,000 / k).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<i64>,
    /// Signature timestamp, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    /// Signature fields.
    #[serde(flatten)]
    pub auth: AuthParams,
}

/// `delete` params (§4.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteParams {
    /// The account.
    #[serde(alias = "pubKey")]
    pub pubkey: AccountId,
    /// Hashes to delete, in the order signed.
    pub messages: Vec<MessageHash>,
    /// Answer 404 when nothing was deleted anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// Signature fields.
    #[serde(flatten)]
    pub auth: AuthParams,
}

/// `delete_all` params (§4.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteAllParams {
    /// The account.
    #[serde(alias = "pubKey")]
    pub pubkey: AccountId,
    /// One namespace or `"all"` (default 0).
    #[serde(default)]
    pub namespace: NamespaceSelector,
    /// Signature timestamp, ms.
    pub timestamp: u64,
    /// Signature fields.
    #[serde(flatten)]
    pub auth: AuthParams,
}

/// `delete_before` params (§4.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteBeforeParams {
    /// The account.
    #[serde(alias = "pubKey")]
    pub pubkey: AccountId,
    /// One namespace or `"all"` (default 0).
    #[serde(default)]
    pub namespace: NamespaceSelector,
    /// Delete messages stored before this time, ms (also what is signed).
    pub before: u64,
    /// Signature fields.
    #[serde(flatten)]
    pub auth: AuthParams,
}

/// `expire_all` params (§4.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireAllParams {
    /// The account.
    #[serde(alias = "pubKey")]
    pub pubkey: AccountId,
    /// One namespace or `"all"` (default 0).
    #[serde(default)]
    pub namespace: NamespaceSelector,
    /// New (earlier) expiry, ms.
    pub expiry: u64,
    /// Signature fields.
    #[serde(flatten)]
    pub auth: AuthParams,
}

/// One expiry for every message, or one per message (§4.6 `expire`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Expiries {
    /// The same expiry for all messages.
    One(u64),
    /// One expiry per message, in order (needs HF ≥ 19.4).
    Many(Vec<u64>),
}

impl Expiries {
    /// The values in signing order.
    pub fn as_slice(&self) -> &[u64] {
        match self {
            Self::One(value) => std::slice::from_ref(value),
            Self::Many(values) => values,
        }
    }
}

/// `expire` params (§4.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireParams {
    /// The account.
    #[serde(alias = "pubKey")]
    pub pubkey: AccountId,
    /// Hashes whose expiry changes.
    pub messages: Vec<MessageHash>,
    /// New expiry or expiries, ms.
    pub expiry: Expiries,
    /// Only make expiries earlier.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shorten: bool,
    /// Only make expiries later.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub extend: bool,
    /// Signature fields.
    #[serde(flatten)]
    pub auth: AuthParams,
}

/// `get_expiries` params (§4.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetExpiriesParams {
    /// The account.
    #[serde(alias = "pubKey")]
    pub pubkey: AccountId,
    /// Hashes to look up.
    pub messages: Vec<MessageHash>,
    /// Signature timestamp, ms.
    pub timestamp: u64,
    /// Signature fields.
    #[serde(flatten)]
    pub auth: AuthParams,
}

/// `get_swarm` params (§3.3). Desktop adds an inner `params` object that nodes ignore.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GetSwarmParams {
    /// The account whose swarm is wanted.
    #[serde(alias = "pubKey")]
    pub pubkey: AccountId,
    /// Ignored by nodes; kept for byte-compatibility with Desktop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
}

/// `oxend_request` params (§2.2): an allowed oxend endpoint and its params.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OxendRequestParams {
    /// The oxend RPC endpoint, e.g. `get_service_nodes`.
    pub endpoint: String,
    /// Its params.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
}

/// `revoke_subaccount` params (§4.6). The tokens go out as hex, like Desktop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeSubaccountParams {
    /// The account (a group).
    #[serde(alias = "pubKey")]
    pub pubkey: AccountId,
    /// Tokens to revoke (one token or a list on the wire).
    #[serde(with = "token_list")]
    pub revoke: Vec<SubaccountToken>,
    /// Signature timestamp, ms.
    pub timestamp: u64,
    /// Signature fields (subaccounts are not allowed here).
    #[serde(flatten)]
    pub auth: AuthParams,
}

/// `unrevoke_subaccount` params (§4.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnrevokeSubaccountParams {
    /// The account (a group).
    #[serde(alias = "pubKey")]
    pub pubkey: AccountId,
    /// Tokens to unrevoke.
    #[serde(with = "token_list")]
    pub unrevoke: Vec<SubaccountToken>,
    /// Signature timestamp, ms.
    pub timestamp: u64,
    /// Signature fields.
    #[serde(flatten)]
    pub auth: AuthParams,
}

/// `batch` / `sequence` params: 1..=20 subrequests, none of them a meta-method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchParams {
    /// The subrequests, each `{"method", "params"}`.
    pub requests: Vec<StorageRequest>,
}

/// `info` params: none (`{}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoParams {}

/// One storage RPC request: `{"method": "<name>", "params": {…}}` (§4.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params", rename_all = "snake_case")]
pub enum StorageRequest {
    /// Store a message.
    Store(StoreParams),
    /// Read messages after a hash.
    Retrieve(RetrieveParams),
    /// Node version and clock.
    Info(InfoParams),
    /// Delete messages by hash.
    Delete(DeleteParams),
    /// Delete a namespace or everything.
    DeleteAll(DeleteAllParams),
    /// Delete messages older than a time.
    DeleteBefore(DeleteBeforeParams),
    /// Shorten every expiry.
    ExpireAll(ExpireAllParams),
    /// Change expiries of given messages.
    Expire(ExpireParams),
    /// Read expiries of given messages.
    GetExpiries(GetExpiriesParams),
    /// The swarm of an account.
    #[serde(alias = "get_snodes_for_pubkey")]
    GetSwarm(GetSwarmParams),
    /// A whitelisted oxend RPC call.
    OxendRequest(OxendRequestParams),
    /// Revoke subaccount tokens.
    RevokeSubaccount(RevokeSubaccountParams),
    /// Undo revocations.
    UnrevokeSubaccount(UnrevokeSubaccountParams),
    /// Subrequests, possibly in parallel.
    Batch(BatchParams),
    /// Subrequests in order, stopping at the first failure.
    Sequence(BatchParams),
}

impl StorageRequest {
    /// The wire method name.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Store(_) => "store",
            Self::Retrieve(_) => "retrieve",
            Self::Info(_) => "info",
            Self::Delete(_) => "delete",
            Self::DeleteAll(_) => "delete_all",
            Self::DeleteBefore(_) => "delete_before",
            Self::ExpireAll(_) => "expire_all",
            Self::Expire(_) => "expire",
            Self::GetExpiries(_) => "get_expiries",
            Self::GetSwarm(_) => "get_swarm",
            Self::OxendRequest(_) => "oxend_request",
            Self::RevokeSubaccount(_) => "revoke_subaccount",
            Self::UnrevokeSubaccount(_) => "unrevoke_subaccount",
            Self::Batch(_) => "batch",
            Self::Sequence(_) => "sequence",
        }
    }

    /// Whether this is a meta-method (`batch`, `sequence`), which may not nest.
    pub fn is_meta(&self) -> bool {
        matches!(self, Self::Batch(_) | Self::Sequence(_))
    }

    /// The account a swarm-bound method is about (its target swarm), if any.
    pub fn account(&self) -> Option<&AccountId> {
        match self {
            Self::Store(p) => Some(&p.pubkey),
            Self::Retrieve(p) => Some(&p.pubkey),
            Self::Delete(p) => Some(&p.pubkey),
            Self::DeleteAll(p) => Some(&p.pubkey),
            Self::DeleteBefore(p) => Some(&p.pubkey),
            Self::ExpireAll(p) => Some(&p.pubkey),
            Self::Expire(p) => Some(&p.pubkey),
            Self::GetExpiries(p) => Some(&p.pubkey),
            Self::RevokeSubaccount(p) => Some(&p.pubkey),
            Self::UnrevokeSubaccount(p) => Some(&p.pubkey),
            Self::GetSwarm(_) | Self::Info(_) | Self::OxendRequest(_) => None,
            Self::Batch(_) | Self::Sequence(_) => None,
        }
    }

    /// The subaccount permission a method needs (SS `request_handler.cpp`), or `None` where a
    /// subaccount may not sign (revoke/unrevoke) or nothing is signed.
    ///
    /// `expire` needs Write; without Delete the node forces extend-only and refuses `shorten`.
    pub fn required_subaccount_flags(&self) -> Option<SubaccountFlags> {
        match self {
            Self::Store(p) if p.namespace.is_public_outbox() => {
                Some(SubaccountFlags::WRITE | SubaccountFlags::DELETE)
            }
            Self::Store(_) | Self::Expire(_) => Some(SubaccountFlags::WRITE),
            Self::Retrieve(_) | Self::GetExpiries(_) => Some(SubaccountFlags::READ),
            Self::Delete(_) | Self::DeleteAll(_) | Self::DeleteBefore(_) | Self::ExpireAll(_) => {
                Some(SubaccountFlags::DELETE)
            }
            Self::RevokeSubaccount(_) | Self::UnrevokeSubaccount(_) => None,
            Self::Info(_) | Self::GetSwarm(_) | Self::OxendRequest(_) => None,
            Self::Batch(_) | Self::Sequence(_) => None,
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> serde_json::Value {
        // Serialising these types cannot fail: every map key is a string.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The JSON body as the bytes sent: the same JSON as [`Self::to_json`], written straight
    /// from the request without building a `Value` tree first (every onion request to a
    /// service node does this; the tree's maps and strings showed in profiles of sending
    /// one, issue 16).
    pub fn to_json_bytes(&self) -> Vec<u8> {
        // As above, serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_else(|_| b"null".to_vec())
    }
}

fn int_or_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Int(value) => Ok(value),
        Raw::Text(text) => text.parse().map_err(serde::de::Error::custom),
    }
}

fn opt_int_or_string<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    int_or_string(deserializer).map(Some)
}

/// `last_hash`: `""` means none, both ways.
mod last_hash {
    use super::MessageHash;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<MessageHash>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value.as_ref().map_or("", MessageHash::as_str))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<MessageHash>, D::Error> {
        let text = String::deserialize(d)?;
        if text.is_empty() {
            return Ok(None);
        }
        MessageHash::parse(&text)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

/// Subaccount token lists: hex strings out (as Desktop); one token or a list, base64 or hex, in.
mod token_list {
    use super::SubaccountToken;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tokens: &[SubaccountToken], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(tokens.iter().map(|t| hex::encode(t.as_bytes())))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SubaccountToken>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(SubaccountToken),
            Many(Vec<SubaccountToken>),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::One(token) => vec![token],
            Raw::Many(tokens) => tokens,
        })
    }
}
