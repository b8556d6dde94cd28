//! Attachment pointers, file-server URLs, the upload limit, profiles and avatars.

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::protocol::attachment::{
    decrypt_avatar, encrypt_attachment, AttachmentError, ProfileKey, MAX_ATTACHMENT_BYTES,
};
use crate::protocol::chat::pointer::DEFAULT_FILE_SERVER_URL;
use crate::protocol::chat::*;
use crate::protocol::protos::LokiProfile;

#[test]
fn file_id_is_the_numeric_last_segment_or_zero() {
    assert_eq!(
        file_id_from_url("http://filev2.getsession.org/file/123"),
        123
    );
    assert_eq!(file_id_from_url("http://h/file/123#p=ab&d"), 123);
    assert_eq!(file_id_from_url("http://h/file/AbC123"), 0);
    assert_eq!(file_id_from_url("http://h/file/"), 0);
    assert_eq!(file_id_from_url(""), 0);
    assert_eq!(file_id_from_url("http://h/file/99999999999999999999999"), 0);
}

#[test]
fn file_urls_round_trip_through_the_server_helper() {
    let default = FileServer::default_server();
    let url = default.file_url("55");
    assert_eq!(url, "http://filev2.getsession.org/file/55");
    let parsed = FileUrl::parse(&url).unwrap();
    assert_eq!(
        (parsed.base(), parsed.id()),
        (DEFAULT_FILE_SERVER_URL, "55")
    );
    assert!(parsed.is_default_server() && !parsed.is_deterministic());

    let devnet = FileServer::custom("http://127.0.0.1:40123/", [0xab; 32]);
    let url = devnet.file_url("7");
    assert_eq!(
        url,
        format!("http://127.0.0.1:40123/file/7#p={}", "ab".repeat(32))
    );
    let parsed = FileUrl::parse(&url).unwrap();
    assert_eq!(parsed.base(), "http://127.0.0.1:40123");
    assert_eq!(parsed.server_ed25519(), Some(&[0xab; 32]));
    assert!(!parsed.is_default_server());

    let det = FileUrl::parse("https://h/x/file/Ab_c-9#e=00&d").unwrap();
    assert!(det.is_deterministic());
    assert_eq!((det.base(), det.id()), ("https://h/x", "Ab_c-9"));
}

#[test]
fn bad_file_urls_are_refused() {
    for url in [
        "",
        "ftp://h/file/1",
        "http:///file/1",
        "http://h/files/1",
        "http://h/file/",
        "http://h/file/a/b",
        "http://h/file/1#p=zz",
        "http://h/file/1#p=abcd",
    ] {
        assert_eq!(FileUrl::parse(url), Err(ChatError::BadUrl), "{url}");
    }
}

#[test]
fn upload_limit_is_ten_million_bytes() {
    assert_eq!(check_upload_size(MAX_ATTACHMENT_BYTES), Ok(()));
    assert_eq!(
        check_upload_size(10_000_001),
        Err(AttachmentError::TooLarge(10_000_001))
    );
    let mut rng = StdRng::seed_from_u64(1);
    let too_big = vec![0u8; MAX_ATTACHMENT_BYTES + 1];
    assert!(matches!(
        prepare_avatar(&too_big, &mut rng),
        Err(ChatError::Attachment(AttachmentError::TooLarge(_)))
    ));
}

#[test]
fn uploaded_pointer_round_trips_and_decrypts() {
    let mut rng = StdRng::seed_from_u64(2);
    let file = b"an attachment body".repeat(50);
    let encrypted = encrypt_attachment(&file, &mut rng).unwrap();
    let meta = AttachmentMeta {
        content_type: Some("text/plain".into()),
        file_name: Some("a.txt".into()),
        flags: 1,
        ..AttachmentMeta::default()
    };
    let url = FileServer::default_server().file_url("31337");
    let info = AttachmentInfo::from_upload(&url, &encrypted, meta);
    assert_eq!(info.id, 31337);
    assert_eq!(info.size, Some(file.len() as u32));
    let pointer = info.to_pointer();
    assert_eq!(pointer.flags, Some(1));
    assert_eq!(pointer.key.as_ref().map(Vec::len), Some(64));
    let parsed = AttachmentInfo::parse(&pointer).unwrap();
    assert_eq!(parsed, info);
    assert_eq!(parsed.decrypt(&encrypted.blob).unwrap(), file);

    let mut bad_mac = encrypted.blob.clone();
    *bad_mac.last_mut().unwrap() ^= 1;
    assert_eq!(parsed.decrypt(&bad_mac), Err(AttachmentError::BadMac));
    let mut bad_digest = parsed.clone();
    bad_digest.digest = Some([0; 32]);
    assert_eq!(
        bad_digest.decrypt(&encrypted.blob),
        Err(AttachmentError::BadDigest)
    );
    assert!(!format!("{parsed:?}").contains(&hex::encode(&pointer.key.unwrap()[..8])));
}

