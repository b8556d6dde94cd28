//! Closed groups end to end on the devnet (issue 10): account A on gateway 1 creates a group
//! with B (gateway 1) and C (gateway 2, its own database); B and C are invited and accept; then
//! every member's messages (text, quote, reaction, file) reach the other two exactly once with
//! the right author, the group's
//! traffic goes through onion paths only, and it survives restarts.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod common;
mod gateway_support;
mod group_client;
mod netsupport;

use gateway_support as gs;
use session_gateway::devnet::routes::Arrival;
use session_gateway::devnet::Devnet;

use crate::common::{data_dir_contains, eventually};

/// Two gateways on one devnet, each on its own data dir and database.
struct Setup {
    devnet: Devnet,
    dirs: [tempfile::TempDir; 2],
    master: String,
}

async fn two_gateways() -> (Setup, gs::Gw, gs::Gw) {
    let devnet = netsupport::devnet(6, 3).await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let master = common::master_key();
    let gw1 = gs::start(dirs[0].path(), gs::settings(&master), &devnet).await;
    let gw2 = gs::start(dirs[1].path(), gs::settings(&master), &devnet).await;
    (
        Setup {
            devnet,
            dirs,
            master,
        },
        gw1,
        gw2,
    )
}

/// Gateway 2 again on its data dir and database.
async fn restart(setup: &Setup, mut gw: gs::Gw) -> gs::Gw {
    let url = gw.database_url.clone();
    gw.stop().await;
    let mut settings = gs::settings(&setup.master);
    settings.database.url = Some(url);
    gs::start(setup.dirs[1].path(), settings, &setup.devnet).await
}

