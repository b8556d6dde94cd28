//! Vector tests (`tests/vectors/onion.json`, from `network.md` §6.3) and peel tests.

use rand::rngs::OsRng;
use serde::Deserialize;
use x25519_dalek::{PublicKey, StaticSecret};

use super::hop::derive_key;
use super::*;

const VECTORS: &str = include_str!("../../../tests/vectors/onion.json");

#[derive(Deserialize)]
struct Source {
    repo: String,
    commit: String,
    file: String,
}

#[derive(Deserialize)]
struct Vectors {
    hop_encryption: Vec<HopVector>,
    framing: Vec<FramingVector>,
    url_filter: UrlFilter,
}

#[derive(Deserialize)]
struct HopVector {
    name: String,
    source: Source,
    client_pub: String,
    client_secret: String,
    server_pub: String,
    server_secret: String,
    plaintext: String,
    derived: Derived,
    ciphertexts: Vec<CiphertextVector>,
}

#[derive(Deserialize)]
struct Derived {
    source: Source,
    shared_secret: String,
    aes_gcm_key: String,
    xchacha20_key: String,
}

#[derive(Deserialize)]
struct CiphertextVector {
    enc_type: String,
    valid: bool,
    hex: String,
}

#[derive(Deserialize)]
struct FramingVector {
    name: String,
    source: Source,
    client_pub: String,
    client_secret: String,
    server_pub: String,
    server_secret: String,
    wire: String,
    blob_len: usize,
    enc_type: String,
    payload: String,
    reply_plaintext: String,
    reply_len: usize,
}

#[derive(Deserialize)]
struct UrlFilter {
    source: Source,
    cases: Vec<UrlCase>,
}

#[derive(Deserialize)]
struct UrlCase {
    target: String,
    allowed: bool,
}

fn vectors() -> Vectors {
    let v: Vectors = serde_json::from_str(VECTORS).unwrap();
    assert!(
        !v.hop_encryption.is_empty() && !v.framing.is_empty() && !v.url_filter.cases.is_empty()
    );
    v
}

fn check_source(s: &Source) {
    assert!(!s.repo.is_empty() && !s.commit.is_empty() && !s.file.is_empty());
}

fn key32(h: &str) -> [u8; 32] {
    hex::decode(h).unwrap().try_into().unwrap()
}

fn secret(h: &str) -> StaticSecret {
    StaticSecret::from(key32(h))
}

#[test]
fn hop_vectors_decrypt_and_broken_ones_fail() {
    for v in vectors().hop_encryption {
        check_source(&v.source);
        check_source(&v.derived.source);
        let (a, b) = (secret(&v.client_secret), secret(&v.server_secret));
        let (a_pub, b_pub) = (
            PublicKey::from(key32(&v.client_pub)),
            PublicKey::from(key32(&v.server_pub)),
        );
        assert_eq!(PublicKey::from(&a), a_pub, "{}", v.name);
        assert_eq!(PublicKey::from(&b), b_pub, "{}", v.name);

        let s = b.diffie_hellman(&a_pub);
        assert_eq!(hex::encode(s.as_bytes()), v.derived.shared_secret);
        let gcm = derive_key(
            EncType::AesGcm,
            s.as_bytes(),
            a_pub.as_bytes(),
            b_pub.as_bytes(),
        );
        assert_eq!(hex::encode(*gcm), v.derived.aes_gcm_key);
        let xc = derive_key(
            EncType::XChaCha20,
            s.as_bytes(),
            a_pub.as_bytes(),
            b_pub.as_bytes(),
        );
        assert_eq!(hex::encode(*xc), v.derived.xchacha20_key);

        for ct in &v.ciphertexts {
            let enc = EncType::from_wire(&ct.enc_type).unwrap();
            let bytes = hex::decode(&ct.hex).unwrap();
            // The recipient's view (b, A) and the client's view (a, B) derive the same key.
            for key in [
                SharedKey::recipient(enc, &b, &a_pub).unwrap(),
                SharedKey::client(enc, &a, &b_pub).unwrap(),
            ] {
                match key.decrypt(&bytes) {
                    Ok(pt) => {
                        assert!(
                            ct.valid,
                            "{}: broken {} ciphertext decrypted",
                            v.name, ct.enc_type
                        );
                        assert_eq!(pt, v.plaintext.as_bytes());
                    }
                    Err(e) => {
                        assert!(
                            !ct.valid,
                            "{}: valid {} ciphertext failed: {e}",
                            v.name, ct.enc_type
                        );
                        assert_eq!(e, HopError::Authentication);
                    }
                }
            }
        }
    }
}

