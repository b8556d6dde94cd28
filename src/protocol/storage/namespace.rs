//! Storage namespaces and the rules attached to them (§4.3, SS `oxenss/common/namespace.h`).

use std::fmt;

/// A storage namespace: a signed 16-bit id partitioning an account's messages.
///
/// Wire form: a JSON integer in −32768..=32767 (`namespace`, default 0). Known ids are the
/// associated constants; any other value is valid and follows the same arithmetic rules.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Namespace(pub i16);

/// One day in milliseconds.
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

impl Namespace {
    /// 0: one-to-one messages (a public inbox).
    pub const DEFAULT: Self = Self(0);
    /// 2: the user profile config.
    pub const USER_PROFILE: Self = Self(2);
    /// 3: the contacts config.
    pub const CONTACTS: Self = Self(3);
    /// 4: the conversation-info-volatile config.
    pub const CONVO_INFO_VOLATILE: Self = Self(4);
    /// 5: the user groups config.
    pub const USER_GROUPS: Self = Self(5);
    /// 11: group messages.
    pub const GROUP_MESSAGES: Self = Self(11);
    /// 12: group keys.
    pub const GROUP_KEYS: Self = Self(12);
    /// 13: group info config.
    pub const GROUP_INFO: Self = Self(13);
    /// 14: group members config.
    pub const GROUP_MEMBERS: Self = Self(14);
    /// −10: legacy closed groups (deprecated; no-auth retrieve).
    pub const LEGACY_CLOSED: Self = Self(-10);
    /// −11: group "revoked-retrievable" messages (unrevocable).
    pub const REVOKED_RETRIEVABLE: Self = Self(-11);

    /// Anyone may store here without a signature (`ns % 10 == 0`, C remainder, so −10 counts).
    pub const fn is_public_inbox(self) -> bool {
        self.0 % 10 == 0
    }

    /// A negative namespace `n` with `(-n) % 20 == 1` (−1, −21, …): anyone may retrieve.
    pub const fn is_public_outbox(self) -> bool {
        let n = self.0 as i32;
        n < 0 && (-n) % 20 == 1
    }

    /// Whether `retrieve` needs a signature: everything except −10 and public outboxes
    /// (namespace 0 included).
    pub const fn needs_auth_to_retrieve(self) -> bool {
        !(self.0 == Self::LEGACY_CLOSED.0 || self.is_public_outbox())
    }

    /// A negative namespace `n` with `(-n) % 100 == 11` (−11, −111, …): a revoked subaccount may
    /// still retrieve from it.
    pub const fn is_unrevocable(self) -> bool {
        let n = self.0 as i32;
        n < 0 && (-n) % 100 == 11
    }

    /// The longest TTL a store may ask for: 14 days in a public inbox, else 30 days (§4.6 store).
    pub const fn max_ttl_ms(self) -> u64 {
        if self.is_public_inbox() {
            14 * DAY_MS
        } else {
            30 * DAY_MS
        }
    }

    /// The namespace as it appears in signed strings and message hashes: `""` for 0, else
    /// decimal (`"-11"`), §4.4/§4.5.
    pub fn signing_text(self) -> String {
        if self.0 == 0 {
            String::new()
        } else {
            self.0.to_string()
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<i16> for Namespace {
    fn from(value: i16) -> Self {
        Self(value)
    }
}

/// The namespace selector of `delete_all`, `delete_before` and `expire_all`: one namespace or
/// the string `"all"` (§4.2). Serialises as the integer or `"all"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NamespaceSelector {
    /// Only this namespace.
    One(Namespace),
    /// Every namespace of the account.
    All,
}

impl NamespaceSelector {
    /// `NSV` of §4.4: `""` for namespace 0, `"all"`, or decimal.
    pub fn signing_text(self) -> String {
        match self {
            Self::One(ns) => ns.signing_text(),
            Self::All => "all".to_owned(),
        }
    }
}

impl Default for NamespaceSelector {
    fn default() -> Self {
        Self::One(Namespace::DEFAULT)
    }
}

impl serde::Serialize for NamespaceSelector {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::One(ns) => serializer.serialize_i16(ns.0),
            Self::All => serializer.serialize_str("all"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for NamespaceSelector {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw<'a> {
            Int(i16),
            #[serde(borrow)]
            Text(std::borrow::Cow<'a, str>),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Int(n) => Ok(Self::One(Namespace(n))),
            Raw::Text(text) if text == "all" => Ok(Self::All),
            Raw::Text(_) => Err(serde::de::Error::custom("expected a namespace or \"all\"")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_namespace_h() {
        for n in [0, -10, -30, 10, 20, 32760, -32760] {
            assert!(Namespace(n).is_public_inbox(), "{n}");
        }
        for n in [1, 2, -1, -11, 11, 5] {
            assert!(!Namespace(n).is_public_inbox(), "{n}");
        }
        for n in [-1, -21, -41, -32761] {
            assert!(Namespace(n).is_public_outbox(), "{n}");
            assert!(!Namespace(n).needs_auth_to_retrieve(), "{n}");
        }
        for n in [1, 21, -20, -11, 0] {
            assert!(!Namespace(n).is_public_outbox(), "{n}");
        }
        assert!(!Namespace::LEGACY_CLOSED.needs_auth_to_retrieve());
        for n in [0, 2, 11, -11, -30, i16::MIN, i16::MAX] {
            assert!(Namespace(n).needs_auth_to_retrieve(), "{n}");
        }
        for n in [-11, -111, -211, -32711] {
            assert!(Namespace(n).is_unrevocable(), "{n}");
        }
        for n in [11, -1, -12, -100, i16::MIN] {
            assert!(!Namespace(n).is_unrevocable(), "{n}");
        }
    }

    #[test]
    fn ttl_and_text() {
        assert_eq!(Namespace(0).max_ttl_ms(), 14 * 86_400_000);
        assert_eq!(Namespace(2).max_ttl_ms(), 30 * 86_400_000);
        assert_eq!(Namespace(0).signing_text(), "");
        assert_eq!(Namespace(-11).signing_text(), "-11");
        assert_eq!(NamespaceSelector::All.signing_text(), "all");
        assert_eq!(NamespaceSelector::One(Namespace(3)).signing_text(), "3");
    }

    #[test]
    fn selector_json() {
        let all: NamespaceSelector = serde_json::from_str("\"all\"").unwrap();
        assert_eq!(all, NamespaceSelector::All);
        assert_eq!(serde_json::to_string(&all).unwrap(), "\"all\"");
        let one: NamespaceSelector = serde_json::from_str("-11").unwrap();
        assert_eq!(one, NamespaceSelector::One(Namespace(-11)));
        assert!(serde_json::from_str::<NamespaceSelector>("\"none\"").is_err());
        assert!(serde_json::from_str::<NamespaceSelector>("40000").is_err());
        assert!(serde_json::from_str::<Namespace>("-32769").is_err());
    }
}
