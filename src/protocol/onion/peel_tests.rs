//! Peel tests with hand-built layers (independent of the builder).

use proptest::prelude::*;
use rand::rngs::OsRng;
use serde_json::{json, Value};
use x25519_dalek::{PublicKey, StaticSecret};

use super::tests::base64_decode;
use super::*;

/// Encrypts `u32le ‖ body ‖ json` to `node` and frames it for the guard; returns the wire body
/// and the client's key for the layer.
fn seal(enc: EncType, node: &PublicKey, body: &[u8], json: Value) -> (Vec<u8>, SharedKey) {
    let Value::Object(map) = json else {
        panic!("object")
    };
    let inner = CombinedPayload::new(body.to_vec(), map).encode().unwrap();
    let eph = StaticSecret::random_from_rng(OsRng);
    let key = SharedKey::client(enc, &eph, node).unwrap();
    let blob = key.encrypt(&inner, &mut OsRng).unwrap();
    let Value::Object(outer) = json!({
        "ephemeral_key": hex::encode(PublicKey::from(&eph).as_bytes()),
        "enc_type": enc.as_wire(),
    }) else {
        panic!("object")
    };
    (CombinedPayload::new(blob, outer).encode().unwrap(), key)
}

fn node() -> (StaticSecret, PublicKey) {
    let s = StaticSecret::random_from_rng(OsRng);
    let p = PublicKey::from(&s);
    (s, p)
}

fn open_reply(key: &SharedKey, resp: &NodeResponse, base64: bool) -> Value {
    assert_eq!(resp.status, 200);
    let ct = if base64 {
        base64_decode(&resp.body)
    } else {
        resp.body.clone()
    };
    serde_json::from_slice(&key.decrypt(&ct).unwrap()).unwrap()
}

#[test]
fn destination_layer_and_reply() {
    for enc in [EncType::AesGcm, EncType::XChaCha20] {
        let (sk, pk) = node();
        let rpc = br#"{"method":"info","params":{}}"#;
        let (wire, key) = seal(enc, &pk, rpc, json!({"headers": ""}));
        let layer = IncomingLayer::from_wire(&wire).unwrap();
        assert_eq!(layer.hop_no(), 0);
        let Peeled::Destination {
            rpc_body,
            reply,
            json,
            base64,
        } = layer.peel(&sk).unwrap()
        else {
            panic!("not a destination")
        };
        assert_eq!(rpc_body, rpc);
        assert!(!json && base64);
        let resp = reply
            .encrypt(200, ReplyBody::Json(json!({"hf": [19, 3]})), &mut OsRng)
            .unwrap();
        assert_eq!(
            open_reply(&key, &resp, true),
            json!({"body": "{\"hf\":[19,3]}", "status": 200})
        );
    }
}

#[test]
fn destination_json_and_raw_flags() {
    let (sk, pk) = node();
    let (wire, key) = seal(
        EncType::XChaCha20,
        &pk,
        b"{}",
        json!({"headers": {}, "json": true, "base64": false}),
    );
    let Peeled::Destination {
        reply,
        json,
        base64,
        ..
    } = IncomingLayer::from_wire(&wire).unwrap().peel(&sk).unwrap()
    else {
        panic!("not a destination")
    };
    assert!(json && !base64);
    let resp = reply
        .encrypt(421, ReplyBody::Json(json!({"snodes": []})), &mut OsRng)
        .unwrap();
    assert_eq!(
        open_reply(&key, &resp, false),
        json!({"body": {"snodes": []}, "status": 421})
    );

    let (wire, key) = seal(
        EncType::AesGcm,
        &pk,
        b"{}",
        json!({"headers": "", "json": "yes"}),
    );
    let err = IncomingLayer::from_wire(&wire)
        .unwrap()
        .peel(&sk)
        .unwrap_err();
    assert!(matches!(err, PeelError::InvalidJson(_)));
    assert_eq!(
        open_reply(&key, &err.into_response(&mut OsRng), true)["body"],
        "Invalid json"
    );
}

