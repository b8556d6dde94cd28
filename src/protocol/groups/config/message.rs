//! One config message: parsing, signature check, writing (groups.md §1.1).
//!
//! ```text
//! d
//!   1:#  i<seqno>e                         first key, required
//!   1:&  d<data>e                          required (§1.1 data rules, see `data`)
//!   1:<  l l i<seqno>e 32:<hash> d<diff>e e … e   lagged diffs, sorted by (seqno, hash)
//!   1:=  d<diff>e                          this message's own changes
//!   1:~  64:<Ed25519 signature>            optional, last; signs every byte before "1:~"
//! e
//! ```
//! Other keys strictly between `#` and `~` are kept and written back in place; a key before
//! `#` or after `~` makes the message invalid. Only lagged diffs with
//! `seqno - lag < s < seqno` are kept (`lag` = [`DEFAULT_LAG`]). The message hash, which names
//! it in other messages' lagged diffs, is BLAKE2b-256 of its exact bytes.
//!
//! Parsing goes through the strict decoder of `protocol::bencode` (canonical integers and
//! lengths, sorted unique keys), so a message re-encodes to its own bytes and the signed
//! prefix is exactly the input minus its last 71 bytes (`1:~64:` ‖ signature ‖ `e`).

use std::collections::BTreeMap;
use std::fmt;

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};

use super::data::{data_to_bt, parse_data, prune, ConfigDict};
use super::diff::{compute_diff, diff_to_bt, parse_diff, Diff};
use super::ConfigError;
use crate::protocol::bencode::BtValue;
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::Ed25519PublicKey;

/// How many seqnos back lagged diffs are carried (libsession `DEFAULT_DIFF_LAGS`).
pub const DEFAULT_LAG: i64 = 5;

/// `1:~64:` ‖ 64-byte signature ‖ the dict's closing `e`.
const SIGNATURE_TAIL: usize = 6 + 64 + 1;
const SIGNATURE_KEY: &[u8] = b"1:~64:";

/// A message's identity: its seqno, then its hash (the order merging uses, §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeqnoHash {
    /// The message's seqno.
    pub seqno: i64,
    /// BLAKE2b-256 of the message's bytes.
    pub hash: [u8; 32],
}

/// Lagged diffs by the message they came from.
pub type LaggedDiffs = BTreeMap<SeqnoHash, Diff>;

/// A config message as received or as written: valid by construction, with its exact bytes.
/// `Debug` shows the seqno and hash only: user configs carry group seeds (§3.3).
#[derive(Clone)]
pub struct ConfigMessage {
    raw: Vec<u8>,
    id: SeqnoHash,
    data: ConfigDict,
    diff: Diff,
    lagged: LaggedDiffs,
    unknown: BTreeMap<Vec<u8>, BtValue>,
    signature: Option<[u8; 64]>,
    lag: i64,
}

impl fmt::Debug for ConfigMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hash = self.id.hash.get(..4).map(hex::encode).unwrap_or_default();
        write!(
            f,
            "ConfigMessage(#{} {hash}…, {} bytes)",
            self.id.seqno,
            self.raw.len()
        )
    }
}

impl fmt::Debug for MutableConfigMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MutableConfigMessage(#{})", self.seqno)
    }
}

/// BLAKE2b-256 (unkeyed) of a serialized message.
pub fn message_hash(raw: &[u8]) -> [u8; 32] {
    Blake2b::<U32>::digest(raw).into()
}

impl ConfigMessage {
    /// Parses `raw` with the default lag. With a `verifier` (group configs), a signature is
    /// required and must verify; without one (user configs) a signature is kept unchecked.
    pub fn parse(raw: &[u8], verifier: Option<&Ed25519PublicKey>) -> Result<Self, ConfigError> {
        Self::parse_with_lag(raw, verifier, DEFAULT_LAG)
    }

