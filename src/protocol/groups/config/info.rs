//! Group info contents (namespace 13): the `&` keys of groups.md §3.1.
//!
//! ```text
//! !  int  1 = group destroyed          n  string  name (≤ 100 bytes)
//! c  int  created, unix seconds        o  string  description (≤ 2000 bytes)
//! d  int  delete messages before       p  string  profile picture URL   } only together,
//! D  int  delete attachments before    q  32 B    profile picture key   } else neither
//! E  int  disappearing timer, seconds
//! ```
//! Empty strings and zero (or negative) integers are never written; reading treats them as
//! absent, as libsession's getters do. Keys this type does not know stay untouched in the
//! data, so writing back through [`GroupInfo::write_to`] loses nothing a newer client added.

use super::data::{ConfigDict, ConfigValue, Scalar};

/// Longest name, in bytes (libsession `Info::NAME_MAX_LENGTH`).
pub const NAME_MAX: usize = 100;
/// Longest description, in bytes (`Info::DESCRIPTION_MAX_LENGTH`).
pub const DESCRIPTION_MAX: usize = 2000;

/// A profile picture: where it is and the key that decrypts it.
#[derive(Clone, PartialEq, Eq)]
pub struct ProfilePic {
    /// The download URL.
    pub url: String,
    /// The 32-byte decryption key.
    pub key: [u8; 32],
}

impl std::fmt::Debug for ProfilePic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfilePic")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// What group info says (§3.1). `None` means absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupInfo {
    /// `n`: the name (invalid UTF-8 from a peer is read lossily).
    pub name: Option<String>,
    /// `o`: the description.
    pub description: Option<String>,
    /// `p` and `q`.
    pub profile_pic: Option<ProfilePic>,
    /// `c`: created, unix seconds.
    pub created: Option<i64>,
    /// `d`: messages older than this (unix seconds) are to be deleted.
    pub delete_before: Option<i64>,
    /// `D`: attachments older than this (unix seconds) are to be deleted.
    pub delete_attachments_before: Option<i64>,
    /// `E`: disappearing-messages timer in seconds (delete after send).
    pub expiry_timer: Option<i64>,
    /// `!`: the group was destroyed by an admin.
    pub destroyed: bool,
}

impl GroupInfo {
    /// Reads the info from a message's data.
    pub fn from_data(data: &ConfigDict) -> Self {
        let key = string(data, b"q").and_then(|k| <[u8; 32]>::try_from(k).ok());
        let url = string(data, b"p").map(lossy);
        Self {
            name: string(data, b"n").map(lossy),
            description: string(data, b"o").map(lossy),
            profile_pic: url.zip(key).map(|(url, key)| ProfilePic { url, key }),
            created: positive(data, b"c"),
            delete_before: positive(data, b"d"),
            delete_attachments_before: positive(data, b"D"),
            expiry_timer: positive(data, b"E"),
            destroyed: positive(data, b"!").is_some(),
        }
    }

    /// Writes the info into `data` (for a [`super::MutableConfigMessage`]), truncating the
    /// name and description at a character boundary to their limits.
    pub fn write_to(&self, data: &mut ConfigDict) {
        let name = self.name.as_deref().map(|n| truncate_utf8(n, NAME_MAX));
        set_string(data, b"n", name.map(str::as_bytes));
        let description = self
            .description
            .as_deref()
            .map(|d| truncate_utf8(d, DESCRIPTION_MAX));
        set_string(data, b"o", description.map(str::as_bytes));
        let pic = self.profile_pic.as_ref().filter(|p| !p.url.is_empty());
        set_string(data, b"p", pic.map(|p| p.url.as_bytes()));
        set_string(data, b"q", pic.map(|p| &p.key[..]));
        set_positive(data, b"c", self.created);
        set_positive(data, b"d", self.delete_before);
        set_positive(data, b"D", self.delete_attachments_before);
        set_positive(data, b"E", self.expiry_timer);
        set_positive(data, b"!", self.destroyed.then_some(1));
    }
}

/// A non-empty string value of `key`.
pub(super) fn string<'a>(data: &'a ConfigDict, key: &[u8]) -> Option<&'a [u8]> {
    match data.get(key) {
        Some(ConfigValue::Scalar(Scalar::Bytes(b))) if !b.is_empty() => Some(b),
        _ => None,
    }
}

/// A positive integer value of `key`.
pub(super) fn positive(data: &ConfigDict, key: &[u8]) -> Option<i64> {
    match data.get(key) {
        Some(ConfigValue::Scalar(Scalar::Int(i))) if *i > 0 => Some(*i),
        _ => None,
    }
}

pub(super) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Sets `key` to a non-empty string, or removes it.
pub(super) fn set_string(data: &mut ConfigDict, key: &[u8], value: Option<&[u8]>) {
    match value.filter(|v| !v.is_empty()) {
        Some(v) => data.insert(key.to_vec(), ConfigValue::from(v.to_vec())),
        None => data.remove(key),
    };
}

/// Sets `key` to a positive integer, or removes it.
pub(super) fn set_positive(data: &mut ConfigDict, key: &[u8], value: Option<i64>) {
    match value.filter(|v| *v > 0) {
        Some(v) => data.insert(key.to_vec(), ConfigValue::from(v)),
        None => data.remove(key),
    };
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub(super) fn truncate_utf8(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}
