//! Each format's pattern against the parser the handlers use: every string the pattern
//! generates is taken by the parser (so a schema-valid request is never refused), and, where
//! the handler relies on the parser alone, every string the parser takes matches the pattern
//! (so a schema-violating request is never accepted).

use base64::Engine as _;
use proptest::prelude::*;
use proptest::string::string_regex;

use super::*;
use crate::api::auth::Scope;
use crate::api::messages::message_target;
use crate::api::paging::Keyset;
use crate::ids::{SessionIdKind, SessionIdText};
use crate::protocol::community::CommunityUrl;
use crate::store::events::parse_event_id;
use crate::webhooks::signature::secret_key;

/// Strings the pattern of `F` describes, within its length bounds.
fn valid<F: Format>() -> impl Strategy<Value = String> {
    let body = &F::PATTERN[1..F::PATTERN.len() - 1];
    string_regex(body)
        .unwrap_or_else(|e| panic!("{}: {e}", F::NAME))
        .prop_filter("within the length bounds", |s| {
            let n = s.chars().count();
            F::MIN_LENGTH.is_none_or(|min| n >= min) && F::MAX_LENGTH.is_none_or(|max| n <= max)
        })
}

/// Near-misses: strings over the characters the formats use, and arbitrary text.
fn junk() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-fA-F_.:/?=+rwhsectvgmkx-]{0,80}",
        "(05|03|15|25|evt_|msg_|wh_|att_|whsec_|https?://)[0-9a-zA-Z./:?=_+-]{0,80}",
        any::<String>(),
    ]
}

#[test]
fn every_pattern_compiles_and_its_example_is_valid() {
    for (name, pattern, is_valid, example) in ALL {
        assert!(pattern.starts_with('^') && pattern.ends_with('$'), "{name}");
        assert!(is_valid(example), "{name}: example {example:?}");
        // `$` ends the text: no trailing newline sneaks in (a description may hold newlines).
        if *name != "GroupDescription" {
            assert!(
                !is_valid(&format!("{example}\n")),
                "{name}: trailing newline"
            );
        }
    }
}

fn user_id(text: &str) -> bool {
    SessionIdText::parse_any(text).is_ok_and(|id| id.kind() != SessionIdKind::Group)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn session_ids(s in valid::<SessionId>(), j in junk()) {
        prop_assert!(SessionIdText::parse(&s).is_ok());
        prop_assert_eq!(SessionIdText::parse(&j).is_ok(), SessionId::is_valid(&j));
    }

    #[test]
    fn group_ids(s in valid::<GroupId>(), j in junk()) {
        prop_assert!(crate::ids::GroupId::parse(&s).is_ok());
        prop_assert_eq!(crate::ids::GroupId::parse(&j).is_ok(), <GroupId as Format>::is_valid(&j));
    }

    #[test]
    fn user_ids(s in valid::<UserId>(), j in junk()) {
        prop_assert!(user_id(&s));
        prop_assert_eq!(user_id(&j), UserId::is_valid(&j));
    }

    #[test]
    fn room_urls_parse(s in valid::<RoomUrl>()) {
        prop_assert!(crate::ids::RoomRef::parse(&s).is_ok(), "{}", s);
    }

    #[test]
    fn conversation_refs_are_message_targets(s in valid::<ConversationRef>()) {
        prop_assert!(message_target(&s, "to").is_ok(), "{}", s);
    }

    #[test]
    fn join_urls_parse(s in valid::<JoinUrl>()) {
        prop_assert!(CommunityUrl::parse(&s).is_ok(), "{}", s);
    }

    #[test]
    fn webhook_urls_parse_as_http_urls_with_a_host(s in valid::<WebhookUrl>()) {
        let url = reqwest::Url::parse(&s);
        prop_assert!(url.is_ok(), "{}: {:?}", s, url);
        let url = url.unwrap();
        prop_assert!(matches!(url.scheme(), "http" | "https") && url.host().is_some(), "{}", s);
    }

    #[test]
    fn the_phrases_the_gateway_shows_are_recovery_phrases(entropy in any::<[u8; 16]>()) {
        let phrase = crate::protocol::phrase::RecoveryPhrase::from_entropy(&entropy);
        prop_assert!(RecoveryPhrase::is_valid(phrase.expose_secret()));
    }

    #[test]
    fn event_ids(s in valid::<EventId>()) {
        prop_assert!(parse_event_id(&s).is_some());
    }

    #[test]
    fn emoji(s in valid::<Emoji>(), j in junk()) {
        prop_assert!(crate::chat::Emoji::parse(s.clone()).is_ok(), "{:?}", s);
        prop_assert_eq!(crate::chat::Emoji::parse(j.clone()).is_ok(), <Emoji as Format>::is_valid(&j));
    }

    #[test]
    fn base64(s in valid::<Base64>(), j in junk()) {
        let engine = base64::engine::general_purpose::STANDARD;
        prop_assert!(engine.decode(&s).is_ok());
        prop_assert_eq!(engine.decode(&j).is_ok(), Base64::is_valid(&j));
    }

    #[test]
    fn webhook_secrets(s in valid::<WebhookSecret>(), j in junk()) {
        prop_assert!(secret_key(&s).is_ok(), "{}", s);
        prop_assert_eq!(secret_key(&j).is_ok(), WebhookSecret::is_valid(&j));
    }

    #[test]
    fn scopes(s in valid::<ScopeText>(), j in junk()) {
        prop_assert!(Scope::parse(&s).is_ok());
        prop_assert_eq!(Scope::parse(&j).is_ok(), ScopeText::is_valid(&j));
    }

    #[test]
    fn cursors_decode(
        a in valid::<AccountCursor>(),
        w in valid::<WebhookCursor>(),
        k in valid::<ApiKeyCursor>(),
        c in valid::<ConversationCursor>(),
    ) {
        for cursor in [a, w, k, c] {
            prop_assert!(Keyset::decode(&cursor).is_ok(), "{}", cursor);
        }
    }

    #[test]
    fn keysets_round_trip(at in 0i64..=999_999_999_999_999_999, id in valid::<SessionId>()) {
        let keyset = Keyset { at, id };
        prop_assert!(AccountCursor::is_valid(&keyset.encode()));
        prop_assert_eq!(Keyset::decode(&keyset.encode()).ok(), Some(keyset));
    }
}
