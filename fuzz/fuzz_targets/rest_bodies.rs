//! What API clients send: every JSON request body type of `/v1`, the query strings
//! (urlencoded, as actix-web reads them), path segments (Session IDs, group IDs, conversation
//! IDs, rooms), API-key scopes, paging cursors, and the public checks handlers run on what
//! deserialised (text length, emoji, community URL, recovery phrase, event names).
//!
//! Input: one mode byte, then the bytes. Modes (low 2 bits):
//! * 0: a JSON body, read as every body type, then checked as its handler does.
//! * 1: a query string, read as every query type; a paging cursor decodes and re-encodes to
//!   the same position.
//! * 2: a path segment or scope: every ID parser; an ID that parses prints and parses back.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use session_gateway::api::account_path::AccountPath;
use session_gateway::api::accounts::{AccountsQuery, CreateAccount, PatchAccount};
use session_gateway::api::api_keys::CreateApiKey;
use session_gateway::api::attachments::AttachmentInput;
use session_gateway::api::auth::Scope;
use session_gateway::api::chat::ReactionBody;
use session_gateway::api::communities::{BanUser, JoinCommunity};
use session_gateway::api::conversation::{PatchConversation, ReadBody, TypingBody};
use session_gateway::api::conversation_path;
use session_gateway::api::events::EventsQuery;
use session_gateway::api::group_admin::{EditGroup, RemoveQuery};
use session_gateway::api::groups::{CreateGroup, InviteMembers};
use session_gateway::api::health::ReadyQuery;
use session_gateway::api::messages::{HistoryQuery, SendMessage};
use session_gateway::api::paging::{Keyset, PageQuery};
use session_gateway::api::webhooks::{CreateWebhook, DeliveryQuery, PatchWebhook, ReplayRequest};
use session_gateway::chat::{check_text, Emoji};
use session_gateway::events::EventType;
use session_gateway::ids::{ConversationId, GroupId, RoomRef, SessionIdText};
use session_gateway::protocol::community::CommunityUrl;
use session_gateway::protocol::phrase::RecoveryPhrase;

fn json<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

fn query<T: DeserializeOwned>(text: &str) -> Option<T> {
    serde_urlencoded::from_str(text).ok()
}

fn bodies(bytes: &[u8]) {
    if let Some(body) = json::<CreateAccount>(bytes) {
        if let Some(phrase) = body.phrase {
            let _ = RecoveryPhrase::parse(&phrase);
        }
    }
    if let Some(body) = json::<SendMessage>(bytes) {
        let _ = check_text(&body.text, !body.attachments.is_empty());
        let _ = ConversationId::parse(&body.to);
    }
    if let Some(body) = json::<ReactionBody>(bytes) {
        let _ = Emoji::parse(body.emoji);
    }
    if let Some(body) = json::<JoinCommunity>(bytes) {
        let _ = CommunityUrl::parse(&body.url);
    }
    if let Some(body) = json::<CreateApiKey>(bytes) {
        for scope in &body.scopes {
            let _ = Scope::parse(scope);
        }
    }
    if let Some(body) = json::<CreateWebhook>(bytes) {
        for name in body.events.iter().flatten() {
            let _ = EventType::parse(name);
        }
        for account in body.accounts.iter().flatten() {
            let _ = SessionIdText::parse(account);
        }
    }
    if let Some(body) = json::<CreateGroup>(bytes) {
        for member in &body.members {
            let _ = SessionIdText::parse(member);
        }
    }
    let _ = json::<PatchAccount>(bytes);
    let _ = json::<AttachmentInput>(bytes);
    let _ = json::<ReadBody>(bytes);
    let _ = json::<TypingBody>(bytes);
    let _ = json::<PatchConversation>(bytes);
    let _ = json::<PatchWebhook>(bytes);
    let _ = json::<ReplayRequest>(bytes);
    let _ = json::<InviteMembers>(bytes);
    let _ = json::<EditGroup>(bytes);
    let _ = json::<BanUser>(bytes);
}

fn queries(text: &str) {
    let _ = query::<AccountsQuery>(text);
    let _ = query::<HistoryQuery>(text);
    let _ = query::<DeliveryQuery>(text);
    let _ = query::<EventsQuery>(text);
    let _ = query::<ReadyQuery>(text);
    let _ = query::<RemoveQuery>(text);
    if let Some(page) = query::<PageQuery>(text) {
        let _ = page.limit();
        if let Some(Ok(position)) = page.after.as_deref().map(Keyset::decode) {
            assert_eq!(Keyset::decode(&position.encode()).ok(), Some(position));
        }
    }
    if let Ok(position) = Keyset::decode(text) {
        assert_eq!(Keyset::decode(&position.encode()).ok(), Some(position));
    }
}

fn segments(text: &str) {
    // (`Display` of an ID is its short, log-safe form; `as_str` is the ID.)
    if let Ok(id) = SessionIdText::parse(text) {
        assert_eq!(id.as_str(), text);
    }
    if let Ok(id) = SessionIdText::parse_any(text) {
        assert_eq!(SessionIdText::parse_any(id.as_str()).ok(), Some(id));
    }
    if let Ok(id) = GroupId::parse(text) {
        assert!(GroupId::parse(id.as_str()).ok() == Some(id));
    }
    if let Ok(room) = RoomRef::parse(text) {
        assert!(RoomRef::parse(&room.to_string()).ok() == Some(room));
    }
    if let Ok(id) = ConversationId::parse(text) {
        assert!(ConversationId::parse(&id.to_text()).ok() == Some(id));
    }
    let _ = conversation_path::parse(text);
    let _ = AccountPath::parse(text);
    let _ = Scope::parse(text);
    let _ = EventType::parse(text);
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = common::mode(data) else {
        return;
    };
    match mode & 0x03 {
        0 => bodies(rest),
        1 => {
            if let Some(text) = common::text(rest) {
                queries(text);
            }
        }
        2 => {
            if let Some(text) = common::text(rest) {
                segments(text);
            }
        }
        _ => {}
    }
});
