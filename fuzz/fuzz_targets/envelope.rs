//! Namespace-0 (1:1) data as the gateway receives it from the account's swarm: the
//! WebSocketMessage / Envelope / Content protobufs (`messages.md` §3.1-§3.4), the 1:1
//! decryption, and the classification into chat events (the real entry point,
//! `actors::sources::own_swarm::classify`); plus the bare-Envelope group payload (§6).
//!
//! Input: one mode byte, then the bytes. Modes (low 3 bits):
//! * 0: raw swarm data for the account: classify (what any node or sender can store).
//! * 1: the bytes are a *padded Content* that a real sender signs, seals and wraps for the
//!   account; classification must get past the envelope, decryption and signature.
//! * 2: a WebSocketMessage: parse; a parsed envelope re-encodes and parses to the same fields.
//! * 3: a padded Content: parse (required fields, `sigTimestamp` rule), render as JSON, and
//!   prost encode → decode round trip.
//! * 4: a decrypted group payload (bare Envelope with Content).
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use session_gateway::actors::keys::AccountKeys;
use session_gateway::actors::sources::{classify, Verdict};
use session_gateway::network::{ItemData, RetrievedItem};
use session_gateway::protocol::dm::encrypt_for_recipient_deterministic;
use session_gateway::protocol::envelope::{
    content_to_json, decode_dm_payload, encode_dm_payload, parse_content, ProSig,
};
use session_gateway::protocol::groups::envelope::decode_group_envelope;
use session_gateway::protocol::keys::{Identity, Seed};
use session_gateway::protocol::padding::unpad;
use session_gateway::protocol::protos::Content;
use session_gateway::protocol::storage::{message_hash, AccountId, Namespace};

/// The receiving account and a sender, fixed for the run.
struct Parties {
    own: AccountKeys,
    sender: Identity,
}

fn parties() -> &'static Parties {
    static PARTIES: OnceLock<Parties> = OnceLock::new();
    PARTIES.get_or_init(|| {
        let identity = Identity::from_seed(Seed::from_bytes([0x01; 32]));
        let session_id = identity.session_id().to_string();
        Parties {
            own: AccountKeys {
                account: AccountId::from_hex(&session_id).expect("own id"),
                identity,
                session_id,
            },
            sender: Identity::from_seed(Seed::from_bytes([0x02; 32])),
        }
    })
}

/// `data` as the network hands it over: checked against its (real) hash, so intact.
fn item(data: &[u8]) -> RetrievedItem {
    let own = &parties().own;
    RetrievedItem {
        hash: message_hash(&own.account, Namespace(0), data),
        timestamp: 1,
        expiration: 2,
        data: ItemData::Intact(data.to_vec()),
    }
}

fn sealed_by_sender(padded_content: &[u8]) -> Vec<u8> {
    let p = parties();
    let sealed = encrypt_for_recipient_deterministic(
        &p.sender,
        &p.own.identity.x25519_public(),
        padded_content,
    )
    .expect("seals");
    // The envelope timestamp a real sender uses: the Content's own, when it reads.
    let timestamp = Content::decode(unpad(padded_content))
        .ok()
        .and_then(|c| c.sig_timestamp)
        .unwrap_or(1_700_000_000_000);
    encode_dm_payload(&sealed, timestamp, &ProSig::from_bytes([7; 64]))
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = common::mode(data) else {
        return;
    };
    match mode & 0x07 {
        0 => {
            let _ = classify(&parties().own, &item(rest));
        }
        1 => match classify(&parties().own, &item(&sealed_by_sender(rest))) {
            Verdict::Dropped(reason @ ("invalid_envelope" | "undecryptable" | "bad_signature")) => {
                panic!("a real sender's message dropped as {reason}")
            }
            Verdict::Tampered => panic!("an intact item classified as tampered"),
            _ => {}
        },
        2 => {
            if let Ok(envelope) = decode_dm_payload(rest) {
                let pro_sig = envelope
                    .pro_sig()
                    .cloned()
                    .unwrap_or(ProSig::from_bytes([0; 64]));
                let again = decode_dm_payload(&encode_dm_payload(
                    envelope.content_ciphertext(),
                    envelope.timestamp_ms(),
                    &pro_sig,
                ))
                .expect("our own encoding parses");
                assert_eq!(again.timestamp_ms(), envelope.timestamp_ms());
                assert_eq!(again.content_ciphertext(), envelope.content_ciphertext());
                assert_eq!(again.pro_sig(), Some(&pro_sig));
            }
        }
        3 => {
            let (timestamp, padded) = common::take_u32(rest);
            if let Ok(content) = parse_content(padded, u64::from(timestamp)) {
                let _ = content_to_json(&content);
                let again =
                    Content::decode(content.encode_to_vec().as_slice()).expect("re-decodes");
                assert_eq!(again, content);
            }
        }
        4 => {
            let _ = decode_group_envelope(rest);
        }
        _ => {}
    }
});
