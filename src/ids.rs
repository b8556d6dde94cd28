//! Identifiers the gateway passes around as text.
//!
//! [`SessionIdText`] is a checked Session ID (`protocol/messages.md` §1.1: a one-byte prefix in
//! hex, then 64 lowercase hex digits of a public key). Its prefix says what it names
//! ([`SessionIdKind`]): `05` an account, `03` a closed group, `15`/`25` a blinded community
//! identity. [`SessionIdText::parse`] accepts only `05` (accounts); [`SessionIdText::parse_any`]
//! accepts every kind. It is text here because the gateway only stores and compares IDs;
//! `protocol::keys::SessionId` does the cryptography.
//!
//! [`ConversationId`] names one conversation: a direct chat with a peer, a closed group, or a
//! community room. Its one text form (parsed and printed only here) is the peer's or group's
//! Session ID, or the room URL `http(s)://host[:port]/room` without a query.
//!
//! `Debug` and `Display` of these types show only a prefix (style.md habit 10): full IDs appear
//! only in JSON bodies (serde uses the full text).

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
    /// A prefix other than `05` where an account is wanted (or `03` where a group is wanted),
    /// or an unknown prefix.
    #[error("a Session ID starts with 05")]
    Prefix,
}

/// What a Session ID names, by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionIdKind {
    /// `05`: an account's X25519 key.
    Standard,
    /// `03`: a closed group's Ed25519 key.
    Group,
    /// `15`: a blinded community identity (legacy blinding).
    Blinded15,
    /// `25`: a blinded community identity (blinding v2).
    Blinded25,
}

impl SessionIdKind {
    /// The two-hex-digit prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Standard => "05",
            Self::Group => "03",
            Self::Blinded15 => "15",
            Self::Blinded25 => "25",
        }
    }

    fn from_prefix(prefix: &str) -> Option<Self> {
        match prefix {
            "05" => Some(Self::Standard),
            "03" => Some(Self::Group),
            "15" => Some(Self::Blinded15),
            "25" => Some(Self::Blinded25),
            _ => None,
        }
    }
}

/// A Session ID, validated; serde accepts only standard (`05`) IDs, as [`SessionIdText::parse`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionIdText(String);

impl SessionIdText {
    /// Parses and validates `text` as an account's (standard, `05`) Session ID.
    pub fn parse(text: &str) -> Result<Self, SessionIdError> {
        let id = Self::parse_any(text)?;
        if id.kind() != SessionIdKind::Standard {
            return Err(SessionIdError::Prefix);
        }
        Ok(id)
    }

    /// Parses and validates `text` as a Session ID of any known kind (`05`, `03`, `15`, `25`).
    pub fn parse_any(text: &str) -> Result<Self, SessionIdError> {
        if text.len() != 66 {
            return Err(SessionIdError::Length(text.chars().count()));
        }
        if !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(SessionIdError::NotHex);
        }
        if SessionIdKind::from_prefix(&text[..2]).is_none() {
            return Err(SessionIdError::Prefix);
        }
        Ok(Self(text.to_owned()))
    }

    /// What this ID names, from its prefix.
    pub fn kind(&self) -> SessionIdKind {
        // Only `parse_any` builds a value, and it checked the prefix.
        SessionIdKind::from_prefix(self.0.get(..2).unwrap_or_default())
            .unwrap_or(SessionIdKind::Standard)
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

/// A closed group's ID: a `03`-prefixed Session ID.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(SessionIdText);

impl GroupId {
    /// Parses and validates `text` as a group (`03`) ID.
    pub fn parse(text: &str) -> Result<Self, SessionIdError> {
        let id = SessionIdText::parse_any(text)?;
        if id.kind() != SessionIdKind::Group {
            return Err(SessionIdError::Prefix);
        }
        Ok(Self(id))
    }

    /// The full 66-character ID.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The ID as a Session ID text (a `03` one).
    pub fn as_session_id(&self) -> &SessionIdText {
        &self.0
    }
}

impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupId({}…)", self.0.short())
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why a community room URL was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoomRefError {
    /// Not `http://` or `https://`.
    #[error("a room URL starts with http:// or https://")]
    Scheme,
    /// The host is empty or not lower-case `[a-z0-9.-]`, or the port is not 1..=65535.
    #[error("a room URL has a lower-case host and an optional port")]
    Server,
    /// The room token is missing, longer than 64, or not `[A-Za-z0-9_-]` (a query is refused).
    #[error("a room URL ends with /room, the room 1-64 of [A-Za-z0-9_-]")]
    Room,
}

/// A community room: the server's base URL and the room token (case kept).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomRef {
    /// `http(s)://host[:port]`, no trailing slash.
    pub server: String,
    /// The room token.
    pub room: String,
}

