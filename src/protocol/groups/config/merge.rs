//! Merging the heads of a config (groups.md §1.2; libsession `ConfigMessage(vector…)`).
//!
//! Every client that sees the same set of messages computes the same result: messages are
//! ordered by (seqno, hash), diffs replayed oldest first, and the winner of a conflict is the
//! message with the higher (seqno, hash).

use std::collections::BTreeMap;

use super::data::{prune, ConfigDict};
use super::diff::{apply_diff, Diff};
use super::message::{ConfigMessage, LaggedDiffs, MutableConfigMessage, SeqnoHash, DEFAULT_LAG};
use super::ConfigError;
use crate::protocol::keys::Ed25519PublicKey;

/// What merging a set of messages gives.
#[derive(Debug, Clone)]
pub enum MergeOutcome {
    /// One message supersedes the rest (or we may not sign a merge): it is the state as-is,
    /// nothing to push.
    Adopted {
        /// Its position among the inputs.
        index: usize,
        /// The message.
        message: ConfigMessage,
    },
    /// Several heads were combined into a new message at `max seqno + 1`; it must be signed
    /// (for group configs), written with [`MutableConfigMessage::finish`] and pushed.
    Merged(MutableConfigMessage),
}

/// Merges `candidates` (§1.2). Messages that do not parse or verify are skipped; `can_sign`
/// says whether we could sign a merged group config (admins): a member who cannot keeps the
/// highest head and waits for an admin's merge.
pub fn merge(
    candidates: &[&[u8]],
    verifier: Option<&Ed25519PublicKey>,
    can_sign: bool,
) -> Result<MergeOutcome, ConfigError> {
    let lag = DEFAULT_LAG;
    let parsed: Vec<(usize, ConfigMessage)> = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, raw)| Some((i, ConfigMessage::parse_with_lag(raw, verifier, lag).ok()?)))
        .collect();
    let max_seqno = parsed
        .iter()
        .map(|(_, m)| m.seqno())
        .max()
        .ok_or(ConfigError::NoValidMessages)?;
    let live: Vec<&(usize, ConfigMessage)> = parsed
        .iter()
        .enumerate()
        .filter(|(i, (_, m))| !is_redundant(*i, m, &parsed, max_seqno, lag))
        .map(|(_, entry)| entry)
        .collect();
    let single = match live.as_slice() {
        [only] => Some(*only),
        // Verify-only members keep the highest head.
        _ if verifier.is_some() && !can_sign => live.iter().max_by_key(|(_, m)| m.id()).copied(),
        _ => None,
    };
    if let Some((index, message)) = single {
        return Ok(MergeOutcome::Adopted {
            index: *index,
            message: message.clone(),
        });
    }
    let mut heads: Vec<&ConfigMessage> = live.iter().map(|(_, m)| m).collect();
    heads.sort_by_key(|m| std::cmp::Reverse(m.id()));
    Ok(MergeOutcome::Merged(replay(&heads, max_seqno, lag)))
}

/// Redundant: named in another message's lagged diffs, a duplicate of an earlier input, or
/// `lag` or more behind the newest.
fn is_redundant(
    i: usize,
    message: &ConfigMessage,
    all: &[(usize, ConfigMessage)],
    max_seqno: i64,
    lag: i64,
) -> bool {
    let id = message.id();
    let superseded = all.iter().enumerate().any(|(j, (_, other))| {
        j != i && (other.lagged().contains_key(&id) || (j < i && other.id() == id))
    });
    superseded || message.seqno().saturating_add(lag) <= max_seqno
}

/// §1.2 step 5. `heads` is sorted newest first, so the first registration of a diff (the
/// newest message's copy) wins.
fn replay(heads: &[&ConfigMessage], max_seqno: i64, lag: i64) -> MutableConfigMessage {
    let mut diffs: BTreeMap<SeqnoHash, (&ConfigDict, &Diff)> = BTreeMap::new();
    for head in heads {
        diffs.entry(head.id()).or_insert((head.data(), head.diff()));
        for (id, diff) in head.lagged() {
            diffs.entry(*id).or_insert((head.data(), diff));
        }
    }
    let mut data = heads.first().map(|m| m.data().clone()).unwrap_or_default();
    let mut lagged = LaggedDiffs::new();
    for (id, (source, diff)) in diffs {
        apply_diff(&mut data, diff, source);
        lagged.insert(id, diff.clone());
    }
    prune(&mut data);
    MutableConfigMessage::from_merge(max_seqno.saturating_add(1), data, lagged, lag)
}
