//! Parameter rules of the storage RPC, with the storage server's exact error texts
//! (network.md §4.2; SS `oxenss/rpc/client_rpc_endpoints.cpp`). Every error string here is
//! what follows `invalid request: ` in a 400 answer.

use base64::Engine as _;
use serde_json::{Map, Value};

/// A parse failure; the text is the storage server's.
pub type ParseResult<T> = Result<T, String>;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const B64_LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Decodes standard base64 with or without padding (oxenc's `from_base64` is as lenient).
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    B64_LENIENT.decode(s).ok()
}

/// Standard padded base64, what the server emits for binary fields in JSON.
pub fn b64_encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// A 33-byte account id: network prefix (`05`, `03`, …) and 32 key bytes (§4.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Account(pub [u8; 33]);

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Session IDs are personal data (style.md habit 10): show only the prefix and 4 digits.
        let hex = self.hex();
        write!(f, "Account({}…)", hex.get(..6).unwrap_or(""))
    }
}

impl Account {
    /// Network prefix byte (`0x05` Session ID, `0x03` group).
    pub fn prefix(&self) -> u8 {
        self.0[0]
    }

    /// The 32 key bytes after the prefix.
    pub fn key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.0[1..]);
        out
    }

    /// The 66-char lowercase hex form (`PUBKEY_HEX` in §4.6).
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 66 hex digits or 33 raw bytes.
    pub fn parse(s: &str) -> Option<Self> {
        let bytes = if s.len() == 66 {
            hex::decode(s).ok()?
        } else if s.len() == 33 {
            s.as_bytes().to_vec()
        } else {
            return None;
        };
        Some(Self(bytes.try_into().ok()?))
    }
}

/// A namespace selector that may also be `"all"` (`delete_all`, `delete_before`, `expire_all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NsVar {
    /// One namespace.
    One(i16),
    /// Every namespace.
    All,
}

impl NsVar {
    /// `NSV` in the signed strings: `""` for 0, `"all"`, or decimal (§4.4).
    pub fn text(self) -> String {
        match self {
            Self::One(ns) => super::super::wire::ns_text(ns),
            Self::All => "all".into(),
        }
    }
}

/// The request params object with typed, SS-faithful accessors.
pub struct Params<'a>(pub &'a Map<String, Value>);

fn invalid(name: &str, desc: &str) -> String {
    format!("Invalid value given for '{name}': expected {desc}")
}

/// The smallest timestamp accepted: 1,000,000 s in ms (§4.2).
const MIN_TIMESTAMP_MS: u64 = 1_000_000_000;