#[test]
fn framing_vectors_parse_peel_and_reply() {
    for v in vectors().framing {
        check_source(&v.source);
        let wire = hex::decode(&v.wire).unwrap();
        let framed = CombinedPayload::try_from(wire.as_slice()).unwrap();
        assert_eq!(framed.blob().len(), v.blob_len, "{}", v.name);
        assert_eq!(framed.json()["enc_type"], v.enc_type.as_str());
        assert_eq!(framed.json()["ephemeral_key"], v.client_pub.as_str());

        // Decrypting the blob gives the payload.
        let enc = EncType::from_wire(&v.enc_type).unwrap();
        let b = secret(&v.server_secret);
        assert_eq!(PublicKey::from(&b), PublicKey::from(key32(&v.server_pub)));
        let key = SharedKey::recipient(enc, &b, &PublicKey::from(key32(&v.client_pub))).unwrap();
        assert_eq!(key.decrypt(framed.blob()).unwrap(), v.payload.as_bytes());

        // A reply of `reply_plaintext` has the LS size and the client decrypts it.
        let reply = key
            .encrypt(v.reply_plaintext.as_bytes(), &mut OsRng)
            .unwrap();
        assert_eq!(reply.len(), v.reply_len);
        let client = SharedKey::client(
            enc,
            &secret(&v.client_secret),
            &PublicKey::from(key32(&v.server_pub)),
        )
        .unwrap();
        assert_eq!(
            client.decrypt(&reply).unwrap(),
            v.reply_plaintext.as_bytes()
        );

        // Peeling: "Hello world" is no combined payload, so SS answers "Invalid json",
        // encrypted back to the client.
        let layer = IncomingLayer::from_wire(&wire).unwrap();
        let err = layer.peel(&b).unwrap_err();
        assert!(matches!(err, PeelError::InvalidJson(_)));
        let resp = err.into_response(&mut OsRng);
        assert_eq!(resp.status, 200);
        let ct = base64_decode(&resp.body);
        let json: serde_json::Value =
            serde_json::from_slice(&client.decrypt(&ct).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"body": "Invalid json", "status": 400})
        );
    }
}

#[test]
fn url_filter_vectors() {
    let f = vectors().url_filter;
    check_source(&f.source);
    for c in f.cases {
        assert_eq!(
            is_onion_url_target_allowed(&c.target),
            c.allowed,
            "{}",
            c.target
        );
    }
}

#[test]
fn enc_type_wire_strings() {
    assert_eq!(EncType::from_wire("aes-gcm"), Ok(EncType::AesGcm));
    assert_eq!(EncType::from_wire("gcm"), Ok(EncType::AesGcm));
    assert_eq!(EncType::from_wire("xchacha20"), Ok(EncType::XChaCha20));
    assert_eq!(
        EncType::from_wire("xchacha20-poly1305"),
        Ok(EncType::XChaCha20)
    );
    assert_eq!(
        EncType::from_wire("cbc"),
        Err(EncTypeError::Unsupported("cbc"))
    );
    assert_eq!(
        EncType::from_wire("aes-cbc"),
        Err(EncTypeError::Unsupported("aes-cbc"))
    );
    assert_eq!(EncType::from_wire("AES-GCM"), Err(EncTypeError::Unknown));
    assert_eq!(EncType::AesGcm.to_string(), "aes-gcm");
    assert_eq!(EncType::XChaCha20.as_wire(), "xchacha20");
}

pub(super) fn base64_decode(b: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(b).unwrap()
}

#[derive(Deserialize)]
struct OverheadVectors {
    source: Source,
    alice_pub: String,
    alice_secret: String,
    bob_pub: String,
    bob_secret: String,
    plaintext: String,
    cases: Vec<OverheadCase>,
}

