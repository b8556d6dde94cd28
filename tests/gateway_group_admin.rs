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
use session_gateway::protocol::groups::config::members::members_from_data;
use session_gateway::protocol::groups::config::{open_config, ConfigKind, ConfigMessage};
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

/// The group keys `reader` can open from the keys messages in `store`.
async fn decryption_keys(
    store: &session_gateway::store::Store,
    group: &str,
    reader: KeysReader<'_>,
) -> Vec<[u8; 32]> {
    state::load_keys(store, group, reader)
        .await
        .unwrap()
        .decryption_keys()
        .map(|k| *k.expose_secret())
        .collect()
}

/// A devnet and two gateways on it, each with its own data dir and database.
async fn two_gateways() -> (
    session_gateway::devnet::Devnet,
    [tempfile::TempDir; 2],
    gs::Gw,
    gs::Gw,
) {
    let devnet = netsupport::devnet(6, 3).await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let master = common::master_key();
    let gw1 = gs::start(dirs[0].path(), gs::settings(&master), &devnet).await;
    let gw2 = gs::start(dirs[1].path(), gs::settings(&master), &devnet).await;
    (devnet, dirs, gw1, gw2)
}

both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_remove_promote_rename_delete_and_destroy() {
    let (devnet, _dirs, gw1, gw2) = two_gateways().await;
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
    gw1.post_to_group(&c, &group, "C was here").await;
    for (gw, who) in [(&gw2, &b), (&gw1, &c), (&gw2, &d)] {
        gw.wait_received_in(who, &group, "welcome").await;
    }
    let c_at_d = gw2.wait_received_in(&d, &group, "C was here").await;

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
    let b_reader = KeysReader::Member(&b_identity);
    let b_keys = decryption_keys(gw2.gateway().store(), &group, b_reader).await;
    let seed = gw1
        .gateway()
        .store()
        .group_secret(&a, &group)
        .await
        .unwrap()
        .unwrap();
    let secret = secret_of(&seed).unwrap();
    let admin = Signer::Account(secret.as_identity().signing_key());
    let admin_reader = KeysReader::Admin(&secret);
    let admin_keys = decryption_keys(gw1.gateway().store(), &group, admin_reader).await;
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
    // A sets the group's picture (encrypted and uploaded to the file server): members on both
    // gateways see what changed.
    let png: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let pictured = gw1
        .on(
            "PATCH",
            &a,
            &format!("/groups/{group}"),
            Some(json!({"avatar_base64": base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD, &png)})),
        )
        .await;
    assert_eq!(pictured.status, 202, "{}", pictured.body);
    for (gw, who) in [(&gw1, &c), (&gw2, &d)] {
        gw.wait_event(who, "group.updated", |e| e["changed"] == json!(["avatar"]))
            .await;
    }
    // D (the other gateway) downloads and decrypts the same picture.
    let picture = gw2
        .client
        .get(format!("{}/v1/accounts/{d}/groups/{group}/avatar", gw2.base))
        .bearer_auth(common::ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(picture.status(), 200);
    assert_eq!(picture.bytes().await.unwrap().as_ref(), png.as_slice());
    // A member (not an admin) cannot.
    let refused = gw1
        .on("PATCH", &c, &format!("/groups/{group}"), Some(json!({"name": "x"})))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "not_group_admin");

    // A deletes D's message for everyone.
    let at_d = gw2
        .history(&d)
        .await
        .into_iter()
        .find(|m| m["text"] == "D still here")
        .unwrap();
    let id = at_a["id"].as_str().unwrap();
    let deleted = gw1.on("DELETE", &a, &format!("/messages/{id}"), None).await;
    assert!(deleted.status < 300, "{}", deleted.body);
    for (gw, who) in [(&gw1, &c), (&gw2, &d)] {
        gw.wait_event(who, "message.deleted", |e| e["conversation"] == group.as_str())
            .await;
    }
    let gone = gw2.deleted_message(&d, at_d["id"].as_str().unwrap()).await;
    assert!(!gone["deleted_at"].is_null(), "{gone}");

    // A removes C with its messages: C is kicked at once (same gateway), D's copy of C's
    // message is deleted, and so is the swarm's.
    let removed = gw1
        .on(
            "DELETE",
            &a,
            &format!("/groups/{group}/members/{c}?delete_messages=true"),
            None,
        )
        .await;
    assert_eq!(removed.status, 202, "{}", removed.body);
    gw1.wait_event(&c, "group.kicked", |e| e["group"] == group.as_str())
        .await;
    let deleted = gw2
        .wait_event(&d, "message.deleted", |e| e["message_id"] == c_at_d["id"])
        .await;
    assert_eq!(deleted["by"], a.as_str(), "{deleted}");
    let admin_keys_now = decryption_keys(gw1.gateway().store(), &group, admin_reader).await;
    eventually(60, "C's message off the swarm", || async {
        let texts = readable_texts(&network, &group, &admin, &admin_keys_now).await;
        (!texts.contains(&"C was here".to_owned())).then_some(())
    })
    .await;

    // A destroys the group: everyone sees it, and posting is refused.
    let destroyed = gw1.on("DELETE", &a, &format!("/groups/{group}"), None).await;
    assert_eq!(destroyed.status, 202, "{}", destroyed.body);
    gw2.wait_event(&d, "group.destroyed", |e| e["group"] == group.as_str())
        .await;
    for (gw, who) in [(&gw1, &a), (&gw2, &d)] {
        let reply = gw
            .on("POST", who, "/messages", Some(json!({"to": group, "text": "hello?"})))
            .await;
        assert_eq!(reply.status, 409, "{}", reply.body);
        assert_eq!(reply.body["error"]["code"], "group_destroyed");
    }
    devnet.shutdown().await;
}
}

