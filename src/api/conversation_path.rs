//! The `{peer}` segment of `/v1/accounts/{session_id}/conversations/{peer}/…`, parsed once for
//! every conversation route. Any conversation ID text parses: a `05…` Session ID (a 1:1 chat,
//! served as before), a `03…` group ID, or a community room URL (`http(s)://host/room`,
//! percent-encoded in the path). The per-conversation routes are 1:1 features (read receipts,
//! typing, message requests, disappearing setting, the peer's view): a group (served under
//! `…/groups` and `…/messages`) or a community (issue 12) answers 422
//! `unsupported_conversation`, after the caller's access and the account were checked, so the
//! answer never tells a caller without access anything. Anything else is a 400
//! `invalid_session_id`, as before.

use super::{session_id, ApiError};
use crate::ids::{ConversationId, GroupId, RoomRef, SessionIdText};
use crate::protocol::community::percent_decode;

/// Parses the `{peer}` segment into the one conversation type, [`ConversationId`]. The router
/// has already percent-decoded the path; a still-encoded community URL (`https%3A…`) is
/// decoded here too, and a join URL's `?public_key=…` is not part of the room's ID.
pub fn parse(text: &str) -> Result<ConversationId, ApiError> {
    if text.starts_with("03") {
        if let Ok(group) = GroupId::parse(text) {
            return Ok(ConversationId::Group(group));
        }
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
        let room = url.split_once('?').map_or(url, |(room, _)| room);
        return RoomRef::parse(room)
            .map(ConversationId::Community)
            .map_err(|_| invalid(text));
    }
    // 1:1 peers are standard (`05`) Session IDs, as before; anything else is a 400.
    session_id(text, "peer").map(ConversationId::Direct)
}

/// The peer of a 1:1 conversation; a group or community is a 422 `unsupported_conversation`
/// (the chat domain's rule, [`crate::chat::direct_peer`]).
pub fn direct(conversation: ConversationId) -> Result<SessionIdText, ApiError> {
    Ok(crate::chat::direct_peer(&conversation)?.clone())
}

fn invalid(text: &str) -> ApiError {
    ApiError::bad_request(
        "invalid_session_id",
        format!("peer: {text:?} is not a Session ID, group ID or community room URL"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

    #[test]
    fn every_conversation_kind_parses() {
        assert!(matches!(parse(PEER), Ok(ConversationId::Direct(_))));
        let group = format!("03{}", "a".repeat(64));
        assert!(matches!(parse(&group), Ok(ConversationId::Group(g)) if g.as_str() == group));
        for text in [
            "https://open.example:8080/lobby",
            "https%3A%2F%2Fopen.example:8080%2Flobby",
            "https://open.example:8080/lobby?public_key=ab",
        ] {
            match parse(text) {
                Ok(ConversationId::Community(room)) => {
                    assert_eq!(room.server, "https://open.example:8080", "{text}");
                    assert_eq!(room.room, "lobby", "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn junk_is_an_invalid_session_id_and_groups_are_unsupported() {
        let blinded = format!("15{}", &PEER[2..]);
        for text in [
            "",
            "05abc",
            "03abc",
            "https://",
            "https://host/",
            "http%3Azz",
            "x",
            blinded.as_str(),
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
        let group = parse(&format!("03{}", "b".repeat(64))).unwrap();
        assert!(direct(group).is_err());
    }
}
