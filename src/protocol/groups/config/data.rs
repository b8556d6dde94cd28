//! The application data of a config message: the `&` dict (groups.md §1.1).
//!
//! ```text
//! value  : int (i64) | string (bytes) | set | dict
//! set    : bencode list, non-empty, scalars only, sorted (ints before strings), no duplicates
//! dict   : bencode dict, non-empty (only the top-level `&` may be empty)
//! ```
//! Empty sets and dicts are never encoded: [`prune`] removes them before a message is written,
//! and a message that carries one is refused, as libsession does (`config.cpp` `parse_data`).

use std::collections::{BTreeMap, BTreeSet};

use super::ConfigError;
use crate::protocol::bencode::BtValue;

/// A scalar: what a set holds and what a leaf of the data is.
///
/// The derived order is the order libsession's sets use: every integer before every string,
/// integers numerically, strings bytewise.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scalar {
    /// A signed 64-bit integer.
    Int(i64),
    /// A byte string (not necessarily UTF-8).
    Bytes(Vec<u8>),
}

impl Scalar {
    /// The scalar as bencode.
    pub fn to_bt(&self) -> BtValue {
        match self {
            Scalar::Int(i) => BtValue::Int(*i),
            Scalar::Bytes(b) => BtValue::Bytes(b.clone()),
        }
    }

    /// A bencoded int or string as a scalar; `None` for lists and dicts.
    pub fn from_bt(value: &BtValue) -> Option<Self> {
        match value {
            BtValue::Int(i) => Some(Scalar::Int(*i)),
            BtValue::Bytes(b) => Some(Scalar::Bytes(b.clone())),
            BtValue::List(_) | BtValue::Dict(_) => None,
        }
    }
}

impl From<i64> for Scalar {
    fn from(value: i64) -> Self {
        Scalar::Int(value)
    }
}

impl From<&str> for Scalar {
    fn from(value: &str) -> Self {
        Scalar::Bytes(value.as_bytes().to_vec())
    }
}

/// A set of scalars (a bencode list on the wire).
pub type ConfigSet = BTreeSet<Scalar>;

/// A dict of config values keyed by byte strings.
pub type ConfigDict = BTreeMap<Vec<u8>, ConfigValue>;

/// One value of the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigValue {
    /// An integer or string.
    Scalar(Scalar),
    /// A set of scalars.
    Set(ConfigSet),
    /// A nested dict.
    Dict(ConfigDict),
}

impl From<i64> for ConfigValue {
    fn from(value: i64) -> Self {
        ConfigValue::Scalar(Scalar::Int(value))
    }
}

impl From<&str> for ConfigValue {
    fn from(value: &str) -> Self {
        ConfigValue::Scalar(value.into())
    }
}

impl From<Vec<u8>> for ConfigValue {
    fn from(value: Vec<u8>) -> Self {
        ConfigValue::Scalar(Scalar::Bytes(value))
    }
}

impl From<ConfigSet> for ConfigValue {
    fn from(value: ConfigSet) -> Self {
        ConfigValue::Set(value)
    }
}

impl From<ConfigDict> for ConfigValue {
    fn from(value: ConfigDict) -> Self {
        ConfigValue::Dict(value)
    }
}

/// Parses the top-level `&` dict (which may be empty).
pub fn parse_data(value: &BtValue) -> Result<ConfigDict, ConfigError> {
    match value {
        BtValue::Dict(map) => parse_dict_entries(map),
        _ => Err(ConfigError::MissingData),
    }
}

fn parse_dict_entries(map: &BTreeMap<Vec<u8>, BtValue>) -> Result<ConfigDict, ConfigError> {
    map.iter()
        .map(|(k, v)| Ok((k.clone(), parse_value(v)?)))
        .collect()
}

fn parse_value(value: &BtValue) -> Result<ConfigValue, ConfigError> {
    Ok(match value {
        BtValue::Int(i) => ConfigValue::Scalar(Scalar::Int(*i)),
        BtValue::Bytes(b) => ConfigValue::Scalar(Scalar::Bytes(b.clone())),
        BtValue::Dict(map) if map.is_empty() => return Err(ConfigError::EmptyDict),
        BtValue::Dict(map) => ConfigValue::Dict(parse_dict_entries(map)?),
        BtValue::List(items) if items.is_empty() => return Err(ConfigError::EmptySet),
        BtValue::List(items) => ConfigValue::Set(parse_sorted_scalars(items)?),
    })
}

/// Scalars in strictly ascending [`Scalar`] order (the rule for sets and for both halves of a
/// set diff).
pub(super) fn parse_sorted_scalars(items: &[BtValue]) -> Result<ConfigSet, ConfigError> {
    let mut set = ConfigSet::new();
    for item in items {
        let scalar = Scalar::from_bt(item).ok_or(ConfigError::SetNotScalar)?;
        if set.last().is_some_and(|last| *last >= scalar) {
            return Err(ConfigError::SetUnsorted);
        }
        set.insert(scalar);
    }
    Ok(set)
}

/// The data as bencode (keys and set members come out sorted, so encoding is canonical).
pub fn data_to_bt(dict: &ConfigDict) -> BtValue {
    BtValue::Dict(
        dict.iter()
            .map(|(k, v)| (k.clone(), value_to_bt(v)))
            .collect(),
    )
}

fn value_to_bt(value: &ConfigValue) -> BtValue {
    match value {
        ConfigValue::Scalar(s) => s.to_bt(),
        ConfigValue::Set(set) => set_to_bt(set),
        ConfigValue::Dict(d) => data_to_bt(d),
    }
}

/// A set as a bencode list.
pub(super) fn set_to_bt(set: &ConfigSet) -> BtValue {
    BtValue::List(set.iter().map(Scalar::to_bt).collect())
}

/// Removes empty sets and dicts, recursively (a dict emptied by pruning goes too). The
/// top-level dict itself stays, even when empty.
pub fn prune(dict: &mut ConfigDict) {
    dict.retain(|_, value| match value {
        ConfigValue::Scalar(_) => true,
        ConfigValue::Set(set) => !set.is_empty(),
        ConfigValue::Dict(sub) => {
            prune(sub);
            !sub.is_empty()
        }
    });
}
