//! Diffs: what one config message changed (its `=` dict) and what earlier ones changed (its
//! `<` lagged diffs), groups.md §1.1; replayed by merging (§1.2).
//!
//! ```text
//! diff value : ""                      scalar assigned or changed (the value is in the data)
//!              "-"                     scalar removed
//!              d…e                     changes inside a sub-dict
//!              l l<added…>e l<removed…>e e   set changes, both halves sorted as sets
//! ```
//! A removed dict or set is written as the removal of each member; a value whose type changed
//! is written as a new value. A diff names keys only: values always come from the data of the
//! message that owns the diff.

use std::collections::BTreeMap;

use super::data::{parse_sorted_scalars, set_to_bt, ConfigDict, ConfigSet, ConfigValue, Scalar};
use super::ConfigError;
use crate::protocol::bencode::BtValue;

/// One key's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffEntry {
    /// `""`: the scalar was set (the new value is in the owning message's data).
    Assigned,
    /// `"-"`: the scalar was removed.
    Removed,
    /// Members added to and removed from a set.
    Set {
        /// New members.
        added: ConfigSet,
        /// Members gone.
        removed: ConfigSet,
    },
    /// Changes inside a sub-dict.
    Dict(Diff),
}

/// A diff: key → change.
pub type Diff = BTreeMap<Vec<u8>, DiffEntry>;

/// Parses a diff dict.
///
/// Integers are refused: libsession's reader has no branch for them (it does not advance
/// past one), so no libsession writer can have produced one.
pub fn parse_diff(value: &BtValue) -> Result<Diff, ConfigError> {
    let BtValue::Dict(map) = value else {
        return Err(ConfigError::InvalidDiff);
    };
    map.iter()
        .map(|(key, v)| Ok((key.clone(), parse_entry(v)?)))
        .collect()
}

fn parse_entry(value: &BtValue) -> Result<DiffEntry, ConfigError> {
    match value {
        BtValue::Bytes(b) if b.is_empty() => Ok(DiffEntry::Assigned),
        BtValue::Bytes(b) if b == b"-" => Ok(DiffEntry::Removed),
        BtValue::List(halves) => match halves.as_slice() {
            [BtValue::List(added), BtValue::List(removed)] => Ok(DiffEntry::Set {
                added: parse_sorted_scalars(added)?,
                removed: parse_sorted_scalars(removed)?,
            }),
            _ => Err(ConfigError::InvalidDiff),
        },
        BtValue::Dict(_) => parse_diff(value).map(DiffEntry::Dict),
        BtValue::Bytes(_) | BtValue::Int(_) => Err(ConfigError::InvalidDiff),
    }
}

/// The diff as bencode.
pub fn diff_to_bt(diff: &Diff) -> BtValue {
    BtValue::Dict(
        diff.iter()
            .map(|(k, entry)| (k.clone(), entry_to_bt(entry)))
            .collect(),
    )
}

fn entry_to_bt(entry: &DiffEntry) -> BtValue {
    match entry {
        DiffEntry::Assigned => BtValue::Bytes(Vec::new()),
        DiffEntry::Removed => BtValue::Bytes(b"-".to_vec()),
        DiffEntry::Set { added, removed } => {
            BtValue::List(vec![set_to_bt(added), set_to_bt(removed)])
        }
        DiffEntry::Dict(sub) => diff_to_bt(sub),
    }
}

/// What changed from `old` to `new` (both pruned). Empty when nothing did.
pub fn compute_diff(old: &ConfigDict, new: &ConfigDict) -> Diff {
    let mut diff = Diff::new();
    for (key, old_value) in old {
        match (old_value, new.get(key)) {
            (_, None) => {
                diff.insert(key.clone(), removal(old_value));
            }
            (ConfigValue::Scalar(a), Some(ConfigValue::Scalar(b))) => {
                if a != b {
                    diff.insert(key.clone(), DiffEntry::Assigned);
                }
            }
            (ConfigValue::Dict(a), Some(ConfigValue::Dict(b))) => {
                let sub = compute_diff(a, b);
                if !sub.is_empty() {
                    diff.insert(key.clone(), DiffEntry::Dict(sub));
                }
            }
            (ConfigValue::Set(a), Some(ConfigValue::Set(b))) => {
                if a != b {
                    diff.insert(key.clone(), set_change(a, b));
                }
            }
            // The type changed: written as a new value, which replaces the old on replay.
            (_, Some(new_value)) => {
                diff.insert(key.clone(), addition(new_value));
            }
        }
    }
    for (key, new_value) in new {
        if !old.contains_key(key) {
            diff.insert(key.clone(), addition(new_value));
        }
    }
    diff
}

fn set_change(old: &ConfigSet, new: &ConfigSet) -> DiffEntry {
    DiffEntry::Set {
        added: new.difference(old).cloned().collect(),
        removed: old.difference(new).cloned().collect(),
    }
}

fn removal(old: &ConfigValue) -> DiffEntry {
    match old {
        ConfigValue::Scalar(_) => DiffEntry::Removed,
        ConfigValue::Set(set) => set_change(set, &ConfigSet::new()),
        ConfigValue::Dict(d) => DiffEntry::Dict(compute_diff(d, &ConfigDict::new())),
    }
}

fn addition(new: &ConfigValue) -> DiffEntry {
    match new {
        ConfigValue::Scalar(_) => DiffEntry::Assigned,
        ConfigValue::Set(set) => set_change(&ConfigSet::new(), set),
        ConfigValue::Dict(d) => DiffEntry::Dict(compute_diff(&ConfigDict::new(), d)),
    }
}

/// Replays `diff` onto `data`, taking assigned values from `source` (the data of the message
/// that owns the diff), as libsession's merge does (§1.2 step 5).
///
/// A key whose source value is missing or of another type than the diff says is removed: a
/// later diff either removes it too or sets the new type, and removing now keeps a sequence
/// like dict → 42 → dict from mixing the two dicts. Empty sets and dicts are left for the
/// caller to prune after the last diff.
pub fn apply_diff(data: &mut ConfigDict, diff: &Diff, source: &ConfigDict) {
    for (key, entry) in diff {
        match (entry, source.get(key)) {
            (DiffEntry::Removed, Some(ConfigValue::Scalar(_))) => {
                data.remove(key);
            }
            (DiffEntry::Assigned, Some(ConfigValue::Scalar(value))) => {
                data.insert(key.clone(), ConfigValue::Scalar(value.clone()));
            }
            (DiffEntry::Dict(sub), Some(ConfigValue::Dict(sub_source))) => {
                let slot = data
                    .entry(key.clone())
                    .or_insert_with(|| ConfigValue::Dict(ConfigDict::new()));
                if !matches!(slot, ConfigValue::Dict(_)) {
                    *slot = ConfigValue::Dict(ConfigDict::new());
                }
                if let ConfigValue::Dict(target) = slot {
                    apply_diff(target, sub, sub_source);
                }
            }
            (DiffEntry::Set { added, removed }, Some(ConfigValue::Set(_))) => {
                let slot = data
                    .entry(key.clone())
                    .or_insert_with(|| ConfigValue::Set(ConfigSet::new()));
                if !matches!(slot, ConfigValue::Set(_)) {
                    *slot = ConfigValue::Set(ConfigSet::new());
                }
                if let ConfigValue::Set(target) = slot {
                    target.extend(added.iter().cloned());
                    target.retain(|member: &Scalar| !removed.contains(member));
                }
            }
            _ => {
                data.remove(key);
            }
        }
    }
}
