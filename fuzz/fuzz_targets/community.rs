//! What a community (SOGS) server answers (`communities.md` §4-§6): room info, the poll batch
//! and its message rows, posts, the DM inbox; then what the gateway makes of a row (signature,
//! padded Content, timestamps: `actors::sources::community::open_row`) and of an inbox message
//! (blinded decryption: `open_dm`). Also the community URL a client asks to join.
//!
//! Input: one mode byte, then the bytes. Modes (low 3 bits):
//! * 0: a reply body (`u16` selects the status) read as every typed answer.
//! * 1: a poll `/batch` answer for 1-3 rooms; every row of it opened.
//! * 2: a post *signed by its author*: an `f64` `posted` (8 bytes), then the padded Content.
//!   The row must pass its signature and data checks.
//! * 3: a DM *encrypted to the account* by a blinded sender: `f64` `posted_at`, then the
//!   padded Content. It must decrypt.
//! * 4: a community URL (`POST …/communities` `url`): parse, print, parse back equal.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use session_gateway::actors::keys::AccountKeys;
use session_gateway::actors::sources::community::{open_dm, open_row};
use session_gateway::chat::incoming::RoomChange;
use session_gateway::network::community::{
    read_poll, CommunityServer, InboxMessage, PollRoom, Posted, RoomInfo, RoomMessage, SogsReply,
};
use session_gateway::protocol::blinding::{blind15_key_pair, encrypt_for_blinded_recipient};
use session_gateway::protocol::community::CommunityUrl;
use session_gateway::protocol::keys::{Identity, Seed, X25519PublicKey};
use session_gateway::protocol::storage::AccountId;

struct Fixture {
    own: AccountKeys,
    author: Identity,
    server: CommunityServer,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let identity = Identity::from_seed(Seed::from_bytes([0x05; 32]));
        let session_id = identity.session_id().to_string();
        let server_key = X25519PublicKey::from_bytes([0x09; 32]);
        Fixture {
            own: AccountKeys {
                account: AccountId::from_hex(&session_id).expect("own id"),
                identity,
                session_id,
            },
            author: Identity::from_seed(Seed::from_bytes([0x06; 32])),
            server: CommunityServer::new("http://sogs.example", server_key).expect("server"),
        }
    })
}

fn f64_and_rest(data: &[u8]) -> (f64, &[u8]) {
    let (hi, rest) = common::take_u32(data);
    let (lo, rest) = common::take_u32(rest);
    (f64::from_bits((u64::from(hi) << 32) | u64::from(lo)), rest)
}

fn signed_post(posted: f64, data: &[u8]) {
    let author = &fixture().author;
    let row = RoomMessage {
        id: 7,
        seqno: 8,
        session_id: Some(format!("00{}", hex(author.ed25519_public().as_bytes()))),
        posted: Some(posted),
        edited: None,
        data: Some(STANDARD.encode(data)),
        signature: Some(STANDARD.encode(author.sign(data))),
        deleted: false,
        reactions: None,
    };
    match open_row("http://sogs.example/room", &row).change {
        RoomChange::Unreadable(
            reason @ ("no_author" | "bad_author" | "bad_data" | "bad_signature"),
        ) => panic!("an author's own post refused as {reason}"),
        RoomChange::Deleted | RoomChange::Reactions => panic!("a post read as something else"),
        _ => {}
    }
}

fn dm_to_us(posted_at: f64, padded_content: &[u8]) {
    let f = fixture();
    let server_key = f.server.pubkey();
    let sender = blind15_key_pair(&f.author, server_key);
    let recipient = blind15_key_pair(&f.own.identity, server_key);
    let sealed = encrypt_for_blinded_recipient(
        &f.author,
        server_key,
        recipient.id(),
        padded_content,
        &mut common::rng(),
    )
    .expect("encrypts");
    let message = InboxMessage {
        id: 3,
        posted_at,
        sender: sender.id().to_string(),
        recipient: recipient.id().to_string(),
        message: Some(STANDARD.encode(sealed)),
    };
    if let Err(reason @ ("bad_author" | "no_data" | "bad_data" | "undecryptable")) =
        open_dm(&f.own, &f.server, &message)
    {
        panic!("a DM to us refused as {reason}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = common::mode(data) else {
        return;
    };
    match mode & 0x07 {
        0 => {
            let (code, body) = common::take_u16(rest);
            let reply = SogsReply {
                code,
                body: body.to_vec(),
            };
            if let Ok(info) = reply.json::<RoomInfo>() {
                let all = info.moderators_and_admins();
                assert!(all.windows(2).all(|w| w[0] < w[1]), "sorted, each once");
            }
            let _ = reply.json::<Vec<RoomMessage>>();
            let _ = reply.json::<Posted>();
            let _ = reply.json::<Vec<InboxMessage>>();
            let _ = reply.clone().success();
        }
        1 => {
            let rooms: Vec<PollRoom> = (0..usize::from(mode >> 3) % 3 + 1)
                .map(|i| PollRoom {
                    token: format!("room{i}"),
                    seqno: 0,
                    info_updates: 0,
                })
                .collect();
            let reply = SogsReply {
                code: 200,
                body: rest.to_vec(),
            };
            if let Ok(polled) = read_poll(&rooms, &reply) {
                assert_eq!(polled.len(), rooms.len());
                for room in &polled {
                    for row in &room.messages {
                        let _ = open_row(&room.token, row);
                    }
                }
            }
        }
        2 => {
            let (posted, content) = f64_and_rest(rest);
            signed_post(posted, content);
        }
        3 => {
            let (posted_at, content) = f64_and_rest(rest);
            dm_to_us(posted_at, content);
        }
        4 => {
            if let Some(text) = common::text(rest) {
                if let Ok(url) = CommunityUrl::parse(text) {
                    let printed = url.to_string();
                    assert_eq!(
                        CommunityUrl::parse(&printed).as_ref(),
                        Ok(&url),
                        "{printed}"
                    );
                }
            }
        }
        _ => {}
    }
});
