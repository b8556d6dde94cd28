//! The pure steps of [`super::sync`]: what an entry should hold, merging heads, and what is
//! taken over from the config.

#![allow(clippy::unwrap_used)] // test code

use std::collections::HashSet;

use zeroize::Zeroizing;

use super::*;
use crate::protocol::groups::config::data::{ConfigValue, Scalar};
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::Seed;
use crate::protocol::storage::SubaccountFlags;
use crate::store::groups::Membership;

fn secret(n: u8) -> GroupSecret {
    GroupSecret::from_seed(Seed::from_bytes([n; 32]))
}

fn me() -> Identity {
    Identity::from_seed(Seed::from_bytes([42; 32]))
}

fn listing(group: &GroupSecret, role: GroupRole, state: GroupState) -> GroupListing {
    GroupListing {
        membership: Membership {
            account: me().session_id().to_string(),
            group: group.id().to_string(),
            role,
            state,
            inviter: None,
            invited_at: Some(1_700_000_000_000),
            joined_at: (state == GroupState::Joined).then_some(1_700_000_100_000),
        },
        name: "Ops".into(),
        description: None,
        destroyed: false,
    }
}

fn grant(group: &GroupSecret) -> Zeroizing<Vec<u8>> {
    let auth = MemberAuthData::new(
        group,
        &me().session_id(),
        SubaccountFlags::READ | SubaccountFlags::WRITE,
    )
    .unwrap();
    Zeroizing::new(auth.as_bytes().to_vec())
}

fn seed(group: &GroupSecret) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(group.seed().expose_secret().to_vec())
}

fn head(message: &ConfigMessage, hash: &str) -> StoredConfig {
    StoredConfig {
        hash: hash.into(),
        seqno: message.seqno(),
        data: message.as_bytes().to_vec().into(),
    }
}

#[test]
fn entries_follow_the_membership() {
    let g = secret(1);
    let gk = g.public();
    let invited = desired(
        &listing(&g, GroupRole::Member, GroupState::Invited),
        &grant(&g),
        &gk,
        None,
    )
    .unwrap()
    .unwrap();
    assert!(invited.invited && invited.secret.is_none());
    assert_eq!(invited.auth.as_ref().unwrap().as_bytes()[..], grant(&g)[..]);
    assert_eq!((invited.name.as_str(), invited.joined_at), ("Ops", 0));

    let joined = desired(
        &listing(&g, GroupRole::Member, GroupState::Joined),
        &grant(&g),
        &gk,
        Some(invited.clone()),
    )
    .unwrap()
    .unwrap();
    assert!(!joined.invited);
    assert_eq!(joined.joined_at, 1_700_000_100);

    let admin = desired(
        &listing(&g, GroupRole::Admin, GroupState::Joined),
        &seed(&g),
        &gk,
        None,
    )
    .unwrap()
    .unwrap();
    assert_eq!(admin.secret.unwrap().public(), gk);

    for gone in [GroupState::Declined, GroupState::Left] {
        let l = listing(&g, GroupRole::Member, gone);
        assert!(desired(&l, &grant(&g), &gk, Some(invited.clone()))
            .unwrap()
            .is_none());
    }
}

#[test]
fn applying_keeps_what_we_do_not_manage() {
    let g = secret(1);
    let mut next = MutableConfigMessage::new(1, DEFAULT_LAG);
    let mut theirs = UserGroupEntry::new(&g.public());
    theirs.auth = MemberAuthData::try_from(&grant(&g)[..]).ok();
    theirs.priority = 3;
    set_user_group(next.data_mut(), &theirs);
    next.data_mut()
        .insert(b"o".to_vec(), ConfigValue::Scalar(Scalar::Int(7)));
    let groups = vec![(
        listing(&g, GroupRole::Member, GroupState::Joined),
        grant(&g),
    )];
    apply(&mut next, &groups).unwrap();
    let entry = user_group(next.data(), &g.id()).unwrap();
    assert_eq!(entry.priority, 3);
    assert_eq!(
        next.data().get(&b"o"[..]),
        Some(&ConfigValue::Scalar(Scalar::Int(7)))
    );
}

