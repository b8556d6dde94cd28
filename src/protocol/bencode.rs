//! Minimal bencode ("bt" encoding), as used by onion requests v4 (`network.md` §5.5) and the
//! storage server's OMQ `sn.onion_request` dict (§5.4).
//!
//! ```text
//! byte string : <decimal length>:<bytes>        e.g. 4:spam
//! integer     : i<decimal, optional '-'>e       e.g. i-3e   (no leading zeros, no "-0")
//! list        : l<values>e
//! dict        : d(<byte string key><value>)*e   keys strictly ascending (byte order)
//! ```
//!
//! Written here rather than taken from `bendy`: we need four shapes, a decoder that is strict
//! (canonical integers, sorted unique keys, no trailing bytes), bounded in nesting depth so peer
//! bytes cannot overflow the stack, and provably panic-free; that is ~150 lines, smaller than
//! auditing a dependency for those properties.

use std::collections::BTreeMap;

/// Nesting deeper than this is rejected (v4 and OMQ use depth 1-2).
pub const MAX_DEPTH: usize = 32;

/// A bencoded value. Dicts keep keys sorted, so encoding is canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BtValue {
    /// A byte string.
    Bytes(Vec<u8>),
    /// A signed integer (bencode allows any size; we accept what fits in `i64`).
    Int(i64),
    /// A list.
    List(Vec<BtValue>),
    /// A dict with byte-string keys.
    Dict(BTreeMap<Vec<u8>, BtValue>),
}

/// Why bytes are not one canonical bencoded value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BencodeError {
    /// Input ended inside a value.
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A byte that cannot start or continue a value here.
    #[error("unexpected byte at offset {0}")]
    UnexpectedByte(usize),
    /// A malformed or out-of-range integer or length.
    #[error("invalid number at offset {0}")]
    InvalidNumber(usize),
    /// Dict keys not strictly ascending.
    #[error("dict keys not sorted or not unique at offset {0}")]
    UnsortedKeys(usize),
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    /// Bytes remain after the value.
    #[error("trailing bytes after the value")]
    TrailingBytes,
}

impl BtValue {
    /// Encodes canonically.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            BtValue::Bytes(b) => encode_bytes(b, out),
            BtValue::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            BtValue::List(items) => {
                out.push(b'l');
                items.iter().for_each(|v| v.encode_into(out));
                out.push(b'e');
            }
            BtValue::Dict(map) => {
                out.push(b'd');
                for (k, v) in map {
                    encode_bytes(k, out);
                    v.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Decodes exactly one value; trailing bytes are an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, BencodeError> {
        let mut d = Decoder { bytes, pos: 0 };
        let v = d.value(0)?;
        if d.pos != bytes.len() {
            return Err(BencodeError::TrailingBytes);
        }
        Ok(v)
    }

    /// The bytes, if this is a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            BtValue::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            BtValue::Int(i) => Some(*i),
            _ => None,
        }
    }
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn peek(&self) -> Result<u8, BencodeError> {
        self.bytes
            .get(self.pos)
            .copied()
            .ok_or(BencodeError::UnexpectedEnd)
    }

    fn value(&mut self, depth: usize) -> Result<BtValue, BencodeError> {
        if depth > MAX_DEPTH {
            return Err(BencodeError::TooDeep);
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let start = self.pos;
                let digits = self.until(b'e')?;
                parse_int(digits)
                    .map(BtValue::Int)
                    .ok_or(BencodeError::InvalidNumber(start))
            }
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(BtValue::List(items))
            }
            b'd' => {
                self.pos += 1;
                let mut map = BTreeMap::new();
                let mut last: Option<Vec<u8>> = None;
                while self.peek()? != b'e' {
                    let at = self.pos;
                    let key = self.string()?;
                    if last.as_ref().is_some_and(|l| *l >= key) {
                        return Err(BencodeError::UnsortedKeys(at));
                    }
                    let v = self.value(depth + 1)?;
                    last = Some(key.clone());
                    map.insert(key, v);
                }
                self.pos += 1;
                Ok(BtValue::Dict(map))
            }
            b'0'..=b'9' => self.string().map(BtValue::Bytes),
            _ => Err(BencodeError::UnexpectedByte(self.pos)),
        }
    }

    /// Returns the bytes before the next `end`, consuming them and `end`.
    fn until(&mut self, end: u8) -> Result<&[u8], BencodeError> {
        let rest = self
            .bytes
            .get(self.pos..)
            .ok_or(BencodeError::UnexpectedEnd)?;
        let len = rest
            .iter()
            .position(|&b| b == end)
            .ok_or(BencodeError::UnexpectedEnd)?;
        let out = rest.get(..len).ok_or(BencodeError::UnexpectedEnd)?;
        self.pos += len + 1;
        Ok(out)
    }

    fn string(&mut self) -> Result<Vec<u8>, BencodeError> {
        let start = self.pos;
        let digits = self.until(b':')?;
        let len = parse_len(digits).ok_or(BencodeError::InvalidNumber(start))?;
        let end = self
            .pos
            .checked_add(len)
            .ok_or(BencodeError::UnexpectedEnd)?;
        let s = self
            .bytes
            .get(self.pos..end)
            .ok_or(BencodeError::UnexpectedEnd)?;
        self.pos = end;
        Ok(s.to_vec())
    }
}

