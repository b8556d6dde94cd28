//! The UserGroups config (namespace 5) entry of a v2 group: groups.md §3.3, checked against
//! LSU `src/config/user_groups.cpp` @ `8762e9d3` (`group_info::load`, `UserGroups::set`,
//! `iterator::check_it`).
//!
//! ```text
//! g → { <33 bytes: 0x03 ‖ group pk> → {
//!         K  bytes   group seed (32) when admin, else the empty string: always written
//!         s  bytes   memberAuthData (100), written only when K is empty
//!         n  string  name from the invite (≤ 100 bytes; omitted when empty)
//!         r  int     removed status: 1 kicked, 2 group destroyed
//!         @  int     notifications: 1 all, 2 disabled, 3 mentions only (omitted = default)
//!         !  int     mute until (unix s)      +  int  priority (-1 hidden, > 0 pinned)
//!         i  int     1 = invite pending       j  int  joined at (unix s)
//! } }
//! ```
//! The key is the 33-byte ID **with** its `0x03`: LSU writes `session_id_to_bytes(id, "03")`
//! and its iterator skips keys that are not 33 bytes starting `0x03`. (The LSU header comment,
//! and groups.md §3.3 after it, say "without 0x03"; the code is what clients read.)
//! A `K` whose key pair is not the entry's group is ignored, as LSU does. Keys this type does
//! not know are kept on writing.

use super::data::{ConfigDict, ConfigValue, Scalar};
use super::info::{lossy, set_positive, set_string, truncate_utf8};
use crate::protocol::groups::subaccount::MemberAuthData;
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::{Ed25519PublicKey, IdPrefix, PrefixedId, Seed};

/// Longest invite name, in bytes (`base_group_info::NAME_MAX_LENGTH`).
pub const GROUP_NAME_MAX: usize = 100;

/// `@`: how the user wants notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotifyMode {
    /// Absent (or out of range): the default.
    #[default]
    Default,
    /// 1.
    All,
    /// 2.
    Disabled,
    /// 3.
    MentionsOnly,
}

/// `r`: why we are no longer in the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RemovedStatus {
    /// 0 / absent.
    #[default]
    NotRemoved,
    /// 1: kicked.
    Kicked,
    /// 2: the group was destroyed.
    Destroyed,
    /// Another positive value, kept as read.
    Other(i64),
}

/// One v2 group in the user's UserGroups config (§3.3).
#[derive(Debug, Clone)]
pub struct UserGroupEntry {
    /// The group's `03` ID.
    pub id: PrefixedId,
    /// `K`: the group secret when we are an admin.
    pub secret: Option<GroupSecret>,
    /// `s`: our grant when not an admin.
    pub auth: Option<MemberAuthData>,
    /// `n`: the name from the invite.
    pub name: String,
    /// `r`.
    pub removed: RemovedStatus,
    /// `@`.
    pub notifications: NotifyMode,
    /// `!` (unix s, 0 = not muted).
    pub mute_until: i64,
    /// `+`.
    pub priority: i64,
    /// `i`: the invitation is not accepted yet.
    pub invited: bool,
    /// `j` (unix s, 0 = unknown).
    pub joined_at: i64,
}

impl UserGroupEntry {
    /// An entry for `group` with nothing else set.
    pub fn new(group: &Ed25519PublicKey) -> Self {
        Self {
            id: crate::protocol::groups::group_id(group),
            secret: None,
            auth: None,
            name: String::new(),
            removed: RemovedStatus::NotRemoved,
            notifications: NotifyMode::Default,
            mute_until: 0,
            priority: 0,
            invited: false,
            joined_at: 0,
        }
    }

    fn from_entry(id: PrefixedId, entry: &ConfigDict) -> Self {
        let int = |key: &[u8]| match entry.get(key) {
            Some(ConfigValue::Scalar(Scalar::Int(i))) => *i,
            _ => 0,
        };
        let bytes = |key: &[u8]| match entry.get(key) {
            Some(ConfigValue::Scalar(Scalar::Bytes(b))) => Some(b.as_slice()),
            _ => None,
        };
        let group_key = id.to_bytes();
        let secret = bytes(b"K")
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .map(|seed| GroupSecret::from_seed(Seed::from_bytes(seed)))
            .filter(|s| s.public().as_bytes()[..] == group_key[1..]);
        Self {
            id,
            secret,
            auth: bytes(b"s").and_then(|s| MemberAuthData::try_from(s).ok()),
            name: bytes(b"n").map(lossy).unwrap_or_default(),
            removed: match int(b"r") {
                0 => RemovedStatus::NotRemoved,
                1 => RemovedStatus::Kicked,
                2 => RemovedStatus::Destroyed,
                other => RemovedStatus::Other(other),
            },
            notifications: match int(b"@") {
                1 => NotifyMode::All,
                2 => NotifyMode::Disabled,
                3 => NotifyMode::MentionsOnly,
                _ => NotifyMode::Default,
            },
            mute_until: int(b"!"),
            priority: int(b"+"),
            invited: int(b"i") != 0,
            joined_at: int(b"j").max(0),
        }
    }