/// A devnet of `nodes` nodes (swarms of 3) and one gateway where A created a group that B
/// joined: `(devnet, data dir, gateway, A, B, group)`.
async fn one_gateway_group(
    nodes: usize,
) -> (Devnet, tempfile::TempDir, gs::Gw, String, String, String) {
    let devnet = netsupport::devnet(nodes, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let master = common::master_key();
    let gw = gs::start(dir.path(), gs::settings(&master), &devnet).await;
    let a = gw.create_account().await;
    let b = gw.create_account().await;
    let group = gw.create_group(&a, &[&b]).await;
    gw.join_group(&b, &group).await;
    (devnet, dir, gw, a, b, group)
}

/// Retrieve requests naming `account` in the devnet's route logs, after checking that every
/// request naming it came through an onion path with a relay.
fn retrieves_of(devnet: &Devnet, account: &str) -> usize {
    let mut retrieves = 0;
    for node in devnet.nodes() {
        for entry in devnet.routes(node.index) {
            if !entry.pubkeys.iter().any(|p| p == account) {
                continue;
            }
            match &entry.arrival {
                Arrival::Onion { relay, .. } => assert!(relay.is_some(), "{entry:?}"),
                Arrival::Direct { .. } => panic!("direct request for {account}: {entry:?}"),
            }
            if entry.method.contains("retrieve") {
                retrieves += 1;
            }
        }
    }
    retrieves
}

both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_create_invite_accept_and_talk() {
    let (setup, gw1, gw2) = two_gateways().await;
    let a = gw1.create_account().await;
    let b = gw1.create_account().await;
    let c = gw2.create_account().await;

    let group = gw1.create_group(&a, &[&b, &c]).await;
    assert!(group.starts_with("03"), "{group}");

    // The invitations arrive 1:1, verified, and wait for an answer (the default policy).
    let invited = gw1
        .wait_event(&b, "group.invited", |d| d["group"] == group.as_str())
        .await;
    assert_eq!(invited["name"], "Ops room");
    assert_eq!(invited["inviter"], a.as_str());
    gw2.wait_event(&c, "group.invited", |d| d["group"] == group.as_str())
        .await;
    for (gw, who) in [(&gw1, &b), (&gw2, &c)] {
        gw.accept_group(who, &group).await;
        gw.wait_event(who, "group.joined", |d| d["group"] == group.as_str())
            .await;
    }

    // Every member's message reaches the other two, with its author, exactly once.
    gw1.post_to_group(&a, &group, "hello from A").await;
    gw1.post_to_group(&b, &group, "hello from B").await;
    gw2.post_to_group(&c, &group, "hello from C").await;
    let expectations = [
        (&gw1, &b, &a, "hello from A"),
        (&gw2, &c, &a, "hello from A"),
        (&gw1, &a, &b, "hello from B"),
        (&gw2, &c, &b, "hello from B"),
        (&gw1, &a, &c, "hello from C"),
        (&gw1, &b, &c, "hello from C"),
    ];
    for (gw, to, from, text) in expectations {
        let got = eventually(60, text, || async {
            let found = gw.received_in(to, &group, text).await;
            (!found.is_empty()).then_some(found)
        })
        .await;
        assert_eq!(got[0]["from"], from.as_str(), "{text} to {to}");
    }
    // A few more polls: still exactly once each (nothing is delivered twice).
    let polls = gw1.gateway().metrics().polls.with_label_values(&["ok"]).get();
    eventually(30, "more polls", || async {
        let now = gw1.gateway().metrics().polls.with_label_values(&["ok"]).get();
        (now > polls + 20).then_some(())
    })
    .await;
    for (gw, to, _, text) in expectations {
        assert_eq!(gw.received_in(to, &group, text).await.len(), 1, "{text} to {to}");
    }

    // A quote and a reaction, each with its author.
    let from_a = gw1.received_in(&b, &group, "hello from A").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    gw1.reply(&b, &group, "B quotes A", &from_a).await;
    let quoted = eventually(60, "quote", || async {
        gw2.received_in(&c, &group, "B quotes A").await.pop()
    })
    .await;
    assert_eq!(quoted["from"], b.as_str());
    assert_eq!(quoted["quote"]["author"], a.as_str(), "{quoted}");
    assert_eq!(quoted["quote"]["text"], "hello from A", "{quoted}");
    let at_c = gw2.received_in(&c, &group, "hello from A").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reacted = gw2
        .on(
            "POST",
            &c,
            &format!("/messages/{at_c}/reactions"),
            Some(serde_json::json!({"emoji": "👍"})),
        )
        .await;
    assert_eq!(reacted.status, 202, "{}", reacted.body);
    let reaction = gw1
        .wait_event(&a, "reaction.added", |d| d["conversation"] == group.as_str())
        .await;
    assert_eq!(reaction["author"], c.as_str());
    assert_eq!(reaction["emoji"], "👍");

    // A file posted to the group (C, on gateway 2) reaches A and B with its author, and each
    // downloads the same bytes through its own account.
    let file: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let posted = gw2
        .on(
            "POST",
            &c,
            "/messages",
            Some(serde_json::json!({"to": group, "text": "C's file", "attachments": [{
                "content_type": "application/pdf", "file_name": "report.pdf",
                "data_base64": base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD, &file),
            }]})),
        )
        .await;
    assert_eq!(posted.status, 202, "{}", posted.body);
    for who in [&a, &b] {
        let got = eventually(60, "file", || async {
            gw1.received_in(who, &group, "C's file").await.pop()
        })
        .await;
        assert_eq!(got["from"], c.as_str());
        let meta = &got["attachments"][0];
        assert_eq!(meta["file_name"], "report.pdf", "{got}");
        assert_eq!(meta["size"], file.len());
        gw1.wait_event(who, "attachment.available", |d| d["id"] == meta["id"])
            .await;
        let url = meta["url"].as_str().unwrap();
        let response = gw1
            .client
            .get(format!("{}{url}", gw1.base))
            .bearer_auth(common::ADMIN_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.bytes().await.unwrap().as_ref(), file.as_slice());
    }

    // One poller per group per replica: gateway 1 polls the group for A and B together, so the
    // group is retrieved about as often as A's own swarm and C's together (B's own polls add
    // nothing), never once more per local member.
    let group_retrieves = retrieves_of(&setup.devnet, &group);
    let own_retrieves = retrieves_of(&setup.devnet, &a) + retrieves_of(&setup.devnet, &c);
    let b_retrieves = retrieves_of(&setup.devnet, &b);
    assert!(
        group_retrieves * 10 <= own_retrieves * 11 + 40,
        "group {group_retrieves}, A and C {own_retrieves}, B {b_retrieves}"
    );
    assert!(b_retrieves * 2 > own_retrieves / 4, "B polled: {b_retrieves}");

    // The group's secrets as the admin A holds them: its seed and the current group key.
    let store = gw1.gateway().store();
    let seed = store.group_secret(&a, &group).await.unwrap().unwrap();
    let secret = session_gateway::chat::groups::secret_of(&seed).unwrap();
    let reader = session_gateway::protocol::groups::keys::KeysReader::Admin(&secret);
    let keys = session_gateway::chat::groups::state::load_keys(store, &group, reader)
        .await
        .unwrap();
    let key = *keys.encryption_key().unwrap().expose_secret();

    // No group secret is readable in gateway 1's files without the master key: not the group
    // seed (A is the admin), not B's grant, not a group key.
    if common::backend() == common::Backend::Sqlite {
        let grant = store.group_secret(&b, &group).await.unwrap().unwrap();
        for (what, needle) in [("seed", &seed[..]), ("grant", &grant[..]), ("key", &key[..])] {
            assert!(!data_dir_contains(setup.dirs[0].path(), needle), "group {what} on disk");
        }
    }

    // A client written from the field tables (tests/group_client, not our builders) reads a
    // message the gateway posted, and posts one the gateway's members receive. The test hands
    // it the group key and the swarm authority (the admin's), which a real member gets from
    // its invitation and the keys message.
    {
        use session_gateway::protocol::storage::{AccountId, Namespace, Signer};
        let group_pk: [u8; 32] = hex::decode(&group[2..]).unwrap().try_into().unwrap();
        let swarm = AccountId::from_hex(&group).unwrap();
        let signer = Signer::Account(secret.as_identity().signing_key());
        let network = gs::network(&setup.devnet);
        let pages = network
            .retrieve(&swarm, &signer, &[(Namespace(11), None)])
            .await
            .unwrap();
        let texts: Vec<(String, String)> = pages[0]
            .messages
            .iter()
            .filter_map(|m| match &m.data {
                session_gateway::network::ItemData::Intact(d) => Some(d.clone()),
                _ => None,
            })
            .filter_map(|d| group_client::open_group_message(&d, &group_pk, &[key]).ok())
            .filter_map(|o| {
                let (_, text) = group_client::text_of_envelope(&o.envelope_bytes)?;
                Some((o.sender_session_id, text))
            })
            .collect();
        assert!(texts.contains(&(a.clone(), "hello from A".to_owned())), "{texts:?}");
        let client = netsupport::identity();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let envelope = group_client::text_envelope("from an independent client", now);
        let sealed = group_client::seal_group_message(
            client.seed().expose_secret(),
            &group_pk,
            &key,
            &envelope,
            [7u8; 24],
        );
        network
            .store(&swarm, Namespace(11), &sealed, 60_000, Some(&signer))
            .await
            .unwrap();
        let me = client.session_id().to_string();
        let got = gw1.received(&b, &me, "from an independent client").await;
        assert_eq!(got["conversation"], group.as_str());
    }

    // Gateway 2 restarts on its database: the group and its history are still there, and new
    // messages arrive.
    let gw2 = restart(&setup, gw2).await;
    let history: Vec<String> = gw2
        .history(&c)
        .await
        .iter()
        .filter(|m| m["conversation"] == group.as_str())
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(history.contains(&"hello from A".to_owned()), "{history:?}");
    assert!(history.contains(&"hello from C".to_owned()), "{history:?}");
    gw1.post_to_group(&a, &group, "after the restart").await;
    eventually(60, "after restart", || async {
        let found = gw2.received_in(&c, &group, "after the restart").await;
        (!found.is_empty()).then_some(())
    })
    .await;
    gw2.post_to_group(&c, &group, "C is back").await;
    gw1.received(&a, &c, "C is back").await;

    // The group as each member sees it.
    let view = gw2.on("GET", &c, &format!("/groups/{group}"), None).await;
    assert_eq!(view.status, 200, "{}", view.body);
    assert_eq!(view.body["name"], "Ops room");
    assert_eq!(view.body["state"], "joined");
    assert_eq!(view.body["role"], "member");
    assert_eq!(view.body["members"].as_array().unwrap().len(), 3, "{}", view.body);

}
}

