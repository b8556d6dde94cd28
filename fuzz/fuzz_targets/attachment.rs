//! Attachment and avatar decryption (`messages.md` §4, §5.2): a blob fetched from a file
//! server with the key from a peer's pointer. Legacy (AES-256-CBC + HMAC-SHA256 + digest),
//! 'S' (libsodium secretstream, padding inside the stream), and avatars (AES-256-GCM).
//!
//! Input: one mode byte, then the bytes. Modes (low 3 bits):
//! * 0: a raw legacy blob (`u32` size first).
//! * 1: `IV ‖ ciphertext` from the input, MAC'd and digested correctly by the target, so the
//!   CBC and PKCS#7 checks behind the MAC see arbitrary bytes.
//! * 2: legacy round trip: the bytes encrypted and decrypted back (`u32` size first).
//! * 3: a raw 'S' blob.
//! * 4: an authentic 'S' stream built from chunk specs (`tag byte, u16 length, bytes`, the
//!   bytes zero-filled to the length): the result must match a model of the format (full
//!   32 768-byte chunks but the last, `Final` exactly on the last, `0x00* 0x01` padding).
//! * 5: an avatar blob, and the avatar round trip.
//! * 6: a pointer's key (length from the first byte) and digest for any blob.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use crypto_secretstream::{Key, PushStream, Tag};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use session_gateway::protocol::attachment::{
    decrypt_attachment, decrypt_avatar, decrypt_for_pointer, decrypt_stream_attachment,
    encrypt_attachment_with, encrypt_avatar, AttachmentKey, ProfileKey,
};
use sha2::{Digest, Sha256};

const LEGACY_KEY: [u8; 64] = [0x5a; 64];
const STREAM_KEY: [u8; 32] = [0x3c; 32];
const CHUNK: usize = 32_768;
/// Chunks per built stream (each up to 32 KiB), so one input stays cheap.
const MAX_CHUNKS: usize = 6;

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn size(s: u32) -> Option<u32> {
    (s != u32::MAX).then_some(s)
}

fn macd_legacy(size_field: u32, body: &[u8]) {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&LEGACY_KEY[32..]).expect("any key");
    mac.update(body);
    let blob = [body, &mac.finalize().into_bytes()].concat();
    let key = AttachmentKey::from_bytes(LEGACY_KEY);
    if let Ok(plain) = decrypt_attachment(&blob, &key, &sha256(&blob), size(size_field)) {
        assert!(
            plain.len() < body.len(),
            "CBC output is shorter than IV and ciphertext"
        );
    }
}

/// Builds an authentic stream from chunk specs and returns it with the plaintext of each chunk.
fn build_stream(mut spec: &[u8]) -> (Vec<u8>, Vec<(Tag, Vec<u8>)>) {
    let (header, mut push) = PushStream::init(common::rng(), &Key::from(STREAM_KEY));
    let mut blob = vec![b'S'];
    blob.extend_from_slice(header.as_ref());
    let mut chunks = Vec::new();
    while let Some((&tag_byte, rest)) = spec.split_first() {
        if chunks.len() == MAX_CHUNKS {
            break;
        }
        let tag = match tag_byte % 4 {
            0 => Tag::Message,
            1 => Tag::Push,
            2 => Tag::Rekey,
            _ => Tag::Final,
        };
        let (len, rest) = common::take_u16(rest);
        let len = usize::from(len) % (CHUNK + 1);
        let (given, rest) = rest.split_at(rest.len().min(len));
        spec = rest;
        let mut plain = given.to_vec();
        plain.resize(len, 0);
        let mut buffer = plain.clone();
        push.push(&mut buffer, &[], tag).expect("pushes");
        blob.extend_from_slice(&buffer);
        chunks.push((tag, plain));
    }
    (blob, chunks)
}

/// What a correct reader returns for these chunks (see the module docs).
fn model(chunks: &[(Tag, Vec<u8>)]) -> Option<Vec<u8>> {
    let (last, body) = chunks.split_last()?;
    let shaped = body
        .iter()
        .all(|(tag, p)| *tag != Tag::Final && p.len() == CHUNK)
        && last.0 == Tag::Final
        && !last.1.is_empty();
    if !shaped {
        return None;
    }
    let all: Vec<u8> = chunks.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    let start = all.iter().position(|&b| b != 0)?;
    (all[start] == 0x01).then(|| all[start + 1..].to_vec())
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = common::mode(data) else {
        return;
    };
    let key = AttachmentKey::from_bytes(LEGACY_KEY);
    match mode & 0x07 {
        0 => {
            let (s, blob) = common::take_u32(rest);
            let _ = decrypt_attachment(blob, &key, &sha256(blob), size(s));
        }
        1 => {
            let (s, body) = common::take_u32(rest);
            macd_legacy(s, body);
        }
        2 => {
            let iv = [0x77; 16];
            let sealed = encrypt_attachment_with(rest, key.clone(), iv).expect("encrypts");
            let plain = decrypt_attachment(&sealed.blob, &key, &sealed.digest, Some(sealed.size))
                .expect("our own attachment decrypts");
            assert_eq!(plain, rest);
        }
        3 => {
            let _ = decrypt_stream_attachment(rest, &STREAM_KEY);
        }
        4 => {
            let (blob, chunks) = build_stream(rest);
            let got = decrypt_stream_attachment(&blob, &STREAM_KEY).ok();
            assert_eq!(got, model(&chunks));
        }
        5 => {
            let profile = ProfileKey::from_bytes([0x21; 32]);
            let _ = decrypt_avatar(rest, &profile);
            match encrypt_avatar(rest, &profile, &mut common::rng()) {
                Ok(sealed) => {
                    assert_eq!(
                        decrypt_avatar(&sealed, &profile).expect("our own avatar"),
                        rest
                    )
                }
                Err(e) => assert!(rest.is_empty(), "{e:?}"),
            }
        }
        6 => {
            let Some((&len, blob)) = rest.split_first() else {
                return;
            };
            let pointer_key = [0x5a; 80];
            let key = &pointer_key[..usize::from(len) % pointer_key.len()];
            let digest = sha256(blob);
            let _ = decrypt_for_pointer(blob, key, Some(&digest), Some(7));
            let _ = decrypt_for_pointer(blob, key, None, None);
        }
        _ => {}
    }
});
