//! A node peeling an onion layer, and a v4 server opening its request (`network.md` §5.2-§5.5):
//! the framing, the route JSON, the relayed OMQ dict and the v4 bencoded request, all of which
//! come from whoever connects.
//!
//! Input: one mode byte, then the bytes. Modes (low 3 bits; bit 7 picks the cipher):
//! * 0: a raw `/onion_req/v2` body: parse, then peel with the node's key.
//! * 1: the bytes are a layer's *plaintext*; the target encrypts and frames them as a client
//!   would, so the peel must decrypt and then classify the JSON. A destination layer's reply
//!   must decode at the client to exactly what the node sent.
//! * 2: a combined payload (`u32le N ‖ blob ‖ JSON`): parse, encode → parse round trip.
//! * 3: a relayed `sn.onion_request` bt dict: parse, encode → parse → encode is stable.
//! * 4: a raw v4 server POST body: parse and open with the server's key.
//! * 5: the bytes are a v4 request's *plaintext*: encrypted and framed, opened by the server
//!   (must decrypt, and must equal parsing the plaintext); the server's answer must decode at
//!   the client.
//! * 6: a bencoded v4 request: parse, encode → parse round trip; and the URL target filter.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use session_gateway::protocol::onion::{
    is_onion_url_target_allowed, CombinedPayload, EncType, IncomingLayer, NextLayer, PeelError,
    Peeled, PendingServerReply, PendingSnodeReply, ReplyBody, SharedKey, V4Inbound, V4Request,
    V4Response,
};
use x25519_dalek::{PublicKey, StaticSecret};

/// The client's layer secret and the node's (or server's) key pair, fixed for the run.
struct Keys {
    ephemeral: StaticSecret,
    ephemeral_hex: String,
    node_secret: StaticSecret,
    node_public: PublicKey,
    /// The client's side of the layer key, per cipher (AES-GCM, XChaCha20).
    client_side: [SharedKey; 2],
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ephemeral = StaticSecret::from([0x33; 32]);
        let node_secret = StaticSecret::from([0x44; 32]);
        let node_public = PublicKey::from(&node_secret);
        let side = |enc| SharedKey::client(enc, &ephemeral, &node_public).expect("fixed keys");
        Keys {
            client_side: [side(EncType::AesGcm), side(EncType::XChaCha20)],
            ephemeral_hex: hex(PublicKey::from(&ephemeral).as_bytes()),
            ephemeral,
            node_secret,
            node_public,
        }
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `u32le N ‖ Enc(plaintext) ‖ {"enc_type","ephemeral_key"}`: what a client sends a node.
fn client_frame(enc: EncType, plaintext: &[u8]) -> Vec<u8> {
    let k = keys();
    let blob = k.client_side[usize::from(enc == EncType::XChaCha20)]
        .encrypt(plaintext, &mut common::rng())
        .expect("encrypts");
    let mut route = Map::new();
    route.insert("enc_type".into(), Value::from(enc.as_wire()));
    route.insert("ephemeral_key".into(), Value::from(k.ephemeral_hex.clone()));
    CombinedPayload::new(blob, route).encode().expect("frames")
}

fn peel_own_layer(enc: EncType, plaintext: &[u8]) {
    let layer = IncomingLayer::from_wire(&client_frame(enc, plaintext)).expect("our own frame");
    match layer.peel(&keys().node_secret) {
        Ok(Peeled::Destination { reply, base64, .. }) => {
            let body = String::from_utf8_lossy(plaintext).into_owned();
            let answer = reply
                .encrypt(200, ReplyBody::Text(body.clone()), &mut common::rng())
                .expect("encrypts");
            if base64 {
                let k = keys();
                let got = PendingSnodeReply::new(k.ephemeral.clone(), k.node_public, enc)
                    .decode(answer.status, &answer.body)
                    .expect("the client opens the node's reply");
                assert_eq!((got.status, got.body), (200, body));
            }
        }
        Ok(Peeled::Relay { next, .. }) => {
            let again = NextLayer::from_bt(&next.to_bt()).expect("our own bt dict");
            assert_eq!(again.to_bt(), next.to_bt());
            let _ = IncomingLayer::relayed(again);
        }
        Ok(Peeled::ProxyToServer(proxy)) => {
            assert!(is_onion_url_target_allowed(&proxy.target));
            let _ = proxy.url();
        }
        Err(PeelError::InvalidJson(_) | PeelError::InvalidUrl(_)) => {}
        Err(e) => panic!("our own layer did not open: {e:?}"),
    }
}

fn open_own_v4(enc: EncType, plaintext: &[u8]) {
    let k = keys();
    let inbound = V4Inbound::parse(&client_frame(enc, plaintext)).expect("our own frame");
    match inbound.open(&k.node_secret) {
        Ok((request, reply)) => {
            assert_eq!(V4Request::parse(plaintext).as_ref(), Ok(&request));
            let response = V4Response {
                code: 200,
                headers: request.headers.clone(),
                body: request.body.clone(),
            };
            let sealed = reply
                .encrypt(&response, &mut common::rng())
                .expect("encrypts");
            let got = PendingServerReply::new(k.ephemeral.clone(), k.node_public, enc)
                .decode(200, &sealed)
                .expect("the client opens the server's reply");
            assert_eq!(got, response);
        }
        Err(e) => assert_eq!(V4Request::parse(plaintext).err(), Some(e)),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = common::mode(data) else {
        return;
    };
    let enc = if mode & 0x80 == 0 {
        EncType::AesGcm
    } else {
        EncType::XChaCha20
    };
    match mode & 0x07 {
        0 => {
            if let Ok(layer) = IncomingLayer::from_wire(rest) {
                let _ = layer
                    .peel(&keys().node_secret)
                    .map_err(|e| e.into_response(&mut common::rng()));
            }
        }
        1 => peel_own_layer(enc, rest),
        2 => {
            if let Ok(payload) = CombinedPayload::try_from(rest) {
                let encoded = payload.encode().expect("fits");
                assert_eq!(CombinedPayload::try_from(encoded.as_slice()), Ok(payload));
            }
        }
        3 => {
            if let Ok(next) = NextLayer::from_bt(rest) {
                let once = next.to_bt();
                let again = NextLayer::from_bt(&once).expect("our own bt dict");
                assert_eq!(again.to_bt(), once);
            }
        }
        4 => {
            if let Ok(inbound) = V4Inbound::parse(rest) {
                let _ = inbound.open(&keys().node_secret);
            }
        }
        5 => open_own_v4(enc, rest),
        6 => {
            if let Ok(request) = V4Request::parse(rest) {
                assert_eq!(V4Request::parse(&request.encode()), Ok(request));
            }
            if let Some(target) = common::text(rest) {
                let _ = is_onion_url_target_allowed(target);
            }
        }
        _ => {}
    }
});