both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_messages_survive_a_third_of_the_swarm_tampering_or_dropping() {
    let (devnet, _dir, gw, a, b, group) = one_gateway_group(9).await;

    // One of the group swarm's three members serves altered copies, another drops a third of
    // its requests (it misses stores fanned out to it and answers retrieves without them), and
    // a third of the other nodes drop a third of what they relay (paths through them fail).
    // With one cursor per swarm member (issue 13, attack 4) the dropping member cannot make
    // the poll skip a message the honest member holds.
    let swarm = netsupport::swarm_indexes(
        &devnet,
        &session_gateway::protocol::storage::AccountId::from_hex(&group).unwrap(),
    );
    devnet.set_faults(swarm[0], netsupport::fault(|f| f.tamper_retrieve = true));
    devnet.set_faults(swarm[1], netsupport::fault(|f| f.drop = 0.3));
    for other in (0..9).filter(|i| !swarm.contains(i)).take(2) {
        devnet.set_faults(other, netsupport::fault(|f| f.drop = 0.3));
    }
    const N: usize = 10;
    for i in 0..N {
        let (from, _) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        gw.post_to_group(from, &group, &format!("g{i}")).await;
    }
    for i in 0..N {
        let (from, to) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let text = format!("g{i}");
        let got = eventually(120, &text, || async {
            let found = gw.received_in(to, &group, &text).await;
            (!found.is_empty()).then_some(found)
        })
        .await;
        assert_eq!(got[0]["from"], from.as_str());
    }
    // Nothing twice, nothing altered: every delivered text is one we sent.
    for account in [&a, &b] {
        let texts: Vec<String> = gw
            .events_typed(account, "message.received")
            .await
            .iter()
            .map(|e| e["data"]["text"].as_str().unwrap_or_default().to_owned())
            .collect();
        let mut unique = texts.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), texts.len(), "duplicates: {texts:?}");
        assert!(texts.iter().all(|t| t.starts_with('g')), "{texts:?}");
    }
    devnet.shutdown().await;
}
}

