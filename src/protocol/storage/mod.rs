//! The storage RPC spoken to service nodes, pure layer (`../shared/protocol/network.md` §4).
//!
//! * [`AccountId`], [`Namespace`], [`MessageHash`]: the values every method is about.
//!
//! Sources: SS `oxenss/rpc/client_rpc_endpoints.cpp`, `oxenss/rpc/request_handler.cpp`,
//! `oxenss/common/{namespace.h,pubkey.cpp}`.

mod account;
mod hash;
mod namespace;

pub use account::{AccountId, ACCOUNT_ID_BYTES, ACCOUNT_ID_HEX};
pub use hash::{message_hash, MessageHash, MESSAGE_HASH_LEN};
pub use namespace::{Namespace, NamespaceSelector};

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
}
