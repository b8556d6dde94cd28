//! A test-only closed-group (`03`) message client, written from the field tables of
//! `../shared/protocol/groups.md` §5 and `messages.md` §6.2 and §3.2–§3.3 with the crypto crates
//! directly, so the gateway's own builders (`protocol::groups::message`, `::envelope`,
//! `protocol::envelope`) are checked against an independent reading of the spec, not against
//! themselves. Only the generated protobuf types are shared (they are data, not logic).
//!
//! ```text
//! data  = zstd(envelope) if shorter ("z"), else envelope ("d")
//! sig   = Ed25519(sender, data ‖ group_pk)
//! plain = bencode {"": 1, "a": sender_pk, "d"|"z": data, "s": sig} ‖ 0x00… to (40 + len) % 256 == 0
//! blob  = nonce(24) ‖ XChaCha20-Poly1305(plain, key, nonce)
//! ```
#![allow(dead_code)] // each test binary uses a different part of the client

use chacha20poly1305::aead::Aead;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use prost::Message as _;
use session_gateway::protocol::protos::{envelope, Content, DataMessage, Envelope};

/// Bytes encryption adds: nonce and Poly1305 tag.
const OVERHEAD: usize = 24 + 16;
/// The padded blob is a multiple of this (groups.md §5, trailing padding).
const PADDING: usize = 256;
/// Largest decompressed payload a reader accepts.
const MAX_PLAINTEXT: usize = 1_000_000;

/// A group message this client opened and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The author's Ed25519 key (`a`), whose signature verified.
    pub sender_ed25519: [u8; 32],
    /// `05 ‖ X25519(a)` in hex.
    pub sender_session_id: String,
    /// The payload (decompressed when it came as `z`): a serialized Envelope for chat messages.
    pub envelope_bytes: Vec<u8>,
}

/// Encrypts `envelope_bytes` as a namespace-11 message of the group `group_pk` from the sender
/// with Ed25519 seed `sender_ed25519_seed`, under `key` and `nonce`.
pub fn seal_group_message(
    sender_ed25519_seed: &[u8; 32],
    group_pk: &[u8; 32],
    key: &[u8; 32],
    envelope_bytes: &[u8],
    nonce: [u8; 24],
) -> Vec<u8> {
    let signer = SigningKey::from_bytes(sender_ed25519_seed);
    let compressed = zstd::bulk::compress(envelope_bytes, 3).expect("zstd compresses");
    let (data_key, data) = if compressed.len() < envelope_bytes.len() {
        (b'z', compressed)
    } else {
        (b'd', envelope_bytes.to_vec())
    };
    let signature = signer.sign(&[data.as_slice(), group_pk].concat());
    // Keys in byte order: "" < "a" < "d" < "s" < "z".
    let mut plain = b"d0:i1e1:a32:".to_vec();
    plain.extend_from_slice(signer.verifying_key().as_bytes());
    let data_entry = [
        &[b'1', b':', data_key][..],
        data.len().to_string().as_bytes(),
        b":",
        &data,
    ]
    .concat();
    let sig_entry = [&b"1:s64:"[..], &signature.to_bytes()].concat();
    if data_key == b'd' {
        plain.extend_from_slice(&data_entry);
        plain.extend_from_slice(&sig_entry);
    } else {
        plain.extend_from_slice(&sig_entry);
        plain.extend_from_slice(&data_entry);
    }
    plain.push(b'e');
    while (OVERHEAD + plain.len()) % PADDING != 0 {
        plain.push(0);
    }
    let sealed = XChaCha20Poly1305::new(key.into())
        .encrypt((&nonce).into(), plain.as_slice())
        .expect("XChaCha20-Poly1305 encrypts");
    [nonce.as_slice(), &sealed].concat()
}

