//! Group administration end to end on the devnet (issue 11): A (gateway 1, admin) runs a group
//! with C (gateway 1) and B and D (gateway 2, their own database). A removes B: B is kicked,
//! its grant is refused by the swarm and it cannot read what follows, while the others keep
//! talking. A promotes D, D renames the group and everyone sees it; A deletes D's message for
//! everyone; A destroys the group and nobody can post any more.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod common;
mod gateway_support;
mod group_client;
mod netsupport;

use common::eventually;
use gateway_support as gs;
use serde_json::json;
use session_gateway::chat::groups::{secret_of, state};
use session_gateway::network::ItemData;
use session_gateway::protocol::groups::keys::KeysReader;
use session_gateway::protocol::groups::subaccount::{MemberAuthData, MemberSubaccount};
use session_gateway::protocol::storage::{AccountId, Namespace, Signer};

/// The texts of the group's namespace-11 messages that open with `keys` (read from the swarm
/// with the admin's authority).
async fn readable_texts(
    network: &session_gateway::network::SessionNetwork,
    group: &str,
    admin: &Signer<'_>,
    keys: &[[u8; 32]],
) -> Vec<String> {
    let group_pk: [u8; 32] = hex::decode(&group[2..]).unwrap().try_into().unwrap();
    let swarm = AccountId::from_hex(group).unwrap();
    let pages = network
        .retrieve(&swarm, admin, &[(Namespace(11), None)])
        .await
        .unwrap();
    pages[0]
        .messages
        .iter()
        .filter_map(|m| match &m.data {
            ItemData::Intact(d) => Some(d.clone()),
            ItemData::Tampered(_) => None,
        })
        .filter_map(|d| group_client::open_group_message(&d, &group_pk, keys).ok())
        .filter_map(|o| Some(group_client::text_of_envelope(&o.envelope_bytes)?.1))
        .collect()
}