    /// [`Self::parse`] with an explicit lag.
    pub fn parse_with_lag(
        raw: &[u8],
        verifier: Option<&Ed25519PublicKey>,
        lag: i64,
    ) -> Result<Self, ConfigError> {
        let BtValue::Dict(top) = BtValue::decode(raw)? else {
            return Err(ConfigError::NotADict);
        };
        let seqno = match top.first_key_value() {
            Some((key, BtValue::Int(seqno))) if key == b"#" => *seqno,
            _ => return Err(ConfigError::MissingSeqno),
        };
        let data = parse_data(top.get(&b"&"[..]).ok_or(ConfigError::MissingData)?)?;
        let lagged = match top.get(&b"<"[..]) {
            Some(BtValue::List(items)) => parse_lagged(items, seqno, lag)?,
            Some(_) => return Err(ConfigError::InvalidLaggedDiff),
            None => LaggedDiffs::new(),
        };
        let diff = match top.get(&b"="[..]) {
            Some(value) => parse_diff(value)?,
            None => Diff::new(),
        };
        if top.keys().any(|key| key.as_slice() > &b"~"[..]) {
            return Err(ConfigError::KeyAfterSignature);
        }
        let signature = match top.get(&b"~"[..]) {
            Some(value) => Some(check_signature(raw, value, verifier)?),
            None if verifier.is_some() => return Err(ConfigError::MissingSignature),
            None => None,
        };
        let unknown = top
            .into_iter()
            .filter(|(key, _)| !matches!(key.as_slice(), b"#" | b"&" | b"<" | b"=" | b"~"))
            .collect();
        Ok(Self {
            id: SeqnoHash {
                seqno,
                hash: message_hash(raw),
            },
            raw: raw.to_vec(),
            data,
            diff,
            lagged,
            unknown,
            signature,
            lag,
        })
    }

    /// The exact bytes (what is padded, encrypted and stored).
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The seqno.
    pub fn seqno(&self) -> i64 {
        self.id.seqno
    }

    /// BLAKE2b-256 of the bytes.
    pub fn hash(&self) -> &[u8; 32] {
        &self.id.hash
    }

    /// Seqno and hash together.
    pub fn id(&self) -> SeqnoHash {
        self.id
    }

    /// The application data (`&`).
    pub fn data(&self) -> &ConfigDict {
        &self.data
    }

    /// This message's own changes (`=`).
    pub fn diff(&self) -> &Diff {
        &self.diff
    }

    /// The lagged diffs kept (`<`).
    pub fn lagged(&self) -> &LaggedDiffs {
        &self.lagged
    }

    /// The signature, if the message carries one (checked when parsed with a verifier).
    pub fn signature(&self) -> Option<&[u8; 64]> {
        self.signature.as_ref()
    }

    /// The start of a local change (§1.2 step 6): the same data under `seqno + 1`, this
    /// message's diff moved into the lagged diffs.
    pub fn increment(&self) -> MutableConfigMessage {
        let mut lagged: LaggedDiffs = self
            .lagged
            .iter()
            .filter(|(id, _)| in_window(id.seqno, self.id.seqno, self.lag))
            .map(|(id, diff)| (*id, diff.clone()))
            .collect();
        lagged.insert(self.id, self.diff.clone());
        MutableConfigMessage {
            // A peer's i64::MAX seqno cannot be outgrown; staying there only makes our change
            // lose merges, never panic.
            seqno: self.id.seqno.saturating_add(1),
            orig_data: self.data.clone(),
            data: self.data.clone(),
            lagged,
            unknown: self.unknown.clone(),
            lag: self.lag,
        }
    }
}

/// Whether a lagged diff of seqno `s` belongs in a message of seqno `current`.
fn in_window(s: i64, current: i64, lag: i64) -> bool {
    s > current.saturating_sub(lag) && s < current
}

fn parse_lagged(items: &[BtValue], current: i64, lag: i64) -> Result<LaggedDiffs, ConfigError> {
    let mut lagged = LaggedDiffs::new();
    for item in items {
        let BtValue::List(tuple) = item else {
            return Err(ConfigError::InvalidLaggedDiff);
        };
        let Some(BtValue::Int(seqno)) = tuple.first() else {
            return Err(ConfigError::InvalidLaggedDiff);
        };
        if *seqno >= current {
            return Err(ConfigError::InvalidLaggedDiff);
        }
        // Too old: dropped unread, as libsession does.
        if *seqno <= current.saturating_sub(lag) {
            continue;
        }
        let hash = tuple
            .get(1)
            .and_then(BtValue::as_bytes)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or(ConfigError::InvalidLaggedDiff)?;
        let id = SeqnoHash {
            seqno: *seqno,
            hash,
        };
        if lagged.last_key_value().is_some_and(|(last, _)| *last >= id) {
            return Err(ConfigError::InvalidLaggedDiff);
        }
        let diff = parse_diff(tuple.get(2).ok_or(ConfigError::InvalidLaggedDiff)?)?;
        if tuple.len() != 3 {
            return Err(ConfigError::InvalidLaggedDiff);
        }
        lagged.insert(id, diff);
    }
    Ok(lagged)
}