/// The config messages of `ns` the devnet's nodes hold for `group`, opened with `keys` and
/// parsed, as `(blake2b-256 of the plaintext, message)` (read straight from the node stores,
/// whatever faults the nodes show to clients).
fn swarm_configs(
    devnet: &session_gateway::devnet::Devnet,
    group: &str,
    ns: i16,
    keys: &[[u8; 32]],
) -> Vec<([u8; 32], ConfigMessage)> {
    use blake2::digest::consts::U32;
    use blake2::{Blake2b, Digest};
    use session_gateway::devnet::rpc::params::Account;
    use session_gateway::devnet::store::RetrieveLimits;
    let account = Account(hex::decode(group).unwrap().try_into().unwrap());
    let group_key = state::group_key(group).unwrap();
    let kind = if ns == 13 {
        ConfigKind::GroupInfo
    } else {
        ConfigKind::GroupMembers
    };
    let net = devnet.network();
    let now = net.clock.now_ms();
    let limits = RetrieveLimits {
        max_count: None,
        max_size: usize::MAX,
    };
    let mut out: Vec<([u8; 32], ConfigMessage)> = Vec::new();
    for node in &net.nodes {
        let (messages, _) = node.store().retrieve(&account, ns, None, limits, now);
        for m in messages {
            let Ok(plain) = open_config(&m.data, keys, kind) else {
                continue;
            };
            let hash: [u8; 32] = Blake2b::<U32>::digest(&plain).into();
            if out.iter().any(|(h, _)| *h == hash) {
                continue;
            }
            out.push((
                hash,
                ConfigMessage::parse(&plain, Some(&group_key)).unwrap(),
            ));
        }
    }
    out
}

/// The name in an info config's data.
fn name_of(message: &ConfigMessage) -> Option<String> {
    session_gateway::protocol::groups::config::info::GroupInfo::from_data(message.data()).name
}

