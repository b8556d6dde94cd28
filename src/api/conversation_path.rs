//! The `{peer}` segment of `/v1/accounts/{session_id}/conversations/{peer}/…`, parsed once for
//! every conversation route. Any conversation ID text parses: a `05…` Session ID (a 1:1 chat,
//! served as before), a `03…` group ID, or a community room URL (`http(s)://host/room`,
//! percent-encoded in the path). Groups and communities are not served yet (issues 10 and 12):
//! they answer 422 `unsupported_conversation`, after the caller's access and the account were
//! checked, so the answer never tells a caller without access anything. Anything else is a
//! 400 `invalid_session_id`, as before.

use super::{session_id, ApiError};
use crate::ids::SessionIdText;

/// A conversation named in a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConversationPath {
    /// A 1:1 conversation with this Session ID.
    Direct(SessionIdText),
    /// A closed group: `03` and 64 lowercase hex characters.
    Group(String),
    /// A community room.
    Community {
        /// `http(s)://host[:port]`.
        server: String,
        /// The room token.
        room: String,
    },
}

impl ConversationPath {
    /// Parses the `{peer}` segment (already percent-decoded by the router; a still-encoded
    /// community URL is decoded here too).
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        if let Some(group) = group_id(text) {
            return Ok(Self::Group(group.to_owned()));
        }
        let decoded;
        let encoded = ["http%3A", "https%3A"].iter().any(|scheme| {
            text.get(..scheme.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
        });
        let url = if encoded {
            decoded = percent_decode(text).ok_or_else(|| invalid(text))?;
            decoded.as_str()
        } else {
            text
        };
        if url.starts_with("http://") || url.starts_with("https://") {
            return community(url).ok_or_else(|| invalid(text));
        }
        session_id(text, "peer").map(Self::Direct)
    }

    /// The peer of a 1:1 conversation; a group or community is a 422 `unsupported_conversation`.
    pub fn direct(self) -> Result<SessionIdText, ApiError> {
        match self {
            Self::Direct(peer) => Ok(peer),
            Self::Group(_) => Err(ApiError::unprocessable(
                "unsupported_conversation",
                "group conversations are not supported yet (they arrive with issue 10)",
            )),
            Self::Community { .. } => Err(ApiError::unprocessable(
                "unsupported_conversation",
                "community conversations are not supported yet (they arrive with issue 12)",
            )),
        }
    }
}

fn invalid(text: &str) -> ApiError {
    ApiError::bad_request(
        "invalid_session_id",
        format!("peer: {text:?} is not a Session ID, group ID or community room URL"),
    )
}

fn group_id(text: &str) -> Option<&str> {
    let hex = text.strip_prefix("03")?;
    let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    ok.then_some(text)
}

/// `http(s)://host/room[?query]`: a non-empty host and one non-empty room segment.
fn community(url: &str) -> Option<ConversationPath> {
    let (scheme, rest) = url.split_once("://")?;
    let rest = rest.split_once('?').map_or(rest, |(path, _)| path);
    let (host, room) = rest.split_once('/')?;
    if host.is_empty() || room.is_empty() || room.contains('/') {
        return None;
    }
    Some(ConversationPath::Community {
        server: format!("{scheme}://{host}"),
        room: room.to_owned(),
    })
}

/// Decodes `%XX` escapes; `None` for a broken escape or non-UTF-8 result.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

    #[test]
    fn every_conversation_kind_parses() {
        assert!(matches!(
            ConversationPath::parse(PEER),
            Ok(ConversationPath::Direct(_))
        ));
        let group = format!("03{}", "a".repeat(64));
        assert_eq!(
            ConversationPath::parse(&group).ok(),
            Some(ConversationPath::Group(group.clone()))
        );
        let room = ConversationPath::Community {
            server: "https://open.example:8080".into(),
            room: "lobby".into(),
        };
        for text in [
            "https://open.example:8080/lobby",
            "https%3A%2F%2Fopen.example:8080%2Flobby",
            "https://open.example:8080/lobby?public_key=ab",
        ] {
            assert_eq!(
                ConversationPath::parse(text).ok(),
                Some(room.clone()),
                "{text}"
            );
        }
    }

    #[test]
    fn junk_is_an_invalid_session_id_and_groups_are_unsupported() {
        for text in [
            "",
            "05abc",
            "03abc",
            "https://",
            "https://host/",
            "http%3Azz",
            "x",
        ] {
            assert!(ConversationPath::parse(text).is_err(), "{text}");
        }
        let group = ConversationPath::parse(&format!("03{}", "b".repeat(64))).unwrap();
        assert!(group.direct().is_err());
    }
}