#[test]
fn avatars_use_a_fresh_key_and_decrypt() {
    let mut rng = StdRng::seed_from_u64(3);
    let image = b"\x89PNG fake image".to_vec();
    let first = prepare_avatar(&image, &mut rng).unwrap();
    let second = prepare_avatar(&image, &mut rng).unwrap();
    assert_ne!(first.key, second.key);
    assert_eq!(decrypt_avatar(&first.blob, &first.key).unwrap(), image);
    let avatar = first.into_avatar("http://filev2.getsession.org/file/9");
    let profile = Profile {
        display_name: Some("Bot".into()),
        avatar: Some(avatar.clone()),
        updated_seconds: Some(10),
    };
    let (loki, key) = profile.to_proto();
    assert_eq!(loki.profile_picture.as_deref(), Some(avatar.url.as_str()));
    assert_eq!(
        Profile::from_proto(Some(&loki), key.as_deref()),
        Some(profile)
    );
}

#[test]
fn received_profiles_need_a_valid_key_for_the_avatar() {
    let loki = LokiProfile {
        display_name: Some(String::new()),
        profile_picture: Some("http://h/file/1".into()),
        last_update_seconds: None,
    };
    assert_eq!(Profile::from_proto(Some(&loki), Some(&[1; 31])), None);
    let with_key = Profile::from_proto(Some(&loki), Some(&[1; 32])).unwrap();
    assert_eq!(with_key.display_name, None);
    assert_eq!(
        with_key.avatar.unwrap().key,
        ProfileKey::from_bytes([1; 32])
    );
    assert_eq!(Profile::from_proto(None, Some(&[1; 32])), None);
}

#[test]
fn disappearing_settings_and_ttls() {
    assert_eq!(Disappearing::after_send(0), Disappearing::Off);
    assert_eq!(Disappearing::after_read(0), Disappearing::Off);
    assert_eq!(Disappearing::after_send(60).ttl_ms(), 60_000);
    assert_eq!(Disappearing::after_read(60).ttl_ms(), TTL_CONTENT_MS);
    assert_eq!(Disappearing::Off.ttl_ms(), 1_209_600_000);
    assert_eq!(TTL_TYPING_MS, 20_000);
    assert_eq!(TTL_CALL_MS, 300_000);
    assert_eq!(Disappearing::after_read(5).mode(), "after_read");
    for setting in [
        Disappearing::Off,
        Disappearing::after_send(9),
        Disappearing::after_read(86_400),
    ] {
        let mut content = crate::protocol::protos::Content::default();
        setting.apply(&mut content);
        assert_eq!(Disappearing::from_content(&content), setting);
    }
}

/// The "a 9.9 MB attachment round-trips" at the protocol level: encrypted, pointed to,
/// the pointer parsed back, the blob verified and decrypted; a bit flip anywhere is refused.
#[test]
fn nine_point_nine_megabyte_attachment_round_trips() {
    let mut rng = StdRng::seed_from_u64(4);
    let file: Vec<u8> = (0..9_900_000u32).map(|i| (i % 251) as u8).collect();
    let encrypted = encrypt_attachment(&file, &mut rng).unwrap();
    check_upload_size(file.len()).unwrap();
    // Padded to the 10,000,000 cap, plus IV, a full PKCS#7 block and the MAC.
    assert_eq!(encrypted.blob.len(), 10_000_064);
    let info = AttachmentInfo::from_upload(
        &FileServer::default_server().file_url("1"),
        &encrypted,
        AttachmentMeta::default(),
    );
    let parsed = AttachmentInfo::parse(&info.to_pointer()).unwrap();
    assert_eq!(parsed.decrypt(&encrypted.blob).unwrap(), file);
    let mut tampered = encrypted.blob;
    tampered[5_000_000] ^= 0x40;
    assert_eq!(parsed.decrypt(&tampered), Err(AttachmentError::BadMac));
}
