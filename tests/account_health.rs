//! Per-account health (issue 15): `GET /v1/accounts/{id}` shows when the account was last
//! polled, at what interval, by which replica, its swarm and its last error; an account whose
//! swarm becomes unreachable turns stale within three intervals (plus the few seconds health
//! takes to reach the database), is listed by `?health=stale` and counted by the metric.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod common;
mod gateway_support;
mod netsupport;

use gateway_support as gs;
use session_gateway::devnet::faults::Faults;

use crate::common::eventually;

both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_whose_swarm_is_unreachable_turns_stale() {
    let devnet = netsupport::devnet(6, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gs::start(dir.path(), gs::settings(&common::master_key()), &devnet).await;
    let a = gw.create_account().await;

    // Healthy: polled recently, by this replica, with its swarm.
    let health = eventually(30, "first health", || async {
        let view = gw.admin("GET", &format!("/v1/accounts/{a}"), None).await;
        let health = view.body["health"].clone();
        (health["last_poll_at"].is_i64() && !health["swarm"].as_array().unwrap().is_empty())
            .then_some(health)
    })
    .await;
    assert_eq!(health["stale"], false, "{health}");
    assert!(health["poll_lag_ms"].as_i64().unwrap() >= 0, "{health}");
    assert!(health["poll_interval_ms"].as_i64().unwrap() > 0, "{health}");
    assert!(health["replica"].is_string(), "{health}");
    let stale = gw.admin("GET", "/v1/accounts?health=stale", None).await;
    assert_eq!(stale.body["accounts"], serde_json::json!([]), "{}", stale.body);
    let bad = gw.admin("GET", "/v1/accounts?health=sick", None).await;
    assert_eq!(bad.status, 400, "{}", bad.body);

    // Every node drops everything: polls fail, the account turns stale and says why.
    for node in devnet.nodes() {
        devnet.set_faults(node.index, Faults { drop: 1.0, ..Faults::default() });
    }
    // (Stale comes first: a poll under these faults hangs until its requests time out, and
    // only then is its error known.)
    eventually(60, "stale with its error", || async {
        let view = gw.admin("GET", &format!("/v1/accounts/{a}"), None).await;
        let health = &view.body["health"];
        (health["stale"] == true && health["last_error"].is_string()).then_some(())
    })
    .await;
    let listed = gw.admin("GET", "/v1/accounts?health=stale", None).await;
    let ids: Vec<&str> = listed.body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a.as_str()]);
    let metrics = gw.client.get(format!("{}/metrics", gw.base)).send().await.unwrap();
    let text = metrics.text().await.unwrap();
    assert!(text.contains("session_gateway_accounts{status=\"stale\"} 1"), "{text}");

    // The network returns: the account is polled again and no longer stale.
    for node in devnet.nodes() {
        devnet.set_faults(node.index, Faults::default());
    }
    eventually(60, "fresh again", || async {
        let view = gw.admin("GET", &format!("/v1/accounts/{a}"), None).await;
        (view.body["health"]["stale"] == false).then_some(())
    })
    .await;
}
}

// A flush writes many accounts in few statements (200, 50, 10, 3 and 1 rows each): every row
// lands with its own values, a second flush updates them, and an account deleted meanwhile
// (here: never created) is skipped without failing the others.
both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_flush_writes_every_account_health_row() {
    use session_gateway::ids::SessionIdText;
    use session_gateway::store::health::PollHealth;
    use session_gateway::store::{MasterKey, Store};

    let dir = tempfile::tempdir().unwrap();
    let url = common::database_url(dir.path()).await;
    let store = Store::open(&url, 4, MasterKey::generate()).await.unwrap();
    let id = |i: usize| format!("05{:064x}", i + 1);
    // Every statement size (50, 10, 3, 1 rows), the largest more than once.
    let count = 3 * 50 + 10 + 3 + 1;
    for i in 0..count {
        let account = SessionIdText::parse(&id(i)).unwrap();
        store.insert_account(&account, None, &[7; 16], 1).await.unwrap().unwrap();
    }
    let health = |i: usize, round: i64| PollHealth {
        last_poll_at: Some(1_000 * round + i as i64),
        poll_interval_ms: 5_000 + i as i64,
        last_error: (i % 7 == 0).then(|| format!("error {i} round {round}")),
        last_error_at: (i % 7 == 0).then_some(round),
        swarm: vec![format!("{i:064x}")].into(),
    };
    let unknown = format!("05{:064x}", 999_999);
    for round in 1..=2 {
        let mut rows: Vec<(String, PollHealth)> = (0..count).map(|i| (id(i), health(i, round))).collect();
        rows.insert(123, (unknown.clone(), health(0, round)));
        store.put_health(&rows, round).await.unwrap();
        for i in 0..count {
            let got = store.account_health(&id(i)).await.unwrap();
            assert_eq!(got.poll, health(i, round), "account {i}, round {round}");
        }
    }
        let none = store.account_health(&unknown).await.unwrap();
    assert_eq!(none.poll, PollHealth::default(), "an account not in the store got no row");
    store.close().await;
}
}
