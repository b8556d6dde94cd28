//! Control messages (groups.md §6): the signed strings, build/verify round trips, refusals,
//! and junk.

use proptest::prelude::*;
use prost::Message as _;

use super::control::*;
use super::subaccount::MemberAuthData;
use super::GroupSecret;
use crate::protocol::keys::{Identity, Seed};
use crate::protocol::protos::{
    GroupUpdateDeleteMemberContentMessage, GroupUpdateInfoChangeMessage, GroupUpdateInviteMessage,
    GroupUpdateMemberChangeMessage, GroupUpdatePromoteMessage,
};
use crate::protocol::storage::SubaccountFlags;

fn group() -> GroupSecret {
    GroupSecret::from_seed(Seed::from_bytes([0x42; 32]))
}

fn member(n: u8) -> Identity {
    Identity::from_seed(Seed::from_bytes([n; 32]))
}

#[test]
fn signed_texts() {
    let bob = member(2).session_id();
    assert_eq!(
        invite_signed_text(&bob, 1_700_000_000_123),
        format!("INVITE{bob}1700000000123").into_bytes()
    );
    assert_eq!(info_change_signed_text(1, 5), b"INFO_CHANGE15");
    assert_eq!(member_change_signed_text(3, 77), b"MEMBER_CHANGE377");
    assert_eq!(
        delete_content_signed_text(
            9,
            &["05aa".into(), "05bb".into()],
            &["h1".into(), "h2".into()]
        ),
        b"DELETE_CONTENT905aa05bbh1h2"
    );
    assert_eq!(InfoChangeType::DisappearingMessages as i32, 3);
    assert_eq!(MemberChangeType::Promoted as i32, 3);
}

#[test]
fn invite_round_trip() {
    let (g, bob) = (group(), member(2));
    let auth = MemberAuthData::new(
        &g,
        &bob.session_id(),
        SubaccountFlags::READ | SubaccountFlags::WRITE,
    )
    .unwrap();
    let update = invite(&g, "Support", &bob.session_id(), &auth, 1000);
    let msg = update.invite_message.unwrap();
    assert_eq!(msg.group_session_id, g.id().to_string());
    // The signature is Ed25519 by the group key over the string (checked directly).
    let sig: [u8; 64] = msg.admin_signature.as_slice().try_into().unwrap();
    g.public()
        .verify(&invite_signed_text(&bob.session_id(), 1000), &sig)
        .unwrap();
    let ok = verify_invite(&msg, &bob.session_id(), &bob.ed25519_public(), 1000).unwrap();
    assert_eq!(ok.group, g.public());
    assert_eq!(ok.name, "Support");
    assert_eq!(ok.auth, auth);
    // Wrong time, wrong invitee, another's grant, bad ID, short signature.
    let carol = member(3);
    assert_eq!(
        verify_invite(&msg, &bob.session_id(), &bob.ed25519_public(), 1001),
        Err(ControlError::BadSignature)
    );
    assert_eq!(
        verify_invite(&msg, &carol.session_id(), &carol.ed25519_public(), 1000),
        Err(ControlError::BadSignature)
    );
    let carol_auth = MemberAuthData::new(&g, &carol.session_id(), SubaccountFlags::READ).unwrap();
    let mut swapped = msg.clone();
    swapped.member_auth_data = carol_auth.as_bytes().to_vec();
    assert_eq!(
        verify_invite(&swapped, &bob.session_id(), &bob.ed25519_public(), 1000),
        Err(ControlError::BadAuthData)
    );
    let mut bad_id = msg.clone();
    bad_id.group_session_id = bob.session_id().to_string();
    assert_eq!(
        verify_invite(&bad_id, &bob.session_id(), &bob.ed25519_public(), 1000),
        Err(ControlError::BadGroupId)
    );
    let mut short = msg;
    short.admin_signature.pop();
    assert_eq!(
        verify_invite(&short, &bob.session_id(), &bob.ed25519_public(), 1000),
        Err(ControlError::MissingSignature)
    );
}

#[test]
fn promote_hands_over_the_seed() {
    let g = group();
    let msg = promote(&g, "Support").promote_message.unwrap();
    let secret = accept_promote(&msg, Some(&g.public())).unwrap();
    assert_eq!(secret.id(), g.id());
    let other = GroupSecret::from_seed(Seed::from_bytes([0x43; 32]));
    assert_eq!(
        accept_promote(&msg, Some(&other.public())).map(|s| s.id()),
        Err(ControlError::WrongGroup)
    );
    let short = GroupUpdatePromoteMessage {
        group_identity_seed: vec![1; 31],
        name: String::new(),
    };
    assert_eq!(
        accept_promote(&short, None).map(|s| s.id()),
        Err(ControlError::BadSeed)
    );
}