both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_change_the_group_at_once_and_converge() {
    let (devnet, _dirs, gw1, gw2) = two_gateways().await;
    let a = gw1.create_account().await;
    let c = gw1.create_account().await;
    let e = gw1.create_account().await;
    let d = gw2.create_account().await;
    let f = gw2.create_account().await;
    let group = gw1.create_group(&a, &[&c, &d]).await;
    gw1.join_group(&c, &group).await;
    gw2.join_group(&d, &group).await;
    let promoted = gw1
        .on("POST", &a, &format!("/groups/{group}/members/{d}/promote"), None)
        .await;
    assert_eq!(promoted.status, 202, "{}", promoted.body);
    gw2.wait_event(&d, "group.member_promoted", |x| x["member"] == d.as_str())
        .await;
    // Settled: both admins see three joined members, D as admin.
    for (gw, who) in [(&gw1, &a), (&gw2, &d)] {
        eventually(60, "settled", || async {
            let view = gw.on("GET", who, &format!("/groups/{group}"), None).await;
            let members = view.body["members"].as_array().cloned().unwrap_or_default();
            let ok = members.len() == 3
                && members.iter().all(|m| m["status"] == "joined")
                && members.iter().any(|m| m["session_id"] == d.as_str() && m["role"] == "admin");
            ok.then_some(())
        })
        .await;
    }
    // Both gateways have read everything posted so far (the invitation answers included).
    gw1.post_to_group(&a, &group, "sync point A").await;
    gw2.post_to_group(&d, &group, "sync point D").await;
    gw2.wait_received_in(&d, &group, "sync point A").await;
    gw1.wait_received_in(&a, &group, "sync point D").await;
    let seed = gw1.gateway().store().group_secret(&a, &group).await.unwrap().unwrap();
    let secret = secret_of(&seed).unwrap();
    let keys_now = || async {
        let reader = KeysReader::Admin(&secret);
        decryption_keys(gw1.gateway().store(), &group, reader).await
    };
    // D marked its own promotion accepted in the members config, as clients do.
    eventually(60, "promotion accepted", || async {
        let keys = keys_now().await;
        let configs = swarm_configs(&devnet, &group, 14, &keys);
        let newest = configs.iter().max_by_key(|(_, m)| m.seqno())?;
        let members = members_from_data(newest.1.data());
        members
            .iter()
            .any(|m| m.id.to_string() == d && m.admin && m.promotion.is_none())
            .then_some(())
    })
    .await;
    let keys = keys_now().await;
    let base = swarm_configs(&devnet, &group, 13, &keys)
        .iter()
        .map(|(_, m)| m.seqno())
        .max()
        .unwrap();

    // Neither gateway can read the group swarm (every member serves altered copies) while both
    // admins rename the group and invite someone, at once.
    let swarm = netsupport::swarm_indexes(&devnet, &AccountId::from_hex(&group).unwrap());
    for i in &swarm {
        devnet.set_faults(*i, netsupport::fault(|x| x.tamper_retrieve = true));
    }
    let (by_a, by_d) = tokio::join!(
        async {
            let r = gw1
                .on("PATCH", &a, &format!("/groups/{group}"), Some(json!({"name": "Name by A"})))
                .await;
            let i = gw1
                .on("POST", &a, &format!("/groups/{group}/members"), Some(json!({"members": [e]})))
                .await;
            (r.status, i.status)
        },
        async {
            let r = gw2
                .on("PATCH", &d, &format!("/groups/{group}"), Some(json!({"name": "Name by D"})))
                .await;
            let i = gw2
                .on("POST", &d, &format!("/groups/{group}/members"), Some(json!({"members": [f]})))
                .await;
            (r.status, i.status)
        }
    );
    assert_eq!((by_a, by_d), ((202, 202), (202, 202)));
    // Both admins' pushes reach the swarm: two renames at base+1, two heads at base+2.
    let renames = eventually(60, "both pushes", || async {
        let keys = keys_now().await;
        let mut all = swarm_configs(&devnet, &group, 13, &keys);
        all.retain(|(_, m)| m.seqno() == base + 1);
        (all.len() == 2).then_some(all)
    })
    .await;
    // libsession's rule (§1.2 step 5): diffs replay in ascending (seqno, hash) order, so the
    // rename whose message hash is larger is applied last and wins.
    let winner = renames.iter().max_by_key(|(hash, _)| *hash).unwrap();
    let expected_name = name_of(&winner.1).unwrap();
    assert!(expected_name == "Name by A" || expected_name == "Name by D");

    // The swarm answers again: within a few polls everyone agrees, and an admin published
    // the merge at base+3.
    for i in &swarm {
        devnet.set_faults(*i, netsupport::fault(|_| {}));
    }
    let mut expected_members = vec![a.clone(), c.clone(), d.clone(), e.clone(), f.clone()];
    expected_members.sort();
    for (gw, who) in [(&gw1, &a), (&gw1, &c), (&gw2, &d)] {
        eventually(60, "converged", || async {
            let view = gw.on("GET", who, &format!("/groups/{group}"), None).await;
            let mut ids: Vec<String> = view.body["members"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|m| m["session_id"].as_str().unwrap_or_default().to_owned())
                .collect();
            ids.sort();
            (view.body["name"] == expected_name.as_str() && ids == expected_members).then_some(())
        })
        .await;
    }
    // An admin published the merge: its first one is at max seqno + 1, and when both admins
    // published one at once (from different lagged histories) a later round merges those,
    // with the same outcome.
    let merged: Vec<(String, i64)> = eventually(60, "merge published", || async {
        let keys = keys_now().await;
        let merged: Vec<(String, i64)> = swarm_configs(&devnet, &group, 13, &keys)
            .iter()
            .filter(|(_, m)| m.seqno() > base + 2)
            .map(|(_, m)| (name_of(m).unwrap_or_default(), m.seqno()))
            .collect();
        (!merged.is_empty()).then_some(merged)
    })
    .await;
    assert_eq!(merged.iter().map(|(_, s)| *s).min(), Some(base + 3), "{merged:?}");
    assert!(
        merged.iter().all(|(name, _)| *name == expected_name),
        "{merged:?}, expected {expected_name}"
    );

    // Both admins rekeyed at once: everyone still reads everyone.
    gw1.post_to_group(&a, &group, "A after the merge").await;
    gw2.post_to_group(&d, &group, "D after the merge").await;
    gw1.wait_received_in(&c, &group, "A after the merge").await;
    gw1.wait_received_in(&c, &group, "D after the merge").await;
    gw2.wait_received_in(&d, &group, "A after the merge").await;
    devnet.shutdown().await;
}
}

