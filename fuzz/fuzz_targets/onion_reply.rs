//! The client decoding the guard's answer to an onion request (`network.md` §5.4, §5.5): what
//! comes back from the network through three nodes it does not trust.
//!
//! Input: one mode byte, then the bytes. Modes (low 3 bits; bit 7 picks the cipher):
//! * 0, 2: a raw guard answer (`u16` selects the HTTP status, odd → 200) to a snode / a v4
//!   server request. Non-200 answers must classify as a path error.
//! * 1, 3: the bytes are the *plaintext* the destination sends; the target encrypts them with
//!   the layer key (base64 for a snode, bit 6 wraps it in `{"result":…}`), so decoding gets past
//!   the cipher into the JSON / bencoded v4 parsers. Decryption must then succeed, and a v4
//!   answer must equal parsing the plaintext directly.
//! * 4: a bencoded v4 response on its own: parse, and encode → parse round trip.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use session_gateway::protocol::onion::{
    EncType, PendingServerReply, PendingSnodeReply, ReplyError, SharedKey, V4Response,
};
use x25519_dalek::{PublicKey, StaticSecret};

/// The client's layer secret and the destination's keys, fixed for the whole run.
struct Keys {
    ephemeral: StaticSecret,
    destination: PublicKey,
    /// The destination's side of the layer key, per cipher (AES-GCM, XChaCha20).
    node_side: [SharedKey; 2],
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ephemeral = StaticSecret::from([0x11; 32]);
        let node_secret = StaticSecret::from([0x22; 32]);
        let destination = PublicKey::from(&node_secret);
        let client_pub = PublicKey::from(&ephemeral);
        let side = |enc| SharedKey::recipient(enc, &node_secret, &client_pub).expect("fixed keys");
        Keys {
            node_side: [side(EncType::AesGcm), side(EncType::XChaCha20)],
            ephemeral,
            destination,
        }
    })
}

fn snode(enc: EncType) -> PendingSnodeReply {
    let k = keys();
    PendingSnodeReply::new(k.ephemeral.clone(), k.destination, enc)
}

fn server(enc: EncType) -> PendingServerReply {
    let k = keys();
    PendingServerReply::new(k.ephemeral.clone(), k.destination, enc)
}

/// The destination encrypting `plaintext` back to the client.
fn encrypt(enc: EncType, plaintext: &[u8]) -> Vec<u8> {
    let key = &keys().node_side[usize::from(enc == EncType::XChaCha20)];
    key.encrypt(plaintext, &mut common::rng())
        .expect("encrypts")
}

/// `s` odd → 200 (the common case), else the status `s / 2`.
fn status(s: u16) -> u16 {
    if s % 2 == 1 {
        200
    } else {
        s / 2
    }
}

fn is_path_error(e: &ReplyError) -> bool {
    matches!(
        e,
        ReplyError::NextNodeNotFound { .. } | ReplyError::Node { .. }
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = common::mode(data) else {
        return;
    };
    let enc = if mode & 0x80 == 0 {
        EncType::AesGcm
    } else {
        EncType::XChaCha20
    };
    match mode & 0x07 {
        0 | 2 => {
            let (s, body) = common::take_u16(rest);
            let status = status(s);
            let result = if mode & 0x07 == 0 {
                snode(enc).decode(status, body).map(drop)
            } else {
                server(enc).decode(status, body).map(drop)
            };
            if status != 200 {
                let e = result.expect_err("a non-200 answer is never a reply");
                assert!(is_path_error(&e), "{e:?}");
                if let ReplyError::Node { message, .. } = e {
                    assert!(message.chars().count() <= 256);
                }
            }
        }
        1 => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(encrypt(enc, rest));
            let body = if mode & 0x40 == 0 {
                b64.into_bytes()
            } else {
                serde_json::json!({ "result": b64 })
                    .to_string()
                    .into_bytes()
            };
            match snode(enc).decode(200, &body) {
                Ok(_) | Err(ReplyError::InvalidJson) => {}
                Err(e) => panic!("our own encryption did not open: {e:?}"),
            }
        }
        3 => match server(enc).decode(200, &encrypt(enc, rest)) {
            Ok(reply) => assert_eq!(V4Response::parse(rest).as_ref(), Ok(&reply)),
            Err(ReplyError::V4(e)) => assert_eq!(V4Response::parse(rest), Err(e)),
            Err(e) => panic!("our own encryption did not open: {e:?}"),
        },
        4 => {
            if let Ok(reply) = V4Response::parse(rest) {
                assert_eq!(V4Response::parse(&reply.encode()), Ok(reply));
            }
        }
        _ => {}
    }
});
