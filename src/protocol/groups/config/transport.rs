//! The push and pull pipeline of a config message (groups.md §1.3): compression, padding and
//! encryption (§1.4) around the bencoded message, and the reverse.
//!
//! ```text
//! push:  plain = message bytes                      (signed for group configs)
//!        if 'z' ‖ zstd(level 1, plain) is shorter:  plain = 'z' ‖ zstd frame
//!        plain = 0x00 × n ‖ plain                   prefix padding to padded_size(len) (below)
//!        out  = config_encrypt(plain, key, domain)  ≤ 76 800 bytes
//! pull:  decrypt with each known key in turn; strip leading 0x00; 'm' = multipart part
//!        (§1.7, [`open_config_part`] hands it to a [`MultipartAssembler`]; [`open_config`]
//!        refuses it); 'z' = zstd (decompress the rest); then it must start with 'd'.
//! ```
//! The zstd output is not byte-identical across library versions (§9), so pushes are checked
//! by what they decode to, not by bytes.

use std::io::Read;

use super::message::ConfigMessage;
use super::multipart::{MultipartAssembler, MultipartError, MultipartOutcome, MultipartPart};
use crate::protocol::groups::config_encrypt::{
    decrypt_config, encrypt_config, ConfigEncryptError, CONFIG_OVERHEAD,
};

/// The storage server's largest message (`MAX_MESSAGE_SIZE`).
pub const MAX_MESSAGE_SIZE: usize = 76_800;
/// The zstd level libsession uses for every config type (`compression_level()`).
pub const COMPRESSION_LEVEL: i32 = 1;
/// The most a compressed config may expand to. libsession sets no bound; ours keeps a
/// 76 800-byte message from inflating without limit, far above any real group's config.
pub const MAX_DECOMPRESSED: usize = 4 * 1024 * 1024;

/// Which config a message is: its encryption domain and its namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigKind {
    /// Group info, namespace 13.
    GroupInfo,
    /// Group members, namespace 14.
    GroupMembers,
    /// The user's profile, namespace 2.
    UserProfile,
    /// The user's contacts, namespace 3.
    Contacts,
    /// Conversation read state, namespace 4.
    ConvoInfoVolatile,
    /// The user's groups and communities, namespace 5.
    UserGroups,
}

impl ConfigKind {
    /// The encryption domain (§1.3).
    pub const fn domain(self) -> &'static str {
        match self {
            Self::GroupInfo => "groups::Info",
            Self::GroupMembers => "groups::Members",
            Self::UserProfile => "UserProfile",
            Self::Contacts => "Contacts",
            Self::ConvoInfoVolatile => "ConvoInfoVolatile",
            Self::UserGroups => "UserGroups",
        }
    }

    /// The swarm namespace the messages live in.
    pub const fn namespace(self) -> i16 {
        match self {
            Self::GroupInfo => 13,
            Self::GroupMembers => 14,
            Self::UserProfile => 2,
            Self::Contacts => 3,
            Self::ConvoInfoVolatile => 4,
            Self::UserGroups => 5,
        }
    }
}

