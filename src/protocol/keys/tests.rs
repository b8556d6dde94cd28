use super::*;
use crate::protocol::vectors::{hex_array, load, Source};
use proptest::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
pub(crate) struct IdentityFile {
    pub identities: Vec<IdentityVector>,
    pub phrases: Vec<PhraseVector>,
    pub word_encodings: Vec<WordVector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdentityVector {
    pub source: Source,
    pub seed: String,
    pub ed25519_pk: String,
    pub session_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PhraseVector {
    pub source: Source,
    pub entropy: String,
    pub phrase: String,
    pub session_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WordVector {
    pub source: Source,
    pub bytes: String,
    pub checksum: bool,
    pub words: Vec<String>,
}

pub(crate) fn vectors() -> IdentityFile {
    let file: serde_json::Value = load(include_str!("../../../tests/vectors/identity.json"));
    serde_json::from_value(file).unwrap()
}

#[test]
fn identity_vectors() {
    let file = vectors();
    assert_eq!(file.identities.len(), 4);
    for v in file.identities {
        v.source.check();
        let id = Identity::from_seed(Seed::from_bytes(hex_array(&v.seed)));
        assert_eq!(id.ed25519_public().to_string(), v.ed25519_pk);
        assert_eq!(id.session_id().to_string(), v.session_id);
        assert_eq!(SessionId::parse(&v.session_id).unwrap(), id.session_id());
        // Edwards → Montgomery of the public key agrees with the clamped-hash secret.
        let x = x25519_dalek::StaticSecret::from(*id.x25519_secret_bytes());
        assert_eq!(
            x25519_dalek::PublicKey::from(&x).as_bytes(),
            id.x25519_public().as_bytes()
        );
        assert_eq!(id.ed25519_public().to_x25519().unwrap(), id.x25519_public());
        let sig = id.sign(b"message");
        id.ed25519_public().verify(b"message", &sig).unwrap();
        assert_eq!(
            id.ed25519_public().verify(b"messagf", &sig),
            Err(KeyError::BadSignature)
        );
    }
}

#[test]
fn generate_makes_phrase_seeds() {
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7);
    let id = Identity::generate(&mut rng);
    assert_eq!(&id.seed().expose_secret()[16..], &[0u8; 16]);
    let phrase = id.recovery_phrase().unwrap();
    let again = Identity::from_phrase(phrase.expose_secret()).unwrap();
    assert_eq!(again.session_id(), id.session_id());
    let other = Identity::generate(&mut rand::thread_rng());
    assert_ne!(other.session_id(), id.session_id());
    // A seed with a non-zero tail has no phrase.
    let full = Identity::from_seed(Seed::from_bytes([9; 32]));
    assert!(full.recovery_phrase().is_none());
}

#[test]
fn secrets_are_redacted() {
    let id = Identity::from_seed(Seed::from_bytes([0x42; 32]));
    let debug = format!("{id:?} {:?}", id.seed());
    assert!(!debug.contains("4242"), "{debug}");
    assert!(debug.contains(&id.session_id().short()));
    let sid = id.session_id();
    assert_eq!(sid.to_string().len(), 66);
    assert!(sid.short().len() < 20);
    assert!(format!("{sid:?}").contains(&sid.short()));
}

#[test]
fn id_parsing_errors() {
    let good = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
    assert!(SessionId::parse(good).is_ok());
    assert_eq!(
        SessionId::parse(&good[..64]),
        Err(KeyError::WrongLength {
            expected: 66,
            got: 64
        })
    );
    assert_eq!(
        SessionId::parse(&good.replace('d', "D")),
        Err(KeyError::UppercaseHex)
    );
    assert_eq!(
        SessionId::parse(&good.replace('d', "g")),
        Err(KeyError::NotHex)
    );
    assert_eq!(
        SessionId::parse(&format!("ab{}", &good[2..])),
        Err(KeyError::UnknownPrefix(0xab))
    );
    let group = format!("03{}", &good[2..]);
    assert_eq!(
        SessionId::parse(&group),
        Err(KeyError::WrongPrefix {
            expected: IdPrefix::Standard,
            got: IdPrefix::Group
        })
    );
    for (text, prefix) in [
        ("05", IdPrefix::Standard),
        ("03", IdPrefix::Group),
        ("15", IdPrefix::Blinded15),
        ("25", IdPrefix::Blinded25),
        ("00", IdPrefix::Unblinded),
        ("07", IdPrefix::VersionBlinded),
    ] {
        let id: PrefixedId = format!("{text}{}", &good[2..]).parse().unwrap();
        assert_eq!(id.prefix(), prefix);
        assert_eq!(id.prefix().is_x25519(), text == "05");
        assert_eq!(id.to_string(), format!("{text}{}", &good[2..]));
        assert_eq!(PrefixedId::try_from(&id.to_bytes()[..]).unwrap(), id);
    }
    assert!(matches!(
        Ed25519PublicKey::from_bytes([0; 32]).to_x25519(),
        Err(KeyError::InvalidEd25519Point)
    ));
    assert!(SessionId::parse("").is_err());
    assert!(SessionId::parse("05é").is_err());
}

proptest! {
    #[test]
    fn id_parsers_never_panic(text in ".{0,80}", bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = SessionId::parse(&text);
        let _ = text.parse::<PrefixedId>();
        let _ = text.parse::<Ed25519PublicKey>();
        let _ = SessionId::try_from(&bytes[..]);
        let _ = PrefixedId::try_from(&bytes[..]);
    }

    #[test]
    fn session_id_round_trips(key in any::<[u8; 32]>()) {
        let sid = X25519PublicKey::from_bytes(key).to_session_id();
        prop_assert_eq!(SessionId::parse(&sid.to_string()).unwrap(), sid);
        prop_assert_eq!(SessionId::try_from(&sid.to_bytes()[..]).unwrap(), sid);
    }
}

#[test]
fn ids_serialize_as_hex_text() {
    let text = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
    let sid = SessionId::parse(text).unwrap();
    assert_eq!(serde_json::to_string(&sid).unwrap(), format!("\"{text}\""));
    assert_eq!(
        serde_json::from_str::<SessionId>(&format!("\"{text}\"")).unwrap(),
        sid
    );
    let prefixed: PrefixedId = serde_json::from_str(&format!("\"{text}\"")).unwrap();
    assert_eq!(PrefixedId::from(sid), prefixed);
    assert!(serde_json::from_str::<SessionId>("\"15d2\"").is_err());
}
