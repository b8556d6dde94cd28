//! The push pipeline (§1.3): libsession's padding sizes (`tests/test_encrypt.cpp`) and the
//! group info pushes of `tests/test_group_info.cpp` (sizes, keys, contents).

use super::info::{GroupInfo, ProfilePic};
use super::tests::Vectors;
use super::transport::{padded_size, MAX_MESSAGE_SIZE};
use super::*;
use crate::protocol::groups::config_encrypt::{decrypt_config, CONFIG_OVERHEAD};
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::Seed;
use crate::protocol::vectors::hex_array;

#[test]
fn padding_sizes() {
    let v = Vectors::load();
    assert!(!v.file.padding.cases.is_empty());
    for (size, overhead, expected) in &v.file.padding.cases {
        assert_eq!(
            padded_size(*size, *overhead),
            *expected,
            "{size} + {overhead}"
        );
    }
}

#[test]
fn group_info_pushes() {
    let v = Vectors::load();
    let t = &v.file.info_push;
    let group = GroupSecret::from_seed(Seed::from_bytes(hex_array(&t.seed)));
    assert_eq!(group.public().to_string(), t.ed25519_public);
    let first_key = hex_array::<32>(&t.first_key);
    let second_keys: Vec<[u8; 32]> = t.second_keys.iter().map(|k| hex_array(k)).collect();

    // ginfo1: a fresh config (seqno 0) gets a name: seqno 1, one 256-byte message.
    let mut m1 = MutableConfigMessage::new(0, DEFAULT_LAG)
        .finish(Some(&group))
        .increment();
    GroupInfo {
        name: Some(t.name.clone()),
        ..GroupInfo::default()
    }
    .write_to(m1.data_mut());
    let m1 = m1.finish(Some(&group));
    assert_eq!(m1.seqno(), t.first_seqno);
    let p1 = seal_config(&m1, &first_key, ConfigKind::GroupInfo).unwrap();
    assert_eq!(p1.len(), t.first_size);

    // ginfo2 holds the key among others and reads the name.
    let opened = open_config(&p1, &second_keys, ConfigKind::GroupInfo).unwrap();
    let read = ConfigMessage::parse(&opened, Some(&group.public())).unwrap();
    assert_eq!(read.hash(), m1.hash());
    let mut info = GroupInfo::from_data(read.data());
    assert_eq!(info.name.as_deref(), Some(&*t.name));

    // ... changes everything else and pushes seqno 2 (512 bytes) under its first key.
    info.profile_pic = Some(ProfilePic {
        url: t.pic_url.clone(),
        key: hex_array(&t.pic_key),
    });
    info.expiry_timer = Some(t.expiry_timer);
    info.created = Some(t.created);
    info.delete_before = Some(t.delete_before);
    info.delete_attachments_before = Some(t.delete_attachments_before);
    info.destroyed = true;
    let mut m2 = read.increment();
    info.write_to(m2.data_mut());
    let m2 = m2.finish(Some(&group));
    assert_eq!(m2.seqno(), t.second_seqno);
    let p2 = seal_config(&m2, &second_keys[0], ConfigKind::GroupInfo).unwrap();
    assert_eq!(p2.len(), t.second_size);
    let opened = open_config(&p2, &second_keys, ConfigKind::GroupInfo).unwrap();
    let read = ConfigMessage::parse(&opened, Some(&group.public())).unwrap();
    assert_eq!(GroupInfo::from_data(read.data()), info);
    // ginfo1 does not have that key yet.
    assert_eq!(
        open_config(&p2, &[first_key], ConfigKind::GroupInfo).unwrap_err(),
        ConfigTransportError::NoKey
    );
    // The wrong domain is the wrong key.
    assert_eq!(
        open_config(&p2, &second_keys, ConfigKind::GroupMembers).unwrap_err(),
        ConfigTransportError::NoKey
    );
}