#[test]
fn proxy_layer_defaults_and_url() {
    let (sk, pk) = node();
    let (wire, _) = seal(
        EncType::AesGcm,
        &pk,
        b"v4",
        json!({"host": "example.org", "target": "/oxen/v4/lsrpc"}),
    );
    let Peeled::ProxyToServer(p) = IncomingLayer::from_wire(&wire).unwrap().peel(&sk).unwrap()
    else {
        panic!("not a proxy")
    };
    assert_eq!(
        (p.protocol, p.port, p.method.as_str()),
        (ServerProtocol::Https, 443, "POST")
    );
    assert_eq!(p.url(), "https://example.org/oxen/v4/lsrpc");
    // The payload is the whole plaintext, JSON included.
    let framed = CombinedPayload::try_from(p.payload.as_slice()).unwrap();
    assert_eq!(framed.blob(), b"v4");
    assert_eq!(framed.json()["host"], "example.org");

    for (protocol, port, url) in [
        ("http", 80, "http://h/loki/v3/lsrpc"),
        ("http", 8080, "http://h:8080/loki/v3/lsrpc"),
        ("https", 80, "https://h:80/loki/v3/lsrpc"),
    ] {
        let route = json!({"host": "h", "target": "/loki/v3/lsrpc", "protocol": protocol, "port": port, "method": "POST"});
        let (wire, _) = seal(EncType::XChaCha20, &pk, b"", route);
        let Peeled::ProxyToServer(p) = IncomingLayer::from_wire(&wire).unwrap().peel(&sk).unwrap()
        else {
            panic!("not a proxy")
        };
        assert_eq!(p.url(), url);
    }
}

#[test]
fn proxy_layer_bad_url_or_json() {
    let (sk, pk) = node();
    for (route, answer) in [
        (
            json!({"host": "h", "target": "/loki/v3/lsrpc?x=1"}),
            "Invalid url",
        ),
        (
            json!({"host": "h", "target": "/foo/v3/lsrpc"}),
            "Invalid url",
        ),
        (
            json!({"host": "h", "target": "/oxen/v4/lsrpc", "protocol": "ftp"}),
            "Invalid url",
        ),
        (json!({"host": "h"}), "Invalid json"),
        (
            json!({"host": 7, "target": "/oxen/v4/lsrpc"}),
            "Invalid json",
        ),
        (
            json!({"host": "h", "target": "/oxen/v4/lsrpc", "port": 70000}),
            "Invalid json",
        ),
        (
            json!({"host": "h", "target": "/oxen/v4/lsrpc", "port": "80"}),
            "Invalid json",
        ),
    ] {
        let (wire, key) = seal(EncType::AesGcm, &pk, b"", route.clone());
        let err = IncomingLayer::from_wire(&wire)
            .unwrap()
            .peel(&sk)
            .unwrap_err();
        assert_eq!(err.to_string(), answer, "{route}");
        let reply = open_reply(&key, &err.into_response(&mut OsRng), true);
        assert_eq!(reply, json!({"body": answer, "status": 400}));
    }
}

#[test]
fn relay_layer_and_omq_dict() {
    let (sk, pk) = node();
    let next_ed = SnodeEd25519::from_bytes([7; 32]);
    let eph = PublicKey::from([9; 32]);
    let route =
        json!({"destination": next_ed.to_hex(), "ephemeral_key": hex::encode(eph.as_bytes())});
    let (wire, _) = seal(EncType::XChaCha20, &pk, b"inner", route);
    let Peeled::Relay { destination, next } =
        IncomingLayer::from_wire(&wire).unwrap().peel(&sk).unwrap()
    else {
        panic!("not a relay")
    };
    assert_eq!(destination, next_ed);
    assert_eq!(
        (next.blob.as_slice(), next.enc_type, next.hop_no),
        (&b"inner"[..], EncType::AesGcm, 1)
    );
    assert_eq!(next.ephemeral_key, eph);

    let bt = next.to_bt();
    assert!(bt.starts_with(b"d4:data5:inner8:enc_type7:aes-gcm13:ephemeral_key32:"));
    assert!(bt.ends_with(b"6:hop_noi1ee"));
    let back = NextLayer::from_bt(&bt).unwrap();
    assert_eq!(
        (back.blob, back.hop_no, back.ephemeral_key),
        (next.blob.clone(), 1, eph)
    );

    let mut far = next.clone();
    far.hop_no = MAX_ONION_HOPS;
    assert_eq!(
        IncomingLayer::relayed(far.clone()).unwrap().hop_no(),
        MAX_ONION_HOPS
    );
    far.hop_no = MAX_ONION_HOPS + 1;
    let err = IncomingLayer::relayed(far).unwrap_err();
    let resp = err.into_response(&mut OsRng);
    assert_eq!(
        (resp.status, resp.body.as_slice()),
        (400, &b"onion request max path length exceeded"[..])
    );
    let mut zero = next;
    zero.hop_no = 0;
    assert_eq!(IncomingLayer::relayed(zero).unwrap().hop_no(), 1);
}