#[test]
fn info_and_member_changes() {
    let g = group();
    for change in [
        InfoChange::Name("New".into()),
        InfoChange::Avatar,
        InfoChange::DisappearingMessages(3600),
    ] {
        let msg = info_change(&g, &change, 50).info_change_message.unwrap();
        verify_info_change(&msg, &g.public(), 50).unwrap();
        assert_eq!(
            verify_info_change(&msg, &g.public(), 51),
            Err(ControlError::BadSignature)
        );
    }
    let msg = info_change(&g, &InfoChange::Name("N".into()), 1)
        .info_change_message
        .unwrap();
    assert_eq!(msg.updated_name.as_deref(), Some("N"));
    let members = [member(2).session_id(), member(3).session_id()];
    let msg = member_change(&g, MemberChangeType::Added, &members, Some(true), 7)
        .member_change_message
        .unwrap();
    assert_eq!(msg.member_session_ids.len(), 2);
    verify_member_change(&msg, &g.public(), 7).unwrap();
    let mut retyped = msg;
    retyped.r#type = MemberChangeType::Removed as i32;
    assert_eq!(
        verify_member_change(&retyped, &g.public(), 7),
        Err(ControlError::BadSignature)
    );
}

#[test]
fn delete_member_content_authority() {
    let g = group();
    let members = [member(2).session_id()];
    let hashes = ["abc".to_string()];
    let signed = delete_member_content(Some(&g), &members, &hashes, 9)
        .delete_member_content
        .unwrap();
    assert_eq!(
        verify_delete_member_content(&signed, &g.public(), 9),
        Ok(DeleteAuthority::Admin)
    );
    let mut more = signed.clone();
    more.message_hashes.push("def".into());
    assert_eq!(
        verify_delete_member_content(&more, &g.public(), 9),
        Err(ControlError::BadSignature)
    );
    let unsigned = delete_member_content(None, &[], &hashes, 9)
        .delete_member_content
        .unwrap();
    assert_eq!(
        verify_delete_member_content(&unsigned, &g.public(), 9),
        Ok(DeleteAuthority::SenderOnly)
    );
}

#[test]
fn unsigned_messages_and_content() {
    assert!(invite_response(true).invite_response.unwrap().is_approved);
    assert!(member_left().member_left_message.is_some());
    assert!(member_left_notification()
        .member_left_notification_message
        .is_some());
    let content = control_content(member_left());
    let bytes = content.encode_to_vec();
    let back = crate::protocol::protos::Content::decode(bytes.as_slice()).unwrap();
    assert!(back
        .data_message
        .unwrap()
        .group_update_message
        .unwrap()
        .member_left_message
        .is_some());
}

proptest! {
    #[test]
    fn junk_never_panics(id in ".{0,80}", name in ".{0,10}", auth in proptest::collection::vec(any::<u8>(), 0..120),
                         sig in proptest::collection::vec(any::<u8>(), 0..70), kind: i32, ts: u64,
                         ids in proptest::collection::vec(".{0,70}", 0..3)) {
        let bob = member(2);
        let invite = GroupUpdateInviteMessage { group_session_id: id.clone(), name, member_auth_data: auth.clone(), admin_signature: sig.clone() };
        let _ = verify_invite(&invite, &bob.session_id(), &bob.ed25519_public(), ts);
        let _ = parse_group_id(&id);
        let gpk = group().public();
        let info = GroupUpdateInfoChangeMessage { r#type: kind, updated_name: None, updated_expiration: None, admin_signature: sig.clone() };
        let _ = verify_info_change(&info, &gpk, ts);
        let change = GroupUpdateMemberChangeMessage { r#type: kind, member_session_ids: ids.clone(), history_shared: None, admin_signature: sig.clone() };
        let _ = verify_member_change(&change, &gpk, ts);
        let delete = GroupUpdateDeleteMemberContentMessage { member_session_ids: ids.clone(), message_hashes: ids, admin_signature: Some(sig) };
        let _ = verify_delete_member_content(&delete, &gpk, ts);
        let promote = GroupUpdatePromoteMessage { group_identity_seed: auth, name: String::new() };
        let _ = accept_promote(&promote, Some(&gpk));
    }
}

#[test]
fn kicked_notice_round_trip() {
    use super::kicked::*;
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let (g, bob, carol, dave) = (group(), member(2), member(3), member(4));
    let notice = kicked_notice(&g, &[bob.session_id(), carol.session_id()], 7, &mut rng).unwrap();
    assert_eq!(read_kicked_notice(&notice, &bob, &g.public()), Ok(7));
    assert_eq!(read_kicked_notice(&notice, &carol, &g.public()), Ok(7));
    assert!(read_kicked_notice(&notice, &dave, &g.public()).is_err());
    let other = GroupSecret::from_seed(Seed::from_bytes([0x43; 32]));
    assert!(read_kicked_notice(&notice, &bob, &other.public()).is_err());
    assert_eq!(
        kicked_notice(&g, &[], 1, &mut rng),
        Err(KickedError::NoMembers)
    );
}

proptest! {
    #[test]
    fn kicked_junk_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = super::kicked::read_kicked_notice(&bytes, &member(2), &group().public());
    }
}