both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_share_the_history_only_when_asked() {
    let devnet = netsupport::devnet(6, 3).await;
    let dirs = [
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    ];
    let master = common::master_key();
    let gw1 = gs::start(dirs[0].path(), gs::settings(&master), &devnet).await;
    let gw2 = gs::start(dirs[1].path(), gs::settings(&master), &devnet).await;
    let gw3 = gs::start(dirs[2].path(), gs::settings(&master), &devnet).await;
    let a = gw1.create_account().await;
    let c = gw1.create_account().await;
    let x = gw2.create_account().await;
    let y = gw3.create_account().await;
    let group = gw1.create_group(&a, &[&c]).await;
    gw1.join_group(&c, &group).await;
    gw1.post_to_group(&a, &group, "before they came").await;
    gw1.wait_received_in(&c, &group, "before they came").await;

    // X is invited with the history, Y without; each is alone on its gateway, so each reads
    // the group swarm from its start.
    for (who, share) in [(&x, true), (&y, false)] {
        let reply = gw1
            .on(
                "POST",
                &a,
                &format!("/groups/{group}/members"),
                Some(json!({"members": [who], "share_history": share})),
            )
            .await;
        assert_eq!(reply.status, 202, "{}", reply.body);
    }
    gw2.join_group(&x, &group).await;
    gw3.join_group(&y, &group).await;
    gw1.post_to_group(&a, &group, "after they came").await;
    gw2.wait_received_in(&x, &group, "after they came").await;
    gw3.wait_received_in(&y, &group, "after they came").await;
    let earlier = gw2.wait_received_in(&x, &group, "before they came").await;
    assert_eq!(earlier["from"], a.as_str());
    assert!(gw3.received_in(&y, &group, "before they came").await.is_empty());
    // Both are members now, whichever way they came in.
    let view = gw1.on("GET", &a, &format!("/groups/{group}"), None).await;
    assert_eq!(view.body["members"].as_array().unwrap().len(), 4, "{}", view.body);
    devnet.shutdown().await;
}
}
