//! A group's keys messages (namespace 12, `groups.md` §2) and its chat messages (namespace 11,
//! §5) as swarm members serve them: the signed bencoded keys message and its per-member
//! encrypted entries, the key store's bookkeeping, and the group message container (padding,
//! bencoded dict, author signature, zstd) with the Envelope/Content inside.
//!
//! Input: one mode byte, then the bytes. Modes (low 3 bits):
//! * 0: a keys message loaded by a member and by an admin.
//! * 1: a keys message *signed by the group* (the input minus its final `e`, signature
//!   appended): loaded; loading it twice changes nothing the second time.
//! * 2: a group message *plaintext* encrypted with the group key, so decryption reaches the
//!   container checks; a message that opens is parsed as the group Envelope and Content.
//! * 3: a payload sent by a member: encrypted by the sender and decrypted back, same payload
//!   and sender.
//! * 4: a raw group message ciphertext.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use chacha20poly1305::aead::Aead;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use libfuzzer_sys::fuzz_target;
use session_gateway::protocol::groups::envelope::{decode_group_envelope, open_group_content};
use session_gateway::protocol::groups::keys::{GroupKeys, KeysMessage, KeysReader};
use session_gateway::protocol::groups::message::{
    decrypt_group_message, encrypt_group_message, GroupEncKey,
};
use session_gateway::protocol::groups::GroupSecret;
use session_gateway::protocol::keys::{Identity, Seed};

struct Fixture {
    group: GroupSecret,
    member: Identity,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        group: GroupSecret::from_seed(Seed::from_bytes([0x0b; 32])),
        member: Identity::from_seed(Seed::from_bytes([0x0a; 32])),
    })
}

const KEY: [u8; 32] = [0x4b; 32];

fn signed(raw: &[u8]) -> Option<Vec<u8>> {
    let body = raw.strip_suffix(b"e")?;
    let signature = fixture().group.sign(body);
    Some([body, b"1:~64:", &signature, b"e"].concat())
}

fn load_both(raw: &[u8]) {
    let f = fixture();
    let group = f.group.public();
    let _ = KeysMessage::parse(raw, &group);
    for reader in [KeysReader::Member(&f.member), KeysReader::Admin(&f.group)] {
        let mut keys = GroupKeys::new(group);
        if keys.load("hash1", raw, 1_700_000_000_000, reader).is_ok() {
            let held = keys.len();
            let _ = keys.load("hash1", raw, 1_700_000_000_000, reader);
            assert_eq!(keys.len(), held, "the same message twice adds nothing");
            let _ = keys.encryption_key();
            let _ = keys.active_hashes();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = common::mode(data) else {
        return;
    };
    let f = fixture();
    let group = f.group.public();
    let keys = [GroupEncKey::from_bytes(KEY)];
    match mode & 0x07 {
        0 => load_both(rest),
        1 => {
            if let Some(raw) = signed(rest) {
                load_both(&raw);
            }
        }
        2 => {
            let nonce = [0x24u8; 24];
            let sealed = XChaCha20Poly1305::new(&KEY.into())
                .encrypt(&nonce.into(), rest)
                .expect("encrypts");
            let ciphertext = [&nonce[..], &sealed].concat();
            if let Ok(message) = decrypt_group_message(&ciphertext, &group, &keys) {
                let _ = decode_group_envelope(message.payload());
                let _ = open_group_content(&ciphertext, &group, &keys);
            }
        }
        3 => {
            if let Ok(sealed) =
                encrypt_group_message(&f.member, &group, &keys[0], rest, &mut common::rng())
            {
                let opened = decrypt_group_message(&sealed, &group, &keys)
                    .expect("a member's message opens");
                assert_eq!(opened.payload(), rest);
                assert_eq!(opened.sender(), f.member.session_id());
            }
        }
        4 => {
            let _ = decrypt_group_message(rest, &group, &keys);
        }
        _ => {}
    }
});
