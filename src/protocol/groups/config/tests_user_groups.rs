//! UserGroups `g` entries (groups.md §3.3, LSU `user_groups.cpp` @ `8762e9d3`).

use proptest::prelude::*;

use super::data::{ConfigDict, ConfigValue, Scalar};
use super::user_groups::*;
use crate::protocol::groups::subaccount::MemberAuthData;
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::{Identity, Seed};
use crate::protocol::storage::SubaccountFlags;

fn group(n: u8) -> GroupSecret {
    GroupSecret::from_seed(Seed::from_bytes([n; 32]))
}

fn entry_of<'a>(data: &'a ConfigDict, g: &GroupSecret) -> &'a ConfigDict {
    let Some(ConfigValue::Dict(groups)) = data.get(&b"g"[..]) else {
        panic!("no g")
    };
    // The key is the 33-byte ID, 0x03 first.
    let key = g.id().to_bytes();
    assert_eq!(key[0], 0x03);
    let Some(ConfigValue::Dict(entry)) = groups.get(&key[..]) else {
        panic!("no entry")
    };
    entry
}

#[test]
fn member_entry_round_trip() {
    let g = group(1);
    let me = Identity::from_seed(Seed::from_bytes([2; 32]));
    let auth = MemberAuthData::new(&g, &me.session_id(), SubaccountFlags::READ).unwrap();
    let mut e = UserGroupEntry::new(&g.public());
    e.auth = Some(auth.clone());
    e.name = "Support".into();
    e.invited = true;
    e.joined_at = 1_700_000_000;
    e.priority = -1;
    e.notifications = NotifyMode::MentionsOnly;
    let mut data = ConfigDict::new();
    set_user_group(&mut data, &e);
    let entry = entry_of(&data, &g);
    // K always written (empty for a member), s with the grant.
    assert_eq!(entry.get(&b"K"[..]), Some(&ConfigValue::from(Vec::new())));
    assert_eq!(
        entry.get(&b"s"[..]),
        Some(&ConfigValue::from(auth.as_bytes().to_vec()))
    );
    assert_eq!(entry.get(&b"+"[..]), Some(&ConfigValue::from(-1)));
    assert_eq!(entry.get(&b"i"[..]), Some(&ConfigValue::from(1)));
    assert_eq!(entry.get(&b"@"[..]), Some(&ConfigValue::from(3)));
    assert!(entry.get(&b"r"[..]).is_none() && entry.get(&b"!"[..]).is_none());
    let back = user_group(&data, &g.id()).unwrap();
    assert_eq!(back.auth, Some(auth));
    assert!(back.secret.is_none());
    assert_eq!(back.name, "Support");
    assert!(back.invited);
    assert_eq!(back.joined_at, 1_700_000_000);
    assert_eq!(back.priority, -1);
    assert_eq!(back.notifications, NotifyMode::MentionsOnly);
    // Accepting: clear i.
    let mut accepted = back;
    accepted.invited = false;
    set_user_group(&mut data, &accepted);
    assert!(entry_of(&data, &g).get(&b"i"[..]).is_none());
    assert_eq!(user_groups_from_data(&data).len(), 1);
    assert!(erase_user_group(&mut data, &g.id()));
    assert!(user_groups_from_data(&data).is_empty());
}

#[test]
fn admin_entry_and_foreign_seed() {
    let g = group(1);
    let mut e = UserGroupEntry::new(&g.public());
    e.secret = Some(g.clone());
    e.removed = RemovedStatus::Kicked;
    let mut data = ConfigDict::new();
    set_user_group(&mut data, &e);
    let entry = entry_of(&data, &g);
    assert_eq!(
        entry.get(&b"K"[..]),
        Some(&ConfigValue::from(vec![1u8; 32]))
    );
    assert!(entry.get(&b"s"[..]).is_none());
    assert_eq!(entry.get(&b"r"[..]), Some(&ConfigValue::from(1)));
    let back = user_group(&data, &g.id()).unwrap();
    assert_eq!(back.secret.map(|s| s.id()), Some(g.id()));
    assert_eq!(back.removed, RemovedStatus::Kicked);
    // Another group's seed under this key is ignored on reading and not written.
    let mut foreign = ConfigDict::new();
    foreign.insert(b"K".to_vec(), ConfigValue::from(vec![9u8; 32]));
    foreign.insert(b"zz".to_vec(), ConfigValue::from(5));
    let mut groups = ConfigDict::new();
    groups.insert(g.id().to_bytes().to_vec(), ConfigValue::Dict(foreign));
    let mut data = ConfigDict::new();
    data.insert(b"g".to_vec(), ConfigValue::Dict(groups));
    let mut read = user_group(&data, &g.id()).unwrap();
    assert!(read.secret.is_none());
    read.secret = Some(group(9));
    set_user_group(&mut data, &read);
    let entry = entry_of(&data, &g);
    assert_eq!(entry.get(&b"K"[..]), Some(&ConfigValue::from(Vec::new())));
    // Unknown keys are kept.
    assert_eq!(entry.get(&b"zz"[..]), Some(&ConfigValue::from(5)));
}

