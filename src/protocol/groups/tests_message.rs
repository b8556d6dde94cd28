//! Group message encryption (groups.md §5) and the group Envelope: round trips, a reader built
//! from the field table alone, the rules of `decrypt_group_message`, and junk.

use std::collections::BTreeMap;

use chacha20poly1305::aead::Aead;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use proptest::prelude::*;
use prost::Message as _;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::envelope::*;
use super::message::*;
use super::GroupSecret;
use crate::protocol::bencode::BtValue;
use crate::protocol::envelope::EnvelopeError;
use crate::protocol::keys::{Identity, Seed};
use crate::protocol::protos::{envelope as env, Content, DataMessage, Envelope};

fn member(n: u8) -> Identity {
    Identity::from_seed(Seed::from_bytes([n; 32]))
}

fn group() -> GroupSecret {
    GroupSecret::from_seed(Seed::from_bytes([0x42; 32]))
}

fn key(n: u8) -> GroupEncKey {
    GroupEncKey::from_bytes([n; 32])
}

/// Opens a message with the spec's steps only (not our decrypter): nonce first, XChaCha20,
/// trailing zeros, the dict.
fn open_by_spec(ct: &[u8], key: &[u8; 32]) -> (Vec<u8>, BTreeMap<Vec<u8>, BtValue>) {
    let plain = XChaCha20Poly1305::new(key.into())
        .decrypt(ct[..24].into(), &ct[24..])
        .unwrap();
    let end = plain.iter().rposition(|&b| b != 0).unwrap() + 1;
    let BtValue::Dict(d) = BtValue::decode(&plain[..end]).unwrap() else {
        panic!("not a dict")
    };
    (plain, d)
}

/// Seals a hand-built dict the way the spec lays it out (for the refusal cases).
fn seal_by_spec(dict: &BtValue, key: &[u8; 32], pad: bool) -> Vec<u8> {
    let mut plain = dict.encode();
    if pad {
        let rem = (40 + plain.len()) % 256;
        if rem != 0 {
            plain.resize(plain.len() + 256 - rem, 0);
        }
    }
    let nonce = [9u8; 24];
    let mut out = nonce.to_vec();
    out.extend(
        XChaCha20Poly1305::new(key.into())
            .encrypt((&nonce).into(), plain.as_slice())
            .unwrap(),
    );
    out
}

fn dict(entries: Vec<(&[u8], BtValue)>) -> BtValue {
    BtValue::Dict(entries.into_iter().map(|(k, v)| (k.to_vec(), v)).collect())
}

fn signed_dict(author: &Identity, data_key: &[u8], data: &[u8], signed: &[u8]) -> BtValue {
    dict(vec![
        (b"", BtValue::Int(1)),
        (
            b"a",
            BtValue::Bytes(author.ed25519_public().as_bytes().to_vec()),
        ),
        (data_key, BtValue::Bytes(data.to_vec())),
        (b"s", BtValue::Bytes(author.sign(signed).to_vec())),
    ])
}

#[test]
fn round_trip_layout_and_padding() {
    let mut rng = StdRng::seed_from_u64(1);
    let (alice, g) = (member(1), group());
    for len in [1usize, 5, 100, 215, 216, 217, 1000, 5000] {
        // Random bytes do not compress: the "d" form.
        let mut payload = vec![0u8; len];
        rand::RngCore::fill_bytes(&mut rng, &mut payload);
        let ct = encrypt_group_message(&alice, &g.public(), &key(1), &payload, &mut rng).unwrap();
        assert_eq!(ct.len() % 256, 0, "len {len}");
        let (_, d) = open_by_spec(&ct, &[1; 32]);
        let keys: Vec<_> = d.keys().cloned().collect();
        assert_eq!(
            keys,
            [b"".to_vec(), b"a".to_vec(), b"d".to_vec(), b"s".to_vec()]
        );
        assert_eq!(d[&b""[..]], BtValue::Int(1));
        // The signature covers data ‖ group pk (the current form).
        let mut signed = d[&b"d"[..]].as_bytes().unwrap().to_vec();
        signed.extend_from_slice(g.public().as_bytes());
        let sig: [u8; 64] = d[&b"s"[..]].as_bytes().unwrap().try_into().unwrap();
        alice.ed25519_public().verify(&signed, &sig).unwrap();
        let opened = decrypt_group_message(&ct, &g.public(), &[key(1)]).unwrap();
        assert_eq!(opened.payload(), &payload[..]);
        assert_eq!(opened.sender(), alice.session_id());
        assert_eq!(opened.author(), &alice.ed25519_public());
    }
}

