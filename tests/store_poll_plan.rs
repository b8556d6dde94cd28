//! The poll plan (`Store::poll_plan`, issue 16): the read an account's poll cycle makes after
//! its own swarm's poll. Who leads a group or a community server (the smallest *active* local
//! account among the joined, design.md §10), the inboxes, the upkeep time
//! and whether the UserGroups merge has anything to work on, and the UserGroups poll cursor
//! the next cycle starts from, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

#[macro_use]
mod common;

use session_gateway::ids::SessionIdText;
use session_gateway::store::accounts::{AccountPatch, AccountStatus};
use session_gateway::store::communities::{CommunityRoom, InboxCursor, RoomMember};
use session_gateway::store::modes::{GroupRole, GroupState};
use session_gateway::store::poll_plan::PollPlan;
use session_gateway::store::Store;

// Ordered as the lead rule compares them: A < B < C < D.
const A: &str = "05aaaa010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const B: &str = "05bbbb4f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";
const C: &str = "05cccc010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const D: &str = "05dddd4f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";

const G1: &str = "031111010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const G2: &str = "032222010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const G3: &str = "033333010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

const S1: &str = "http://127.0.0.1:1";
const S2: &str = "http://127.0.0.1:2";
const KEY: &str = "a03c383cf63c3c4efe67acc52112a6dd734b3a946b9545f488aaa93da7991238";

async fn store() -> (Store, tempfile::TempDir) {
    let (store, dir) = common::store_with_account(A).await;
    for id in [B, C, D] {
        let id = SessionIdText::parse(id).unwrap();
        store.insert_account(&id, None, &[7; 16], 1).await.unwrap();
    }
    (store, dir)
}