#[test]
fn keys_without_the_03_prefix_are_not_groups() {
    let g = group(1);
    let mut groups = ConfigDict::new();
    groups.insert(
        g.public().as_bytes().to_vec(),
        ConfigValue::Dict(ConfigDict::new()),
    );
    let mut wrong_prefix = g.id().to_bytes().to_vec();
    wrong_prefix[0] = 0x05;
    groups.insert(wrong_prefix, ConfigValue::Dict(ConfigDict::new()));
    groups.insert(
        g.id().to_bytes().to_vec(),
        ConfigValue::Scalar(Scalar::Int(1)),
    );
    let mut data = ConfigDict::new();
    data.insert(b"g".to_vec(), ConfigValue::Dict(groups));
    assert!(user_groups_from_data(&data).is_empty());
}

#[test]
fn long_names_are_truncated() {
    let g = group(1);
    let mut e = UserGroupEntry::new(&g.public());
    e.name = "é".repeat(80);
    let mut data = ConfigDict::new();
    set_user_group(&mut data, &e);
    assert_eq!(user_group(&data, &g.id()).unwrap().name.len(), 100);
}

proptest! {
    #[test]
    fn junk_entries_never_panic(key in proptest::collection::vec(any::<u8>(), 0..40),
                                k in proptest::collection::vec(any::<u8>(), 0..40),
                                s in proptest::collection::vec(any::<u8>(), 0..120),
                                ints in proptest::collection::vec(any::<i64>(), 7)) {
        let mut entry = ConfigDict::new();
        entry.insert(b"K".to_vec(), ConfigValue::from(k));
        entry.insert(b"s".to_vec(), ConfigValue::from(s));
        for (name, v) in [b"r", b"@", b"!", b"+", b"i", b"j", b"n"].iter().zip(ints) {
            entry.insert(name.to_vec(), ConfigValue::from(v));
        }
        let mut groups = ConfigDict::new();
        groups.insert(key, ConfigValue::Dict(entry));
        let mut data = ConfigDict::new();
        data.insert(b"g".to_vec(), ConfigValue::Dict(groups));
        for e in user_groups_from_data(&data) {
            set_user_group(&mut data, &e);
        }
    }
}

#[test]
fn libsession_user_groups_push() {
    use super::message::ConfigMessage;
    use super::transport::{open_config, ConfigKind};
    use crate::protocol::keys::PrefixedId;
    use crate::protocol::vectors::hex_array;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    let file = crate::protocol::groups::tests_message::vector_file();
    assert!(file.description.contains("§3.3"));
    for v in file.user_groups {
        assert!(v.source.note.is_some());
        let ct = STANDARD.decode(&v.push_b64).unwrap();
        // User configs: key_base = the user's seed (groups.md §1.5), unsigned.
        let raw = open_config(&ct, &[hex_array(&v.user_seed)], ConfigKind::UserGroups).unwrap();
        let message = ConfigMessage::parse(&raw, None).unwrap();
        assert_eq!(message.seqno(), v.seqno);
        let entries = user_groups_from_data(message.data());
        assert_eq!(entries.len(), 2);
        let member_id: PrefixedId = v.member_group_id.parse().unwrap();
        let m = user_group(message.data(), &member_id).unwrap();
        assert_eq!(m.name, "Support desk");
        assert_eq!(
            m.auth.as_ref().map(|a| a.as_bytes().to_vec()),
            Some((0u8..100).collect::<Vec<_>>())
        );
        assert!(m.secret.is_none() && m.invited);
        assert_eq!((m.joined_at, m.priority), (1_700_000_000, 3));
        assert_eq!(m.notifications, NotifyMode::MentionsOnly);
        let admin = GroupSecret::from_seed(Seed::from_bytes(hex_array(&v.admin_group_seed)));
        let a = user_group(message.data(), &admin.id()).unwrap();
        assert_eq!(a.secret.map(|s| s.id()), Some(admin.id()));
        assert!(a.auth.is_none());
        assert_eq!((a.name.as_str(), a.mute_until), ("Admins", 1_800_000_000));
        // Written back by us, each entry's dict is byte-for-byte what libsession wrote.
        let mut ours = ConfigDict::new();
        for e in &entries {
            set_user_group(&mut ours, e);
        }
        assert_eq!(ours.get(&b"g"[..]), message.data().get(&b"g"[..]));
    }
}
