//! libsession config messages as swarm members serve them (`groups.md` §1): group info and
//! members (namespaces 13, 14, signed by the group) and the user's own configs (2-5): the
//! bencoded message, its data, diffs and lagged diffs, the merge of several heads, the
//! encryption, padding and zstd transport, multipart parts (§1.7), and the account's
//! UserGroups opener (`actors::sources::user_config::open`).
//!
//! Input: one mode byte, then the bytes. Modes (low 3 bits; bit 7 = "may sign" for merges):
//! * 0: a config message: parse, read group info / members / user groups from its data; a
//!   parsed message increments and re-parses.
//! * 1: a config message *signed by the group* (the input minus its final `e`, signature
//!   appended): parse against the group key.
//! * 2: up to 5 messages separated by `0xFF 0xFE`: merged; a merge result re-parses.
//! * 3: a transport plaintext (padding, `z` + zstd, `m` + multipart part) encrypted with the
//!   group key: opened, and opened as parts into an assembler (pieces split by `0xFF 0xFE`).
//! * 4: a config message: if it parses, sealed for the account's UserGroups and opened by the
//!   account's reader to the same bytes; and the raw bytes through that reader.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use session_gateway::actors::keys::AccountKeys;
use session_gateway::actors::sources::user_config;
use session_gateway::protocol::groups::config::info::GroupInfo;
use session_gateway::protocol::groups::config::members::members_from_data;
use session_gateway::protocol::groups::config::user_groups::user_groups_from_data;
use session_gateway::protocol::groups::config::{
    merge, open_config, open_config_part, seal_config, ConfigKind, ConfigMessage, MergeOutcome,
    MultipartAssembler,
};
use session_gateway::protocol::groups::config_encrypt::encrypt_config;
use session_gateway::protocol::groups::GroupSecret;
use session_gateway::protocol::keys::{Identity, Seed};
use session_gateway::protocol::storage::AccountId;

const GROUP_KEY: [u8; 32] = [0x0e; 32];

struct Fixture {
    group: GroupSecret,
    own: AccountKeys,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let identity = Identity::from_seed(Seed::from_bytes([0x0c; 32]));
        let session_id = identity.session_id().to_string();
        Fixture {
            group: GroupSecret::from_seed(Seed::from_bytes([0x0d; 32])),
            own: AccountKeys {
                account: AccountId::from_hex(&session_id).expect("own id"),
                identity,
                session_id,
            },
        }
    })
}

fn exercise(message: &ConfigMessage) {
    let _ = GroupInfo::from_data(message.data());
    let _ = members_from_data(message.data());
    let _ = user_groups_from_data(message.data());
    let next = message.increment().finish(None);
    let again = ConfigMessage::parse(next.as_bytes(), None).expect("our own message parses");
    assert_eq!(again.as_bytes(), next.as_bytes());
}

/// `raw` (a dict) signed as group config messages are: the signature covers everything
/// before `1:~64:`.
fn signed(raw: &[u8]) -> Option<Vec<u8>> {
    let body = raw.strip_suffix(b"e")?;
    let signature = fixture().group.sign(body);
    Some([body, b"1:~64:", &signature, b"e"].concat())
}

fn open_parts(pieces: &[&[u8]]) {
    let mut assembler = MultipartAssembler::new();
    for (i, piece) in pieces.iter().enumerate() {
        let sealed =
            encrypt_config(piece, &GROUP_KEY, ConfigKind::GroupMembers.domain()).expect("encrypts");
        let opened = open_config_part(
            &sealed,
            &[GROUP_KEY],
            ConfigKind::GroupMembers,
            &mut assembler,
            1_000 * i as u64,
            60_000,
        );
        if let Ok(
            session_gateway::protocol::groups::config::OpenedConfig::Single(plain)
            | session_gateway::protocol::groups::config::OpenedConfig::Complete(plain),
        ) = opened
        {
            assert_eq!(plain.first(), Some(&b'd'));
            let _ = ConfigMessage::parse(&plain, None);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = common::mode(data) else {
        return;
    };
    match mode & 0x07 {
        0 => {
            if let Ok(message) = ConfigMessage::parse(rest, None) {
                assert_eq!(message.as_bytes(), rest);
                exercise(&message);
            }
        }
        1 => {
            if let Some(raw) = signed(rest) {
                let group = fixture().group.public();
                if let Ok(message) = ConfigMessage::parse(&raw, Some(&group)) {
                    assert!(message.signature().is_some());
                    exercise(&message);
                }
            }
        }
        2 => {
            let candidates = common::pieces(rest, 5);
            let can_sign = mode & 0x80 != 0;
            if let Ok(MergeOutcome::Merged(merged)) = merge(&candidates, None, can_sign) {
                let written = merged.finish(None);
                assert!(ConfigMessage::parse(written.as_bytes(), None).is_ok());
            }
            let group = fixture().group.public();
            let _ = merge(&candidates, Some(&group), can_sign);
        }
        3 => {
            let sealed =
                encrypt_config(rest, &GROUP_KEY, ConfigKind::GroupInfo.domain()).expect("encrypts");
            if let Ok(plain) = open_config(&sealed, &[GROUP_KEY], ConfigKind::GroupInfo) {
                assert_eq!(plain.first(), Some(&b'd'));
                let _ = ConfigMessage::parse(&plain, None);
            }
            open_parts(&common::pieces(rest, 6));
        }
        4 => {
            let own = &fixture().own;
            let _ = user_config::open(own, rest);
            if let Ok(message) = ConfigMessage::parse(rest, None) {
                let seed = *own.identity.seed().expose_secret();
                if let Ok(sealed) = seal_config(&message, &seed, ConfigKind::UserGroups) {
                    let opened = user_config::open(own, &sealed).expect("our own config opens");
                    assert_eq!(opened.as_bytes(), rest);
                }
            }
        }
        _ => {}
    }
});