/// Decrypts (trying each of `keys`), checks and verifies a namespace-11 message of `group_pk`.
pub fn open_group_message(
    ciphertext: &[u8],
    group_pk: &[u8; 32],
    keys: &[[u8; 32]],
) -> Result<Opened, String> {
    if ciphertext.len() < OVERHEAD {
        return Err("shorter than nonce and tag".into());
    }
    let (nonce, sealed) = ciphertext.split_at(24);
    let plain = keys
        .iter()
        .find_map(|k| {
            XChaCha20Poly1305::new(k.into())
                .decrypt(nonce.into(), sealed)
                .ok()
        })
        .ok_or("no key decrypts it")?;
    let end = plain.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let dict = parse_flat_dict(&plain[..end])?;
    let get = |k: &[u8]| {
        dict.iter()
            .find(|(key, _)| key.as_slice() == k)
            .map(|(_, v)| v)
    };
    if !matches!(get(b""), Some(Value::Int(1))) {
        return Err("version is not 1".into());
    }
    let author: [u8; 32] = match get(b"a") {
        Some(Value::Bytes(a)) => a.as_slice().try_into().map_err(|_| "a is not 32 bytes")?,
        _ => return Err("no author".into()),
    };
    let signature: [u8; 64] = match get(b"s") {
        Some(Value::Bytes(s)) => s.as_slice().try_into().map_err(|_| "s is not 64 bytes")?,
        _ => return Err("no signature".into()),
    };
    let (data, compressed) = match (get(b"d"), get(b"z")) {
        (Some(Value::Bytes(d)), None) => (d, false),
        (None, Some(Value::Bytes(z))) => (z, true),
        _ => return Err("not exactly one of d and z".into()),
    };
    let verifying = VerifyingKey::from_bytes(&author).map_err(|e| e.to_string())?;
    verifying
        .verify_strict(
            &[data.as_slice(), group_pk].concat(),
            &Signature::from_bytes(&signature),
        )
        .map_err(|e| format!("signature: {e}"))?;
    let envelope_bytes = if compressed {
        zstd::bulk::decompress(data, MAX_PLAINTEXT).map_err(|e| format!("zstd: {e}"))?
    } else {
        data.clone()
    };
    Ok(Opened {
        sender_ed25519: author,
        sender_session_id: format!("05{}", hex::encode(verifying.to_montgomery().to_bytes())),
        envelope_bytes,
    })
}

/// A text message's group payload (messages.md §6.2): `Envelope{type CLOSED_GROUP_MESSAGE (7),
/// timestamp, sourceDevice 1, content = Content{dataMessage{body}, sigTimestamp = timestamp}}`,
/// the Content neither padded nor encrypted. `proSig` is optional (§3.1) and left out.
pub fn text_envelope(body: &str, timestamp_ms: u64) -> Vec<u8> {
    let content = Content {
        data_message: Some(DataMessage {
            body: Some(body.to_owned()),
            ..Default::default()
        }),
        sig_timestamp: Some(timestamp_ms),
        ..Default::default()
    };
    Envelope {
        r#type: envelope::Type::ClosedGroupMessage as i32,
        timestamp: timestamp_ms,
        source_device: Some(1),
        content: Some(content.encode_to_vec()),
        ..Default::default()
    }
    .encode_to_vec()
}

/// The sent timestamp and text body of a group payload, if it is a text message whose
/// `sigTimestamp` (when set) equals the Envelope's timestamp (messages.md §3.3).
pub fn text_of_envelope(bytes: &[u8]) -> Option<(u64, String)> {
    let envelope = Envelope::decode(bytes).ok()?;
    let content = Content::decode(envelope.content?.as_slice()).ok()?;
    match content.sig_timestamp {
        Some(ts) if ts != 0 && ts != envelope.timestamp => return None,
        _ => {}
    }
    Some((envelope.timestamp, content.data_message?.body?))
}

/// A bencoded value of a group message dict: its values are integers or byte strings only.
#[derive(Debug)]
enum Value {
    Int(i64),
    Bytes(Vec<u8>),
}

/// Parses `d (key value)* e` with byte-string keys in strictly ascending order, integer or
/// byte-string values, and nothing after the `e`.
fn parse_flat_dict(input: &[u8]) -> Result<Vec<(Vec<u8>, Value)>, String> {
    let rest = input.strip_prefix(b"d").ok_or("not a dict")?;
    let mut rest = rest;
    let mut out: Vec<(Vec<u8>, Value)> = Vec::new();
    loop {
        if rest == b"e" {
            return Ok(out);
        }
        let (key, after) = parse_bytes(rest)?;
        if out.last().is_some_and(|(last, _)| *last >= key) {
            return Err("dict keys out of order".into());
        }
        let (value, after) = if let Some(int) = after.strip_prefix(b"i") {
            let e = int
                .iter()
                .position(|&b| b == b'e')
                .ok_or("unterminated int")?;
            let text = std::str::from_utf8(&int[..e]).map_err(|_| "bad int")?;
            (
                Value::Int(text.parse().map_err(|_| "bad int")?),
                &int[e + 1..],
            )
        } else {
            let (bytes, after) = parse_bytes(after)?;
            (Value::Bytes(bytes), after)
        };
        out.push((key, value));
        rest = after;
    }
}

/// Parses one `len:bytes` string.
fn parse_bytes(input: &[u8]) -> Result<(Vec<u8>, &[u8]), String> {
    let colon = input
        .iter()
        .position(|&b| b == b':')
        .ok_or("no string length")?;
    let len: usize = std::str::from_utf8(&input[..colon])
        .ok()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or("bad string length")?;
    let body = &input[colon + 1..];
    if body.len() < len {
        return Err("string runs past the end".into());
    }
    Ok((body[..len].to_vec(), &body[len..]))
}
