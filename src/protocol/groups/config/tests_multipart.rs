//! Multipart configs (§1.7): round trips through the assembler and the pull pipeline, and
//! junk. libsession's tests hold no fixed multipart bytes (`test_config_contacts.cpp` checks
//! only sizes: 76 800 + 35 980), so these build parts by the §1.7 layout.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};

use super::multipart::{MultipartAssembler, MAX_PENDING_SETS};
use super::*;
use crate::protocol::bencode::BtValue;
use crate::protocol::groups::config_encrypt::encrypt_config;

const KEY: [u8; 32] = [7; 32];

fn config_bytes() -> Vec<u8> {
    // A bencoded dict large enough to need several chunks.
    let mut d = std::collections::BTreeMap::new();
    d.insert(b"#".to_vec(), BtValue::Int(3));
    d.insert(b"x".to_vec(), BtValue::Bytes(vec![b'q'; 3000]));
    BtValue::Dict(d).encode()
}

fn part_bytes(hash: &[u8], index: &[u8], count: &[u8], chunk: &[u8]) -> Vec<u8> {
    let mut out = vec![b'm'];
    out.extend(
        BtValue::List(vec![
            BtValue::Bytes(hash.to_vec()),
            BtValue::Bytes(index.to_vec()),
            BtValue::Bytes(count.to_vec()),
            BtValue::Bytes(chunk.to_vec()),
        ])
        .encode(),
    );
    out
}

/// Splits `whole` (padded, maybe compressed) into `n` parts.
fn split(whole: &[u8], n: usize) -> Vec<MultipartPart> {
    let hash: [u8; 32] = Blake2b::<U32>::digest(whole).into();
    let size = whole.len().div_ceil(n);
    whole
        .chunks(size)
        .enumerate()
        .map(|(i, c)| MultipartPart::parse(&part_bytes(&hash, &[i as u8], &[n as u8], c)).unwrap())
        .collect()
}

fn padded(body: &[u8]) -> Vec<u8> {
    let mut whole = vec![0u8; 37];
    whole.extend_from_slice(body);
    whole
}

#[test]
fn uncompressed_set_out_of_order_with_duplicates() {
    let msg = config_bytes();
    let parts = split(&padded(&msg), 3);
    let mut a = MultipartAssembler::new();
    assert_eq!(a.add(parts[2].clone(), 0, 100), Ok(MultipartOutcome::Part));
    assert_eq!(a.add(parts[0].clone(), 10, 100), Ok(MultipartOutcome::Part));
    assert_eq!(a.add(parts[0].clone(), 20, 100), Ok(MultipartOutcome::Part));
    assert_eq!(
        a.add(parts[1].clone(), 30, 100),
        Ok(MultipartOutcome::Complete(msg))
    );
    // A late duplicate of a completed set is ignored, not a new set.
    assert_eq!(a.add(parts[1].clone(), 40, 100), Ok(MultipartOutcome::Part));
    a.expire(1000);
    assert_eq!(a.pending_sets(), 0);
}

#[test]
fn compressed_set() {
    let msg = config_bytes();
    let mut body = vec![b'z'];
    body.extend(zstd::bulk::compress(&msg, 1).unwrap());
    let parts = split(&padded(&body), 2);
    let mut a = MultipartAssembler::new();
    assert_eq!(a.add(parts[0].clone(), 0, 100), Ok(MultipartOutcome::Part));
    assert_eq!(
        a.add(parts[1].clone(), 0, 100),
        Ok(MultipartOutcome::Complete(msg))
    );
}

#[test]
fn expired_set_starts_over() {
    let parts = split(&padded(&config_bytes()), 2);
    let mut a = MultipartAssembler::new();
    assert_eq!(a.add(parts[0].clone(), 0, 100), Ok(MultipartOutcome::Part));
    assert_eq!(
        a.add(parts[1].clone(), 201, 100),
        Ok(MultipartOutcome::Part)
    );
    assert_eq!(a.pending_sets(), 1);
}

#[test]
fn bad_sets_are_refused() {
    let msg = config_bytes();
    let mut parts = split(&padded(&msg), 2);
    parts[1].chunk[0] ^= 1;
    let mut a = MultipartAssembler::new();
    a.add(parts[0].clone(), 0, 100).unwrap();
    assert_eq!(
        a.add(parts[1].clone(), 0, 100),
        Err(MultipartError::HashMismatch.into())
    );

    // Count differing from the first part of the set.
    let parts = split(&padded(&msg), 3);
    let mut other = parts[1].clone();
    other.count = 4;
    let mut a = MultipartAssembler::new();
    a.add(parts[0].clone(), 0, 100).unwrap();
    assert_eq!(
        a.add(other, 0, 100),
        Err(MultipartError::CountMismatch {
            expected: 3,
            got: 4
        }
        .into())
    );

    // Reassembles fine but is not a config: not 'd', or a bad zstd frame, or only padding.
    for body in [&b"xyz"[..], b"zjunk"] {
        let parts = split(&padded(body), 2);
        let mut a = MultipartAssembler::new();
        a.add(parts[0].clone(), 0, 100).unwrap();
        assert!(a.add(parts[1].clone(), 0, 100).is_err());
    }
    let parts = split(&[0u8; 10], 2);
    let mut a = MultipartAssembler::new();
    a.add(parts[0].clone(), 0, 100).unwrap();
    assert_eq!(
        a.add(parts[1].clone(), 0, 100),
        Err(ConfigTransportError::Empty)
    );
}