async fn member(store: &Store, account: &str, group: &str, state: GroupState) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_group(group, "a group", 1).await.unwrap();
    tx.put_membership(
        store,
        account,
        group,
        GroupRole::Member,
        state,
        &[1; 100],
        None,
        1,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn join_room(store: &Store, account: &str, server: &str, token: &str) {
    let room = CommunityRoom {
        room: format!("{server}/{token}"),
        server: server.into(),
        server_key: KEY.into(),
        token: token.into(),
        name: token.into(),
        description: None,
        info_updates: 0,
        seqno: 0,
        moderators: vec![],
    };
    let member = RoomMember {
        account: account.into(),
        blinded_id: format!("15{}", &account[2..]),
        moderator: false,
        joined_at: 1,
    };
    let mut tx = store.begin().await.unwrap();
    tx.join_community(account, &room, &member, 1).await.unwrap();
    tx.commit().await.unwrap();
}

fn inbox(server: &str) -> InboxCursor {
    InboxCursor {
        server: server.into(),
        server_key: KEY.into(),
        last_id: 0,
    }
}

both_backends! {
    async fn an_account_with_nothing_but_its_swarm_plans_nothing() {
        let (store, _dir) = store().await;
        assert_eq!(store.poll_plan(D).await.unwrap(), PollPlan::default());
        // An unknown account reads as nothing too (its actor is about to stop).
        assert_eq!(store.poll_plan(&D.replace("dd", "ee")).await.unwrap(), PollPlan::default());
    }

    async fn the_smallest_active_joined_account_leads_and_everything_else_is_read_once() {
        let (store, _dir) = store().await;
        // G1: B and C joined, B leads. G2: A only invited, C joined: C leads. G3: destroyed.
        member(&store, B, G1, GroupState::Joined).await;
        member(&store, C, G1, GroupState::Joined).await;
        member(&store, A, G2, GroupState::Invited).await;
        member(&store, C, G2, GroupState::Joined).await;
        member(&store, C, G3, GroupState::Joined).await;
        let mut tx = store.begin().await.unwrap();
        tx.set_group_info(G3, "gone", None, true, 2).await.unwrap();
        tx.commit().await.unwrap();
        // C's last TTL extension of its UserGroups heads.
        store.set_user_config_extended(C, 1234).await.unwrap();
        // S1: A in one room, C in two: A leads. S2: only C.
        join_room(&store, A, S1, "lobby").await;
        join_room(&store, C, S1, "lobby").await;
        join_room(&store, C, S1, "dev").await;
        join_room(&store, C, S2, "ops").await;

        let a = store.poll_plan(A).await.unwrap();
        assert_eq!(a.lead_groups, Vec::<String>::new(), "A is only invited to G2");
        assert_eq!(a.lead_servers, vec![S1.to_owned()]);
        assert_eq!(a.inboxes, vec![inbox(S1)]);
        assert!(a.has_user_groups_state, "an invitation is group state");

        let b = store.poll_plan(B).await.unwrap();
        assert_eq!(b.lead_groups, vec![G1.to_owned()]);
        assert!(b.lead_servers.is_empty() && b.inboxes.is_empty());

        let c = store.poll_plan(C).await.unwrap();
        assert_eq!(c.lead_groups, vec![G2.to_owned()], "not G1 (B leads), not G3 (destroyed)");
        assert_eq!(c.lead_servers, vec![S2.to_owned()], "S1 once, led by A");
        assert_eq!(c.inboxes, vec![inbox(S1), inbox(S2)], "one inbox per server");
        assert_eq!(c.user_config_extended_at, 1234);
        assert!(c.has_user_groups_state);

        // Pausing the lead hands its groups and servers to the next active member.
        for paused in [A, B] {
            let id = SessionIdText::parse(paused).unwrap();
            let patch = AccountPatch { status: Some(AccountStatus::Paused), ..Default::default() };
            store.patch_account(&id, &patch, 3).await.unwrap().unwrap();
        }
        let c = store.poll_plan(C).await.unwrap();
        assert_eq!(c.lead_groups, vec![G1.to_owned(), G2.to_owned()]);
        assert_eq!(c.lead_servers, vec![S1.to_owned(), S2.to_owned()]);
        // The supervisor's list: the active accounts only (the paused ones run no actor).
        let mut active: Vec<String> = store
            .active_accounts()
            .await
            .unwrap()
            .iter()
            .map(|id| id.as_str().to_owned())
            .collect();
        active.sort();
        assert_eq!(active, vec![C.to_owned(), D.to_owned()]);
    }

    async fn user_groups_heads_alone_make_the_merge_worth_running() {
        let (store, _dir) = store().await;
        let config = session_gateway::store::groups::StoredConfig {
            hash: "head".into(),
            seqno: 1,
            data: vec![1, 2, 3].into(),
        };
        let mut tx = store.begin().await.unwrap();
        tx.add_user_config(&store, D, 5, &config, 1).await.unwrap();
        tx.commit().await.unwrap();
        let d = store.poll_plan(D).await.unwrap();
        assert!(d.has_user_groups_state);
        assert!(d.lead_groups.is_empty() && d.lead_servers.is_empty() && d.inboxes.is_empty());
        assert_eq!(d.user_groups_cursor, None, "nothing of namespace 5 consumed yet");
    }

    async fn the_plan_carries_the_user_groups_cursor_and_no_other_one() {
        let (store, _dir) = store().await;
        let mut tx = store.begin().await.unwrap();
        tx.set_poll_cursor(D, 5, "last-config", 1).await.unwrap();
        // The 1:1 namespace's cursor and another account's are not the UserGroups cursor.
        tx.set_poll_cursor(D, 0, "last-dm", 1).await.unwrap();
        tx.set_poll_cursor(C, 5, "c-config", 1).await.unwrap();
        tx.commit().await.unwrap();
        let d = store.poll_plan(D).await.unwrap();
        assert_eq!(d.user_groups_cursor.as_deref(), Some("last-config"));
        assert!(!d.has_user_groups_state, "a cursor alone is no state to merge");
        // Moved by the next commit, read by the next plan.
        let mut tx = store.begin().await.unwrap();
        tx.set_poll_cursor(D, 5, "newer-config", 2).await.unwrap();
        tx.commit().await.unwrap();
        let d = store.poll_plan(D).await.unwrap();
        assert_eq!(d.user_groups_cursor.as_deref(), Some("newer-config"));
    }
}
