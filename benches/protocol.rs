//! Figures for the wire layer: the whole 1:1 send and receive pipeline (Content → padded →
//! signed and sealed → Envelope → WebSocketMessage, and back), onion request building over 3
//! hops, one node's peel, the storage message hash, and one check of a node's signed store
//! confirmation (a store used to check every swarm member's; now the first that verifies, see
//! `network::ops::accept_store`). Run with `cargo bench --bench protocol`.
//! Prints figures; not a pass/fail test.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rand::rngs::StdRng;
use rand::SeedableRng;
use session_gateway::protocol::dm;
use session_gateway::protocol::envelope::{
    decode_dm_payload, parse_content, OutgoingContent, ProSig,
};
use session_gateway::protocol::keys::{Identity, Seed};
use session_gateway::protocol::onion::{
    build_snode_request, EncType, IncomingLayer, NodeKeys, OnionPath, SnodeEd25519,
};
use session_gateway::protocol::protos::{Content, DataMessage};
use session_gateway::protocol::storage::{message_hash, AccountId, Namespace};
use x25519_dalek::{PublicKey, StaticSecret};

fn text_content(text: &str) -> Content {
    Content {
        data_message: Some(DataMessage {
            body: Some(text.to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(seed: u8) -> (StaticSecret, NodeKeys) {
    let secret = StaticSecret::from([seed; 32]);
    let keys = NodeKeys {
        ed25519: SnodeEd25519::from_bytes([seed ^ 0x80; 32]),
        x25519: PublicKey::from(&secret),
    };
    (secret, keys)
}

fn message_pipeline(c: &mut Criterion) {
    let alice = Identity::from_seed(Seed::from_entropy(&[1; 16]));
    let bob = Identity::from_seed(Seed::from_entropy(&[2; 16]));
    let mut rng = StdRng::seed_from_u64(1);
    let text = "a typical bot message of about a hundred characters, with some text to pad it out.";
    let timestamp = 1_795_000_000_000;

    let encrypt = |rng: &mut StdRng| {
        let pro_sig = ProSig::decoy(rng);
        OutgoingContent::new(text_content(text), timestamp).seal(&pro_sig, |padded| {
            dm::encrypt_for_recipient(&alice, &bob.x25519_public(), padded, rng)
        })
    };
    let payload = encrypt(&mut rng).unwrap_or_else(|e| panic!("bench payload: {e}"));

    c.bench_function("message_encrypt_dm_payload", |b| {
        b.iter(|| encrypt(&mut rng))
    });
    c.bench_function("message_decrypt_dm_payload", |b| {
        b.iter(|| {
            let envelope = decode_dm_payload(&payload).ok()?;
            let opened = dm::decrypt_incoming(&bob, envelope.content_ciphertext()).ok()?;
            parse_content(&opened.plaintext, envelope.timestamp_ms()).ok()
        })
    });
}

fn onion(c: &mut Criterion) {
    let (guard_secret, guard) = node(1);
    let (_, r1) = node(2);
    let (_, r2) = node(3);
    let (_, destination) = node(4);
    let path = OnionPath::new(guard, r1, r2).unwrap_or_else(|e| panic!("bench path: {e}"));
    let rpc = br#"{"method":"retrieve","params":{"pubkey":"05aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","namespace":0,"last_hash":"","timestamp":1795000000000,"signature":"x"}}"#;
    let mut rng = StdRng::seed_from_u64(2);
    for enc in [EncType::AesGcm, EncType::XChaCha20] {
        let name = enc.as_wire();
        c.bench_function(&format!("onion_build_3_hops_{name}"), |b| {
            b.iter(|| build_snode_request(&path, &destination, rpc, enc, &mut rng))
        });
        let (wire, _pending) = build_snode_request(&path, &destination, rpc, enc, &mut rng)
            .unwrap_or_else(|e| panic!("bench onion request: {e}"));
        c.bench_function(&format!("onion_peel_one_layer_{name}"), |b| {
            b.iter_batched(
                || wire.body.clone(),
                |body| IncomingLayer::from_wire(&body).and_then(|l| l.peel(&guard_secret)),
                BatchSize::SmallInput,
            )
        });
    }
}

fn hash(c: &mut Criterion) {
    let account: AccountId = format!("05{}", "ab".repeat(32))
        .parse()
        .unwrap_or_else(|e| panic!("bench account id: {e}"));
    let data = vec![7u8; 1024];
    c.bench_function("message_hash_1KiB", |b| {
        b.iter(|| message_hash(&account, Namespace(0), &data))
    });
}

fn store_confirmation(c: &mut Criterion) {
    use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
    use session_gateway::protocol::storage::response::{encode_signature, verify_node_signature};
    let node = SigningKey::from_bytes(&[9; 32]);
    let key = node.verifying_key().to_bytes();
    let message = b"a store confirmation: the message hash";
    let signature = encode_signature(&node.sign(message));
    // What checking one member's entry costs: its key decompressed, then the signature.
    c.bench_function("store_confirmation_check", |b| {
        b.iter(|| {
            VerifyingKey::from_bytes(&key)
                .is_ok_and(|vk| verify_node_signature(&vk, message, &signature))
        })
    });
}

criterion_group!(benches, message_pipeline, onion, hash, store_confirmation);
criterion_main!(benches);
