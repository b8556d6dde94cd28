//! The storage RPC spoken to service nodes, pure layer (`../shared/protocol/network.md` §4).
//!
//! * [`AccountId`], [`Namespace`], [`MessageHash`], [`SubaccountToken`]: the values every method
//!   is about, each parsed with the server's rules.
//! * [`signing`]: the exact bytes clients and nodes sign.
//! * [`StorageRequest`] and its builders: the JSON bodies Session Desktop sends.
//! * [`response`]: the JSON bodies nodes answer with.
//! * [`limits`]: sizes, TTLs and clock windows.
//! * [`verify_request_signature`]: a node's check of a client signature.
//!
//! Sources: SS `oxenss/rpc/client_rpc_endpoints.cpp`, `oxenss/rpc/request_handler.cpp`,
//! `oxenss/common/{namespace.h,pubkey.cpp,subaccount_token.h}`; SD `snode_api/*.ts`.

mod account;
mod builder;
mod hash;
pub mod limits;
mod namespace;
mod request;
pub mod response;
pub mod signing;
mod subaccount;
mod verify;

pub use account::{AccountId, ACCOUNT_ID_BYTES, ACCOUNT_ID_HEX};
pub use builder::{check_batch, check_batch_len, retrieve_signed, RequestError, Signer};
pub use hash::{message_hash, MessageHash, MESSAGE_HASH_LEN};
pub use limits::{BATCH_REQUEST_MAX, MAX_STORE_DATA_BASE64, MAX_STORE_DATA_BYTES};
pub use namespace::{Namespace, NamespaceSelector};
pub use request::*;
pub use signing::ExpireMode;
pub use subaccount::{
    SubaccountCheckError, SubaccountFlags, SubaccountToken, SUBACCOUNT_TOKEN_BYTES,
};
pub use verify::{parse_pubkey_ed25519, parse_signature, verify_request_signature, VerifyError};

/// Why a storage value failed to parse or check. Display texts that the server also sends match
/// it word for word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The `pubkey` is neither 66 hex digits nor 33 bytes.
    #[error("Pubkey must be 66 hex digits (33 bytes) long")]
    InvalidPubkey,
    /// A message hash is not 43 characters of base64.
    #[error("invalid message hash: expected base64 (43 chars)")]
    InvalidMessageHash,
    /// A subaccount token is neither 48 base64 characters nor 72 hex digits.
    #[error("invalid subaccount: expected base64 or hex-encoded subaccount token")]
    InvalidSubaccountToken,
    /// A signature is not base64 of 64 bytes (86 chars, or 88 ending in `==`).
    #[error("invalid signature: expected base64 encoded Ed25519 signature")]
    InvalidSignature,
}
