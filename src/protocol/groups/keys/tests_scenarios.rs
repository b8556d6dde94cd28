//! Our own group-keys scenarios (§2.1-§2.3): derivation by every member, removal, concurrent
//! admins, supplements, tampering, expiry, key order.

use super::*;
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::{Identity, Seed, SessionId};

fn party(n: u8) -> Identity {
    Identity::from_seed(Seed::from_bytes([n; 32]))
}

fn group() -> GroupSecret {
    GroupSecret::from_seed(Seed::from_bytes([0x42; 32]))
}

#[test]
fn three_members_derive_the_admins_key() {
    let group = group();
    let members: Vec<Identity> = (1..=3).map(party).collect();
    let sids: Vec<SessionId> = members.iter().map(Identity::session_id).collect();
    let mut admin = GroupKeys::new(group.public());
    let message = admin.rekey(&group, &sids).unwrap();
    assert_eq!(admin.pending_message(), Some(&message[..]));
    let pending = admin.encryption_key().cloned().unwrap();
    let parsed = KeysMessage::parse(&message, &group.public()).unwrap();
    let KeysKind::Full { entries, .. } = parsed.kind() else {
        panic!("full")
    };
    assert_eq!(entries.len(), MESSAGE_KEY_MULTIPLE);
    for me in &members {
        let mut keys = GroupKeys::new(group.public());
        assert_eq!(
            keys.load("h", &message, 1000, KeysReader::Member(me)),
            Ok(true)
        );
        assert_eq!(keys.encryption_key(), Some(&pending));
        assert_eq!(keys.keys()[0].timestamp_ms, 1000);
        // A key already held still counts as found (as libsession answers), and the second
        // hash is tracked.
        assert_eq!(
            keys.load("h2", &message, 1001, KeysReader::Member(me)),
            Ok(true)
        );
        assert_eq!(keys.len(), 1);
        assert_eq!(keys.active_hashes().len(), 2);
    }
    assert_eq!(
        admin.load("h", &message, 1000, KeysReader::Admin(&group)),
        Ok(true)
    );
    assert_eq!(admin.pending_message(), None);
    assert_eq!(admin.len(), 1);
    // The same members and generation give the same message (deterministic, §2.1).
    assert_eq!(build_rekey(&group, &sids, 0).unwrap().message, message);
}

#[test]
fn removed_member_cannot_open_the_next_rekey() {
    let group = group();
    let (a, b, c) = (party(1), party(2), party(3));
    let mut admin = GroupKeys::new(group.public());
    let first = admin
        .rekey(&group, &[a.session_id(), b.session_id(), c.session_id()])
        .unwrap();
    admin
        .load("1", &first, 1, KeysReader::Admin(&group))
        .unwrap();
    let second = admin
        .rekey(&group, &[a.session_id(), b.session_id()])
        .unwrap();
    let mut removed = GroupKeys::new(group.public());
    assert_eq!(
        removed.load("1", &first, 1, KeysReader::Member(&c)),
        Ok(true)
    );
    assert_eq!(
        removed.load("2", &second, 2, KeysReader::Member(&c)),
        Ok(false)
    );
    assert_eq!(removed.keys().len(), 1);
    assert_ne!(removed.encryption_key(), admin.encryption_key());
    // Its hash is still tracked under G = 1.
    assert_eq!(
        removed.active_hashes().into_iter().collect::<Vec<_>>(),
        ["1", "2"]
    );
}

#[test]
fn concurrent_admin_rekeys_need_another() {
    let group = group();
    let members = [party(1).session_id(), party(2).session_id()];
    let mut one = GroupKeys::new(group.public());
    let mut two = GroupKeys::new(group.public());
    let base = one.rekey(&group, &members).unwrap();
    for admin in [&mut one, &mut two] {
        admin
            .load("0", &base, 1, KeysReader::Admin(&group))
            .unwrap();
    }
    // Both rekey generation 1 for different member lists.
    let from_one = one.rekey(&group, &members[..1]).unwrap();
    let from_two = two.rekey(&group, &members).unwrap();
    for admin in [&mut one, &mut two] {
        assert!(!admin.needs_rekey());
        admin
            .load("a", &from_one, 2, KeysReader::Admin(&group))
            .unwrap();
        admin
            .load("b", &from_two, 3, KeysReader::Admin(&group))
            .unwrap();
        assert!(admin.needs_rekey());
        assert_eq!(admin.pending_message(), None);
    }
    let next = one.rekey(&group, &members).unwrap();
    one.load("c", &next, 4, KeysReader::Admin(&group)).unwrap();
    assert!(!one.needs_rekey());
    assert_eq!(one.keys().last().map(|k| k.generation), Some(2));
}

