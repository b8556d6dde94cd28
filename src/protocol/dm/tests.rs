use super::*;
use crate::protocol::keys::Seed;
use crate::protocol::vectors::{hex_array, load, Source};
use proptest::prelude::*;
use rand::SeedableRng;
use serde::Deserialize;

#[derive(Deserialize)]
struct DmFile {
    deterministic: Vec<DmVector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DmVector {
    source: Source,
    sender_seed: String,
    sender_ed25519_pk: String,
    sender_session_id: String,
    recipient_seed: String,
    recipient_session_id: String,
    message_utf8: String,
    ciphertext: String,
}

fn file() -> DmFile {
    let value: serde_json::Value = load(include_str!("../../../tests/vectors/dm.json"));
    serde_json::from_value(value).unwrap()
}

fn identity(seed_hex: &str) -> Identity {
    Identity::from_seed(Seed::from_bytes(hex_array(seed_hex)))
}

#[test]
fn deterministic_vector() {
    let file = file();
    assert_eq!(file.deterministic.len(), 1);
    for v in file.deterministic {
        v.source.check();
        let sender = identity(&v.sender_seed);
        let recipient = identity(&v.recipient_seed);
        let recipient_id = SessionId::parse(&v.recipient_session_id).unwrap();
        assert_eq!(recipient.session_id(), recipient_id);
        let ct = encrypt_for_recipient_deterministic(
            &sender,
            recipient_id.x25519(),
            v.message_utf8.as_bytes(),
        )
        .unwrap();
        assert_eq!(hex::encode(&ct), v.ciphertext);
        let out = decrypt_incoming(&recipient, &ct).unwrap();
        assert_eq!(out.plaintext, v.message_utf8.as_bytes());
        assert_eq!(out.sender_ed25519.to_string(), v.sender_ed25519_pk);
        assert_eq!(out.sender_session_id.to_string(), v.sender_session_id);
    }
}

#[test]
fn random_round_trip_and_failures() {
    let alice = identity("0123456789abcdef0123456789abcdef00000000000000000000000000000000");
    let bob = identity("00112233445566778899aabbccddeeff00000000000000000000000000000000");
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let ct = encrypt_for_recipient(&alice, &bob.x25519_public(), b"hi bob", &mut rng).unwrap();
    assert_eq!(ct.len(), 6 + MIN_CIPHERTEXT);
    let again = encrypt_for_recipient(&alice, &bob.x25519_public(), b"hi bob", &mut rng).unwrap();
    assert_ne!(ct, again);
    let out = decrypt_incoming(&bob, &ct).unwrap();
    assert_eq!(out.plaintext, b"hi bob");
    assert_eq!(out.sender_session_id, alice.session_id());
    assert!(!format!("{out:?}").contains("hi bob"));

    // Empty messages work.
    let empty = encrypt_for_recipient(&alice, &bob.x25519_public(), b"", &mut rng).unwrap();
    assert_eq!(decrypt_incoming(&bob, &empty).unwrap().plaintext, b"");

    // Not for Alice.
    assert_eq!(
        decrypt_incoming(&alice, &ct),
        Err(DmError::DecryptionFailed)
    );
    // Any flipped bit.
    for i in [0, 31, 32, 47, 48, ct.len() - 1] {
        let mut bad = ct.clone();
        bad[i] ^= 1;
        assert!(decrypt_incoming(&bob, &bad).is_err(), "byte {i}");
    }
    assert_eq!(
        decrypt_incoming(&bob, &ct[..MIN_CIPHERTEXT - 1]),
        Err(DmError::TooShort(MIN_CIPHERTEXT - 1))
    );
    // A small-order ephemeral key is refused like libsodium does.
    let mut weak = ct.clone();
    weak[..32].copy_from_slice(&[0; 32]);
    assert_eq!(decrypt_incoming(&bob, &weak), Err(DmError::WeakKey));
    assert_eq!(
        encrypt_for_recipient(
            &alice,
            &X25519PublicKey::from_bytes([0; 32]),
            b"x",
            &mut rng
        ),
        Err(DmError::WeakKey)
    );
}

#[test]
fn signature_binds_the_recipient() {
    // A message signed for Carol and re-sealed to Bob must not verify at Bob (the signature
    // covers Y, §2.1), even though the box opens.
    let alice = identity("0123456789abcdef0123456789abcdef00000000000000000000000000000000");
    let bob = identity("00112233445566778899aabbccddeeff00000000000000000000000000000000");
    let carol = Identity::from_seed(Seed::from_bytes([3; 32]));
    let signed = sign_for_recipient(&alice, &carol.x25519_public(), b"for carol");
    let resealed = seal_with(&[9; 32], &bob.x25519_public(), &signed).unwrap();
    assert_eq!(
        decrypt_incoming(&bob, &resealed),
        Err(DmError::BadSignature)
    );
}

proptest! {
    #[test]
    fn junk_ciphertexts_return_errors(junk in proptest::collection::vec(any::<u8>(), 0..400)) {
        let bob = Identity::from_seed(Seed::from_bytes([1; 32]));
        prop_assert!(decrypt_incoming(&bob, &junk).is_err());
    }

    #[test]
    fn round_trips(message in proptest::collection::vec(any::<u8>(), 0..300), seed in any::<u64>()) {
        let alice = Identity::from_seed(Seed::from_bytes([2; 32]));
        let bob = Identity::from_seed(Seed::from_bytes([1; 32]));
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let ct = encrypt_for_recipient(&alice, &bob.x25519_public(), &message, &mut rng).unwrap();
        let out = decrypt_incoming(&bob, &ct).unwrap();
        prop_assert_eq!(out.plaintext, message);
        prop_assert_eq!(out.sender_ed25519, alice.ed25519_public());
    }
}
