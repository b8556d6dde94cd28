//! The test-only group client (`tests/group_client`) against libsession's group messages
//! (`tests/vectors/groups_message.json`), and against the gateway's own group message code in
//! both directions, so the client is known to speak the wire format before the devnet tests
//! use it to talk to a gateway.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

mod group_client;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use prost::Message as _;
use serde_json::Value;
use session_gateway::protocol::groups::message::{
    decrypt_group_message, encrypt_group_message, GroupEncKey,
};
use session_gateway::protocol::keys::{Ed25519PublicKey, Identity, Seed};
use session_gateway::protocol::protos::Envelope;

use group_client::{open_group_message, seal_group_message, text_envelope, text_of_envelope};

struct Vector {
    user_seed: [u8; 32],
    sender: String,
    group_pk: [u8; 32],
    key: [u8; 32],
    /// (plaintext, ciphertext) pairs made by libsession.
    cases: Vec<(Vec<u8>, Vec<u8>)>,
}

fn hex32(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn b64(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

fn vector() -> Vector {
    let file: Value = serde_json::from_str(include_str!("vectors/groups_message.json")).unwrap();
    let v = &file["group_message"][0];
    assert_eq!(v["source"]["repo"], "session-foundation/libsession-util");
    Vector {
        user_seed: hex32(&v["user_seed"]),
        sender: v["sender"].as_str().unwrap().to_owned(),
        group_pk: hex32(&v["group_pk"]),
        key: hex32(&v["key"]),
        cases: v["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (b64(&c["plaintext_b64"]), b64(&c["ciphertext_b64"])))
            .collect(),
    }
}

fn production_open(ct: &[u8], group_pk: &[u8; 32], key: &[u8; 32]) -> Option<(String, Vec<u8>)> {
    decrypt_group_message(
        ct,
        &Ed25519PublicKey::from_bytes(*group_pk),
        &[GroupEncKey::from_bytes(*key)],
    )
    .ok()
    .map(|m| (m.sender().to_string(), m.into_payload()))
}

#[test]
fn client_opens_libsession_group_messages() {
    let v = vector();
    assert_eq!(v.cases.len(), 3);
    let author = SigningKey::from_bytes(&v.user_seed)
        .verifying_key()
        .to_bytes();
    for (plaintext, ciphertext) in &v.cases {
        // A wrong key first: the reader tries every key.
        let opened = open_group_message(ciphertext, &v.group_pk, &[[9; 32], v.key]).unwrap();
        assert_eq!(&opened.envelope_bytes, plaintext);
        assert_eq!(opened.sender_session_id, v.sender);
        assert_eq!(opened.sender_ed25519, author);
    }
}

#[test]
fn client_reads_and_writes_libsession_text_envelopes() {
    let v = vector();
    let libsession = &v.cases[0].0;
    let (ts, body) = text_of_envelope(libsession).unwrap();
    assert_eq!(body, "hello from libsession");
    // libsession's envelope differs from ours only by its (optional) proSig.
    let mut envelope = Envelope::decode(libsession.as_slice()).unwrap();
    assert_eq!(envelope.pro_sig.take().map(|s| s.len()), Some(64));
    assert_eq!(text_envelope(&body, ts), envelope.encode_to_vec());
    assert_eq!(
        text_of_envelope(&text_envelope("hi", 7)),
        Some((7, "hi".to_owned()))
    );
    // Not an envelope, or a sigTimestamp that disagrees with the envelope's: not a text.
    assert_eq!(text_of_envelope(&v.cases[2].0), None);
    envelope.timestamp += 1;
    assert_eq!(text_of_envelope(&envelope.encode_to_vec()), None);
}

#[test]
fn client_sealed_messages_open_in_the_gateway_and_back() {
    let v = vector();
    let long = text_envelope(&"A".repeat(2000), 1_700_000_000_123); // compresses: "z"
    let short = text_envelope("short", 1_700_000_000_456); // does not: "d"
    for (i, payload) in [long, short].iter().enumerate() {
        let nonce = [u8::try_from(i).unwrap(); 24];
        let ct = seal_group_message(&v.user_seed, &v.group_pk, &v.key, payload, nonce);
        assert_eq!(ct.len() % 256, 0);
        assert_eq!(&ct[..24], &nonce);
        assert_eq!(
            production_open(&ct, &v.group_pk, &v.key),
            Some((v.sender.clone(), payload.clone())),
            "the gateway reads what the client wrote"
        );
        let ours = open_group_message(&ct, &v.group_pk, &[v.key]).unwrap();
        assert_eq!(&ours.envelope_bytes, payload);

        let identity = Identity::from_seed(Seed::from_bytes(v.user_seed));
        let ct = encrypt_group_message(
            &identity,
            &Ed25519PublicKey::from_bytes(v.group_pk),
            &GroupEncKey::from_bytes(v.key),
            payload,
            &mut rand::thread_rng(),
        )
        .unwrap();
        let theirs = open_group_message(&ct, &v.group_pk, &[v.key]).unwrap();
        assert_eq!(
            &theirs.envelope_bytes, payload,
            "the client reads what the gateway wrote"
        );
        assert_eq!(theirs.sender_session_id, v.sender);
    }
}

#[test]
fn tampered_or_missigned_messages_are_refused_by_both_readers() {
    let v = vector();
    let payload = text_envelope("tamper me", 1_700_000_000_789);
    let good = seal_group_message(&v.user_seed, &v.group_pk, &v.key, &payload, [1; 24]);
    for at in [0, 30, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        assert!(
            open_group_message(&bad, &v.group_pk, &[v.key]).is_err(),
            "flip at {at}"
        );
        assert_eq!(
            production_open(&bad, &v.group_pk, &v.key),
            None,
            "flip at {at}"
        );
    }
    let libsession = &v.cases[0].1;
    let mut bad = libsession.clone();
    bad[40] ^= 0x80;
    assert!(open_group_message(&bad, &v.group_pk, &[v.key]).is_err());
    // Signed for another group (same key): the AEAD opens, the signature over data ‖ group_pk
    // does not verify.
    let other_group = [0x42; 32];
    let missigned = seal_group_message(&v.user_seed, &other_group, &v.key, &payload, [2; 24]);
    assert!(open_group_message(&missigned, &other_group, &[v.key]).is_ok());
    let err = open_group_message(&missigned, &v.group_pk, &[v.key]).unwrap_err();
    assert!(err.starts_with("signature"), "{err}");
    assert_eq!(production_open(&missigned, &v.group_pk, &v.key), None);
    // And no key: refused before anything else.
    assert!(open_group_message(&good, &v.group_pk, &[[7; 32]]).is_err());
    assert!(open_group_message(&good[..39], &v.group_pk, &[v.key]).is_err());
}