#[derive(Deserialize)]
struct OverheadCase {
    enc_type: String,
    overhead: usize,
    #[serde(default = "yes")]
    supported: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct InnerVector {
    name: String,
    source: Source,
    plaintext_hex: String,
    expect: InnerExpect,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum InnerExpect {
    Destination {
        body: String,
    },
    InvalidUrl,
    Proxy {
        host: String,
        port: u16,
        protocol: String,
        url: String,
    },
    Relay {
        body: String,
        destination: String,
        ephemeral_key: String,
        enc_type: String,
    },
}

#[derive(Deserialize)]
struct MoreVectors {
    overheads: OverheadVectors,
    inner_requests: Vec<InnerVector>,
}

#[test]
fn ss_overhead_vectors() {
    let v: MoreVectors = serde_json::from_str(VECTORS).unwrap();
    let o = v.overheads;
    check_source(&o.source);
    let (alice, bob) = (secret(&o.alice_secret), secret(&o.bob_secret));
    assert_eq!(
        PublicKey::from(&alice),
        PublicKey::from(key32(&o.alice_pub))
    );
    assert_eq!(PublicKey::from(&bob), PublicKey::from(key32(&o.bob_pub)));
    assert!(!o.cases.is_empty());
    for c in o.cases {
        let Ok(enc) = EncType::from_wire(&c.enc_type) else {
            assert!(!c.supported, "{} should be supported", c.enc_type);
            continue;
        };
        assert!(c.supported);
        // Each side as client and the other as recipient, as in SS's test.
        for (client, server) in [(&alice, &bob), (&bob, &alice)] {
            let k = SharedKey::client(enc, client, &PublicKey::from(server)).unwrap();
            let ct = k.encrypt(o.plaintext.as_bytes(), &mut OsRng).unwrap();
            assert_eq!(ct.len(), o.plaintext.len() + c.overhead);
            let r = SharedKey::recipient(enc, server, &PublicKey::from(client)).unwrap();
            assert_eq!(r.decrypt(&ct).unwrap(), o.plaintext.as_bytes());
        }
    }
}

#[test]
fn ss_inner_request_vectors() {
    let v: MoreVectors = serde_json::from_str(VECTORS).unwrap();
    assert!(!v.inner_requests.is_empty());
    let node = StaticSecret::from([0x11; 32]);
    for case in v.inner_requests {
        check_source(&case.source);
        let plaintext = hex::decode(&case.plaintext_hex).unwrap();
        // Peel works on ciphertext: encrypt the vector's plaintext to the node first.
        let eph = StaticSecret::from([0x22; 32]);
        let key = SharedKey::client(EncType::AesGcm, &eph, &PublicKey::from(&node)).unwrap();
        let blob = key.encrypt(&plaintext, &mut OsRng).unwrap();
        let mut json = serde_json::Map::new();
        json.insert(
            "ephemeral_key".into(),
            hex::encode(PublicKey::from(&eph).as_bytes()).into(),
        );
        let wire = CombinedPayload::new(blob, json).encode().unwrap();
        let peeled = IncomingLayer::from_wire(&wire).unwrap().peel(&node);
        match (peeled, case.expect) {
            (Ok(Peeled::Destination { rpc_body, .. }), InnerExpect::Destination { body }) => {
                assert_eq!(rpc_body, body.as_bytes(), "{}", case.name)
            }
            (Err(PeelError::InvalidUrl(_)), InnerExpect::InvalidUrl) => {}
            (
                Ok(Peeled::ProxyToServer(p)),
                InnerExpect::Proxy {
                    host,
                    port,
                    protocol,
                    url,
                },
            ) => {
                assert_eq!(
                    (p.host.as_str(), p.port, p.protocol.as_str()),
                    (host.as_str(), port, protocol.as_str())
                );
                assert_eq!(p.url(), url);
                assert_eq!(
                    p.payload, plaintext,
                    "{}: the whole plaintext is forwarded",
                    case.name
                );
            }
            (
                Ok(Peeled::Relay { destination, next }),
                InnerExpect::Relay {
                    body,
                    destination: d,
                    ephemeral_key,
                    enc_type,
                },
            ) => {
                assert_eq!(next.blob, body.as_bytes());
                assert_eq!(destination.to_hex(), d);
                assert_eq!(hex::encode(next.ephemeral_key.as_bytes()), ephemeral_key);
                assert_eq!(next.enc_type.as_wire(), enc_type);
            }
            (got, _) => panic!("{}: unexpected {got:?}", case.name),
        }
    }
}