both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_remove_promote_rename_delete_and_destroy() {
    let devnet = netsupport::devnet(6, 3).await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let master = common::master_key();
    let gw1 = gs::start(dirs[0].path(), gs::settings(&master), &devnet).await;
    let gw2 = gs::start(dirs[1].path(), gs::settings(&master), &devnet).await;
    let a = gw1.create_account().await;
    let c = gw1.create_account().await;
    let b_identity = netsupport::identity();
    let b = gw2.import(&b_identity).await;
    let d = gw2.create_account().await;

    let group = gw1.create_group(&a, &[&b, &c, &d]).await;
    gw1.join_group(&c, &group).await;
    gw2.join_group(&b, &group).await;
    gw2.join_group(&d, &group).await;
    gw1.post_to_group(&a, &group, "welcome").await;
    for (gw, who) in [(&gw2, &b), (&gw1, &c), (&gw2, &d)] {
        gw.wait_received_in(who, &group, "welcome").await;
    }

    // The admin marks each member joined once its answer arrived (as clients do), and the
    // members see it too.
    for (gw, who) in [(&gw1, &a), (&gw2, &d)] {
        eventually(60, "members joined", || async {
            let view = gw.on("GET", who, &format!("/groups/{group}"), None).await;
            let members = view.body["members"].as_array().cloned().unwrap_or_default();
            (members.len() == 4 && members.iter().all(|m| m["status"] == "joined"))
                .then_some(())
        })
        .await;
    }

    // A removes B.
    let removed = gw1
        .on("DELETE", &a, &format!("/groups/{group}/members/{b}"), None)
        .await;
    assert_eq!(removed.status, 202, "{}", removed.body);
    for (gw, who) in [(&gw1, &a), (&gw1, &c), (&gw2, &d)] {
        gw.wait_event(who, "group.member_removed", |e| {
            e["group"] == group.as_str() && e["member"] == b.as_str()
        })
        .await;
    }
    gw2.wait_event(&b, "group.kicked", |e| e["group"] == group.as_str())
        .await;
    let view = gw2.on("GET", &b, &format!("/groups/{group}"), None).await;
    assert_eq!(view.body["state"], "kicked", "{}", view.body);

    // The others keep talking, and B is not among the readers any more.
    gw1.post_to_group(&a, &group, "after B left").await;
    gw1.wait_received_in(&c, &group, "after B left").await;
    gw2.wait_received_in(&d, &group, "after B left").await;
    gw2.post_to_group(&d, &group, "D still here").await;
    let at_a = gw1.wait_received_in(&a, &group, "D still here").await;
    gw1.wait_received_in(&c, &group, "D still here").await;
    let view = gw1.on("GET", &a, &format!("/groups/{group}"), None).await;
    let members: Vec<&str> = view.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(members.len(), 3, "{}", view.body);
    assert!(!members.contains(&b.as_str()), "{}", view.body);
    assert!(gw2.received_in(&b, &group, "after B left").await.is_empty());

    // The swarm refuses B's grant, and the keys B holds do not open what came after.
    let network = gs::network(&devnet);
    let swarm = AccountId::from_hex(&group).unwrap();
    let grant = gw2
        .gateway()
        .store()
        .group_secret(&b, &group)
        .await
        .unwrap()
        .unwrap();
    let auth = MemberAuthData::try_from(grant.as_slice()).unwrap();
    let sub = MemberSubaccount::new(&b_identity, &auth).unwrap();
    let refused = network
        .retrieve(&swarm, &Signer::GroupMember(&sub), &[(Namespace(11), None)])
        .await;
    assert!(refused.is_err(), "B's grant still reads the group: {refused:?}");
    let b_keys: Vec<[u8; 32]> = state::load_keys(
        gw2.gateway().store(),
        &group,
        KeysReader::Member(&b_identity),
    )
    .await
    .unwrap()
    .decryption_keys()
    .map(|k| *k.expose_secret())
    .collect();
    let seed = gw1
        .gateway()
        .store()
        .group_secret(&a, &group)
        .await
        .unwrap()
        .unwrap();
    let secret = secret_of(&seed).unwrap();
    let admin = Signer::Account(secret.as_identity().signing_key());
    let admin_keys: Vec<[u8; 32]> = state::load_keys(
        gw1.gateway().store(),
        &group,
        KeysReader::Admin(&secret),
    )
    .await
    .unwrap()
    .decryption_keys()
    .map(|k| *k.expose_secret())
    .collect();
    let all = readable_texts(&network, &group, &admin, &admin_keys).await;
    assert!(all.contains(&"after B left".to_owned()), "{all:?}");
    let bs = readable_texts(&network, &group, &admin, &b_keys).await;
    assert!(bs.contains(&"welcome".to_owned()), "{bs:?}");
    assert!(!bs.contains(&"after B left".to_owned()), "{bs:?}");
    assert!(!bs.contains(&"D still here".to_owned()), "{bs:?}");

    // A promotes D (on the other gateway); D renames the group and everyone sees it.
    let promoted = gw1
        .on("POST", &a, &format!("/groups/{group}/members/{d}/promote"), None)
        .await;
    assert_eq!(promoted.status, 202, "{}", promoted.body);
    for (gw, who) in [(&gw1, &a), (&gw1, &c), (&gw2, &d)] {
        gw.wait_event(who, "group.member_promoted", |e| {
            e["group"] == group.as_str() && e["member"] == d.as_str()
        })
        .await;
    }
    let view = gw2.on("GET", &d, &format!("/groups/{group}"), None).await;
    assert_eq!(view.body["role"], "admin", "{}", view.body);
    let renamed = gw2
        .on(
            "PATCH",
            &d,
            &format!("/groups/{group}"),
            Some(json!({"name": "Renamed by D"})),
        )
        .await;
    assert_eq!(renamed.status, 202, "{}", renamed.body);
    for (gw, who) in [(&gw1, &a), (&gw1, &c), (&gw2, &d)] {
        let updated = gw
            .wait_event(who, "group.updated", |e| e["name"] == "Renamed by D")
            .await;
        assert_eq!(updated["changed"], json!(["name"]), "{updated}");
    }
    // A member (not an admin) cannot.
    let refused = gw1
        .on("PATCH", &c, &format!("/groups/{group}"), Some(json!({"name": "x"})))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "not_group_admin");

    // A deletes D's message for everyone.
    let id = at_a["id"].as_str().unwrap();
    let deleted = gw1.on("DELETE", &a, &format!("/messages/{id}"), None).await;
    assert!(deleted.status < 300, "{}", deleted.body);
    let at_d = gw2
        .history(&d)
        .await
        .into_iter()
        .find(|m| m["text"] == "D still here")
        .unwrap();
    for (gw, who) in [(&gw1, &c), (&gw2, &d)] {
        gw.wait_event(who, "message.deleted", |e| e["conversation"] == group.as_str())
            .await;
    }
    let gone = gw2.message(&d, at_d["id"].as_str().unwrap()).await;
    assert!(!gone["deleted_at"].is_null(), "{gone}");

    // A destroys the group: everyone sees it, and posting is refused.
    let destroyed = gw1.on("DELETE", &a, &format!("/groups/{group}"), None).await;
    assert_eq!(destroyed.status, 202, "{}", destroyed.body);
    gw1.wait_event(&c, "group.destroyed", |e| e["group"] == group.as_str())
        .await;
    gw2.wait_event(&d, "group.destroyed", |e| e["group"] == group.as_str())
        .await;
    for (gw, who) in [(&gw1, &c), (&gw2, &d)] {
        let reply = gw
            .on("POST", who, "/messages", Some(json!({"to": group, "text": "hello?"})))
            .await;
        assert_eq!(reply.status, 409, "{}", reply.body);
        assert_eq!(reply.body["error"]["code"], "group_destroyed");
    }
    devnet.shutdown().await;
}
}