#[test]
fn supplement_gives_a_new_member_the_old_keys() {
    let group = group();
    let (old, new) = (party(1), party(2));
    let mut admin = GroupKeys::new(group.public());
    for (i, t) in [(0, 10), (1, 20)] {
        let m = admin.rekey(&group, &[old.session_id()]).unwrap();
        admin
            .load(&i.to_string(), &m, t, KeysReader::Admin(&group))
            .unwrap();
    }
    let supp = admin.supplement(&group, &[new.session_id()]).unwrap();
    let mut keys = GroupKeys::new(group.public());
    assert_eq!(
        keys.load("s", &supp, 99, KeysReader::Member(&new)),
        Ok(true)
    );
    assert_eq!(keys.keys(), admin.keys());
    let mut other = GroupKeys::new(group.public());
    assert_eq!(
        other.load("s", &supp, 99, KeysReader::Member(&old)),
        Ok(false)
    );
}

#[test]
fn tampered_signature_rejects_the_whole_message() {
    let group = group();
    let me = party(1);
    let message = build_rekey(&group, &[me.session_id()], 0).unwrap().message;
    let mut keys = GroupKeys::new(group.public());
    for at in [message.len() - 2, 10] {
        let mut bad = message.clone();
        bad[at] ^= 1;
        assert!(keys.load("x", &bad, 1, KeysReader::Member(&me)).is_err());
        assert!(keys.load("x", &bad, 1, KeysReader::Admin(&group)).is_err());
    }
    let other = GroupSecret::from_seed(Seed::from_bytes([7; 32]));
    let forged = build_rekey(&other, &[me.session_id()], 0).unwrap().message;
    assert_eq!(
        keys.load("f", &forged, 1, KeysReader::Member(&me)),
        Err(KeysError::BadSignature)
    );
    let unsigned = &message[..message.len() - 71];
    assert!(keys
        .load("u", unsigned, 1, KeysReader::Member(&me))
        .is_err());
    assert!(keys.is_empty() && keys.active_hashes().is_empty());
}

#[test]
fn expiry_drops_an_old_generation() {
    let group = group();
    let me = party(1);
    let day = 86_400_000;
    let mut admin = GroupKeys::new(group.public());
    let mut member = GroupKeys::new(group.public());
    let mut messages = Vec::new();
    for (hash, t) in [("g0", 0), ("g1", day), ("g2", 61 * day)] {
        let m = admin.rekey(&group, &[me.session_id()]).unwrap();
        admin.load(hash, &m, t, KeysReader::Admin(&group)).unwrap();
        member.load(hash, &m, t, KeysReader::Member(&me)).unwrap();
        messages.push(m);
    }
    // g1 arrived 60 days before g2: not more than KEY_EXPIRY, so g0 stays.
    assert_eq!(member.keys().len(), 3);
    let m = admin.rekey(&group, &[me.session_id()]).unwrap();
    member
        .load("g3", &m, 61 * day + 2, KeysReader::Member(&me))
        .unwrap();
    let generations: Vec<i64> = member.keys().iter().map(|k| k.generation).collect();
    assert_eq!(generations, [1, 2, 3]);
    assert_eq!(
        member.active_hashes().into_iter().collect::<Vec<_>>(),
        ["g1", "g2", "g3"]
    );
    // The dropped generation, arriving again, is stale and ignored.
    assert_eq!(
        member.load("g0", &messages[0], 0, KeysReader::Member(&me)),
        Ok(true)
    );
    assert_eq!(member.keys().len(), 3);
    assert!(!member.active_hashes().contains("g0"));
}

#[test]
fn decryption_order_is_pending_then_newest_first() {
    let group = group();
    let mut admin = GroupKeys::new(group.public());
    let m0 = admin.rekey(&group, &[]).unwrap();
    admin.load("0", &m0, 1, KeysReader::Admin(&group)).unwrap();
    let m1 = admin.rekey(&group, &[party(1).session_id()]).unwrap();
    admin.load("1", &m1, 2, KeysReader::Admin(&group)).unwrap();
    admin.rekey(&group, &[]).unwrap();
    let order: Vec<&GroupEncKey> = admin.decryption_keys().collect();
    assert_eq!(order.len(), 3);
    assert_eq!(Some(order[0]), admin.encryption_key());
    assert_eq!(order[1], &admin.keys()[1].key);
    assert_eq!(order[2], &admin.keys()[0].key);
    assert!(
        !format!("{admin:?} {:?}", admin.keys()).contains(&hex::encode(order[0].expose_secret()))
    );
}