/// Why a config could not be sealed or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConfigTransportError {
    /// Encryption refused (only for an invalid domain).
    #[error(transparent)]
    Encrypt(#[from] ConfigEncryptError),
    /// The sealed message exceeds [`MAX_MESSAGE_SIZE`].
    #[error("config message too large ({0} bytes)")]
    TooLarge(usize),
    /// zstd failed to compress.
    #[error("config compression failed")]
    Compression,
    /// No key decrypts the message.
    #[error("no known key decrypts the config message")]
    NoKey,
    /// Only padding inside.
    #[error("config message contains no data")]
    Empty,
    /// A part of a multipart config (§1.7), which [`open_config`] does not assemble.
    #[error("multipart config messages are not supported")]
    Multipart,
    /// A multipart part (§1.7) refused by [`open_config_part`].
    #[error(transparent)]
    MultipartPart(#[from] MultipartError),
    /// Not a valid zstd frame, empty, or larger than [`MAX_DECOMPRESSED`].
    #[error("config decompression failed")]
    Decompression,
    /// The plaintext is not a bencoded dict.
    #[error("config plaintext is not a config message")]
    NotAConfig,
}

/// The total length a message of `size` bytes is padded to, counting `overhead` bytes that
/// will be added after padding (libsession `padded_size`): 256-byte steps below 5 120, 1 024
/// below 20 480, 2 048 below 40 960, then 5 120.
pub const fn padded_size(size: usize, overhead: usize) -> usize {
    let total = size + overhead;
    let chunk = if total < 5120 {
        256
    } else if total < 20_480 {
        1024
    } else if total < 40_960 {
        2048
    } else {
        5120
    };
    total.div_ceil(chunk) * chunk - overhead
}

/// Compresses, pads and encrypts a message for the swarm (§1.3) with the first key of the
/// config's key list (§1.5).
pub fn seal_config(
    message: &ConfigMessage,
    key: &[u8; 32],
    kind: ConfigKind,
) -> Result<Vec<u8>, ConfigTransportError> {
    let plain = message.as_bytes();
    let mut compressed = vec![b'z'];
    compressed.extend(
        zstd::bulk::compress(plain, COMPRESSION_LEVEL)
            .map_err(|_| ConfigTransportError::Compression)?,
    );
    let body = if compressed.len() < plain.len() {
        &compressed[..]
    } else {
        plain
    };
    let mut padded = vec![0u8; padded_size(body.len(), CONFIG_OVERHEAD) - body.len()];
    padded.extend_from_slice(body);
    let sealed = encrypt_config(&padded, key, kind.domain())?;
    if sealed.len() > MAX_MESSAGE_SIZE {
        return Err(ConfigTransportError::TooLarge(sealed.len()));
    }
    Ok(sealed)
}

/// Decrypts a config message with whichever of `keys` fits, strips the padding and
/// decompresses (§1.3): the bytes to give [`ConfigMessage::parse`] or the merge.
pub fn open_config(
    ciphertext: &[u8],
    keys: &[[u8; 32]],
    kind: ConfigKind,
) -> Result<Vec<u8>, ConfigTransportError> {
    let body = decrypt_unpadded(ciphertext, keys, kind)?;
    if body.first() == Some(&b'm') {
        return Err(ConfigTransportError::Multipart);
    }
    finish_plaintext(&body)
}

/// What [`open_config_part`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenedConfig {
    /// A single-part config message (starts with `'d'`).
    Single(Vec<u8>),
    /// A multipart part (§1.7) was stored or ignored as a duplicate; its set is incomplete.
    Part,
    /// A multipart part completed its set: the reassembled config message (starts with `'d'`).
    Complete(Vec<u8>),
}

/// Like [`open_config`], but a multipart part (§1.7) goes to `assembler`; `now_ms` is when the
/// message arrived and `max_wait_ms` how long an incomplete set is kept (the caller's clock).
pub fn open_config_part(
    ciphertext: &[u8],
    keys: &[[u8; 32]],
    kind: ConfigKind,
    assembler: &mut MultipartAssembler,
    now_ms: u64,
    max_wait_ms: u64,
) -> Result<OpenedConfig, ConfigTransportError> {
    let body = decrypt_unpadded(ciphertext, keys, kind)?;
    if body.first() != Some(&b'm') {
        return finish_plaintext(&body).map(OpenedConfig::Single);
    }
    let part = MultipartPart::parse(&body)?;
    Ok(match assembler.add(part, now_ms, max_wait_ms)? {
        MultipartOutcome::Part => OpenedConfig::Part,
        MultipartOutcome::Complete(bytes) => OpenedConfig::Complete(bytes),
    })
}

/// Decrypts with the first key that fits and strips the leading 0x00 padding.
fn decrypt_unpadded(
    ciphertext: &[u8],
    keys: &[[u8; 32]],
    kind: ConfigKind,
) -> Result<Vec<u8>, ConfigTransportError> {
    let mut plain = keys
        .iter()
        .find_map(|key| decrypt_config(ciphertext, key, kind.domain()).ok())
        .ok_or(ConfigTransportError::NoKey)?;
    let start = plain
        .iter()
        .position(|&b| b != 0)
        .ok_or(ConfigTransportError::Empty)?;
    plain.drain(..start);
    Ok(plain)
}

/// An unpadded single-part body (or a reassembled multipart one): `'z'` = zstd, then it must
/// be a bencoded dict (starts with `'d'`).
pub(super) fn finish_plaintext(body: &[u8]) -> Result<Vec<u8>, ConfigTransportError> {
    let body = match body.split_first() {
        Some((b'z', frame)) => decompress(frame)?,
        _ => body.to_vec(),
    };
    match body.first() {
        Some(b'd') => Ok(body),
        _ => Err(ConfigTransportError::NotAConfig),
    }
}

fn decompress(frame: &[u8]) -> Result<Vec<u8>, ConfigTransportError> {
    let decoder =
        zstd::stream::read::Decoder::new(frame).map_err(|_| ConfigTransportError::Decompression)?;
    let mut out = Vec::new();
    decoder
        .take(MAX_DECOMPRESSED as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| ConfigTransportError::Decompression)?;
    if out.is_empty() || out.len() > MAX_DECOMPRESSED {
        return Err(ConfigTransportError::Decompression);
    }
    Ok(out)
}