/// A large, repetitive config is sent compressed (`'z'` after the padding) and comes back
/// intact; a small one is sent as-is.
#[test]
fn compression_is_used_when_shorter() {
    let key = [9u8; 32];
    let mut m = MutableConfigMessage::new(0, DEFAULT_LAG);
    for n in 0..200i64 {
        m.data_mut()
            .insert(format!("key{n:04}").into_bytes(), "the same value".into());
    }
    let big = m.finish(None);
    let sealed = seal_config(&big, &key, ConfigKind::UserProfile).unwrap();
    assert!(sealed.len() < big.as_bytes().len());
    let padded = decrypt_config(&sealed, &key, "UserProfile").unwrap();
    let body = &padded[padded.iter().position(|&b| b != 0).unwrap()..];
    assert_eq!(body[0], b'z');
    assert_eq!(
        open_config(&sealed, &[key], ConfigKind::UserProfile).unwrap(),
        big.as_bytes()
    );

    let small = MutableConfigMessage::new(0, DEFAULT_LAG).finish(None);
    let sealed = seal_config(&small, &key, ConfigKind::UserProfile).unwrap();
    assert_eq!(sealed.len(), 256);
    let padded = decrypt_config(&sealed, &key, "UserProfile").unwrap();
    assert_eq!(padded.len(), 256 - CONFIG_OVERHEAD);
    assert!(padded.ends_with(small.as_bytes()));
}

#[test]
fn oversized_and_malformed_plaintexts_are_refused() {
    use crate::protocol::groups::config_encrypt::encrypt_config;
    let key = [3u8; 32];
    let seal = |plain: &[u8]| encrypt_config(plain, &key, "groups::Members").unwrap();
    let open = |sealed: &[u8]| open_config(sealed, &[key], ConfigKind::GroupMembers);
    assert_eq!(open(&seal(&[0, 0, 0])), Err(ConfigTransportError::Empty));
    assert_eq!(open(&seal(b"\0m...")), Err(ConfigTransportError::Multipart));
    assert_eq!(
        open(&seal(b"zjunk")),
        Err(ConfigTransportError::Decompression)
    );
    assert_eq!(
        open(&seal(b"\0\0li1ee")),
        Err(ConfigTransportError::NotAConfig)
    );
    assert_eq!(open(&seal(b"\0\0de")).unwrap(), b"de");
    // A zstd bomb stops at the bound.
    let bomb = zstd::bulk::compress(&vec![b'd'; 5 * 1024 * 1024], 3).unwrap();
    let mut z = vec![b'z'];
    z.extend_from_slice(&bomb);
    assert_eq!(open(&seal(&z)), Err(ConfigTransportError::Decompression));

    // Incompressible data past the size limit cannot be pushed.
    let mut m = MutableConfigMessage::new(0, DEFAULT_LAG);
    let mut x: u64 = 1;
    let noise: Vec<u8> = (0..MAX_MESSAGE_SIZE)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect();
    m.data_mut().insert(b"x".to_vec(), noise.into());
    let err = seal_config(&m.finish(None), &key, ConfigKind::GroupMembers).unwrap_err();
    assert!(matches!(err, ConfigTransportError::TooLarge(_)));
}

/// `test_group_members.cpp` lines 29-105: 10 admins, 10 invited members and 5 bare ones
/// push as one 768-byte message that another holder of the key reads back.
#[test]
fn group_members_push() {
    use super::members::{members_from_data, set_member, GroupMember, SendStatus};
    use crate::protocol::keys::{IdPrefix, PrefixedId};
    let v = Vectors::load();
    let t = &v.file.members_push;
    let group = GroupSecret::from_seed(Seed::from_bytes(hex_array(&t.seed)));
    let key = hex_array::<32>(&t.first_key);
    let pic = |i: u8| {
        Some(ProfilePic {
            url: format!("http://example.com/{i}"),
            key: hex_array(&t.pic_key),
        })
    };
    let (admins, named) = (t.admins, t.admins + t.named_members);
    let total = named + t.bare_members;
    let expected: Vec<GroupMember> = (0..total)
        .map(|i| {
            let mut member = GroupMember::new(PrefixedId::new(IdPrefix::Standard, [i; 32]));
            if i < admins {
                member.admin = true;
                member.name = format!("Admin {i}");
            } else {
                member.invite = Some(SendStatus::NotSent);
                if i < named {
                    member.name = format!("Member {i}");
                }
            }
            if i < named {
                member.profile_pic = pic(i);
            }
            member
        })
        .collect();
    let mut m = MutableConfigMessage::new(0, DEFAULT_LAG)
        .finish(Some(&group))
        .increment();
    for member in &expected {
        set_member(m.data_mut(), member);
    }
    let sealed = seal_config(&m.finish(Some(&group)), &key, ConfigKind::GroupMembers).unwrap();
    assert_eq!(sealed.len(), t.size);
    let opened = open_config(&sealed, &[[0xbb; 32], key], ConfigKind::GroupMembers).unwrap();
    let read = ConfigMessage::parse(&opened, Some(&group.public())).unwrap();
    assert_eq!(members_from_data(read.data()), expected);
}
