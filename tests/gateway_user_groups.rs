//! The account's UserGroups config on the devnet (issue 10, groups.md §3.3): the same account
//! restored in a Session client finds its groups in namespace 5 of its own swarm. What the
//! gateway pushes there is read back with an independent reader (tests/user_config_client,
//! from the spec and the crypto crates), and a config another device pushes is merged, never
//! overwritten. Both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod common;
mod gateway_support;
mod netsupport;
mod user_config_client;

use std::collections::BTreeMap;

use gateway_support as gs;
use serde_json::json;
use session_gateway::network::{ItemData, SessionNetwork};
use session_gateway::protocol::keys::Identity;
use session_gateway::protocol::storage::{AccountId, Namespace, Signer};
use user_config_client::{Bt, Config};

use crate::common::eventually;

/// `POST …/groups` as `a` inviting `members`; returns the group ID.
async fn create(gw: &gs::Gw, a: &str, name: &str, members: &[&str]) -> String {
    let reply = gw
        .on(
            "POST",
            a,
            "/groups",
            Some(json!({"name": name, "members": members})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// The UserGroups messages on `id`'s own swarm that open with its seed, highest seqno last.
async fn configs(network: &SessionNetwork, id: &Identity) -> Vec<Config> {
    let account = AccountId::from_hex(&id.session_id().to_string()).unwrap();
    let signer = Signer::Account(id.signing_key());
    let Ok(pages) = network
        .retrieve(&account, &signer, &[(Namespace(5), None)])
        .await
    else {
        return Vec::new();
    };
    let blobs: Vec<Vec<u8>> = pages
        .iter()
        .flat_map(|p| p.messages.iter())
        .filter_map(|m| match &m.data {
            ItemData::Intact(d) => Some(d.clone()),
            ItemData::Tampered(_) => None,
        })
        .collect();
    user_config_client::configs(&blobs, id.seed().expose_secret())
}

/// Waits until the newest UserGroups message of `id` satisfies `check`; returns it.
async fn newest_where(
    network: &SessionNetwork,
    id: &Identity,
    what: &str,
    check: impl Fn(&Config) -> bool,
) -> Config {
    let check = &check;
    eventually(60, what, || async move {
        configs(network, id).await.pop().filter(|c| check(c))
    })
    .await
}

fn bytes<'a>(entry: &'a BTreeMap<Vec<u8>, Bt>, key: &[u8]) -> Option<&'a [u8]> {
    entry.get(key).and_then(Bt::bytes)
}

fn int(entry: &BTreeMap<Vec<u8>, Bt>, key: &[u8]) -> Option<i64> {
    entry.get(key).and_then(Bt::int)
}

both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_groups_list_the_created_and_the_joined_group() {
    let devnet = netsupport::devnet(6, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gs::start(dir.path(), gs::settings(&common::master_key()), &devnet).await;
    let network = gs::network(&devnet);
    let (a_id, b_id) = (netsupport::identity(), netsupport::identity());
    let a = gw.import(&a_id).await;
    let b = gw.import(&b_id).await;
    let group = create(&gw, &a, "Ops room", &[&b]).await;
    gw.wait_event(&b, "group.invited", |d| d["group"] == group.as_str())
        .await;
    let store = gw.gateway().store();
    let grant = store.group_secret(&b, &group).await.unwrap().unwrap();

    // B while invited: its grant, the invitation's name, `i` = 1, `K` empty (not an admin).
    let invited = newest_where(&network, &b_id, "B's invited entry", |c| {
        c.group(&group).is_some_and(|e| int(e, b"i") == Some(1))
    })
    .await;
    let entry = invited.group(&group).unwrap();
    assert_eq!(bytes(entry, b"s"), Some(&grant[..]));
    assert_eq!(bytes(entry, b"K"), Some(&b""[..]));
    assert_eq!(bytes(entry, b"n"), Some(&b"Ops room"[..]));

    // B accepts: `i` is cleared and `j` (joined at, unix seconds) set, in a later message.
    let reply = gw.on("POST", &b, &format!("/groups/{group}/accept"), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let joined = newest_where(&network, &b_id, "B's joined entry", |c| {
        c.group(&group).is_some_and(|e| int(e, b"i").is_none())
    })
    .await;
    assert!(joined.seqno > invited.seqno);
    let entry = joined.group(&group).unwrap();
    assert_eq!(bytes(entry, b"s"), Some(&grant[..]));
    assert_eq!(bytes(entry, b"K"), Some(&b""[..]));
    assert_eq!(bytes(entry, b"n"), Some(&b"Ops room"[..]));
    let j = int(entry, b"j").unwrap();
    assert!((now_s - 120..=now_s + 5).contains(&j), "j = {j}, now {now_s}");

    // A, the admin: `K` is the group seed (whose key is the group's), no grant, not invited.
    let seed = store.group_secret(&a, &group).await.unwrap().unwrap();
    let admin = newest_where(&network, &a_id, "A's entry", |c| c.group(&group).is_some()).await;
    let entry = admin.group(&group).unwrap();
    assert_eq!(bytes(entry, b"K"), Some(&seed[..]));
    let pk = ed25519_dalek::SigningKey::from_bytes(&seed[..].try_into().unwrap()).verifying_key();
    assert_eq!(hex::encode(pk.as_bytes()), group[2..]);
    assert_eq!(bytes(entry, b"s"), None);
    assert_eq!(bytes(entry, b"n"), Some(&b"Ops room"[..]));
    assert_eq!(int(entry, b"i"), None);
    assert!(int(entry, b"j").unwrap() > 0);

    // The protocol layer's reader agrees on the raw bytes.
    use session_gateway::protocol::groups::config::user_groups::user_groups_from_data;
    use session_gateway::protocol::groups::config::{open_config, ConfigKind, ConfigMessage};
    let account = AccountId::from_hex(&b).unwrap();
    let pages = network
        .retrieve(&account, &Signer::Account(b_id.signing_key()), &[(Namespace(5), None)])
        .await
        .unwrap();
    let newest = pages[0]
        .messages
        .iter()
        .filter_map(|m| match &m.data {
            ItemData::Intact(d) => open_config(d, &[*b_id.seed().expose_secret()], ConfigKind::UserGroups).ok(),
            ItemData::Tampered(_) => None,
        })
        .filter_map(|p| ConfigMessage::parse(&p, None).ok())
        .max_by_key(|m| m.seqno())
        .unwrap();
    let listed = user_groups_from_data(newest.data());
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id.to_string(), group);
    assert!(!listed[0].invited && listed[0].secret.is_none());
    assert_eq!(listed[0].auth.as_ref().unwrap().as_bytes()[..], grant[..]);

    // Declining another invitation leaves no entry for it.
    let other = create(&gw, &a, "Other room", &[&b]).await;
    gw.wait_event(&b, "group.invited", |d| d["group"] == other.as_str())
        .await;
    newest_where(&network, &b_id, "B's second invitation", |c| c.group(&other).is_some()).await;
    let reply = gw.on("POST", &b, &format!("/groups/{other}/decline"), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let after = newest_where(&network, &b_id, "the declined entry erased", |c| {
        c.group(&other).is_none()
    })
    .await;
    assert!(after.group(&group).is_some());

    // The same accounts imported into a second gateway (its own database) adopt the groups
    // they find in the config: A as the admin of both, B as a member of the one it joined;
    // B polls it there and reads a message A posts.
    let dir2 = tempfile::tempdir().unwrap();
    let gw2 = gs::start(dir2.path(), gs::settings(&common::master_key()), &devnet).await;
    assert_eq!(gw2.import(&a_id).await, a);
    assert_eq!(gw2.import(&b_id).await, b);
    let listed = |who: String| {
        let gw2 = &gw2;
        async move {
            let reply = gw2.on("GET", &who, "/groups", None).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            reply.body["groups"].as_array().unwrap().clone()
        }
    };
    // B's invitations are still on its swarm and arrive there again: the accepted one is
    // joined as the config says (not pending again), and the declined one ends declined
    // there too (the config listed it before it was erased), whichever arrived first.
    let state_of = |groups: &[serde_json::Value], id: &str| {
        groups
            .iter()
            .find(|g| g["id"] == id)
            .map(|g| (g["role"].as_str().unwrap().to_owned(), g["state"].as_str().unwrap().to_owned()))
    };
    let joined_there = Some(("member".to_owned(), "joined".to_owned()));
    eventually(60, "B's groups adopted", || async {
        let groups = listed(b.clone()).await;
        (state_of(&groups, &group) == joined_there).then_some(())
    })
    .await;
    let declined_there = Some(("member".to_owned(), "declined".to_owned()));
    eventually(60, "the declined invitation declined there too", || async {
        let groups = listed(b.clone()).await;
        (state_of(&groups, &other) == declined_there).then_some(())
    })
    .await;
    let restored = configs(&network, &b_id).await.pop().unwrap();
    assert_eq!(int(restored.group(&group).unwrap(), b"i"), None, "joined stays joined");
    let a_groups = eventually(60, "A's groups adopted", || async {
        Some(listed(a.clone()).await).filter(|g| g.len() == 2)
    })
    .await;
    assert!(a_groups.iter().all(|g| g["role"] == "admin" && g["state"] == "joined"));
    let reply = gw
        .on("POST", &a, "/messages", Some(json!({"to": group, "text": "to every device"})))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let got = gw2.received(&b, &a, "to every device").await;
    assert_eq!(got["conversation"], group.as_str());
    devnet.shutdown().await;
}
}

both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_devices_entries_are_merged_not_lost() {
    let devnet = netsupport::devnet(6, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gs::start(dir.path(), gs::settings(&common::master_key()), &devnet).await;
    let network = gs::network(&devnet);
    let a_id = netsupport::identity();
    let a = gw.import(&a_id).await;
    let b = gw.create_account().await;
    let first = create(&gw, &a, "First", &[&b]).await;
    let seen = newest_where(&network, &a_id, "A's first entry", |c| c.group(&first).is_some()).await;

    // Another device of A (same seed) read that message and pushes its own change on top: a
    // group the gateway does not know, a community, and the first group pinned (`+`).
    let other_key = {
        let mut key = vec![0x03];
        key.extend_from_slice(netsupport::identity().ed25519_public().as_bytes());
        key
    };
    let other_entry = Bt::Dict(BTreeMap::from([
        (b"K".to_vec(), Bt::str("")),
        (b"n".to_vec(), Bt::str("Elsewhere")),
        (b"s".to_vec(), Bt::Bytes(vec![7; 100])),
    ]));
    let community = Bt::Dict(BTreeMap::from([(
        b"https://open.example".to_vec(),
        Bt::Dict(BTreeMap::from([
            (b"#".to_vec(), Bt::Bytes(vec![9; 32])),
            (
                b"R".to_vec(),
                Bt::Dict(BTreeMap::from([(
                    b"lobby".to_vec(),
                    Bt::Dict(BTreeMap::from([(b"n".to_vec(), Bt::str("Lobby"))])),
                )])),
            ),
        ])),
    )]));
    let first_key = hex::decode(&first).unwrap();
    let Bt::Dict(mut data) = seen.data().clone() else { panic!("data") };
    let Some(Bt::Dict(groups)) = data.get_mut(&b"g"[..]) else { panic!("g") };
    let Some(Bt::Dict(pinned)) = groups.get_mut(&first_key) else { panic!("entry") };
    pinned.insert(b"+".to_vec(), Bt::Int(1));
    groups.insert(other_key.clone(), other_entry.clone());
    data.insert(b"o".to_vec(), community.clone());
    let changed = || Bt::Bytes(Vec::new());
    let diff = Bt::Dict(BTreeMap::from([
        (
            b"g".to_vec(),
            Bt::Dict(BTreeMap::from([
                (first_key.clone(), Bt::Dict(BTreeMap::from([(b"+".to_vec(), changed())]))),
                (
                    other_key.clone(),
                    Bt::Dict(BTreeMap::from([
                        (b"K".to_vec(), changed()),
                        (b"n".to_vec(), changed()),
                        (b"s".to_vec(), changed()),
                    ])),
                ),
            ])),
        ),
        (
            b"o".to_vec(),
            Bt::Dict(BTreeMap::from([(
                b"https://open.example".to_vec(),
                Bt::Dict(BTreeMap::from([
                    (b"#".to_vec(), changed()),
                    (
                        b"R".to_vec(),
                        Bt::Dict(BTreeMap::from([(
                            b"lobby".to_vec(),
                            Bt::Dict(BTreeMap::from([(b"n".to_vec(), changed())])),
                        )])),
                    ),
                ])),
            )])),
        ),
    ]));
    let message = seen.next(Bt::Dict(data), diff);
    let sealed = user_config_client::seal(&message, a_id.seed().expose_secret());
    let account = AccountId::from_hex(&a).unwrap();
    network
        .store(
            &account,
            Namespace(5),
            &sealed,
            30 * 24 * 3600 * 1000,
            Some(&Signer::Account(a_id.signing_key())),
        )
        .await
        .unwrap();

    // The gateway changes the config too (a second group), whether or not it has read the
    // device's message yet: the newest message ends up holding both changes.
    let second = create(&gw, &a, "Second", &[&b]).await;
    let merged = newest_where(&network, &a_id, "both changes in one message", |c| {
        c.group(&second).is_some() && c.group(&other_key_hex(&other_key)).is_some()
    })
    .await;
    assert!(merged.seqno > seen.seqno + 1, "{} after {}", merged.seqno, seen.seqno);
    let entry = merged.group(&first).unwrap();
    assert_eq!(int(entry, b"+"), Some(1), "the device's pin is kept");
    assert!(bytes(entry, b"K").is_some_and(|k| k.len() == 32));
    let kept = merged.group(&other_key_hex(&other_key)).unwrap();
    assert_eq!(&Bt::Dict(kept.clone()), &other_entry, "an entry we do not manage, as merged");
    assert_eq!(merged.data().get(b"o"), Some(&community));
    let seed = gw.gateway().store().group_secret(&a, &second).await.unwrap().unwrap();
    assert_eq!(bytes(merged.group(&second).unwrap(), b"K"), Some(&seed[..]));
    devnet.shutdown().await;
}
}

fn other_key_hex(key: &[u8]) -> String {
    hex::encode(key)
}

both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_groups_config_outlives_its_ttl_while_the_account_polls() {
    const DAY: i64 = 86_400_000;
    let devnet = netsupport::devnet(6, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gs::start(dir.path(), gs::settings(&common::master_key()), &devnet).await;
    let a_id = netsupport::identity();
    let a = gw.import(&a_id).await;
    let group = create(&gw, &a, "Kept room", &[]).await;
    let network = gs::network(&devnet);
    newest_where(&network, &a_id, "A's entry", |c| c.group(&group).is_some()).await;

    // 70 days in 10-day steps (a config lives 30): the account's poll extends it each step.
    let store = gw.gateway().store();
    for _ in 0..7 {
        devnet.advance_clock(10 * DAY);
        let now = i64::try_from(devnet.network().clock.now_ms()).unwrap();
        eventually(60, "UserGroups TTL extension", || async {
            (store.user_config_extended(&a).await.unwrap() >= now).then_some(())
        })
        .await;
    }
    // A client that starts now (its clock is the devnet's) still finds the config.
    let network = gs::network(&devnet);
    let held = configs(&network, &a_id).await;
    assert!(held.last().is_some_and(|c| c.group(&group).is_some()), "the config expired");
}
}
