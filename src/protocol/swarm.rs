//! Mapping an account to its swarm (`../shared/protocol/network.md` §3.1, §3.2).
//!
//! Every account pubkey lands on a point of a 64-bit ring (its *swarm space*); the swarm whose id
//! is nearest that point on the ring, ties going to the lower id, stores the account's messages.
//! Sources: SS `oxenss/snode/swarm.cpp` (`pubkey_to_swarm_space`, `get_swarm_by_pk`), LSQ
//! `network.cpp` (identical code). Vectors: §6.1, §6.2 in `tests/vectors/swarm.json`.

use std::fmt;

/// A swarm's id as service nodes report it (`"swarm"` in `get_swarm`, §3.3).
///
/// Wire form: lowercase hex without `0x` and without zero padding (`"64"` for 100,
/// `"ffffffffffffffff"` for [`INVALID_SWARM_ID`]); [`fmt::Display`] writes exactly that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SwarmId(pub u64);

/// The id meaning "no swarm": never chosen by [`closest_swarm`], and what `get_swarm` answers when
/// the network has no swarms (§3.3).
pub const INVALID_SWARM_ID: SwarmId = SwarmId(u64::MAX);

impl fmt::Display for SwarmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

impl SwarmId {
    /// Parses the wire form written by [`fmt::Display`] (1 to 16 hex digits, either case).
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(text, 16).ok().map(SwarmId)
    }
}

impl serde::Serialize for SwarmId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SwarmId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_hex(&text).ok_or_else(|| serde::de::Error::custom("expected a hex swarm id"))
    }
}

/// The swarm space of an account: the XOR of the four big-endian u64 words of its 32-byte key
/// (the key **without** its network prefix byte), §3.1.
pub fn swarm_space(pubkey: &[u8; 32]) -> u64 {
    pubkey.chunks_exact(8).fold(0u64, |space, word| {
        let mut be = [0u8; 8];
        be.copy_from_slice(word);
        space ^ u64::from_be_bytes(be)
    })
}

/// The swarm that serves `space`, §3.2: the nearest id on the 64-bit ring (wrapping both ways),
/// ties going to the lower (left) neighbour.
///
/// `sorted_ids` must be sorted ascending; [`INVALID_SWARM_ID`] entries are ignored. Returns `None`
/// when no valid swarm is left.
pub fn closest_swarm(space: u64, sorted_ids: &[SwarmId]) -> Option<SwarmId> {
    // INVALID is u64::MAX, so in a sorted list it can only sit at the end.
    let valid_len = sorted_ids
        .iter()
        .take_while(|id| **id != INVALID_SWARM_ID)
        .count();
    let ids = sorted_ids.get(..valid_len)?;
    let first = *ids.first()?;
    let last = *ids.last()?;
    if ids.len() == 1 {
        return Some(first);
    }
    let right_index = ids.partition_point(|id| id.0 < space);
    let right = ids.get(right_index).copied().unwrap_or(first);
    let left = if right_index == 0 || right_index == ids.len() {
        last
    } else {
        ids.get(right_index - 1).copied().unwrap_or(last)
    };
    let dright = right.0.wrapping_sub(space);
    let dleft = space.wrapping_sub(left.0);
    Some(if dright < dleft { right } else { left })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Vectors {
        swarm_space: Vec<SpaceVector>,
        selection: Vec<SelectionVector>,
    }

    #[derive(Deserialize)]
    struct SpaceVector {
        #[allow(dead_code)] // provenance, read by people
        source: String,
        pubkey: String,
        space: String,
    }

    #[derive(Deserialize)]
    struct SelectionVector {
        #[allow(dead_code)] // provenance, read by people
        source: String,
        swarms: Vec<String>,
        cases: Vec<(String, String)>,
    }

    fn parse_u64(text: &str) -> u64 {
        match text.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
            None => text.parse().unwrap(),
        }
    }

    fn vectors() -> Vectors {
        serde_json::from_str(include_str!("../../tests/vectors/swarm.json")).unwrap()
    }

    #[test]
    fn swarm_space_vectors() {
        let v = vectors();
        assert_eq!(v.swarm_space.len(), 11);
        for case in v.swarm_space {
            let bytes = hex::decode(&case.pubkey).unwrap();
            let key: [u8; 32] = bytes[1..].try_into().unwrap();
            assert_eq!(swarm_space(&key), parse_u64(&case.space), "{}", case.pubkey);
        }
    }

    #[test]
    fn selection_vectors() {
        let v = vectors();
        assert_eq!(v.selection.len(), 3);
        let mut total = 0;
        for set in v.selection {
            let ids: Vec<SwarmId> = set.swarms.iter().map(|s| SwarmId(parse_u64(s))).collect();
            for (space, want) in &set.cases {
                let got = closest_swarm(parse_u64(space), &ids);
                assert_eq!(got, Some(SwarmId(parse_u64(want))), "space {space}");
                total += 1;
            }
        }
        assert_eq!(total, 32);
    }

    #[test]
    fn empty_single_and_invalid() {
        assert_eq!(closest_swarm(5, &[]), None);
        assert_eq!(closest_swarm(5, &[INVALID_SWARM_ID]), None);
        assert_eq!(closest_swarm(u64::MAX, &[SwarmId(7)]), Some(SwarmId(7)));
        assert_eq!(
            closest_swarm(u64::MAX, &[SwarmId(7), INVALID_SWARM_ID]),
            Some(SwarmId(7))
        );
        assert_eq!(
            closest_swarm(u64::MAX - 1, &[SwarmId(0), SwarmId(10), INVALID_SWARM_ID]),
            Some(SwarmId(0))
        );
    }

    #[test]
    fn display_is_unpadded_lowercase_hex() {
        assert_eq!(SwarmId(100).to_string(), "64");
        assert_eq!(INVALID_SWARM_ID.to_string(), "ffffffffffffffff");
        assert_eq!(SwarmId(0).to_string(), "0");
        assert_eq!(
            SwarmId::from_hex("FFFFFFFFFFFFFFFF"),
            Some(INVALID_SWARM_ID)
        );
        assert_eq!(SwarmId::from_hex(""), None);
        assert_eq!(SwarmId::from_hex("+1"), None);
        assert_eq!(SwarmId::from_hex("10000000000000000"), None);
    }

    proptest::proptest! {
        /// The chosen swarm is at minimal ring distance, and ties go left (a second path to §3.2).
        #[test]
        fn chosen_swarm_is_nearest(space: u64, mut raw in proptest::collection::vec(proptest::prelude::any::<u64>(), 1..8)) {
            raw.sort_unstable();
            raw.dedup();
            let ids: Vec<SwarmId> = raw.iter().copied().map(SwarmId).collect();
            let valid: Vec<u64> = raw.iter().copied().filter(|v| *v != u64::MAX).collect();
            let got = closest_swarm(space, &ids);
            if valid.is_empty() {
                proptest::prop_assert_eq!(got, None);
            } else {
                let dist = |id: u64| {
                    let a = id.wrapping_sub(space);
                    let b = space.wrapping_sub(id);
                    a.min(b)
                };
                let best = valid.iter().map(|v| dist(*v)).min().unwrap_or(0);
                let got = got.unwrap().0;
                proptest::prop_assert_eq!(dist(got), best);
            }
        }

        #[test]
        fn from_hex_never_panics(text in ".{0,20}") {
            let _ = SwarmId::from_hex(&text);
        }

        #[test]
        fn display_round_trips(v: u64) {
            proptest::prop_assert_eq!(SwarmId::from_hex(&SwarmId(v).to_string()), Some(SwarmId(v)));
        }
    }
}