both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_whose_own_swarm_fails_still_polls_its_groups() {
    use session_gateway::protocol::storage::AccountId;
    let devnet = netsupport::devnet(9, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gs::start(dir.path(), gs::settings(&common::master_key()), &devnet).await;
    let a = gw.create_account().await;
    let b = gw.create_account().await;
    // The lead polls the group for both: the smaller joined Session ID.
    let (lead, other) = if a < b { (&a, &b) } else { (&b, &a) };
    let swarm_of = |id: &str| netsupport::swarm_indexes(&devnet, &AccountId::from_hex(id).unwrap());
    let lead_swarm = swarm_of(lead);
    // A group whose swarm is not the lead's own (each swarm is one of three).
    let mut group = gw.create_group(&a, &[&b]).await;
    while swarm_of(&group) == lead_swarm {
        group = gw.create_group(&a, &[&b]).await;
    }
    gw.join_group(&b, &group).await;

    // Every member of the lead's own swarm now misdirects every request for it (false 421):
    // its own poll fails, cycle after cycle. Relaying is untouched, and the group's swarm
    // is honest.
    for node in &lead_swarm {
        devnet.set_faults(*node, netsupport::fault(|f| f.false_421 = true));
    }
    gw.post_to_group(other, &group, "while the lead's swarm lies").await;
    let got = gw
        .wait_received_in(lead, &group, "while the lead's swarm lies")
        .await;
    assert_eq!(got["from"], other.as_str());
    devnet.shutdown().await;
}
}