#[test]
fn compresses_only_when_shorter() {
    let mut rng = StdRng::seed_from_u64(2);
    let (alice, g) = (member(1), group());
    let payload = b"hello group ".repeat(200);
    let ct = encrypt_group_message(&alice, &g.public(), &key(1), &payload, &mut rng).unwrap();
    let (_, d) = open_by_spec(&ct, &[1; 32]);
    assert!(d.contains_key(&b"z"[..]) && !d.contains_key(&b"d"[..]));
    let z = d[&b"z"[..]].as_bytes().unwrap();
    assert_eq!(zstd::bulk::decompress(z, 10_000).unwrap(), payload);
    let opened = decrypt_group_message(&ct, &g.public(), &[key(1)]).unwrap();
    assert_eq!(opened.payload(), &payload[..]);
}

#[test]
fn size_limits() {
    let mut rng = StdRng::seed_from_u64(3);
    let (alice, g) = (member(1), group());
    let big = vec![7u8; MAX_PLAINTEXT + 1];
    assert_eq!(
        encrypt_group_message(&alice, &g.public(), &key(1), &big, &mut rng),
        Err(GroupMessageError::TooLarge(MAX_PLAINTEXT + 1))
    );
    let ok = vec![7u8; MAX_PLAINTEXT];
    let ct = encrypt_group_message(&alice, &g.public(), &key(1), &ok, &mut rng).unwrap();
    assert_eq!(
        decrypt_group_message(&ct, &g.public(), &[key(1)])
            .unwrap()
            .payload()
            .len(),
        MAX_PLAINTEXT
    );
    assert_eq!(
        encrypt_group_message(&alice, &g.public(), &key(1), b"", &mut rng),
        Err(GroupMessageError::Empty)
    );
}

#[test]
fn keys_tried_in_order() {
    let mut rng = StdRng::seed_from_u64(4);
    let (alice, g) = (member(1), group());
    let ct = encrypt_group_message(&alice, &g.public(), &key(2), b"x", &mut rng).unwrap();
    let opened = decrypt_group_message(&ct, &g.public(), &[key(1), key(3), key(2)]).unwrap();
    assert_eq!(opened.key_index(), 2);
    assert_eq!(
        decrypt_group_message(&ct, &g.public(), &[key(1)]),
        Err(GroupMessageError::NoKey)
    );
    assert_eq!(
        decrypt_group_message(&ct, &g.public(), &[]),
        Err(GroupMessageError::NoKey)
    );
}

#[test]
fn signature_binds_the_group() {
    // The same key bytes under another group's pk: the signature no longer verifies.
    let mut rng = StdRng::seed_from_u64(5);
    let alice = member(1);
    let other = GroupSecret::from_seed(Seed::from_bytes([0x43; 32]));
    let ct = encrypt_group_message(&alice, &group().public(), &key(1), b"x", &mut rng).unwrap();
    assert_eq!(
        decrypt_group_message(&ct, &other.public(), &[key(1)]),
        Err(GroupMessageError::BadSignature)
    );
}

#[test]
fn refusals() {
    let (alice, g) = (member(1), group());
    let gpk = g.public();
    let mut signed = b"data".to_vec();
    signed.extend_from_slice(gpk.as_bytes());
    let open = |d: &BtValue, pad: bool| {
        decrypt_group_message(&seal_by_spec(d, &[1; 32], pad), &gpk, &[key(1)])
    };
    // A spec-built message reads, padded or not.
    let good = signed_dict(&alice, b"d", b"data", &signed);
    assert_eq!(open(&good, true).unwrap().payload(), b"data");
    assert_eq!(open(&good, false).unwrap().payload(), b"data");
    // Old form (LSU-2025-01): signature over data only.
    let old = signed_dict(&alice, b"d", b"data", b"data");
    assert_eq!(open(&old, true), Err(GroupMessageError::BadSignature));
    // Version 2.
    let BtValue::Dict(mut v2) = good.clone() else {
        unreachable!()
    };
    v2.insert(b"".to_vec(), BtValue::Int(2));
    assert_eq!(
        open(&BtValue::Dict(v2), true),
        Err(GroupMessageError::Version)
    );
    // Both d and z; neither; empty d.
    let BtValue::Dict(mut both) = good.clone() else {
        unreachable!()
    };
    both.insert(b"z".to_vec(), BtValue::Bytes(b"zz".to_vec()));
    assert_eq!(
        open(&BtValue::Dict(both), true),
        Err(GroupMessageError::BadData)
    );
    let BtValue::Dict(mut none) = good.clone() else {
        unreachable!()
    };
    none.remove(&b"d"[..]);
    assert_eq!(
        open(&BtValue::Dict(none), true),
        Err(GroupMessageError::BadData)
    );
    let mut empty_signed = Vec::new();
    empty_signed.extend_from_slice(gpk.as_bytes());
    let empty = signed_dict(&alice, b"d", b"", &empty_signed);
    assert_eq!(open(&empty, true), Err(GroupMessageError::BadData));
    // Missing signature, short author, not a dict.
    let BtValue::Dict(mut nosig) = good.clone() else {
        unreachable!()
    };
    nosig.remove(&b"s"[..]);
    assert_eq!(
        open(&BtValue::Dict(nosig), true),
        Err(GroupMessageError::MissingSignature)
    );
    let BtValue::Dict(mut short) = good.clone() else {
        unreachable!()
    };
    short.insert(b"a".to_vec(), BtValue::Bytes(vec![1; 31]));
    assert_eq!(
        open(&BtValue::Dict(short), true),
        Err(GroupMessageError::BadAuthor)
    );
    assert_eq!(
        open(&BtValue::List(vec![]), true),
        Err(GroupMessageError::NotADict)
    );
    // A "z" that is not zstd, correctly signed.
    let mut zsigned = b"notzstd".to_vec();
    zsigned.extend_from_slice(gpk.as_bytes());
    let badz = signed_dict(&alice, b"z", b"notzstd", &zsigned);
    assert_eq!(open(&badz, true), Err(GroupMessageError::Decompression));
    // Too short to hold nonce and tag.
    assert_eq!(
        decrypt_group_message(&[0; 39], &gpk, &[key(1)]),
        Err(GroupMessageError::TooShort)
    );
}

