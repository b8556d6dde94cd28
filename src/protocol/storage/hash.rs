//! Message hashes (§4.5, SS `request_handler.cpp computeMessageHash`).

use std::fmt;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};

use super::{AccountId, Namespace, StorageError};

/// Length of a [`MessageHash`] in characters.
pub const MESSAGE_HASH_LEN: usize = 43;

/// The id of a stored message: 43 characters of unpadded standard base64 of a BLAKE2b-256
/// digest (§4.5).
///
/// Wire form: a JSON string (`hash`, `last_hash`, `messages[]`). Digest input:
/// `prefix_byte ‖ key32 ‖ NS ‖ data`, where `NS` is `""` for namespace 0 and decimal otherwise,
/// and `data` is the raw (decoded) message bytes. Only the standard alphabet (`+`, `/`) is
/// accepted: it is what every server writes and every client sends.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageHash(String);

impl MessageHash {
    /// Parses a hash: exactly 43 characters of the standard base64 alphabet.
    pub fn parse(text: &str) -> Result<Self, StorageError> {
        let valid = text.len() == MESSAGE_HASH_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(StorageError::InvalidMessageHash)
        }
    }

    /// The 43-character text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Computes the hash the server assigns to `data` stored for `account` in `ns` (§4.5).
pub fn message_hash(account: &AccountId, ns: Namespace, data: &[u8]) -> MessageHash {
    let mut hasher = Blake2b::<U32>::new();
    hasher.update([account.prefix()]);
    hasher.update(account.key());
    hasher.update(ns.signing_text().as_bytes());
    hasher.update(data);
    MessageHash(STANDARD_NO_PAD.encode(hasher.finalize()))
}

impl fmt::Debug for MessageHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageHash({})", self.0)
    }
}

impl fmt::Display for MessageHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for MessageHash {
    type Err = StorageError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl AsRef<str> for MessageHash {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for MessageHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for MessageHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vector {
        #[allow(dead_code)] // provenance, read by people
        source: String,
        pubkey: String,
        namespace: i16,
        data_utf8: String,
        hash: String,
    }

    #[derive(serde::Deserialize)]
    struct File {
        vectors: Vec<Vector>,
    }

    #[test]
    fn vectors_from_notes() {
        let file: File =
            serde_json::from_str(include_str!("../../../tests/vectors/message_hash.json")).unwrap();
        assert_eq!(file.vectors.len(), 4);
        for v in file.vectors {
            let account = AccountId::from_hex(&v.pubkey).unwrap();
            let got = message_hash(&account, Namespace(v.namespace), v.data_utf8.as_bytes());
            assert_eq!(got.as_str(), v.hash);
            assert_eq!(MessageHash::parse(&v.hash).unwrap(), got);
        }
    }

    #[test]
    fn rejects_bad_text() {
        let good = "WYAYCvijH+g8bvfheT1oUQI7BkQ4gnNIW0QXgGa00fA";
        assert!(MessageHash::parse(good).is_ok());
        assert!(MessageHash::parse(&good[1..]).is_err());
        assert!(MessageHash::parse(&format!("{good}=")).is_err());
        assert!(MessageHash::parse(&good.replace('+', "-")).is_err());
        assert!(MessageHash::parse("").is_err());
        assert!(serde_json::from_str::<MessageHash>("\"abc\"").is_err());
    }

    proptest::proptest! {
        #[test]
        fn junk_never_panics(text in ".{0,50}") {
            if let Ok(hash) = MessageHash::parse(&text) {
                proptest::prop_assert_eq!(hash.as_str().len(), 43);
            }
        }

        #[test]
        fn computed_hashes_parse(prefix: u8, key: [u8; 32], ns: i16, data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)) {
            let hash = message_hash(&AccountId::new(prefix, key), Namespace(ns), &data);
            proptest::prop_assert_eq!(MessageHash::parse(hash.as_str()).unwrap(), hash);
        }
    }
}