    fn write_entry(&self, entry: &mut ConfigDict) {
        match self.priority {
            0 => entry.remove(&b"+"[..]),
            p => entry.insert(b"+".to_vec(), ConfigValue::from(p)),
        };
        set_positive(entry, b"j", Some(self.joined_at));
        let notify = match self.notifications {
            NotifyMode::Default => 0,
            NotifyMode::All => 1,
            NotifyMode::Disabled => 2,
            NotifyMode::MentionsOnly => 3,
        };
        set_positive(entry, b"@", Some(notify));
        set_positive(entry, b"!", Some(self.mute_until));
        set_positive(entry, b"i", self.invited.then_some(1));
        let name = truncate_utf8(&self.name, GROUP_NAME_MAX);
        set_string(entry, b"n", Some(name.as_bytes()));
        let removed = match self.removed {
            RemovedStatus::NotRemoved => 0,
            RemovedStatus::Kicked => 1,
            RemovedStatus::Destroyed => 2,
            RemovedStatus::Other(v) => v,
        };
        set_positive(entry, b"r", Some(removed));
        let group_key = self.id.to_bytes();
        match self
            .secret
            .as_ref()
            .filter(|s| s.public().as_bytes()[..] == group_key[1..])
        {
            // LSU leaves `s` as it was when writing `K`.
            Some(secret) => {
                entry.insert(
                    b"K".to_vec(),
                    ConfigValue::from(secret.seed().expose_secret().to_vec()),
                );
            }
            None => {
                entry.insert(b"K".to_vec(), ConfigValue::from(Vec::new()));
                set_string(entry, b"s", self.auth.as_ref().map(|a| &a.as_bytes()[..]));
            }
        }
    }
}

fn groups_dict(data: &ConfigDict) -> Option<&ConfigDict> {
    match data.get(&b"g"[..]) {
        Some(ConfigValue::Dict(g)) => Some(g),
        _ => None,
    }
}

fn group_entry_id(key: &[u8]) -> Option<PrefixedId> {
    PrefixedId::try_from(key)
        .ok()?
        .expect_prefix(IdPrefix::Group)
        .ok()
}

/// The v2 groups of a UserGroups config's data, in key order.
pub fn user_groups_from_data(data: &ConfigDict) -> Vec<UserGroupEntry> {
    groups_dict(data)
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| match value {
            ConfigValue::Dict(entry) => {
                Some(UserGroupEntry::from_entry(group_entry_id(key)?, entry))
            }
            _ => None,
        })
        .collect()
}

/// One group's entry, if listed.
pub fn user_group(data: &ConfigDict, id: &PrefixedId) -> Option<UserGroupEntry> {
    match groups_dict(data)?.get(&id.to_bytes()[..]) {
        Some(ConfigValue::Dict(entry)) => Some(UserGroupEntry::from_entry(*id, entry)),
        _ => None,
    }
}

/// Adds or updates a group's entry (keys this type does not know are kept).
pub fn set_user_group(data: &mut ConfigDict, group: &UserGroupEntry) {
    let groups = data
        .entry(b"g".to_vec())
        .or_insert_with(|| ConfigValue::Dict(ConfigDict::new()));
    if !matches!(groups, ConfigValue::Dict(_)) {
        *groups = ConfigValue::Dict(ConfigDict::new());
    }
    let ConfigValue::Dict(groups) = groups else {
        return;
    };
    let entry = groups
        .entry(group.id.to_bytes().to_vec())
        .or_insert_with(|| ConfigValue::Dict(ConfigDict::new()));
    if !matches!(entry, ConfigValue::Dict(_)) {
        *entry = ConfigValue::Dict(ConfigDict::new());
    }
    if let ConfigValue::Dict(entry) = entry {
        group.write_entry(entry);
    }
}

/// Removes a group's entry. Returns whether it was listed.
pub fn erase_user_group(data: &mut ConfigDict, id: &PrefixedId) -> bool {
    match data.get_mut(&b"g"[..]) {
        Some(ConfigValue::Dict(groups)) => groups.remove(&id.to_bytes()[..]).is_some(),
        _ => false,
    }
}
