//! libsession config messages (`../shared/protocol/groups.md` §1): the signed, bencoded
//! messages that carry group info (namespace 13), group members (14) and user configs (2-5).
//!
//! * [`data`]: the application data (`&`) as typed values (§1.1).
//! * [`diff`]: diffs (`=`, `<`), computing and replaying them (§1.1, §1.2).
//! * [`message`]: parsing, verifying, writing and signing a message (§1.1).
//! * [`merge`]: combining several heads into one state (§1.2).
//! * [`info`], [`members`]: the contents of group info and members (§3.1, §3.2).
//! * [`transport`]: compression, padding and encryption for the swarm (§1.3-§1.5).
//! * [`user_groups`]: a v2 group's entry in the user's UserGroups config (§3.3).
//!
//! The wire decoder is `protocol::bencode` (strict, canonical, depth-bounded). Vectors:
//! `tests/vectors/groups_config.json` (libsession `tests/test_configdata.cpp`).

pub mod data;
pub mod diff;
pub mod info;
pub mod members;
pub mod merge;
pub mod message;
pub mod multipart;
pub mod transport;
pub mod user_groups;
pub mod wrap;

pub use data::{ConfigDict, ConfigSet, ConfigValue, Scalar};
pub use diff::{Diff, DiffEntry};
pub use merge::{merge, MergeOutcome};
pub use message::{ConfigMessage, MutableConfigMessage, SeqnoHash, DEFAULT_LAG};
pub use multipart::{MultipartAssembler, MultipartError, MultipartOutcome, MultipartPart};
pub use transport::{
    open_config, open_config_part, seal_config, ConfigKind, ConfigTransportError, OpenedConfig,
};

use crate::protocol::bencode::BencodeError;

/// Why bytes are not a valid config message. Named after libsession's refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not canonical bencode.
    #[error("invalid bencode: {0}")]
    Bencode(#[from] BencodeError),
    /// The top-level value is not a dict.
    #[error("config message is not a dict")]
    NotADict,
    /// The first key is not `#` with an integer.
    #[error("config message must start with the \"#\" seqno")]
    MissingSeqno,
    /// No `&` data dict.
    #[error("config message has no \"&\" data dict")]
    MissingData,
    /// A nested dict in the data is empty (unpruned).
    #[error("config data contains an unpruned, empty dict")]
    EmptyDict,
    /// A set in the data is empty (unpruned).
    #[error("config data contains an unpruned, empty set")]
    EmptySet,
    /// A set holds a list or dict.
    #[error("config set holds a non-scalar value")]
    SetNotScalar,
    /// A set is not sorted (ints before strings) or has duplicates.
    #[error("config set is unsorted or has duplicates")]
    SetUnsorted,
    /// A diff value is not `""`, `"-"`, a sub-diff or a `[added, removed]` pair.
    #[error("invalid config diff")]
    InvalidDiff,
    /// A lagged diff is not a sorted, unique `[seqno < current, 32-byte hash, diff]`.
    #[error("invalid lagged config diff")]
    InvalidLaggedDiff,
    /// A key sorts after `~`.
    #[error("config message has keys after the signature")]
    KeyAfterSignature,
    /// A verifier is set but the message is unsigned.
    #[error("config signature is missing")]
    MissingSignature,
    /// The `~` value is not a 64-byte string.
    #[error("config signature is not 64 bytes")]
    InvalidSignature,
    /// The signature does not verify with the group key.
    #[error("config signature failed verification")]
    BadSignature,
    /// Merging was given nothing that parsed and verified.
    #[error("no valid config messages")]
    NoValidMessages,
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_contents;
#[cfg(test)]
mod tests_junk;
#[cfg(test)]
mod tests_multipart;
#[cfg(test)]
mod tests_transport;
#[cfg(test)]
mod tests_user_groups;
#[cfg(test)]
mod tests_wrap;
