use super::*;
use crate::protocol::vectors::{load, unhex, Source};
use crypto_secretstream::{Key, PushStream, Tag};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[allow(dead_code)]
    description: String,
    padded_size: Vec<SizeVector>,
    legacy: Vec<LegacyVector>,
    stream: Vec<StreamVector>,
    avatar: Vec<AvatarVector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SizeVector {
    source: Source,
    len: usize,
    padded: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyVector {
    source: Source,
    plaintext: String,
    keys: String,
    iv: String,
    blob: String,
    digest: String,
    size: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamVector {
    source: Source,
    key: String,
    plaintext: String,
    #[allow(dead_code)]
    padding: usize,
    blob: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AvatarVector {
    source: Source,
    key: String,
    plaintext: String,
    blob: String,
}

fn vectors() -> File {
    load(include_str!("../../../tests/vectors/attachments.json"))
}

fn legacy_key(hex: &str) -> AttachmentKey {
    AttachmentKey::from_slice(&unhex(hex)).unwrap()
}

#[test]
fn padded_size_vectors() {
    let file = vectors();
    assert!(!file.padded_size.is_empty());
    for v in file.padded_size {
        v.source.check();
        assert_eq!(padded_size(v.len), v.padded, "len {}", v.len);
    }
}

#[test]
fn legacy_vectors_encrypt_and_decrypt() {
    let file = vectors();
    assert!(!file.legacy.is_empty());
    for v in file.legacy {
        v.source.check();
        let plaintext = unhex(&v.plaintext);
        let iv: [u8; 16] = unhex(&v.iv).try_into().unwrap();
        let encrypted = encrypt_attachment_with(&plaintext, legacy_key(&v.keys), iv).unwrap();
        assert_eq!(hex::encode(&encrypted.blob), v.blob);
        assert_eq!(hex::encode(encrypted.digest), v.digest);
        assert_eq!(encrypted.size, v.size);
        let blob = unhex(&v.blob);
        let digest = unhex(&v.digest);
        let key = legacy_key(&v.keys);
        assert_eq!(
            decrypt_attachment(&blob, &key, &digest, Some(v.size)).unwrap(),
            plaintext
        );
        // Without a size the padding stays (DESKTOP keeps the data whole).
        let whole = decrypt_attachment(&blob, &key, &digest, None).unwrap();
        assert_eq!(whole.len(), padded_size(plaintext.len()));
        assert!(whole.starts_with(&plaintext));
        assert_eq!(
            decrypt_for_pointer(&blob, &unhex(&v.keys), Some(&digest), Some(v.size)).unwrap(),
            plaintext
        );
    }
}

#[test]
fn legacy_decrypt_rejects_tampering() {
    let v = &vectors().legacy[0];
    let blob = unhex(&v.blob);
    let digest = unhex(&v.digest);
    let key = legacy_key(&v.keys);
    for index in [0, 20, blob.len() - 1] {
        let mut bad = blob.clone();
        bad[index] ^= 1;
        assert_eq!(
            decrypt_attachment(&bad, &key, &digest, None),
            Err(AttachmentError::BadMac)
        );
    }
    let mut bad_digest = digest.clone();
    bad_digest[0] ^= 1;
    assert_eq!(
        decrypt_attachment(&blob, &key, &bad_digest, None),
        Err(AttachmentError::BadDigest)
    );
    assert_eq!(
        decrypt_attachment(&blob, &key, &digest[..31], None),
        Err(AttachmentError::BadDigest)
    );
    assert_eq!(
        decrypt_for_pointer(&blob, &unhex(&v.keys), None, None),
        Err(AttachmentError::BadDigest)
    );
    let mut other = unhex(&v.keys);
    other[40] ^= 1;
    assert_eq!(
        decrypt_attachment(
            &blob,
            &AttachmentKey::from_slice(&other).unwrap(),
            &digest,
            None
        ),
        Err(AttachmentError::BadMac)
    );
    assert_eq!(
        decrypt_attachment(&blob[..47], &key, &digest, None),
        Err(AttachmentError::Truncated(47))
    );
    assert_eq!(
        decrypt_for_pointer(&blob, &[0; 63], Some(&digest), None),
        Err(AttachmentError::BadKeyLength(63))
    );
}

#[test]
fn legacy_refuses_oversized_plaintext() {
    let big = vec![0u8; MAX_ATTACHMENT_BYTES + 1];
    let mut rng = StdRng::seed_from_u64(1);
    assert_eq!(
        encrypt_attachment(&big, &mut rng).map(|e| e.size),
        Err(AttachmentError::TooLarge(MAX_ATTACHMENT_BYTES + 1))
    );
}

#[test]
fn legacy_round_trip_at_the_size_limit() {
    let data = vec![0x5a; MAX_ATTACHMENT_BYTES];
    let mut rng = StdRng::seed_from_u64(2);
    let encrypted = encrypt_attachment(&data, &mut rng).unwrap();
    assert_eq!(encrypted.blob.len(), 16 + MAX_ATTACHMENT_BYTES + 16 + 32);
    let plain = decrypt_attachment(
        &encrypted.blob,
        &encrypted.key,
        &encrypted.digest,
        Some(encrypted.size),
    )
    .unwrap();
    assert_eq!(plain, data);
}

#[test]
fn stream_vectors_from_libsodium() {
    let file = vectors();
    assert!(!file.stream.is_empty());
    for v in file.stream {
        v.source.check();
        let key: [u8; 32] = unhex(&v.key).try_into().unwrap();
        let blob = unhex(&v.blob);
        assert_eq!(
            hex::encode(decrypt_stream_attachment(&blob, &key).unwrap()),
            v.plaintext
        );
        assert_eq!(
            hex::encode(decrypt_for_pointer(&blob, &key, None, None).unwrap()),
            v.plaintext
        );
        let mut wrong = key;
        wrong[0] ^= 1;
        assert_eq!(
            decrypt_stream_attachment(&blob, &wrong),
            Err(AttachmentError::StreamAuthentication)
        );
        assert_eq!(
            decrypt_stream_attachment(&blob[..blob.len() - 1], &key),
            Err(AttachmentError::StreamAuthentication)
        );
    }
}

/// Second path for 'S' blobs: encrypt with the `crypto_secretstream` crate's push side (its own
/// chunking of our choosing, padding `0x00 × (p−1) ‖ 0x01`) and decrypt with our code.
fn push_stream(data: &[u8], padding: usize, key: &[u8; 32], final_tag: bool, seed: u64) -> Vec<u8> {
    let mut plain = vec![0u8; padding.saturating_sub(1)];
    if padding > 0 {
        plain.push(1);
    }
    plain.extend_from_slice(data);
    let (header, mut push) = PushStream::init(StdRng::seed_from_u64(seed), &Key::from(*key));
    let mut blob = vec![b'S'];
    blob.extend_from_slice(header.as_ref());
    let chunks: Vec<&[u8]> = plain.chunks(32_768).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let tag = if last && final_tag {
            Tag::Final
        } else {
            Tag::Message
        };
        let mut buffer = chunk.to_vec();
        push.push(&mut buffer, &[], tag).unwrap();
        blob.extend_from_slice(&buffer);
    }
    blob
}

#[test]
fn stream_from_the_crate_push_side() {
    let key = [7u8; 32];
    // Padding spanning whole chunks, data spanning chunks, tiny data.
    for (len, padding) in [(1, 1), (100, 40_000), (70_000, 5), (32_767, 1), (0, 3)] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let blob = push_stream(&data, padding, &key, true, len as u64);
        assert_eq!(
            decrypt_stream_attachment(&blob, &key).unwrap(),
            data,
            "{len}/{padding}"
        );
    }
}

#[test]
fn stream_rejects_bad_framing() {
    let key = [7u8; 32];
    let no_final = push_stream(b"data", 1, &key, false, 1);
    assert_eq!(
        decrypt_stream_attachment(&no_final, &key),
        Err(AttachmentError::BadStreamEnd)
    );
    let no_marker = push_stream(b"data", 0, &key, true, 2); // data starts with 'd', not 0x01
    assert_eq!(
        decrypt_stream_attachment(&no_marker, &key),
        Err(AttachmentError::BadStreamPadding)
    );
    let only_padding = push_stream(b"", 0, &key, true, 3); // nothing at all
    assert!(decrypt_stream_attachment(&only_padding, &key).is_err());
    let mut not_s = push_stream(b"data", 1, &key, true, 4);
    not_s[0] = b'X';
    assert_eq!(
        decrypt_stream_attachment(&not_s, &key),
        Err(AttachmentError::UnknownFormat(b'X'))
    );
    assert_eq!(
        decrypt_stream_attachment(&[], &key),
        Err(AttachmentError::Truncated(0))
    );
    assert_eq!(
        decrypt_stream_attachment(b"S", &key),
        Err(AttachmentError::Truncated(1))
    );
    // FINAL chunk followed by more data.
    let mut trailing = push_stream(b"data", 1, &key, true, 5);
    trailing.extend_from_slice(&[0; 40]);
    assert_eq!(
        decrypt_stream_attachment(&trailing, &key),
        Err(AttachmentError::StreamAuthentication)
    );
}

#[test]
fn avatar_vectors() {
    let file = vectors();
    assert!(!file.avatar.is_empty());
    for v in file.avatar {
        v.source.check();
        let key = ProfileKey::from_slice(&unhex(&v.key)).unwrap();
        let blob = unhex(&v.blob);
        assert_eq!(
            hex::encode(decrypt_avatar(&blob, &key).unwrap()),
            v.plaintext
        );
        let mut bad = blob.clone();
        bad[15] ^= 1;
        assert_eq!(
            decrypt_avatar(&bad, &key),
            Err(AttachmentError::AvatarAuthentication)
        );
        assert_eq!(
            decrypt_avatar(&blob[..28], &key),
            Err(AttachmentError::Truncated(28))
        );
    }
}

#[test]
fn avatar_round_trip_and_layout() {
    let mut rng = StdRng::seed_from_u64(3);
    let key = ProfileKey::random(&mut rng);
    let blob = encrypt_avatar(b"png bytes", &key, &mut rng).unwrap();
    assert_eq!(blob.len(), 12 + 9 + 16);
    assert_eq!(decrypt_avatar(&blob, &key).unwrap(), b"png bytes");
}

/// Regression, the `attachment` fuzz target's crash (input: mode 5, no bytes): an empty avatar
/// encrypted to a 28-byte blob that `decrypt_avatar` refuses as truncated. Now it is refused
/// when encrypting; the smallest avatar, one byte, round-trips.
#[test]
fn an_empty_avatar_is_refused_and_one_byte_round_trips() {
    let mut rng = StdRng::seed_from_u64(4);
    let key = ProfileKey::from_bytes([0x21; 32]);
    assert_eq!(
        encrypt_avatar(b"", &key, &mut rng),
        Err(AttachmentError::EmptyAvatar)
    );
    let blob = encrypt_avatar(b"x", &key, &mut rng).unwrap();
    assert_eq!(blob.len(), AVATAR_MIN_BLOB);
    assert_eq!(decrypt_avatar(&blob, &key).unwrap(), b"x");
}

#[test]
fn keys_do_not_print() {
    let key = AttachmentKey::from_bytes([0xab; 64]);
    assert!(!format!("{key:?}").contains("ab"));
    let key = ProfileKey::from_bytes([0xcd; 32]);
    assert!(!format!("{key:?}").contains("cd"));
}

proptest! {
    #[test]
    fn legacy_round_trips(data in proptest::collection::vec(any::<u8>(), 0..3000), seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let e = encrypt_attachment(&data, &mut rng).unwrap();
        prop_assert_eq!(e.blob.len(), 16 + (padded_size(data.len()) / 16 + 1) * 16 + 32);
        prop_assert_eq!(decrypt_attachment(&e.blob, &e.key, &e.digest, Some(e.size)).unwrap(), data);
    }

    #[test]
    fn legacy_decrypt_of_junk_is_an_error(junk in proptest::collection::vec(any::<u8>(), 0..700)) {
        let key = AttachmentKey::from_bytes([1; 64]);
        prop_assert!(decrypt_attachment(&junk, &key, &[0; 32], Some(5)).is_err());
    }

    #[test]
    fn stream_decrypt_of_junk_is_an_error(mut junk in proptest::collection::vec(any::<u8>(), 0..700), s in any::<bool>()) {
        if s && !junk.is_empty() {
            junk[0] = b'S';
        }
        prop_assert!(decrypt_stream_attachment(&junk, &[2; 32]).is_err());
    }

    #[test]
    fn stream_round_trips(data in proptest::collection::vec(any::<u8>(), 0..2000), padding in 1usize..3000, seed in any::<u64>()) {
        let key = [9u8; 32];
        let blob = push_stream(&data, padding, &key, true, seed);
        prop_assert_eq!(decrypt_stream_attachment(&blob, &key).unwrap(), data);
    }

    #[test]
    fn avatar_decrypt_of_junk_is_an_error(junk in proptest::collection::vec(any::<u8>(), 0..200)) {
        prop_assert!(decrypt_avatar(&junk, &ProfileKey::from_bytes([3; 32])).is_err());
    }

    #[test]
    fn pointer_decrypt_never_panics(
        junk in proptest::collection::vec(any::<u8>(), 0..300),
        key in proptest::collection::vec(any::<u8>(), 0..70),
        digest in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        size in proptest::option::of(any::<u32>()),
    ) {
        let _ = decrypt_for_pointer(&junk, &key, digest.as_deref(), size);
    }
}
