//! The account a storage request is about: the 33-byte `pubkey` parameter (§4.2).

use std::fmt;

use super::StorageError;
use crate::protocol::swarm::swarm_space;

/// An account on the storage network: a network prefix byte and a 32-byte key.
///
/// Wire layout (`../shared/protocol/network.md` §4.2, SS `oxenss/common/pubkey.cpp`):
/// `[0]` prefix (`0x05` Session ID, whose key is X25519; `0x03` closed group, whose key is
/// Ed25519; other values pass through), `[1..33]` the key. In JSON it is 66 hex digits (the server
/// accepts either case and writes lowercase), in bt-encoded bodies 33 raw bytes.
///
/// `Debug` and `Display` show only a short prefix (style.md habit 10); [`AccountId::to_hex`] is
/// the full wire form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId {
    prefix: u8,
    key: [u8; 32],
}

/// Length of an [`AccountId`] in bytes.
pub const ACCOUNT_ID_BYTES: usize = 33;
/// Length of an [`AccountId`] in hex digits.
pub const ACCOUNT_ID_HEX: usize = 66;

impl AccountId {
    /// An account from its prefix byte and 32-byte key.
    pub const fn new(prefix: u8, key: [u8; 32]) -> Self {
        Self { prefix, key }
    }

    /// Parses the `pubkey` parameter the way the server does: 66 hex digits, else 33 raw bytes.
    ///
    /// Fails with the server's text, `Pubkey must be 66 hex digits (33 bytes) long`.
    pub fn parse(value: &[u8]) -> Result<Self, StorageError> {
        let mut bytes = [0u8; ACCOUNT_ID_BYTES];
        if value.len() == ACCOUNT_ID_HEX && hex::decode_to_slice(value, &mut bytes).is_ok() {
            return Ok(Self::from_bytes(&bytes));
        }
        let raw: &[u8; ACCOUNT_ID_BYTES] =
            value.try_into().map_err(|_| StorageError::InvalidPubkey)?;
        Ok(Self::from_bytes(raw))
    }

    /// Parses exactly 66 hex digits (a Session ID or group id as text).
    pub fn from_hex(text: &str) -> Result<Self, StorageError> {
        let mut bytes = [0u8; ACCOUNT_ID_BYTES];
        if text.len() != ACCOUNT_ID_HEX {
            return Err(StorageError::InvalidPubkey);
        }
        hex::decode_to_slice(text, &mut bytes).map_err(|_| StorageError::InvalidPubkey)?;
        Ok(Self::from_bytes(&bytes))
    }

    /// The account from its 33 raw bytes (prefix first).
    pub fn from_bytes(bytes: &[u8; ACCOUNT_ID_BYTES]) -> Self {
        let (prefix, rest) = bytes.split_at(1);
        let mut key = [0u8; 32];
        key.copy_from_slice(rest);
        Self {
            prefix: prefix.first().copied().unwrap_or_default(),
            key,
        }
    }

    /// The network prefix byte (`0x05`, `0x03`, …).
    pub const fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The 32 key bytes after the prefix.
    pub const fn key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The 33 raw bytes, prefix first.
    pub fn to_bytes(&self) -> [u8; ACCOUNT_ID_BYTES] {
        let mut out = [0u8; ACCOUNT_ID_BYTES];
        out[0] = self.prefix;
        out[1..].copy_from_slice(&self.key);
        out
    }

    /// The 66 lowercase hex digits sent as `pubkey` and signed as `PUBKEY_HEX` (§4.6).
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// The account's point on the swarm ring (§3.1).
    pub fn swarm_space(&self) -> u64 {
        swarm_space(&self.key)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({self})")
    }
}

impl fmt::Display for AccountId {
    /// A short, non-identifying form: the prefix and the first two key bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02x}{:02x}{:02x}…",
            self.prefix, self.key[0], self.key[1]
        )
    }
}

impl std::str::FromStr for AccountId {
    type Err = StorageError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_hex(text)
    }
}

impl serde::Serialize for AccountId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for AccountId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(text.as_bytes()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "053506f4a71324b7dd114eddbf4e311f39dde243e1f2cb97c40db1961f70ebaae8";

    #[test]
    fn parses_hex_and_raw() {
        let id = AccountId::parse(HEX.as_bytes()).unwrap();
        assert_eq!(id.prefix(), 5);
        assert_eq!(id.to_hex(), HEX);
        assert_eq!(AccountId::parse(&id.to_bytes()).unwrap(), id);
        let upper = AccountId::parse(HEX.to_uppercase().as_bytes()).unwrap();
        assert_eq!(upper, id);
        assert_eq!(id.swarm_space(), 17589930838143112648);
    }

    #[test]
    fn rejects_with_server_text() {
        for bad in [
            &b""[..],
            &b"05"[..],
            &HEX.as_bytes()[2..],
            &[0u8; 32][..],
            &[0u8; 34][..],
        ] {
            let err = AccountId::parse(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                "Pubkey must be 66 hex digits (33 bytes) long"
            );
        }
        // 66 characters that are not hex are not 33 bytes either.
        assert!(AccountId::parse(&[b'z'; 66]).is_err());
        assert!(AccountId::from_hex(&"z".repeat(66)).is_err());
    }

    #[test]
    fn display_redacts() {
        let id = AccountId::from_hex(HEX).unwrap();
        assert_eq!(id.to_string(), "053506…");
        assert!(!format!("{id:?}").contains(&HEX[8..]));
    }

    #[test]
    fn serde_is_hex() {
        let id = AccountId::from_hex(HEX).unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{HEX}\""));
        assert_eq!(serde_json::from_str::<AccountId>(&json).unwrap(), id);
    }

    proptest::proptest! {
        #[test]
        fn junk_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            if let Ok(id) = AccountId::parse(&bytes) {
                proptest::prop_assert!(bytes.len() == 33 || bytes.len() == 66);
                proptest::prop_assert_eq!(AccountId::parse(id.to_hex().as_bytes()).unwrap(), id);
            }
        }

        #[test]
        fn text_never_panics(text in ".{0,70}") {
            let _ = AccountId::from_hex(&text);
            let _ = serde_json::from_value::<AccountId>(serde_json::Value::String(text));
        }
    }
}
