//! Identifiers the gateway passes around as text.
//!
//! [`SessionIdText`] is a checked standard Session ID (`protocol/messages.md` §1.1: `"05"` then
//! 64 lowercase hex digits of the X25519 public key). It is text here because the gateway only
//! stores and compares IDs; `protocol::keys::SessionId` does the cryptography. Its `Debug` and
//! `Display` show only a prefix (style.md habit 10): full IDs appear only in JSON bodies.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a Session ID was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionIdError {
    /// Not 66 characters.
    #[error("a Session ID is 66 hex characters, got {0}")]
    Length(usize),
    /// Not hex (upper-case hex is rejected too: IDs are compared as text).
    #[error("a Session ID is lowercase hex")]
    NotHex,
    /// A prefix other than `05` (blinded, group or Ed25519 IDs are not accounts).
    #[error("a Session ID starts with 05")]
    Prefix,
}

/// A standard (`05`-prefixed) Session ID, validated.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionIdText(String);

impl SessionIdText {
    /// Parses and validates `text`.
    pub fn parse(text: &str) -> Result<Self, SessionIdError> {
        if text.len() != 66 {
            return Err(SessionIdError::Length(text.chars().count()));
        }
        if !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(SessionIdError::NotHex);
        }
        if !text.starts_with("05") {
            return Err(SessionIdError::Prefix);
        }
        Ok(Self(text.to_owned()))
    }

    /// The full 66-character ID.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn short(&self) -> &str {
        self.0.get(..8).unwrap_or(&self.0)
    }
}

impl TryFrom<String> for SessionIdText {
    type Error = SessionIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SessionIdText> for String {
    fn from(value: SessionIdText) -> Self {
        value.0
    }
}

impl fmt::Debug for SessionIdText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({}…)", self.short())
    }
}

impl fmt::Display for SessionIdText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

    #[test]
    fn accepts_a_standard_id_and_redacts_it() {
        let id = SessionIdText::parse(ID).unwrap();
        assert_eq!(id.as_str(), ID);
        assert_eq!(id.to_string(), "05d2ad01…");
        assert!(!format!("{id:?}").contains(ID));
    }

    #[test]
    fn rejects_bad_ids() {
        assert_eq!(SessionIdText::parse("05"), Err(SessionIdError::Length(2)));
        let upper = ID.to_uppercase();
        assert_eq!(SessionIdText::parse(&upper), Err(SessionIdError::NotHex));
        let blinded = format!("15{}", &ID[2..]);
        assert_eq!(SessionIdText::parse(&blinded), Err(SessionIdError::Prefix));
    }

    proptest! {
        #[test]
        fn junk_never_panics(text in ".{0,80}") {
            let _ = SessionIdText::parse(&text);
        }
    }
}