#[test]
fn concurrent_heads_merge_and_must_be_published() {
    let base = MutableConfigMessage::new(1, DEFAULT_LAG).finish(None);
    let mut one = base.increment();
    set_user_group(one.data_mut(), &UserGroupEntry::new(&secret(1).public()));
    let mut two = base.increment();
    set_user_group(two.data_mut(), &UserGroupEntry::new(&secret(2).public()));
    let heads = [head(&one.finish(None), "a"), head(&two.finish(None), "b")];
    let started = start(&heads);
    assert!(started.merged);
    assert_eq!(started.next.seqno(), 3);
    assert_eq!(user_groups_from_data(started.next.data()).len(), 2);
    assert_eq!(started.read.len(), 2);

    // One head superseding another: adopted, the older one redundant, nothing to publish.
    let first = MutableConfigMessage::new(1, DEFAULT_LAG).finish(None);
    let second = first.increment().finish(None);
    let started = start(&[head(&first, "old"), head(&second, "new")]);
    assert!(!started.merged);
    assert_eq!(started.redundant, vec!["old".to_owned()]);
    assert_eq!(started.next.seqno(), 3);
}

#[test]
fn another_devices_changes_are_taken_over() {
    let (accepted, erased, promoted) = (secret(1), secret(2), secret(3));
    let mut data = ConfigDict::new();
    let mut entry = UserGroupEntry::new(&accepted.public());
    entry.auth = MemberAuthData::try_from(&grant(&accepted)[..]).ok();
    set_user_group(&mut data, &entry);
    let mut entry = UserGroupEntry::new(&promoted.public());
    entry.secret = Some(promoted.clone());
    set_user_group(&mut data, &entry);
    let mut groups = vec![
        (
            listing(&accepted, GroupRole::Member, GroupState::Invited),
            grant(&accepted),
        ),
        (
            listing(&erased, GroupRole::Member, GroupState::Joined),
            grant(&erased),
        ),
        (
            listing(&promoted, GroupRole::Member, GroupState::Joined),
            grant(&promoted),
        ),
    ];
    let listed: HashSet<String> = [erased.id().to_string()].into();
    let taken = take_from_config(&data, &listed, &mut groups).unwrap();
    assert_eq!(taken.len(), 3);
    assert_eq!(groups[0].0.membership.state, GroupState::Joined);
    assert_eq!(groups[1].0.membership.state, GroupState::Left);
    assert_eq!(groups[2].0.membership.role, GroupRole::Admin);
    assert_eq!(groups[2].1[..], seed(&promoted)[..]);

    // Never listed: a fresh invitation, not something another device erased.
    let mut fresh = vec![(
        listing(&erased, GroupRole::Member, GroupState::Invited),
        grant(&erased),
    )];
    assert!(
        take_from_config(&ConfigDict::new(), &HashSet::new(), &mut fresh)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn only_verified_grants_are_adopted() {
    let (ours, forged, admin) = (secret(1), secret(2), secret(3));
    let mut data = ConfigDict::new();
    let mut entry = UserGroupEntry::new(&ours.public());
    entry.auth = MemberAuthData::try_from(&grant(&ours)[..]).ok();
    entry.invited = true;
    set_user_group(&mut data, &entry);
    let mut entry = UserGroupEntry::new(&forged.public());
    entry.auth = MemberAuthData::try_from(&[3u8; 100][..]).ok();
    set_user_group(&mut data, &entry);
    let mut entry = UserGroupEntry::new(&admin.public());
    entry.secret = Some(admin.clone());
    set_user_group(&mut data, &entry);
    let adopted = to_adopt(&data, &HashSet::new(), &me().ed25519_public());
    let found: Vec<(String, GroupRole, GroupState)> = adopted
        .iter()
        .map(|a| (a.id.clone(), a.role, a.state))
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.contains(&(
        ours.id().to_string(),
        GroupRole::Member,
        GroupState::Invited
    )));
    assert!(found.contains(&(admin.id().to_string(), GroupRole::Admin, GroupState::Joined)));
    let known: HashSet<String> = [ours.id().to_string(), admin.id().to_string()].into();
    assert!(to_adopt(&data, &known, &me().ed25519_public()).is_empty());
}