both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_outlives_its_config_ttl_while_it_is_polled() {
    use session_gateway::protocol::storage::{AccountId, Namespace, Signer};
    const DAY: i64 = 86_400_000;
    let (devnet, _dir, gw, a, b, group) = one_gateway_group(6).await;

    // 70 days in steps of 10 (config and keys messages live 30): after each step the group's
    // poller extends them, and the group stays writable and readable.
    let store = gw.gateway().store();
    for step in 1..=7 {
        devnet.advance_clock(10 * DAY);
        let now = devnet.network().clock.now_ms();
        eventually(60, "TTL extension", || async {
            let at = store.group_ttl_extended(&group).await.unwrap();
            (at >= i64::try_from(now).unwrap()).then_some(())
        })
        .await;
        let text = format!("day {}", step * 10);
        gw.post_to_group(&a, &group, &text).await;
        let got = eventually(60, &text, || async {
            gw.received_in(&b, &group, &text).await.pop()
        })
        .await;
        assert_eq!(got["from"], a.as_str());
    }

    // The swarm still holds the keys message and both configs, stored 70 days ago.
    let seed = store.group_secret(&a, &group).await.unwrap().unwrap();
    let secret = session_gateway::chat::groups::secret_of(&seed).unwrap();
    let signer = Signer::Account(secret.as_identity().signing_key());
    let network = gs::network(&devnet);
    let swarm = AccountId::from_hex(&group).unwrap();
    let pages = network
        .retrieve(
            &swarm,
            &signer,
            &[(Namespace(12), None), (Namespace(13), None), (Namespace(14), None)],
        )
        .await
        .unwrap();
    for page in &pages {
        assert!(!page.messages.is_empty(), "namespace {:?} expired", page.namespace);
    }
    devnet.shutdown().await;
}
}

both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_offline_for_days_catches_up_from_the_swarm() {
    const DAY: i64 = 86_400_000;
    let (setup, gw1, gw2) = two_gateways().await;
    let a = gw1.create_account().await;
    let b = gw2.create_account().await;
    let group = gw1.create_group(&a, &[&b]).await;
    gw2.join_group(&b, &group).await;
    gw1.post_to_group(&a, &group, "before B went away").await;
    gw2.wait_received_in(&b, &group, "before B went away").await;

    // B's gateway is down for four days; A keeps the group alive and talks.
    let url = gw2.database_url.clone();
    let mut gw2 = gw2;
    gw2.stop().await;
    let store = gw1.gateway().store();
    for day in 1..=4 {
        setup.devnet.advance_clock(DAY);
        let now = setup.devnet.network().clock.now_ms();
        eventually(60, "TTL extension", || async {
            let at = store.group_ttl_extended(&group).await.unwrap();
            (at >= i64::try_from(now).unwrap()).then_some(())
        })
        .await;
        gw1.post_to_group(&a, &group, &format!("day {day}")).await;
    }
    let renamed = gw1
        .on(
            "PATCH",
            &a,
            &format!("/groups/{group}"),
            Some(serde_json::json!({"name": "Renamed while B was away"})),
        )
        .await;
    assert_eq!(renamed.status, 202, "{}", renamed.body);

    // Back on its database, B's gateway reads all of it from the swarm, once each.
    let mut settings = gs::settings(&setup.master);
    settings.database.url = Some(url);
    let gw2 = gs::start(setup.dirs[1].path(), settings, &setup.devnet).await;
    for day in 1..=4 {
        let got = gw2.wait_received_in(&b, &group, &format!("day {day}")).await;
        assert_eq!(got["from"], a.as_str());
    }
    gw2.wait_event(&b, "group.updated", |e| e["name"] == "Renamed while B was away")
        .await;
    assert_eq!(gw2.received_in(&b, &group, "before B went away").await.len(), 1);
}
}
