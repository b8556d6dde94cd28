use super::*;
use crate::protocol::keys::Seed;
use crate::protocol::vectors::{hex_array, load, Source};
use proptest::prelude::*;
use rand::SeedableRng;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlindingFile {
    description: String,
    blind25_ids: Vec<Blind25IdVector>,
    blind15_ids: Vec<Blind15IdVector>,
    blind25_signatures: Vec<SignatureVector>,
    blind15_signatures: Vec<SignatureVector>,
    version_key_pairs: Vec<VersionKeyVector>,
    version_signatures: Vec<VersionSignatureVector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Blind25IdVector {
    source: Source,
    session_id: String,
    server_pk: String,
    blinded_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Blind15IdVector {
    source: Source,
    session_id: String,
    seed: String,
    server_pk: String,
    candidate: usize,
    blinded_id: String,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureVector {
    source: Source,
    seed: String,
    server_pk: String,
    message_utf8: String,
    signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionKeyVector {
    source: Source,
    seed: String,
    public_key: String,
    secret_seed: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionSignatureVector {
    source: Source,
    seed: String,
    platform: String,
    timestamp: u64,
    signature: String,
}

fn file() -> BlindingFile {
    let file: BlindingFile = load(include_str!("../../../tests/vectors/blinding.json"));
    assert!(file.description.contains("§7.4"));
    file
}

fn identity(seed_hex: &str) -> Identity {
    Identity::from_seed(Seed::from_bytes(hex_array(seed_hex)))
}

fn server(hex: &str) -> X25519PublicKey {
    hex.parse().unwrap()
}

#[test]
fn blind25_id_vectors() {
    let vectors = file().blind25_ids;
    assert_eq!(vectors.len(), 3);
    for v in vectors {
        v.source.check();
        let sid = SessionId::parse(&v.session_id).unwrap();
        let id = blind25_id(&sid, &server(&v.server_pk)).unwrap();
        assert_eq!(id.to_string(), v.blinded_id);
        assert!(session_id_matches_blinded_id(&sid, &id, &server(&v.server_pk)).unwrap());
    }
}

#[test]
fn blind15_id_vectors() {
    let vectors = file().blind15_ids;
    assert_eq!(vectors.len(), 2);
    for v in vectors {
        v.source.check();
        let sid = SessionId::parse(&v.session_id).unwrap();
        let spk = server(&v.server_pk);
        // The non-obvious candidate is explained in the file.
        assert_eq!(v.candidate == 1, v.note.is_some());
        let ids = blind15_ids(&sid, &spk).unwrap();
        assert_eq!(ids[0].to_string(), v.blinded_id);
        // The key pair of the account yields the named candidate.
        let own = identity(&v.seed);
        assert_eq!(own.session_id(), sid);
        assert_eq!(*blind15_key_pair(&own, &spk).id(), ids[v.candidate]);
        for id in ids {
            assert!(session_id_matches_blinded_id(&sid, &id, &spk).unwrap());
        }
    }
}

#[test]
fn blind25_key_pairs_match_ids_from_session_ids() {
    // A second path for blind25: the key pair (a·k', sign-corrected) and the ID from the
    // Session ID alone (k'·|A|) must agree, for both a positive and a negative Ed25519 key.
    for v in file().blind15_ids {
        let own = identity(&v.seed);
        let spk = server(&v.server_pk);
        let pair = blind25_key_pair(&own, &spk);
        assert_eq!(*pair.id(), blind25_id(&own.session_id(), &spk).unwrap());
        let (from_ed, sid) =
            blinded_id_from_ed25519(Blinding::V25, &own.ed25519_public(), &spk).unwrap();
        assert_eq!(from_ed, *pair.id());
        assert_eq!(sid, own.session_id());
    }
}

fn check_signatures(
    vectors: Vec<SignatureVector>,
    sign: fn(&Identity, &X25519PublicKey, &[u8]) -> [u8; 64],
    pair: fn(&Identity, &X25519PublicKey) -> BlindedKeyPair,
) {
    assert_eq!(vectors.len(), 6);
    for v in vectors {
        v.source.check();
        let own = identity(&v.seed);
        let spk = server(&v.server_pk);
        let signature = sign(&own, &spk, v.message_utf8.as_bytes());
        assert_eq!(hex::encode(signature), v.signature);
        pair(&own, &spk)
            .id()
            .key()
            .verify(v.message_utf8.as_bytes(), &signature)
            .unwrap();
    }
}

#[test]
fn blind15_signature_vectors() {
    check_signatures(file().blind15_signatures, blind15_sign, blind15_key_pair);
}

#[test]
fn blind25_signature_vectors() {
    check_signatures(file().blind25_signatures, blind25_sign, blind25_key_pair);
}

#[test]
fn version_vectors() {
    let file = file();
    assert_eq!(file.version_key_pairs.len(), 1);
    for v in file.version_key_pairs {
        v.source.check();
        let pair = VersionKeyPair::new(&identity(&v.seed));
        assert_eq!(pair.public().to_string(), v.public_key);
        assert_eq!(hex::encode(pair.expose_seed()), v.secret_seed);
        assert_eq!(pair.id().to_string(), format!("07{}", v.public_key));
        assert!(!format!("{pair:?}").contains(&v.secret_seed));
    }
    assert_eq!(file.version_signatures.len(), 1);
    for v in file.version_signatures {
        v.source.check();
        assert_eq!(v.platform, Platform::Desktop.as_str());
        let pair = VersionKeyPair::new(&identity(&v.seed));
        let signature = pair.sign_version_check(Platform::Desktop, v.timestamp);
        assert_eq!(hex::encode(signature), v.signature);
        let message = format!("{}GET/session_version?platform=desktop", v.timestamp);
        pair.public()
            .verify(message.as_bytes(), &signature)
            .unwrap();
        // With a body, the body is appended.
        let with_body = pair.sign_request(1234567890, "GET", "/path/to/somewhere", Some(b"body"));
        pair.public()
            .verify(b"1234567890GET/path/to/somewherebody", &with_body)
            .unwrap();
    }
}

const DM_SERVER: &str = "1d7e7f92b1ed3643855c98ecac02fc7274033a3467653f047d6e433540c03f17";

fn dm_parties() -> (Identity, Identity, X25519PublicKey) {
    // The keys of libsession's "Session blinding protocol encryption" test, plus seed2 of the
    // §7.4 vectors (a negative Ed25519 key) in the other tests.
    (
        identity("0123456789abcdef0123456789abcdef00000000000000000000000000000000"),
        identity("00112233445566778899aabbccddeeff00000000000000000000000000000000"),
        server(DM_SERVER),
    )
}

#[test]
fn blinded_dm_round_trips_both_blindings_and_directions() {
    let negative = identity("8659efdcbe0949e0f81141e6d397e8be75f45d09262f209d5950e97989eb43c7");
    let (alice, bob, spk) = dm_parties();
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for (sender, recipient) in [
        (&alice, &bob),
        (&bob, &alice),
        (&negative, &alice),
        (&alice, &negative),
    ] {
        for pair in [blind15_key_pair, blind25_key_pair] {
            let from = *pair(sender, &spk).id();
            let to = *pair(recipient, &spk).id();
            let ct = encrypt_for_blinded_recipient(sender, &spk, &to, b"hello", &mut rng).unwrap();
            assert_eq!(ct.len(), 1 + 5 + 32 + 16 + 24);
            assert_eq!(ct[0], 0);
            // Recipient reads its inbox; sender reads its outbox.
            for reader in [recipient, sender] {
                let out = decrypt_from_blinded_recipient(reader, &spk, &from, &to, &ct).unwrap();
                assert_eq!(out.plaintext, b"hello");
                assert_eq!(out.sender_session_id, sender.session_id());
                assert_eq!(out.sender_ed25519, sender.ed25519_public());
            }
            // A third party cannot read it; a wrong claimed sender is refused.
            let carol = Identity::from_seed(Seed::from_bytes([7; 32]));
            assert!(decrypt_from_blinded_recipient(&carol, &spk, &from, &to, &ct).is_err());
            let liar = *pair(&carol, &spk).id();
            assert!(decrypt_from_blinded_recipient(recipient, &spk, &liar, &to, &ct).is_err());
            let mut broken = ct.clone();
            broken[10] ^= 1;
            assert_eq!(
                decrypt_from_blinded_recipient(recipient, &spk, &from, &to, &broken),
                Err(BlindingError::DecryptionFailed)
            );
        }
    }
}

#[test]
fn blinded_dm_errors() {
    let (alice, bob, spk) = dm_parties();
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    let a15 = *blind15_key_pair(&alice, &spk).id();
    let b15 = *blind15_key_pair(&bob, &spk).id();
    let b25 = *blind25_key_pair(&bob, &spk).id();
    let ct = encrypt_for_blinded_recipient(&alice, &spk, &b15, b"x", &mut rng).unwrap();
    assert_eq!(
        decrypt_from_blinded_recipient(&bob, &spk, &a15, &b25, &ct),
        Err(BlindingError::MixedBlinding)
    );
    let mut versioned = ct.clone();
    versioned[0] = 1;
    assert_eq!(
        decrypt_from_blinded_recipient(&bob, &spk, &a15, &b15, &versioned),
        Err(BlindingError::Malformed)
    );
    assert_eq!(
        decrypt_from_blinded_recipient(&bob, &spk, &a15, &b15, &ct[..72]),
        Err(BlindingError::Malformed)
    );
    // The shared key hashes the exact sender ID, so a sign-flipped claim does not decrypt.
    assert_eq!(
        decrypt_from_blinded_recipient(&bob, &spk, &a15.sign_flipped(), &b15, &ct),
        Err(BlindingError::DecryptionFailed)
    );
    // IDs parse with their prefix checked.
    assert_eq!(a15.to_string().parse::<BlindedId>().unwrap(), a15);
    assert_eq!(
        alice.session_id().to_string().parse::<BlindedId>(),
        Err(BlindingError::NotBlinded(IdPrefix::Standard))
    );
    assert!(matches!(
        encrypt_for_blinded_recipient(
            &alice,
            &spk,
            &BlindedId::new(Blinding::V15, Ed25519PublicKey::from_bytes([0; 32])),
            b"x",
            &mut rng
        ),
        Err(BlindingError::InvalidPoint)
    ));
    assert!(!format!("{:?}", blind15_key_pair(&alice, &spk)).contains("secret"));
}

proptest! {
    #[test]
    fn junk_blinded_messages_return_errors(junk in proptest::collection::vec(any::<u8>(), 0..200), sender in any::<[u8; 32]>()) {
        let (_, bob, spk) = dm_parties();
        let b15 = *blind15_key_pair(&bob, &spk).id();
        let claimed = BlindedId::new(Blinding::V15, Ed25519PublicKey::from_bytes(sender));
        prop_assert!(decrypt_from_blinded_recipient(&bob, &spk, &claimed, &b15, &junk).is_err());
    }

    #[test]
    fn blinding_arbitrary_ids_never_panics(key in any::<[u8; 32]>(), spk in any::<[u8; 32]>()) {
        let sid = X25519PublicKey::from_bytes(key).to_session_id();
        let spk = X25519PublicKey::from_bytes(spk);
        let _ = blind15_ids(&sid, &spk);
        let _ = blind25_id(&sid, &spk);
        let _ = blinded_id_from_ed25519(Blinding::V15, &Ed25519PublicKey::from_bytes(key), &spk);
    }
}
