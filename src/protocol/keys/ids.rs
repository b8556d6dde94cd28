//! Prefixed 33-byte IDs (§1.3) and Session IDs (§1.1).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{array_from_slice, decode_hex, KeyError, X25519PublicKey};

/// The first byte of a 33-byte ID, naming what the 32 bytes after it are (§1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdPrefix {
    /// `05`: a user's Session ID; the key is X25519.
    Standard,
    /// `03`: a groups-v2 group; the key is the group's Ed25519 public key.
    Group,
    /// `15`: a community blinded ID (blind15); an Ed25519 point.
    Blinded15,
    /// `25`: a community blinded ID (blind25); an Ed25519 point.
    Blinded25,
    /// `00`: an unblinded Ed25519 key, for communities that do not blind.
    Unblinded,
    /// `07`: the version-blinded Ed25519 key used only for `/session_version`.
    VersionBlinded,
}

impl IdPrefix {
    /// The prefix byte.
    pub const fn byte(self) -> u8 {
        match self {
            Self::Standard => 0x05,
            Self::Group => 0x03,
            Self::Blinded15 => 0x15,
            Self::Blinded25 => 0x25,
            Self::Unblinded => 0x00,
            Self::VersionBlinded => 0x07,
        }
    }

    /// Whether the 32 key bytes after this prefix are an X25519 key (only `05`) rather than an
    /// Ed25519 key (all others).
    pub const fn is_x25519(self) -> bool {
        matches!(self, Self::Standard)
    }
}

impl TryFrom<u8> for IdPrefix {
    type Error = KeyError;
    fn try_from(byte: u8) -> Result<Self, KeyError> {
        Ok(match byte {
            0x05 => Self::Standard,
            0x03 => Self::Group,
            0x15 => Self::Blinded15,
            0x25 => Self::Blinded25,
            0x00 => Self::Unblinded,
            0x07 => Self::VersionBlinded,
            other => return Err(KeyError::UnknownPrefix(other)),
        })
    }
}

impl fmt::Display for IdPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}", self.byte())
    }
}

/// Shortens a 66-hex-character ID for logs: prefix, first 4 key bytes, last 2 (`05d2ad010e…3a72`).
fn short_hex(prefix: IdPrefix, key: &[u8; 32]) -> String {
    format!(
        "{}{}…{}",
        prefix,
        hex::encode(&key[..4]),
        hex::encode(&key[30..])
    )
}

/// Any 33-byte ID: a known prefix byte and 32 key bytes; as text 66 lowercase hex characters.
///
/// Layout: `prefix (1 byte) ‖ key (32 bytes)` (§1.3).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrefixedId {
    prefix: IdPrefix,
    key: [u8; 32],
}

impl PrefixedId {
    /// Builds an ID from its parts.
    pub const fn new(prefix: IdPrefix, key: [u8; 32]) -> Self {
        Self { prefix, key }
    }
    /// The prefix.
    pub const fn prefix(&self) -> IdPrefix {
        self.prefix
    }
    /// The 32 key bytes after the prefix.
    pub const fn key(&self) -> &[u8; 32] {
        &self.key
    }
    /// The 33 wire bytes.
    pub fn to_bytes(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = self.prefix.byte();
        out[1..].copy_from_slice(&self.key);
        out
    }
    /// A shortened form for logs.
    pub fn short(&self) -> String {
        short_hex(self.prefix, &self.key)
    }
    /// Requires a given prefix.
    pub fn expect_prefix(self, expected: IdPrefix) -> Result<Self, KeyError> {
        if self.prefix == expected {
            Ok(self)
        } else {
            Err(KeyError::WrongPrefix {
                expected,
                got: self.prefix,
            })
        }
    }
}

impl TryFrom<&[u8]> for PrefixedId {
    type Error = KeyError;
    fn try_from(bytes: &[u8]) -> Result<Self, KeyError> {
        let bytes: [u8; 33] = array_from_slice(bytes)?;
        Ok(Self {
            prefix: IdPrefix::try_from(bytes[0])?,
            key: array_from_slice(&bytes[1..])?,
        })
    }
}

/// 66 lowercase hex characters.
impl FromStr for PrefixedId {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<Self, KeyError> {
        let bytes: [u8; 33] = decode_hex(text)?;
        Self::try_from(&bytes[..])
    }
}

/// IDs are public and shown in full; use [`PrefixedId::short`] in logs.
impl fmt::Display for PrefixedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.prefix, hex::encode(self.key))
    }
}

impl fmt::Debug for PrefixedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrefixedId({})", self.short())
    }
}

/// A user's Session ID: `05 ‖ X25519 public key`, as text 66 lowercase hex characters (§1.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(X25519PublicKey);

impl SessionId {
    /// The Session ID of an X25519 key.
    pub const fn from_x25519(key: X25519PublicKey) -> Self {
        Self(key)
    }
    /// The X25519 key after the `05`.
    pub const fn x25519(&self) -> &X25519PublicKey {
        &self.0
    }
    /// The 33 wire bytes.
    pub fn to_bytes(&self) -> [u8; 33] {
        PrefixedId::from(*self).to_bytes()
    }
    /// A shortened form for logs (`05d2ad010e…3a72`).
    pub fn short(&self) -> String {
        short_hex(IdPrefix::Standard, self.0.as_bytes())
    }
    /// Same as `str::parse`, under the name other modules expect.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        text.parse()
    }
}

impl From<SessionId> for PrefixedId {
    fn from(id: SessionId) -> Self {
        PrefixedId::new(IdPrefix::Standard, *id.0.as_bytes())
    }
}

impl TryFrom<PrefixedId> for SessionId {
    type Error = KeyError;
    fn try_from(id: PrefixedId) -> Result<Self, KeyError> {
        let id = id.expect_prefix(IdPrefix::Standard)?;
        Ok(Self(X25519PublicKey::from_bytes(id.key)))
    }
}

impl TryFrom<&[u8]> for SessionId {
    type Error = KeyError;
    fn try_from(bytes: &[u8]) -> Result<Self, KeyError> {
        PrefixedId::try_from(bytes)?.try_into()
    }
}

impl FromStr for SessionId {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<Self, KeyError> {
        text.parse::<PrefixedId>()?.try_into()
    }
}

/// The full ID: a Session ID is public (use [`SessionId::short`] in logs).
impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "05{}", self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.short())
    }
}

/// Serialized as the 66-character hex text, as the HTTP API and the database show it.
impl Serialize for SessionId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SessionId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Serialized as the 66-character hex text.
impl Serialize for PrefixedId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PrefixedId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
