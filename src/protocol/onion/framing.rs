//! The "combined payload" framing every onion layer uses (`network.md` §5.2; SS
//! `rpc/onion_processing.cpp parse_combined_payload`, LS `src/onionreq/parser.cpp`).
//!
//! ```text
//! u32_le N ‖ N bytes (ciphertext or payload) ‖ UTF-8 JSON object (the rest, no terminator)
//! ```

use serde_json::{Map, Value};

/// Why bytes are not a combined payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// Fewer than 4 bytes: no length prefix.
    #[error("payload shorter than its 4-byte length prefix")]
    MissingLength,
    /// The length prefix points past the end of the payload.
    #[error("length prefix {declared} exceeds the {available} bytes that follow")]
    LengthPastEnd {
        /// The declared length `N`.
        declared: u32,
        /// Bytes actually present after the prefix.
        available: usize,
    },
    /// The JSON part does not parse, or is not a JSON object.
    #[error("trailing JSON is invalid or not an object")]
    InvalidJson,
    /// The blob is longer than a `u32` can describe (encoding only).
    #[error("blob longer than u32::MAX bytes")]
    BlobTooLong,
}

/// A parsed combined payload: the blob and the JSON object after it.
///
/// Only built by parsing ([`TryFrom<&[u8]>`]) or from parts that are then encoded; a value always
/// holds a JSON *object*.
#[derive(Debug, Clone, PartialEq)]
pub struct CombinedPayload {
    blob: Vec<u8>,
    json: Map<String, Value>,
}

impl CombinedPayload {
    /// Pairs a blob with its JSON object.
    pub fn new(blob: Vec<u8>, json: Map<String, Value>) -> Self {
        CombinedPayload { blob, json }
    }

    /// The `N` bytes after the length prefix.
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }

    /// The trailing JSON object.
    pub fn json(&self) -> &Map<String, Value> {
        &self.json
    }

    /// Splits into blob and JSON.
    pub fn into_parts(self) -> (Vec<u8>, Map<String, Value>) {
        (self.blob, self.json)
    }

    /// Encodes as `u32le N ‖ blob ‖ JSON`. serde_json writes keys in sorted order, like
    /// nlohmann in libsession.
    pub fn encode(&self) -> Result<Vec<u8>, FramingError> {
        let n = u32::try_from(self.blob.len()).map_err(|_| FramingError::BlobTooLong)?;
        let json = Value::Object(self.json.clone()).to_string();
        let mut out = Vec::with_capacity(4 + self.blob.len() + json.len());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&self.blob);
        out.extend_from_slice(json.as_bytes());
        Ok(out)
    }
}

impl TryFrom<&[u8]> for CombinedPayload {
    type Error = FramingError;

    fn try_from(bytes: &[u8]) -> Result<Self, FramingError> {
        let (prefix, rest) = bytes
            .split_first_chunk::<4>()
            .ok_or(FramingError::MissingLength)?;
        let declared = u32::from_le_bytes(*prefix);
        let n = usize::try_from(declared).map_err(|_| FramingError::LengthPastEnd {
            declared,
            available: rest.len(),
        })?;
        if rest.len() < n {
            return Err(FramingError::LengthPastEnd {
                declared,
                available: rest.len(),
            });
        }
        let (blob, json) = rest.split_at(n);
        match serde_json::from_slice::<Value>(json) {
            Ok(Value::Object(json)) => Ok(CombinedPayload {
                blob: blob.to_vec(),
                json,
            }),
            _ => Err(FramingError::InvalidJson),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_short_past_end_and_non_objects() {
        assert_eq!(
            CombinedPayload::try_from(&b"\x01\x00\x00"[..]),
            Err(FramingError::MissingLength)
        );
        assert!(matches!(
            CombinedPayload::try_from(&b"\x06\x00\x00\x00abc{}"[..]),
            Err(FramingError::LengthPastEnd {
                declared: 6,
                available: 5
            })
        ));
        assert_eq!(
            CombinedPayload::try_from(&b"\x00\x00\x00\x00[]"[..]),
            Err(FramingError::InvalidJson)
        );
        assert_eq!(
            CombinedPayload::try_from(&b"\x00\x00\x00\x00"[..]),
            Err(FramingError::InvalidJson)
        );
        assert_eq!(
            CombinedPayload::try_from(&b"\x01\x00\x00\x00x{"[..]),
            Err(FramingError::InvalidJson)
        );
    }

    #[test]
    fn encodes_and_parses_back() {
        let mut json = Map::new();
        json.insert("headers".into(), Value::String(String::new()));
        let p = CombinedPayload::new(b"body".to_vec(), json);
        let bytes = p.encode().unwrap();
        assert_eq!(&bytes, b"\x04\x00\x00\x00body{\"headers\":\"\"}");
        assert_eq!(CombinedPayload::try_from(bytes.as_slice()).unwrap(), p);
    }

    proptest! {
        #[test]
        fn junk_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = CombinedPayload::try_from(bytes.as_slice());
        }

        #[test]
        fn framed_junk_never_panics(n in any::<u32>(), tail in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut bytes = n.to_le_bytes().to_vec();
            bytes.extend_from_slice(&tail);
            let _ = CombinedPayload::try_from(bytes.as_slice());
        }
    }
}
