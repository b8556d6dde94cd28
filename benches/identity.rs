//! Figures for the identity layer: key derivation, phrase parsing, 1:1 encryption and decryption,
//! blinding. Run with `cargo bench --bench identity`. Prints figures; not a pass/fail test.

use criterion::{criterion_group, criterion_main, Criterion};
use rand::SeedableRng;
use session_gateway::protocol::keys::{Identity, Seed, X25519PublicKey};
use session_gateway::protocol::{blinding, dm};

fn benches(c: &mut Criterion) {
    let alice = Identity::from_seed(Seed::from_entropy(&[1; 16]));
    let bob = Identity::from_seed(Seed::from_bytes([2; 32]));
    let server = X25519PublicKey::from_bytes([3; 32]);
    let phrase = alice
        .recovery_phrase()
        .map(|p| p.expose_secret().to_owned());
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let message = vec![0x42u8; 160];
    let sealed = dm::encrypt_for_recipient(&alice, &bob.x25519_public(), &message, &mut rng)
        .unwrap_or_default();

    c.bench_function("identity_from_seed", |b| {
        b.iter(|| Identity::from_seed(Seed::from_bytes([1; 32])))
    });
    if let Some(phrase) = phrase {
        c.bench_function("identity_from_phrase", |b| {
            b.iter(|| Identity::from_phrase(&phrase))
        });
    }
    c.bench_function("dm_encrypt_160B", |b| {
        b.iter(|| dm::encrypt_for_recipient(&alice, &bob.x25519_public(), &message, &mut rng))
    });
    c.bench_function("dm_decrypt_160B", |b| {
        b.iter(|| dm::decrypt_incoming(&bob, &sealed))
    });
    c.bench_function("blind15_sign", |b| {
        b.iter(|| blinding::blind15_sign(&alice, &server, &message))
    });
    c.bench_function("blind15_ids_from_session_id", |b| {
        b.iter(|| blinding::blind15_ids(&bob.session_id(), &server))
    });
}

criterion_group!(group, benches);
criterion_main!(group);