impl RoomRef {
    /// Parses `http(s)://host[:port]/room` (no query, no trailing slash).
    pub fn parse(text: &str) -> Result<Self, RoomRefError> {
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or(RoomRefError::Scheme)?;
        let (authority, room) = rest.split_once('/').ok_or(RoomRefError::Room)?;
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let host_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        let port_ok = port.is_none_or(|port| {
            (1..=5).contains(&port.len())
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p != 0)
        });
        if !host_ok || !port_ok {
            return Err(RoomRefError::Server);
        }
        let room_ok = (1..=crate::protocol::community::ROOM_MAX).contains(&room.len())
            && room
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !room_ok {
            return Err(RoomRefError::Room);
        }
        Ok(Self {
            server: text[..text.len() - room.len() - 1].to_owned(),
            room: room.to_owned(),
        })
    }
}

/// The room URL, `server/room`.
impl fmt::Display for RoomRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.server, self.room)
    }
}

impl fmt::Debug for RoomRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoomRef({self})")
    }
}

/// Why a conversation ID was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversationIdError {
    /// Neither a Session ID nor a room URL; the Session ID reading failed this way.
    #[error(transparent)]
    SessionId(#[from] SessionIdError),
    /// A room URL (it had an `http(s)://` scheme) that is malformed.
    #[error(transparent)]
    Room(#[from] RoomRefError),
}

/// One conversation: the single name every layer uses for "where a message belongs".
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ConversationId {
    /// A one-to-one chat with a peer (`05`, or a blinded `15`/`25` ID).
    Direct(SessionIdText),
    /// A closed group (`03`).
    Group(GroupId),
    /// A community room.
    Community(RoomRef),
}

impl ConversationId {
    /// Parses the one text form: a Session ID (`03` is a group, other kinds a direct chat) or
    /// an `http(s)://` room URL.
    pub fn parse(text: &str) -> Result<Self, ConversationIdError> {
        if text.starts_with("http://") || text.starts_with("https://") {
            return Ok(Self::Community(RoomRef::parse(text)?));
        }
        let id = SessionIdText::parse_any(text)?;
        Ok(match id.kind() {
            SessionIdKind::Group => Self::Group(GroupId(id)),
            _ => Self::Direct(id),
        })
    }

    /// The full text form (what [`ConversationId::parse`] reads and serde writes).
    pub fn to_text(&self) -> String {
        match self {
            Self::Direct(id) => id.as_str().to_owned(),
            Self::Group(id) => id.as_str().to_owned(),
            Self::Community(room) => room.to_string(),
        }
    }
}

impl TryFrom<String> for ConversationId {
    type Error = ConversationIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ConversationId> for String {
    fn from(value: ConversationId) -> Self {
        value.to_text()
    }
}

impl From<SessionIdText> for ConversationId {
    fn from(value: SessionIdText) -> Self {
        match value.kind() {
            SessionIdKind::Group => Self::Group(GroupId(value)),
            _ => Self::Direct(value),
        }
    }
}

impl fmt::Debug for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Direct(id) => write!(f, "Direct({})", id),
            Self::Group(id) => write!(f, "Group({})", id),
            Self::Community(room) => write!(f, "Community({room})"),
        }
    }
}

/// IDs show only a prefix; room URLs are public and shown whole.
impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Direct(id) => fmt::Display::fmt(id, f),
            Self::Group(id) => fmt::Display::fmt(id, f),
            Self::Community(room) => fmt::Display::fmt(room, f),
        }
    }
}