#[test]
fn bit_flips_fail() {
    let mut rng = StdRng::seed_from_u64(6);
    let (alice, g) = (member(1), group());
    let ct = encrypt_group_message(&alice, &g.public(), &key(1), b"hi", &mut rng).unwrap();
    for i in [0, 23, 24, 100, ct.len() - 1] {
        let mut bad = ct.clone();
        bad[i] ^= 1;
        assert_eq!(
            decrypt_group_message(&bad, &g.public(), &[key(1)]),
            Err(GroupMessageError::NoKey)
        );
    }
}

#[test]
fn key_debug_is_redacted() {
    assert_eq!(format!("{:?}", key(7)), "GroupEncKey(..)");
}

fn text(body: &str) -> Content {
    Content {
        data_message: Some(DataMessage {
            body: Some(body.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn group_envelope_round_trip() {
    let mut rng = StdRng::seed_from_u64(7);
    let (alice, g) = (member(1), group());
    let ct = seal_group_content(
        &alice,
        &g.public(),
        &key(1),
        text("hi all"),
        1_700_000_000_123,
        &mut rng,
    )
    .unwrap();
    // By the field table: a bare Envelope, type 7, sourceDevice 1, 64-byte proSig, plain Content.
    let payload = decrypt_group_message(&ct, &g.public(), &[key(1)])
        .unwrap()
        .into_payload();
    let envelope = Envelope::decode(payload.as_slice()).unwrap();
    assert_eq!(envelope.r#type, env::Type::ClosedGroupMessage as i32);
    assert_eq!(envelope.timestamp, 1_700_000_000_123);
    assert_eq!(envelope.source_device, Some(1));
    assert_eq!(envelope.source, None);
    assert_eq!(envelope.pro_sig.as_ref().map(Vec::len), Some(64));
    let content = Content::decode(envelope.content.as_deref().unwrap()).unwrap();
    assert_eq!(content.sig_timestamp, Some(1_700_000_000_123));

    let opened = open_group_content(&ct, &g.public(), &[key(1)]).unwrap();
    assert_eq!(opened.sender, alice.session_id());
    assert_eq!(opened.timestamp_ms, 1_700_000_000_123);
    assert_eq!(
        opened.content.data_message.unwrap().body.as_deref(),
        Some("hi all")
    );
}

#[test]
fn desktop_form_is_read() {
    // DESKTOP's encryptForGroupV2: source = the 03 group ID, no sourceDevice, no proSig.
    let mut rng = StdRng::seed_from_u64(8);
    let (alice, g) = (member(1), group());
    let mut content = text("from desktop");
    content.sig_timestamp = Some(5);
    let payload = Envelope {
        r#type: env::Type::ClosedGroupMessage as i32,
        source: Some(g.id().to_string()),
        timestamp: 5,
        content: Some(content.encode_to_vec()),
        ..Default::default()
    }
    .encode_to_vec();
    let ct = encrypt_group_message(&alice, &g.public(), &key(1), &payload, &mut rng).unwrap();
    let opened = open_group_content(&ct, &g.public(), &[key(1)]).unwrap();
    assert_eq!(opened.source, Some(g.id().to_bytes()));
    assert_eq!(opened.pro_sig, None);
}

#[test]
fn group_envelope_refusals() {
    let mut content = text("x");
    content.sig_timestamp = Some(6);
    let base = Envelope {
        r#type: env::Type::ClosedGroupMessage as i32,
        timestamp: 5,
        content: Some(content.encode_to_vec()),
        ..Default::default()
    };
    assert!(matches!(
        decode_group_envelope(&base.encode_to_vec()),
        Err(EnvelopeError::SigTimestampMismatch { .. })
    ));
    let mut no_content = base.clone();
    no_content.content = None;
    assert_eq!(
        decode_group_envelope(&no_content.encode_to_vec()).unwrap_err(),
        EnvelopeError::MissingContent
    );
    let mut bad_sig = base.clone();
    bad_sig.pro_sig = Some(vec![0; 63]);
    assert_eq!(
        decode_group_envelope(&bad_sig.encode_to_vec()).unwrap_err(),
        EnvelopeError::BadProSigLength(63)
    );
    let mut bad_source = base;
    bad_source.source = Some("03ab".into());
    assert_eq!(
        decode_group_envelope(&bad_source.encode_to_vec()).unwrap_err(),
        EnvelopeError::BadSource(4)
    );
}

proptest! {
    #[test]
    fn decrypt_junk_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), k: [u8; 32]) {
        let _ = decrypt_group_message(&bytes, &group().public(), &[GroupEncKey::from_bytes(k)]);
        let _ = open_group_content(&bytes, &group().public(), &[GroupEncKey::from_bytes(k)]);
    }

    #[test]
    fn sealed_junk_plaintext_never_panics(plain in proptest::collection::vec(any::<u8>(), 0..300)) {
        // Junk under the right key reaches the dict parser.
        let nonce = [1u8; 24];
        let mut ct = nonce.to_vec();
        ct.extend(XChaCha20Poly1305::new((&[1u8; 32]).into()).encrypt((&nonce).into(), plain.as_slice()).unwrap());
        let _ = decrypt_group_message(&ct, &group().public(), &[key(1)]);
    }

    #[test]
    fn envelope_junk_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_group_envelope(&bytes);
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VectorFile {
    pub(super) description: String,
    group_message: Vec<LsuMessages>,
    pub(super) user_groups: Vec<LsuUserGroups>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LsuUserGroups {
    pub(super) source: crate::protocol::vectors::Source,
    pub(super) user_seed: String,
    pub(super) member_group_id: String,
    pub(super) admin_group_seed: String,
    pub(super) seqno: i64,
    pub(super) push_b64: String,
}

pub(super) fn vector_file() -> VectorFile {
    crate::protocol::vectors::load(include_str!("../../../tests/vectors/groups_message.json"))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LsuMessages {
    source: crate::protocol::vectors::Source,
    user_seed: String,
    sender: String,
    group_pk: String,
    key: String,
    cases: Vec<LsuCase>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LsuCase {
    plaintext_b64: String,
    ciphertext_b64: String,
}

#[test]
fn libsession_group_messages_decrypt() {
    use crate::protocol::keys::Ed25519PublicKey;
    use crate::protocol::vectors::hex_array;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    let file = vector_file();
    assert!(file.description.contains("§5"));
    for set in file.group_message {
        assert!(set.source.note.is_some());
        let user = Identity::from_seed(Seed::from_bytes(hex_array(&set.user_seed)));
        assert_eq!(user.session_id().to_string(), set.sender);
        let group = Ed25519PublicKey::from_bytes(hex_array(&set.group_pk));
        let keys = [key(9), GroupEncKey::from_bytes(hex_array(&set.key))];
        let mut saw_z = false;
        for case in &set.cases {
            let ct = STANDARD.decode(&case.ciphertext_b64).unwrap();
            let plain = STANDARD.decode(&case.plaintext_b64).unwrap();
            assert_eq!(ct.len() % 256, 0);
            saw_z |= open_by_spec(&ct, &hex_array(&set.key))
                .1
                .contains_key(&b"z"[..]);
            let opened = decrypt_group_message(&ct, &group, &keys).unwrap();
            assert_eq!(opened.key_index(), 1);
            assert_eq!(opened.sender().to_string(), set.sender);
            assert_eq!(opened.payload(), &plain[..]);
        }
        assert!(saw_z, "one case is compressed");
        // The first case is an Envelope built from the field table: our reader takes it.
        let ct = STANDARD.decode(&set.cases[0].ciphertext_b64).unwrap();
        let env = open_group_content(&ct, &group, &keys).unwrap();
        assert_eq!(env.timestamp_ms, 1_700_000_000_123);
        assert_eq!(
            env.content.data_message.unwrap().body.as_deref(),
            Some("hello from libsession")
        );
    }
}
