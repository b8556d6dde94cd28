//! Group info and members contents (§3.1, §3.2) through signed messages, with the group key
//! of libsession's `tests/test_group_info.cpp`.

use super::info::{GroupInfo, ProfilePic, NAME_MAX};
use super::members::{
    erase_member, member, members_from_data, set_member, GroupMember, Removal, SendStatus,
};
use super::tests::dict;
use super::*;
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::{IdPrefix, PrefixedId, Seed};
use crate::protocol::vectors::hex_array;

/// `test_group_info.cpp` lines 22-29: the seed and the Ed25519 key it gives.
fn info_group() -> GroupSecret {
    let group = GroupSecret::from_seed(Seed::from_bytes(hex_array(
        "0123456789abcdef0123456789abcdeffedcba9876543210fedcba9876543210",
    )));
    assert_eq!(
        group.public().to_string(),
        "cbd569f56fb13ea95a3f0c05c331cc24139c0090feb412069dc49fab34406ece"
    );
    group
}

#[test]
fn info_round_trips_through_a_signed_message() {
    let group = info_group();
    let info = GroupInfo {
        name: Some("GROUP Name".into()),
        description: Some("A description".into()),
        profile_pic: Some(ProfilePic {
            url: "http://example.com/12345".into(),
            key: [0xab; 32],
        }),
        created: Some(1_700_000_000),
        delete_before: Some(1_700_000_000 + 50 * 86400),
        delete_attachments_before: Some(1_700_000_000 + 70 * 86400),
        expiry_timer: Some(3600),
        destroyed: false,
    };
    let mut m = MutableConfigMessage::new(0, DEFAULT_LAG);
    // A key a newer client might add survives our writes.
    m.data_mut().insert(b"Z".to_vec(), 7.into());
    info.write_to(m.data_mut());
    let written = m.finish(Some(&group));
    let read = ConfigMessage::parse(written.as_bytes(), Some(&group.public())).unwrap();
    assert_eq!(GroupInfo::from_data(read.data()), info);
    assert_eq!(read.data().get(&b"Z"[..]), Some(&7.into()));
    assert_eq!(read.data().get(&b"n"[..]), Some(&"GROUP Name".into()));
    assert_eq!(read.data().get(&b"E"[..]), Some(&3600.into()));

    // Clearing writes nothing: empty strings and zeros are omitted.
    let mut next = read.increment();
    GroupInfo::default().write_to(next.data_mut());
    assert_eq!(next.data(), &dict(&[("Z", 7.into())]));
}

#[test]
fn info_limits_and_lenient_reading() {
    let mut data = ConfigDict::new();
    let long = format!("{}é", "x".repeat(NAME_MAX - 1));
    GroupInfo {
        name: Some(long),
        ..GroupInfo::default()
    }
    .write_to(&mut data);
    let info = GroupInfo::from_data(&data);
    assert_eq!(info.name.as_deref(), Some(&*"x".repeat(NAME_MAX - 1)));

    // A URL without a 32-byte key is no picture; zero and negative ints are absent.
    let data = dict(&[
        ("p", "http://x".into()),
        ("q", vec![1u8; 31].into()),
        ("c", 0.into()),
        ("E", (-5).into()),
        ("!", 1.into()),
    ]);
    let info = GroupInfo::from_data(&data);
    assert_eq!(info.profile_pic, None);
    assert_eq!(info.created, None);
    assert_eq!(info.expiry_timer, None);
    assert!(info.destroyed);
}

fn member_id(byte: u8) -> PrefixedId {
    PrefixedId::new(IdPrefix::Standard, [byte; 32])
}

#[test]
fn members_round_trip_through_a_signed_message() {
    let group = info_group();
    let admin = GroupMember {
        name: "Admin".into(),
        admin: true,
        // Admins never carry an invite status.
        invite: Some(SendStatus::Sent),
        ..GroupMember::new(member_id(1))
    };
    let invited = GroupMember {
        name: "Invited".into(),
        invite: Some(SendStatus::NotSent),
        supplement: true,
        profile_pic: Some(ProfilePic {
            url: "http://example.com/p".into(),
            key: [7; 32],
        }),
        ..GroupMember::new(member_id(2))
    };
    let removed = GroupMember {
        removal: Some(Removal::RemovedWithMessages),
        promotion: Some(SendStatus::Failed),
        ..GroupMember::new(member_id(3))
    };
    let mut m = MutableConfigMessage::new(0, DEFAULT_LAG);
    for one in [&admin, &invited, &removed] {
        set_member(m.data_mut(), one);
    }
    let written = m.finish(Some(&group));
    let read = ConfigMessage::parse(written.as_bytes(), Some(&group.public())).unwrap();
    let members = members_from_data(read.data());
    let expected_admin = GroupMember {
        invite: None,
        ..admin.clone()
    };
    assert_eq!(members, vec![expected_admin, invited.clone(), removed]);
    assert_eq!(member(read.data(), &invited.id), Some(invited.clone()));

    // The wire form of §3.2: 33-byte binary keys, `n` always present.
    let ConfigValue::Dict(m) = &read.data()[&b"m"[..]] else {
        panic!("m is a dict");
    };
    let ConfigValue::Dict(entry) = &m[&member_id(3).to_bytes()[..]] else {
        panic!("member entry is a dict");
    };
    assert_eq!(
        entry,
        &dict(&[("P", 2.into()), ("R", 2.into()), ("n", "".into())])
    );

    let mut next = read.increment();
    assert!(erase_member(next.data_mut(), &invited.id));
    assert!(!erase_member(next.data_mut(), &invited.id));
    assert_eq!(members_from_data(next.data()).len(), 2);
}

#[test]
fn members_skip_malformed_entries() {
    let mut m = ConfigDict::new();
    m.insert(vec![5; 32], dict(&[("n", "short key".into())]).into());
    m.insert(member_id(9).to_bytes().to_vec(), 1.into());
    m.insert(
        member_id(8).to_bytes().to_vec(),
        dict(&[("n", "ok".into()), ("s", 1.into()), ("I", 9.into())]).into(),
    );
    let data = dict(&[("m", m.into())]);
    let members = members_from_data(&data);
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].name, "ok");
    // An unknown invite status is no invite, so no supplement either.
    assert_eq!(members[0].invite, None);
    assert!(!members[0].supplement);
}

#[test]
fn debug_shows_no_contents() {
    let mut m = MutableConfigMessage::new(4, DEFAULT_LAG);
    m.data_mut().insert(b"K".to_vec(), "secret seed".into());
    assert_eq!(format!("{m:?}"), "MutableConfigMessage(#4)");
    let written = m.finish(None);
    let shown = format!("{written:?}");
    assert!(shown.starts_with("ConfigMessage(#4 "), "{shown}");
    assert!(!shown.contains("secret"));
}