fn check_signature(
    raw: &[u8],
    value: &BtValue,
    verifier: Option<&Ed25519PublicKey>,
) -> Result<[u8; 64], ConfigError> {
    let signature: [u8; 64] = value
        .as_bytes()
        .and_then(|b| b.try_into().ok())
        .ok_or(ConfigError::InvalidSignature)?;
    // `~` is the last key and the encoding canonical, so the tail is fixed.
    let signed_len = raw
        .len()
        .checked_sub(SIGNATURE_TAIL)
        .ok_or(ConfigError::InvalidSignature)?;
    let signed = raw.get(..signed_len).ok_or(ConfigError::InvalidSignature)?;
    if raw.get(signed_len..signed_len + SIGNATURE_KEY.len()) != Some(SIGNATURE_KEY) {
        return Err(ConfigError::InvalidSignature);
    }
    if let Some(key) = verifier {
        key.verify(signed, &signature)
            .map_err(|_| ConfigError::BadSignature)?;
    }
    Ok(signature)
}

/// A config message being changed locally: edit [`Self::data_mut`], then [`Self::finish`]
/// writes it (diff computed against the data it started from). `Debug` shows the seqno only.
#[derive(Clone)]
pub struct MutableConfigMessage {
    seqno: i64,
    data: ConfigDict,
    orig_data: ConfigDict,
    lagged: LaggedDiffs,
    unknown: BTreeMap<Vec<u8>, BtValue>,
    lag: i64,
}

impl MutableConfigMessage {
    /// An empty config at `seqno` (a new config starts at 0).
    pub fn new(seqno: i64, lag: i64) -> Self {
        Self::from_merge(seqno, ConfigDict::new(), LaggedDiffs::new(), lag)
    }

    /// The result of a merge: `data` is both the start and the current state, so the merge
    /// itself has an empty diff (§1.2 step 5).
    pub(super) fn from_merge(seqno: i64, data: ConfigDict, lagged: LaggedDiffs, lag: i64) -> Self {
        Self {
            seqno,
            orig_data: data.clone(),
            data,
            lagged,
            unknown: BTreeMap::new(),
            lag,
        }
    }

    /// The seqno this message will have.
    pub fn seqno(&self) -> i64 {
        self.seqno
    }

    /// The data as edited so far.
    pub fn data(&self) -> &ConfigDict {
        &self.data
    }

    /// The data, to edit. Empty sets and dicts left behind are pruned when written.
    pub fn data_mut(&mut self) -> &mut ConfigDict {
        &mut self.data
    }

    /// The diff the message would carry now.
    pub fn diff(&self) -> Diff {
        let mut data = self.data.clone();
        prune(&mut data);
        compute_diff(&self.orig_data, &data)
    }

    /// Writes the message, signed when `signer` is given (group configs, admins only).
    pub fn finish(mut self, signer: Option<&GroupSecret>) -> ConfigMessage {
        prune(&mut self.data);
        let diff = compute_diff(&self.orig_data, &self.data);
        let (seqno, lag) = (self.seqno, self.lag);
        self.lagged.retain(|id, _| in_window(id.seqno, seqno, lag));
        let mut top = self.unknown.clone();
        top.insert(b"#".to_vec(), BtValue::Int(seqno));
        top.insert(b"&".to_vec(), data_to_bt(&self.data));
        top.insert(b"<".to_vec(), lagged_to_bt(&self.lagged));
        top.insert(b"=".to_vec(), diff_to_bt(&diff));
        let mut raw = BtValue::Dict(top).encode();
        let signature = signer.map(|group| {
            raw.pop(); // the closing `e`; the signature covers what precedes `1:~`
            let signature = group.sign(&raw);
            raw.extend_from_slice(SIGNATURE_KEY);
            raw.extend_from_slice(&signature);
            raw.push(b'e');
            signature
        });
        ConfigMessage {
            id: SeqnoHash {
                seqno,
                hash: message_hash(&raw),
            },
            raw,
            data: self.data,
            diff,
            lagged: self.lagged,
            unknown: self.unknown,
            signature,
            lag,
        }
    }
}

fn lagged_to_bt(lagged: &LaggedDiffs) -> BtValue {
    BtValue::List(
        lagged
            .iter()
            .map(|(id, diff)| {
                BtValue::List(vec![
                    BtValue::Int(id.seqno),
                    BtValue::Bytes(id.hash.to_vec()),
                    diff_to_bt(diff),
                ])
            })
            .collect(),
    )
}