#[test]
fn pending_sets_are_capped() {
    let mut a = MultipartAssembler::new();
    for i in 0..=MAX_PENDING_SETS {
        let part = MultipartPart {
            final_hash: [i as u8; 32],
            index: 0,
            count: 2,
            chunk: vec![1],
        };
        let got = a.add(part, 0, 100);
        if i < MAX_PENDING_SETS {
            assert_eq!(got, Ok(MultipartOutcome::Part));
        } else {
            assert_eq!(got, Err(MultipartError::TooManySets.into()));
        }
    }
    // Once they expire there is room again.
    let part = MultipartPart {
        final_hash: [0xff; 32],
        index: 0,
        count: 2,
        chunk: vec![1],
    };
    assert_eq!(a.add(part, 500, 100), Ok(MultipartOutcome::Part));
    assert_eq!(a.pending_sets(), 1);
}

#[test]
fn parse_rejects_malformed_parts() {
    let h = [1u8; 32];
    assert!(MultipartPart::parse(&part_bytes(&h, &[0], &[2], b"x")).is_ok());
    let bad: Vec<Vec<u8>> = vec![
        vec![],
        b"m".to_vec(),
        b"mle".to_vec(),
        b"d1:#i1ee".to_vec(),
        part_bytes(&h[..31], &[0], &[2], b"x"),
        part_bytes(&h, &[0, 0], &[2], b"x"),
        part_bytes(&h, &[0], &[], b"x"),
        part_bytes(&h, &[0], &[2], b""),
        [part_bytes(&h, &[0], &[2], b"x"), b"0:".to_vec()].concat(),
    ];
    for b in &bad {
        assert_eq!(
            MultipartPart::parse(b),
            Err(MultipartError::Malformed),
            "{b:?}"
        );
    }
    // A fifth list element.
    let mut five = b"ml".to_vec();
    for item in [&h[..], &[0], &[2], b"x", b"y"] {
        five.extend(BtValue::Bytes(item.to_vec()).encode());
    }
    five.push(b'e');
    assert_eq!(MultipartPart::parse(&five), Err(MultipartError::Malformed));
    for (index, count) in [(0u8, 1u8), (0, 0), (2, 2), (5, 3)] {
        assert_eq!(
            MultipartPart::parse(&part_bytes(&h, &[index], &[count], b"x")),
            Err(MultipartError::Numbering { index, count })
        );
    }
}

#[test]
fn pull_pipeline_assembles_encrypted_parts() {
    let msg = config_bytes();
    let whole = padded(&msg);
    let hash: [u8; 32] = Blake2b::<U32>::digest(&whole).into();
    let sealed: Vec<Vec<u8>> = whole
        .chunks(whole.len().div_ceil(2))
        .enumerate()
        .map(|(i, c)| {
            let mut plain = vec![0u8; 5];
            plain.extend(part_bytes(&hash, &[i as u8], &[2], c));
            encrypt_config(&plain, &KEY, ConfigKind::Contacts.domain()).unwrap()
        })
        .collect();
    let kind = ConfigKind::Contacts;
    assert_eq!(
        open_config(&sealed[0], &[KEY], kind),
        Err(ConfigTransportError::Multipart)
    );
    let mut a = MultipartAssembler::new();
    let keys = [[1u8; 32], KEY];
    assert_eq!(
        open_config_part(&sealed[1], &keys, kind, &mut a, 0, 100),
        Ok(OpenedConfig::Part)
    );
    assert_eq!(
        open_config_part(&sealed[0], &keys, kind, &mut a, 1, 100),
        Ok(OpenedConfig::Complete(msg.clone()))
    );
    // A single-part message still opens as before.
    let mut plain = vec![0u8; 3];
    plain.extend_from_slice(&msg);
    let single = encrypt_config(&plain, &KEY, kind.domain()).unwrap();
    assert_eq!(
        open_config_part(&single, &keys, kind, &mut a, 2, 100),
        Ok(OpenedConfig::Single(msg))
    );
    // A malformed part is a typed error.
    let bad = encrypt_config(b"mle", &KEY, kind.domain()).unwrap();
    assert_eq!(
        open_config_part(&bad, &keys, kind, &mut a, 3, 100),
        Err(MultipartError::Malformed.into())
    );
}

#[test]
fn junk_parts_never_panic() {
    let mut seed = 0x1234_5678_u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let mut a = MultipartAssembler::new();
    let h = [3u8; 32];
    for round in 0..2000u64 {
        let len = (next() % 64) as usize;
        let mut junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 2 == 0 {
            junk = part_bytes(&h, &[next() as u8 % 4], &[next() as u8 % 5], &junk);
            if let Some(b) = junk.get_mut(len % 50) {
                *b = next() as u8;
            }
        } else {
            junk.insert(0, b'm');
        }
        if let Ok(part) = MultipartPart::parse(&junk) {
            let _ = a.add(part, round, 50);
        }
    }
    assert!(a.pending_sets() <= MAX_PENDING_SETS);
}

#[test]
fn pending_bytes_are_capped() {
    use super::multipart::MAX_PENDING_BYTES;
    let part = |hash: u8, len: usize| MultipartPart {
        final_hash: [hash; 32],
        index: 0,
        count: 2,
        chunk: vec![1; len],
    };
    let mut a = MultipartAssembler::new();
    assert_eq!(
        a.add(part(1, MAX_PENDING_BYTES - 10), 0, 100),
        Ok(MultipartOutcome::Part)
    );
    assert_eq!(
        a.add(part(2, 11), 0, 100),
        Err(MultipartError::TooLarge.into())
    );
    // The refused part's new set is not kept; a part that fits is.
    assert_eq!(a.pending_sets(), 1);
    assert_eq!(a.add(part(3, 10), 0, 100), Ok(MultipartOutcome::Part));
}
