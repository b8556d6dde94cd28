//! Builder → peel → peel → peel → destination → reply round trips, in memory.

use proptest::prelude::*;
use rand::rngs::{OsRng, StdRng};
use rand::SeedableRng;
use serde_json::{json, Map, Value};
use x25519_dalek::{PublicKey, StaticSecret};

use super::*;

struct Node {
    secret: StaticSecret,
    keys: NodeKeys,
}

fn node(seed: u8) -> Node {
    let secret = StaticSecret::from([seed; 32]);
    let keys = NodeKeys {
        ed25519: SnodeEd25519::from_bytes([seed ^ 0x80; 32]),
        x25519: PublicKey::from(&secret),
    };
    Node { secret, keys }
}

fn path(nodes: &[Node; 3]) -> OnionPath {
    OnionPath::new(nodes[0].keys, nodes[1].keys, nodes[2].keys).unwrap()
}

/// Peels the guard and both relays (checking each relay names the next path node) and returns
/// what the last relay found.
fn peel_path(wire: &WireRequest, nodes: &[Node; 3]) -> Peeled {
    assert_eq!(wire.guard, nodes[0].keys.ed25519);
    let mut layer = IncomingLayer::from_wire(&wire.body).unwrap();
    for (i, pair) in nodes.windows(2).enumerate() {
        let Peeled::Relay { destination, next } = layer.peel(&pair[0].secret).unwrap() else {
            panic!("hop {i} is not a relay")
        };
        assert_eq!(destination, pair[1].keys.ed25519);
        layer = IncomingLayer::relayed(NextLayer::from_bt(&next.to_bt()).unwrap()).unwrap();
    }
    layer.peel(&nodes[2].secret).unwrap()
}

fn snode_round_trip(enc: EncType, rpc: &[u8], rng: &mut StdRng) {
    let nodes = [node(1), node(2), node(3)];
    let dest = node(4);
    let (wire, pending) = build_snode_request(&path(&nodes), &dest.keys, rpc, enc, rng).unwrap();

    // The last relay hands the destination layer on; the destination peels it.
    let guard = IncomingLayer::from_wire(&wire.body).unwrap();
    let mut layer = guard;
    for (i, n) in nodes.iter().enumerate() {
        let Peeled::Relay { destination, next } = layer.peel(&n.secret).unwrap() else {
            panic!("hop {i} is not a relay")
        };
        let want = nodes
            .get(i + 1)
            .map_or(dest.keys.ed25519, |m| m.keys.ed25519);
        assert_eq!(destination, want);
        assert_eq!(next.enc_type, enc);
        layer = IncomingLayer::relayed(NextLayer::from_bt(&next.to_bt()).unwrap()).unwrap();
    }
    assert_eq!(layer.hop_no(), 3);
    let Peeled::Destination {
        rpc_body,
        reply,
        json,
        base64,
    } = layer.peel(&dest.secret).unwrap()
    else {
        panic!("not a destination")
    };
    assert_eq!(rpc_body, rpc);
    assert!(!json && base64);
    let answer = json!({"results": [{"code": 200, "body": {"hf": [19, 3]}}]});
    let resp = reply
        .encrypt(200, ReplyBody::Json(answer.clone()), rng)
        .unwrap();
    let got = pending.decode(resp.status, &resp.body).unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(serde_json::from_str::<Value>(&got.body).unwrap(), answer);
}