#[test]
fn relay_with_bad_fields_is_invalid_json() {
    let (sk, pk) = node();
    for route in [
        json!({"destination": "zz", "ephemeral_key": hex::encode([1u8; 32])}),
        json!({"destination": hex::encode([1u8; 32])}),
        json!({"destination": hex::encode([1u8; 32]), "ephemeral_key": hex::encode([1u8; 32]), "enc_type": "cbc"}),
        json!({}),
    ] {
        let (wire, _) = seal(EncType::AesGcm, &pk, b"", route);
        let err = IncomingLayer::from_wire(&wire)
            .unwrap()
            .peel(&sk)
            .unwrap_err();
        assert!(matches!(err, PeelError::InvalidJson(_)));
    }
}

#[test]
fn wrong_key_is_invalid_ciphertext_in_plain_text() {
    let (_, pk) = node();
    let (other, _) = node();
    let (wire, _) = seal(EncType::XChaCha20, &pk, b"", json!({"headers": ""}));
    let err = IncomingLayer::from_wire(&wire)
        .unwrap()
        .peel(&other)
        .unwrap_err();
    let resp = err.into_response(&mut OsRng);
    assert_eq!(
        (resp.status, resp.body.as_slice()),
        (400, &b"Invalid ciphertext"[..])
    );
}

#[test]
fn guard_wire_errors() {
    let k = hex::encode([5u8; 32]);
    for (json, what) in [
        (json!({}), "missing ephemeral_key"),
        (json!({"ephemeral_key": "abc"}), "invalid ephemeral_key"),
        (
            json!({"ephemeral_key": k, "enc_type": "rot13"}),
            "Invalid encryption type",
        ),
        (json!({"ephemeral_key": k, "hop_no": "1"}), "invalid hop_no"),
    ] {
        let Value::Object(map) = json else { panic!() };
        let wire = CombinedPayload::new(vec![1, 2], map).encode().unwrap();
        let resp = IncomingLayer::from_wire(&wire)
            .unwrap_err()
            .into_response(&mut OsRng);
        assert_eq!(resp.status, 400);
        assert_eq!(
            String::from_utf8(resp.body).unwrap(),
            format!("Error parsing onion request: {what}")
        );
    }
    let Value::Object(map) = json!({"ephemeral_key": k, "hop_no": -4}) else {
        panic!()
    };
    let wire = CombinedPayload::new(vec![], map).encode().unwrap();
    assert_eq!(IncomingLayer::from_wire(&wire).unwrap().hop_no(), 0);
}

#[test]
fn fixed_error_answers() {
    let r = NodeResponse::next_node_not_found(&SnodeEd25519::from_bytes([0xab; 32]));
    assert_eq!(r.status, 502);
    assert_eq!(
        r.body,
        format!("Next node not found: {}", "ab".repeat(32)).into_bytes()
    );
    assert_eq!(NodeResponse::request_time_out().status, 504);
}

proptest! {
    #[test]
    fn wire_junk_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = IncomingLayer::from_wire(&bytes);
        let _ = NextLayer::from_bt(&bytes);
    }

    #[test]
    fn peel_junk_never_panics(blob in proptest::collection::vec(any::<u8>(), 0..128), key in any::<[u8; 32]>(), xchacha in any::<bool>()) {
        let enc = if xchacha { EncType::XChaCha20 } else { EncType::AesGcm };
        let Value::Object(map) = json!({"ephemeral_key": hex::encode(key), "enc_type": enc.as_wire()}) else { panic!() };
        let wire = CombinedPayload::new(blob, map).encode().unwrap();
        let layer = IncomingLayer::from_wire(&wire).unwrap();
        prop_assert!(layer.peel(&StaticSecret::from([3u8; 32])).is_err());
    }

    /// Junk *inside* a validly encrypted layer: the node answers, never panics.
    #[test]
    fn decrypted_junk_never_panics(inner in proptest::collection::vec(any::<u8>(), 0..128)) {
        let (sk, pk) = node();
        let eph = StaticSecret::random_from_rng(OsRng);
        let key = SharedKey::client(EncType::AesGcm, &eph, &pk).unwrap();
        let blob = key.encrypt(&inner, &mut OsRng).unwrap();
        let Value::Object(map) = json!({"ephemeral_key": hex::encode(PublicKey::from(&eph).as_bytes())}) else { panic!() };
        let wire = CombinedPayload::new(blob, map).encode().unwrap();
        if let Err(e) = IncomingLayer::from_wire(&wire).unwrap().peel(&sk) {
            let _ = e.into_response(&mut OsRng);
        }
    }
}