/// A canonical non-negative decimal: digits only, no leading zero unless it is "0".
fn parse_len(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits.len() > 1 && digits.first() == Some(&b'0') {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A canonical signed decimal: optional '-', no leading zeros, no "-0".
fn parse_int(digits: &[u8]) -> Option<i64> {
    let (neg, mag) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    if neg && mag == b"0" {
        return None;
    }
    parse_len(mag)?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        let mut d = BTreeMap::new();
        d.insert(b"b".to_vec(), BtValue::Int(-3));
        d.insert(
            b"a".to_vec(),
            BtValue::List(vec![BtValue::Bytes(b"spam".to_vec())]),
        );
        let v = BtValue::Dict(d);
        assert_eq!(v.encode(), b"d1:al4:spame1:bi-3ee");
        assert_eq!(BtValue::decode(b"d1:al4:spame1:bi-3ee").unwrap(), v);
        assert_eq!(BtValue::decode(b"0:").unwrap(), BtValue::Bytes(vec![]));
        assert_eq!(BtValue::decode(b"i0e").unwrap(), BtValue::Int(0));
    }

    #[test]
    fn rejects_non_canonical_and_truncated() {
        for bad in [
            &b"i-0e"[..],
            b"i03e",
            b"ie",
            b"i-e",
            b"01:a",
            b"4:spa",
            b"l",
            b"d1:bi1e1:ai1ee",
            b"d1:ai1e1:ai1ee",
            b"i1ei2e",
            b"x",
            b"",
            b"di1ei1ee",
            b"i99999999999999999999e",
            b"-1:a",
            b"1a:b",
        ] {
            assert!(
                BtValue::decode(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(BtValue::decode(b"i1ei2e"), Err(BencodeError::TrailingBytes));
    }

    #[test]
    fn depth_is_limited() {
        let deep = [vec![b'l'; MAX_DEPTH + 2], vec![b'e'; MAX_DEPTH + 2]].concat();
        assert_eq!(BtValue::decode(&deep), Err(BencodeError::TooDeep));
        let ok = [vec![b'l'; MAX_DEPTH + 1], vec![b'e'; MAX_DEPTH + 1]].concat();
        assert!(BtValue::decode(&ok).is_ok());
        let huge = vec![b'l'; 1_000_000];
        assert_eq!(BtValue::decode(&huge), Err(BencodeError::TooDeep));
    }

    fn arb_value() -> impl Strategy<Value = BtValue> {
        let leaf = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..16).prop_map(BtValue::Bytes),
            any::<i64>().prop_map(BtValue::Int),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(BtValue::List),
                proptest::collection::btree_map(
                    proptest::collection::vec(any::<u8>(), 0..4),
                    inner,
                    0..4
                )
                .prop_map(BtValue::Dict),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trips(v in arb_value()) {
            prop_assert_eq!(BtValue::decode(&v.encode()).unwrap(), v);
        }

        #[test]
        fn junk_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = BtValue::decode(&bytes);
        }

        #[test]
        fn bencode_shaped_junk_never_panics(bytes in proptest::collection::vec(
            prop_oneof![Just(b'l'), Just(b'd'), Just(b'e'), Just(b'i'), Just(b':'), Just(b'-'), Just(b'0'), Just(b'1'), Just(b'9'), any::<u8>()], 0..64)) {
            let _ = BtValue::decode(&bytes);
        }
    }
}
