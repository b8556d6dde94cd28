//! Throughput of the content layer (padding, namespace-0 wrapper, attachment and avatar crypto).
//! Prints figures; not a pass/fail test.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::SeedableRng;
use session_gateway::protocol::attachment::{
    decrypt_attachment, decrypt_avatar, encrypt_attachment, encrypt_avatar, ProfileKey,
};
use session_gateway::protocol::envelope::{
    decode_dm_payload, encode_dm_payload, parse_content, OutgoingContent, ProSig,
};
use session_gateway::protocol::protos::{Content, DataMessage};

fn content_layer(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let content = Content {
        data_message: Some(DataMessage {
            body: Some("x".repeat(500)),
            ..Default::default()
        }),
        ..Default::default()
    };
    c.bench_function("outgoing_content 500B body", |b| {
        b.iter(|| OutgoingContent::new(content.clone(), 1_700_000_000_000))
    });
    let sealed = vec![7u8; 800];
    let sig = ProSig::decoy(&mut rng);
    c.bench_function("encode_dm_payload 800B", |b| {
        b.iter(|| encode_dm_payload(&sealed, 1_700_000_000_000, &sig))
    });
    let payload = encode_dm_payload(&sealed, 1_700_000_000_000, &sig);
    c.bench_function("decode_dm_payload 800B", |b| {
        b.iter(|| decode_dm_payload(&payload))
    });
    let padded = OutgoingContent::new(content.clone(), 1).padded().to_vec();
    c.bench_function("parse_content 500B body", |b| {
        b.iter(|| parse_content(&padded, 1))
    });
    c.bench_function("proSig decoy", |b| b.iter(|| ProSig::decoy(&mut rng)));
}

fn attachments(c: &mut Criterion) {
    let mut group = c.benchmark_group("attachment 1 MB");
    let data = vec![0x42u8; 1_000_000];
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(20);
    let mut rng = StdRng::seed_from_u64(2);
    group.bench_function("legacy encrypt", |b| {
        b.iter_batched(
            || StdRng::seed_from_u64(3),
            |mut r| encrypt_attachment(&data, &mut r),
            BatchSize::SmallInput,
        )
    });
    let Ok(e) = encrypt_attachment(&data, &mut rng) else {
        panic!("1 MB is within the attachment limit");
    };
    group.bench_function("legacy decrypt", |b| {
        b.iter(|| decrypt_attachment(&e.blob, &e.key, &e.digest, Some(e.size)))
    });
    let key = ProfileKey::random(&mut rng);
    let Ok(blob) = encrypt_avatar(&data, &key, &mut rng) else {
        panic!("AES-GCM takes 1 MB");
    };
    group.bench_function("avatar decrypt", |b| b.iter(|| decrypt_avatar(&blob, &key)));
    group.finish();
}

criterion_group!(benches, content_layer, attachments);
criterion_main!(benches);
