//! Group members contents (namespace 14): the `&` keys of groups.md §3.2.
//!
//! ```text
//! m → { <33-byte binary Session ID> → {
//!         n  string  display name (always written, possibly empty; ≤ 100 bytes)
//!         p, q       profile picture URL and 32-byte key (only together)
//!         A  int     1 = admin
//!         I  int     invite status: 1 sent, 2 failed, 3 not sent; absent once accepted
//!                    and never for admins
//!         s  int     1 = invited with supplemental keys (meaningful only with I)
//!         P  int     promotion status: 1 sent, 2 failed, 3 not sent; absent once accepted
//!         R  int     1 = removed, 2 = removed and their messages to be deleted
//! } }
//! ```
//! Entries whose key is not 33 bytes or whose value is not a dict are skipped on reading and
//! left alone on writing, as libsession does; so are member keys this type does not know.

use super::data::{ConfigDict, ConfigValue};
use super::info::{lossy, positive, set_positive, set_string, string, truncate_utf8, ProfilePic};
use crate::protocol::keys::PrefixedId;

/// Longest member name, in bytes (`member::MAX_NAME_LENGTH`).
pub const MEMBER_NAME_MAX: usize = 100;

/// Where an invitation or promotion stands (`I`, `P`); absent means accepted (or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// 1: sent, not yet accepted.
    Sent,
    /// 2: sending failed.
    Failed,
    /// 3: not sent yet.
    NotSent,
}

impl SendStatus {
    fn from_int(value: i64) -> Option<Self> {
        match value {
            1 => Some(Self::Sent),
            2 => Some(Self::Failed),
            3 => Some(Self::NotSent),
            _ => None,
        }
    }

    fn to_int(self) -> i64 {
        match self {
            Self::Sent => 1,
            Self::Failed => 2,
            Self::NotSent => 3,
        }
    }
}

/// Whether a member has been removed (`R`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// 1: removed.
    Removed,
    /// 2: removed, and their messages are to be deleted too.
    RemovedWithMessages,
}

/// One member (§3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The member's 33-byte Session ID (normally `05`-prefixed).
    pub id: PrefixedId,
    /// `n` (invalid UTF-8 from a peer is read lossily).
    pub name: String,
    /// `p`, `q`.
    pub profile_pic: Option<ProfilePic>,
    /// `A`.
    pub admin: bool,
    /// `I` (never for admins).
    pub invite: Option<SendStatus>,
    /// `s`: invited with supplemental keys (only read while an invite is pending and the
    /// member is neither admin nor being promoted).
    pub supplement: bool,
    /// `P`.
    pub promotion: Option<SendStatus>,
    /// `R`.
    pub removal: Option<Removal>,
}

impl GroupMember {
    /// A plain member with nothing set but the ID.
    pub fn new(id: PrefixedId) -> Self {
        Self {
            id,
            name: String::new(),
            profile_pic: None,
            admin: false,
            invite: None,
            supplement: false,
            promotion: None,
            removal: None,
        }
    }

    fn from_entry(id: PrefixedId, entry: &ConfigDict) -> Self {
        let key = string(entry, b"q").and_then(|k| <[u8; 32]>::try_from(k).ok());
        let url = string(entry, b"p").map(lossy);
        let admin = positive(entry, b"A").is_some();
        let invite = positive(entry, b"I")
            .filter(|_| !admin)
            .and_then(SendStatus::from_int);
        let promotion = positive(entry, b"P").and_then(SendStatus::from_int);
        let supplement = invite.is_some() && promotion.is_none() && positive(entry, b"s").is_some();
        Self {
            id,
            name: string(entry, b"n").map(lossy).unwrap_or_default(),
            profile_pic: url.zip(key).map(|(url, key)| ProfilePic { url, key }),
            admin,
            invite,
            supplement,
            promotion,
            removal: match positive(entry, b"R") {
                Some(1) => Some(Removal::Removed),
                Some(2) => Some(Removal::RemovedWithMessages),
                _ => None,
            },
        }
    }

    fn write_entry(&self, entry: &mut ConfigDict) {
        // `n` is always written, even empty, so the entry never prunes away.
        let name = truncate_utf8(&self.name, MEMBER_NAME_MAX);
        entry.insert(b"n".to_vec(), ConfigValue::from(name.as_bytes().to_vec()));
        let pic = self.profile_pic.as_ref().filter(|p| !p.url.is_empty());
        set_string(entry, b"p", pic.map(|p| p.url.as_bytes()));
        set_string(entry, b"q", pic.map(|p| &p.key[..]));
        set_positive(entry, b"A", self.admin.then_some(1));
        set_positive(entry, b"P", self.promotion.map(SendStatus::to_int));
        let invite = self.invite.filter(|_| !self.admin);
        set_positive(entry, b"I", invite.map(SendStatus::to_int));
        set_positive(entry, b"s", self.supplement.then_some(1));
        let removal = self.removal.map(|r| match r {
            Removal::Removed => 1,
            Removal::RemovedWithMessages => 2,
        });
        set_positive(entry, b"R", removal);
    }
}

fn member_dict(data: &ConfigDict) -> Option<&ConfigDict> {
    match data.get(&b"m"[..]) {
        Some(ConfigValue::Dict(m)) => Some(m),
        _ => None,
    }
}

/// The members listed in a members config's data, in key order.
pub fn members_from_data(data: &ConfigDict) -> Vec<GroupMember> {
    member_dict(data)
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| match value {
            ConfigValue::Dict(entry) => {
                let id = PrefixedId::try_from(key.as_slice()).ok()?;
                Some(GroupMember::from_entry(id, entry))
            }
            _ => None,
        })
        .collect()
}

/// One member, if listed.
pub fn member(data: &ConfigDict, id: &PrefixedId) -> Option<GroupMember> {
    match member_dict(data)?.get(&id.to_bytes()[..]) {
        Some(ConfigValue::Dict(entry)) => Some(GroupMember::from_entry(*id, entry)),
        _ => None,
    }
}

/// Adds or updates a member (keys this type does not know are kept).
pub fn set_member(data: &mut ConfigDict, member: &GroupMember) {
    let members = data
        .entry(b"m".to_vec())
        .or_insert_with(|| ConfigValue::Dict(ConfigDict::new()));
    if !matches!(members, ConfigValue::Dict(_)) {
        *members = ConfigValue::Dict(ConfigDict::new());
    }
    let ConfigValue::Dict(members) = members else {
        return;
    };
    let entry = members
        .entry(member.id.to_bytes().to_vec())
        .or_insert_with(|| ConfigValue::Dict(ConfigDict::new()));
    if !matches!(entry, ConfigValue::Dict(_)) {
        *entry = ConfigValue::Dict(ConfigDict::new());
    }
    if let ConfigValue::Dict(entry) = entry {
        member.write_entry(entry);
    }
}

/// Erases a member entirely (what an admin does once a removal is complete). Returns whether
/// the member was listed.
pub fn erase_member(data: &mut ConfigDict, id: &PrefixedId) -> bool {
    match data.get_mut(&b"m"[..]) {
        Some(ConfigValue::Dict(members)) => members.remove(&id.to_bytes()[..]).is_some(),
        _ => false,
    }
}