/// In the OpenAPI document a conversation ID is its text form.
impl utoipa::PartialSchema for ConversationId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A Session ID (05…, or 03… for a group) or a community room URL \
                 http(s)://host[:port]/room",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ConversationId {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

    fn with_prefix(prefix: &str) -> String {
        format!("{prefix}{}", &ID[2..])
    }

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

    #[test]
    fn kinds_follow_the_prefix() {
        for (prefix, kind) in [
            ("05", SessionIdKind::Standard),
            ("03", SessionIdKind::Group),
            ("15", SessionIdKind::Blinded15),
            ("25", SessionIdKind::Blinded25),
        ] {
            let id = SessionIdText::parse_any(&with_prefix(prefix)).unwrap();
            assert_eq!(id.kind(), kind);
            assert_eq!(kind.prefix(), prefix);
        }
        for prefix in ["03", "15", "25"] {
            assert_eq!(
                SessionIdText::parse(&with_prefix(prefix)),
                Err(SessionIdError::Prefix)
            );
        }
        assert_eq!(
            SessionIdText::parse_any(&with_prefix("07")),
            Err(SessionIdError::Prefix)
        );
        assert_eq!(GroupId::parse(ID), Err(SessionIdError::Prefix));
    }

    #[test]
    fn conversation_ids_round_trip_through_text_and_serde() {
        let group = with_prefix("03");
        let blinded = with_prefix("15");
        for text in [
            ID,
            group.as_str(),
            blinded.as_str(),
            "https://open.getsession.org/session",
            "http://116.203.70.33:8080/Some_Room-1",
        ] {
            let id = ConversationId::parse(text).unwrap();
            assert_eq!(id.to_text(), text);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<ConversationId>(&json).unwrap(), id);
        }
        assert!(matches!(
            ConversationId::parse(ID),
            Ok(ConversationId::Direct(_))
        ));
        assert!(matches!(
            ConversationId::parse(&group),
            Ok(ConversationId::Group(_))
        ));
        let room = ConversationId::parse("https://open.getsession.org/session").unwrap();
        assert_eq!(
            room,
            ConversationId::Community(RoomRef {
                server: "https://open.getsession.org".into(),
                room: "session".into(),
            })
        );
    }

    #[test]
    fn conversation_ids_are_redacted() {
        let id = ConversationId::parse(ID).unwrap();
        assert!(!id.to_string().contains(ID));
        assert!(!format!("{id:?}").contains(ID));
        let group = ConversationId::parse(&with_prefix("03")).unwrap();
        assert!(!format!("{group:?}").contains(&ID[8..]));
    }

    #[test]
    fn rejects_bad_conversation_ids() {
        let bad = [
            (
                "05",
                ConversationIdError::SessionId(SessionIdError::Length(2)),
            ),
            (
                "ftp://host.org/room",
                ConversationIdError::SessionId(SessionIdError::Length(19)),
            ),
            (
                "https://host.org/room?public_key=00",
                RoomRefError::Room.into(),
            ),
            ("https://host.org/room/", RoomRefError::Room.into()),
            ("https://host.org/", RoomRefError::Room.into()),
            ("https://host.org", RoomRefError::Room.into()),
            ("https://Host.org/room", RoomRefError::Server.into()),
            ("https://host.org:0/room", RoomRefError::Server.into()),
            ("https://host.org:99999/room", RoomRefError::Server.into()),
            ("https:///room", RoomRefError::Server.into()),
        ];
        for (text, err) in bad {
            assert_eq!(ConversationId::parse(text), Err(err), "{text}");
        }
        assert!(serde_json::from_str::<ConversationId>("\"nope\"").is_err());
    }

    proptest! {
        #[test]
        fn junk_never_panics(text in ".{0,80}") {
            let _ = SessionIdText::parse(&text);
            let _ = SessionIdText::parse_any(&text);
            let _ = GroupId::parse(&text);
        }

        #[test]
        fn junk_conversation_ids_never_panic(text in "(https?://)?.{0,80}") {
            if let Ok(id) = ConversationId::parse(&text) {
                prop_assert_eq!(id.to_text(), text);
            }
        }
    }
}