#[test]
fn snode_request_round_trip_both_ciphers() {
    let mut rng = StdRng::seed_from_u64(7);
    for enc in [EncType::AesGcm, EncType::XChaCha20] {
        snode_round_trip(enc, br#"{"method":"info","params":{}}"#, &mut rng);
    }
}

#[test]
fn wire_and_layer_json_shapes() {
    let mut rng = StdRng::seed_from_u64(8);
    let nodes = [node(1), node(2), node(3)];
    let dest = node(4);
    let (wire, _) = build_snode_request(
        &path(&nodes),
        &dest.keys,
        b"{}",
        EncType::XChaCha20,
        &mut rng,
    )
    .unwrap();
    let outer = CombinedPayload::try_from(wire.body.as_slice()).unwrap();
    let keys: Vec<_> = outer.json().keys().cloned().collect();
    assert_eq!(keys, ["enc_type", "ephemeral_key"]);
    assert_eq!(outer.json()["enc_type"], "xchacha20");

    // The guard's plaintext routes to R1 with sorted keys, as libsession writes them.
    let eph = PublicKey::from(
        <[u8; 32]>::try_from(hex::decode(outer.json()["ephemeral_key"].as_str().unwrap()).unwrap())
            .unwrap(),
    );
    let key = SharedKey::recipient(EncType::XChaCha20, &nodes[0].secret, &eph).unwrap();
    let plain = key.decrypt(outer.blob()).unwrap();
    let inner = CombinedPayload::try_from(plain.as_slice()).unwrap();
    let keys: Vec<_> = inner.json().keys().cloned().collect();
    assert_eq!(keys, ["destination", "enc_type", "ephemeral_key"]);
    assert_eq!(inner.json()["destination"], nodes[1].keys.ed25519.to_hex());
}

#[test]
fn server_request_round_trip_both_ciphers() {
    let mut rng = StdRng::seed_from_u64(9);
    for enc in [EncType::AesGcm, EncType::XChaCha20] {
        let nodes = [node(1), node(2), node(3)];
        let server_secret = StaticSecret::from([42u8; 32]);
        let server = ServerTarget {
            host: "127.0.0.1".into(),
            protocol: ServerProtocol::Http,
            port: 8080,
            x25519: PublicKey::from(&server_secret),
        };
        let request = V4Request {
            method: "POST".into(),
            endpoint: "/file".into(),
            headers: Map::new(),
            body: Some(vec![0, 1, 2, 255]),
        };
        let (wire, pending) =
            build_server_request(&path(&nodes), &server, &request, enc, &mut rng).unwrap();

        let Peeled::ProxyToServer(proxy) = peel_path(&wire, &nodes) else {
            panic!("last relay does not proxy")
        };
        assert_eq!(proxy.url(), "http://127.0.0.1:8080/oxen/v4/lsrpc");
        assert_eq!(
            (proxy.method.as_str(), proxy.target.as_str()),
            ("POST", V4_TARGET)
        );

        // The file server's side.
        let (got, replier) = V4Inbound::parse(&proxy.payload)
            .unwrap()
            .open(&server_secret)
            .unwrap();
        assert_eq!(
            (
                got.method.as_str(),
                got.endpoint.as_str(),
                got.body.as_deref()
            ),
            ("POST", "/file", request.body.as_deref())
        );
        assert_eq!(got.headers["Content-Type"], "application/json");
        let mut headers = Map::new();
        headers.insert("content-type".into(), json!("application/json"));
        let response = V4Response {
            code: 200,
            headers,
            body: Some(br#"{"id":"abc","expires":1.5}"#.to_vec()),
        };
        let ct = replier.encrypt(&response, &mut rng).unwrap();
        assert_eq!(pending.decode(200, &ct).unwrap(), response);
    }
}

#[test]
fn xchacha_reply_falls_back_to_aes_gcm() {
    // libsession: a server that cannot do xchacha20 answers with AES-GCM on the same S.
    let mut rng = StdRng::seed_from_u64(10);
    let nodes = [node(1), node(2), node(3)];
    let server_secret = StaticSecret::from([43u8; 32]);
    let server = ServerTarget {
        host: "h".into(),
        protocol: ServerProtocol::Https,
        port: 443,
        x25519: PublicKey::from(&server_secret),
    };
    let req = V4Request {
        method: "GET".into(),
        endpoint: "/x".into(),
        headers: Map::new(),
        body: None,
    };
    let (wire, pending) =
        build_server_request(&path(&nodes), &server, &req, EncType::XChaCha20, &mut rng).unwrap();
    let Peeled::ProxyToServer(proxy) = peel_path(&wire, &nodes) else {
        panic!()
    };
    let route = CombinedPayload::try_from(proxy.payload.as_slice()).unwrap();
    let eph = PublicKey::from(
        <[u8; 32]>::try_from(hex::decode(route.json()["ephemeral_key"].as_str().unwrap()).unwrap())
            .unwrap(),
    );
    let gcm = SharedKey::recipient(EncType::AesGcm, &server_secret, &eph).unwrap();
    let response = V4Response {
        code: 400,
        headers: Map::new(),
        body: None,
    };
    let ct = gcm.encrypt(&response.encode(), &mut rng).unwrap();
    assert_eq!(pending.decode(200, &ct).unwrap(), response);
}

#[test]
fn path_errors_come_back_typed() {
    let mut rng = StdRng::seed_from_u64(11);
    let nodes = [node(1), node(2), node(3)];
    let dest = node(4);
    let (_, pending) =
        build_snode_request(&path(&nodes), &dest.keys, b"{}", EncType::AesGcm, &mut rng).unwrap();
    let resp = NodeResponse::next_node_not_found(&dest.keys.ed25519);
    assert_eq!(
        pending.decode(resp.status, &resp.body).unwrap_err(),
        ReplyError::NextNodeNotFound {
            status: 502,
            node: dest.keys.ed25519
        }
    );
}

#[test]
fn builder_refuses_bad_paths() {
    let (a, b, c, d) = (node(1), node(2), node(3), node(4));
    assert!(matches!(
        OnionPath::new(a.keys, b.keys, a.keys),
        Err(BuildError::RepeatedNode(_))
    ));
    assert!(matches!(
        OnionPath::new(a.keys, b.keys, b.keys),
        Err(BuildError::RepeatedNode(_))
    ));
    let p = OnionPath::new(a.keys, b.keys, c.keys).unwrap();
    let err = build_snode_request(&p, &b.keys, b"{}", EncType::AesGcm, &mut OsRng).unwrap_err();
    assert_eq!(err, BuildError::DestinationOnPath(b.keys.ed25519));
    let weak = NodeKeys {
        ed25519: d.keys.ed25519,
        x25519: PublicKey::from([0u8; 32]),
    };
    let err = build_snode_request(&p, &weak, b"{}", EncType::AesGcm, &mut OsRng).unwrap_err();
    assert_eq!(err, BuildError::Hop(HopError::WeakKey));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn round_trips_any_body(rpc in proptest::collection::vec(any::<u8>(), 0..512), xchacha in any::<bool>(), seed in any::<u64>()) {
        let enc = if xchacha { EncType::XChaCha20 } else { EncType::AesGcm };
        snode_round_trip(enc, &rpc, &mut StdRng::seed_from_u64(seed));
    }

    /// One flipped byte anywhere in the wire body: some node refuses it with an answer, never a
    /// panic, and nothing reaches the destination changed.
    #[test]
    fn tampering_is_caught(pos in any::<prop::sample::Index>(), bit in 0u8..8, seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let nodes = [node(1), node(2), node(3)];
        let dest = node(4);
        let rpc = br#"{"method":"info","params":{}}"#;
        let (mut wire, _) = build_snode_request(&path(&nodes), &dest.keys, rpc, EncType::AesGcm, &mut rng).unwrap();
        let i = pos.index(wire.body.len());
        wire.body[i] ^= 1 << bit;
        let Ok(mut layer) = IncomingLayer::from_wire(&wire.body) else { return Ok(()) };
        for n in nodes.iter().chain([&dest]) {
            match layer.peel(&n.secret) {
                Ok(Peeled::Relay { next, .. }) => layer = IncomingLayer::relayed(next).unwrap(),
                Ok(Peeled::Destination { rpc_body, .. }) => { prop_assert_eq!(rpc_body, rpc); return Ok(()); }
                Ok(Peeled::ProxyToServer(_)) => return Err(TestCaseError::fail("became a proxy")),
                Err(e) => { let _ = e.into_response(&mut rng); return Ok(()); }
            }
        }
        prop_assert!(false, "the destination relayed");
    }
}