impl<'a> Params<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name)
    }

    /// An optional string field.
    pub fn str(&self, name: &str) -> ParseResult<Option<&'a str>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(name, "string")),
        }
    }

    /// An optional boolean field.
    pub fn bool(&self, name: &str) -> ParseResult<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(invalid(name, "boolean")),
        }
    }

    /// An optional integer field (signed).
    pub fn int(&self, name: &str) -> ParseResult<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| invalid(name, "integer")),
        }
    }

    /// An optional millisecond timestamp: an unsigned JSON integer ≥ 10^9.
    pub fn timestamp(&self, name: &str) -> ParseResult<Option<u64>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => {
                let ms = v
                    .as_u64()
                    .ok_or_else(|| invalid(name, "integer timestamp (in milliseconds)"))?;
                check_ms(name, ms).map(Some)
            }
        }
    }

    /// `store`'s `timestamp`/`ttl`: an integer or a decimal string.
    pub fn stringified(&self, name: &str, desc: &str) -> ParseResult<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => s
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("Invalid value given for '{name}': \"{s}\"")),
            Some(v) if desc == "positive integer" => v
                .as_u64()
                .and_then(|u| i64::try_from(u).ok())
                .map(Some)
                .ok_or_else(|| invalid(name, desc)),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| invalid(name, desc)),
        }
    }

    /// An optional namespace (−32768..=32767).
    pub fn namespace(&self) -> ParseResult<Option<i16>> {
        match self.get("namespace") {
            None => Ok(None),
            Some(v) if v.is_i64() || v.is_u64() => ns_in_range(v).map(Some),
            Some(_) => Err(invalid("namespace", "16-bit integer")),
        }
    }

    /// An optional namespace that may be `"all"`.
    pub fn namespace_var(&self) -> ParseResult<Option<NsVar>> {
        match self.get("namespace") {
            None => Ok(None),
            Some(v) if v.is_i64() || v.is_u64() => ns_in_range(v).map(|n| Some(NsVar::One(n))),
            Some(Value::String(s)) if s == "all" => Ok(Some(NsVar::All)),
            Some(_) => Err(invalid("namespace", "integer or \"all\"")),
        }
    }

    /// A string or a list of strings.
    pub fn str_array(&self, name: &str) -> ParseResult<Option<Vec<&'a str>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.as_str()])),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().ok_or_else(|| invalid(name, "string array")))
                .collect::<ParseResult<Vec<_>>>()
                .map(Some),
            Some(_) => Err(invalid(name, "string array")),
        }
    }

    /// One timestamp or a list of timestamps.
    pub fn timestamp_array(&self, name: &str) -> ParseResult<Option<Vec<u64>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_u64().ok_or_else(|| invalid(name, "timestamp array")))
                .collect::<ParseResult<Vec<_>>>()
                .map(Some),
            Some(v) => v
                .as_u64()
                .map(|ms| Some(vec![ms]))
                .ok_or_else(|| invalid(name, "timestamp array")),
        }
    }

    /// `pubkey` (or, where allowed, its alias `pubKey`): exactly one, valid.
    pub fn account(&self, allow_alias: bool) -> ParseResult<Account> {
        let main = self.str("pubkey")?;
        let alt = if allow_alias {
            self.str("pubKey")?
        } else {
            None
        };
        let pk = match (main, alt) {
            (Some(_), Some(_)) => return Err("Cannot specify both 'pubkey' and 'pubKey'".into()),
            (Some(pk), None) | (None, Some(pk)) => pk,
            (None, None) => return Err("Required field 'pubkey' missing".into()),
        };
        Account::parse(pk).ok_or_else(|| "Pubkey must be 66 hex digits (33 bytes) long".into())
    }
}

fn check_ms(name: &str, ms: u64) -> ParseResult<u64> {
    if ms < MIN_TIMESTAMP_MS {
        return Err(format!(
            "Invalid timestamp for '{name}': timestamp must be in milliseconds"
        ));
    }
    Ok(ms)
}

fn ns_in_range(v: &Value) -> ParseResult<i16> {
    v.as_i64()
        .and_then(|n| i16::try_from(n).ok())
        .ok_or_else(|| "Invalid value given for 'namespace': value out of range".into())
}

/// `Required field 'x' missing` unless present.
pub fn require<T>(name: &str, value: Option<T>) -> ParseResult<T> {
    value.ok_or_else(|| format!("Required field '{name}' missing"))
}

/// A 64-byte signature given as base64 of 86 chars or 88 ending in `==`.
pub fn parse_signature(sig: &str, what: &str) -> ParseResult<[u8; 64]> {
    let shape_ok = sig.len() == 86 || (sig.len() == 88 && sig.ends_with("=="));
    let bytes = if shape_ok { b64_decode(sig) } else { None };
    bytes
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .ok_or_else(|| format!("{what}: expected base64 encoded Ed25519 signature"))
}

/// A message hash: exactly 43 chars of base64 (§4.2).
pub fn is_hash(s: &str) -> bool {
    s.len() == 43 && b64_decode(s).is_some_and(|b| b.len() == 32)
}

/// A 36-byte subaccount token given as base64 (48 chars) or hex (72 chars).
pub fn parse_token(s: &str) -> Option<[u8; 36]> {
    let bytes = match s.len() {
        48 => b64_decode(s)?,
        72 => hex::decode(s).ok()?,
        _ => return None,
    };
    bytes.try_into().ok()
}
