//! Cursor skipping (issue 13, attack 4). Two of the three members of Bob's swarm answer each
//! retrieve with only the newest message after the cursor (devnet fault `cursor_skip`: members
//! that missed the older stores, or pretend to), while the honest member is unreachable. Once
//! the honest member answers again, every message it holds reaches Bob, exactly once. With one
//! cursor for the whole swarm the poll moved it to the newest message, and the honest member,
//! asked from there, never returned the older ones.
//!
//! Poll loops: members that always say `more: true` (devnet fault `always_more`) do not make
//! the account poll in a tight loop: `more` is believed only from a page that moved.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

#[macro_use]
mod common;
mod gateway_support;
mod netsupport;

use gateway_support as gs;
use session_gateway::devnet::Faults;

both_backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn members_that_skip_cannot_hide_what_an_honest_member_holds() {
        super::members_that_skip_cannot_hide_what_an_honest_member_holds().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_that_always_say_more_do_not_make_the_account_spin() {
    let devnet = netsupport::devnet(9, 3).await;
    let b_keys = netsupport::identity();
    let swarm = netsupport::swarm_indexes(&devnet, &netsupport::account(&b_keys));
    for &node in &swarm {
        devnet.set_faults(node, netsupport::fault(|f| f.always_more = true));
    }
    let dir = tempfile::tempdir().unwrap();
    let master = common::master_key();
    let mut settings = gs::settings(&master);
    settings.polling.active_interval_ms = 1_000;
    let mut gw = gs::start(dir.path(), settings, &devnet).await;
    let a = gw.create_account().await;
    let b = gw.import(&b_keys).await;
    gw.send(&a, &b, "hello").await;
    common::eventually(120, "the message", || async {
        let got = gs::texts(&gw.history(&b).await, "incoming", "received");
        (!got.is_empty()).then_some(())
    })
    .await;

    // Measure the poll rate over the last two seconds of a three-second window (not a
    // synchronisation: the count is read from the members' request logs afterwards). Polled
    // every ~1 s asking two members, the account makes about four retrieves in two seconds;
    // believing `more` it re-polled at once, hundreds of times.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let times: Vec<u64> = swarm
        .iter()
        .flat_map(|&node| devnet.routes(node))
        .filter(|e| e.method.contains("retrieve") && e.pubkeys.contains(&b))
        .map(|e| e.time_ms)
        .collect();
    let last = times.iter().copied().max().unwrap();
    let recent = times.iter().filter(|t| **t + 2_000 > last).count();
    assert!(recent <= 16, "{recent} retrieves in two seconds");
    gw.stop().await;
    devnet.shutdown().await;
}

async fn members_that_skip_cannot_hide_what_an_honest_member_holds() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("session_gateway=debug")
        .with_test_writer()
        .try_init();
    let devnet = netsupport::devnet(9, 3).await;
    let b_keys = netsupport::identity();
    let b_id = b_keys.session_id().to_string();
    let swarm = netsupport::swarm_indexes(&devnet, &netsupport::account(&b_keys));
    assert_eq!(swarm.len(), 3);

    let dir = tempfile::tempdir().unwrap();
    let master = common::master_key();
    let mut gw = gs::start(dir.path(), gs::settings(&master), &devnet).await;
    let a = gw.create_account().await;

    // Four messages, stored on all three members before Bob's account exists here.
    let texts: Vec<String> = (1..=4).map(|i| format!("m{i}")).collect();
    for text in &texts {
        gw.send(&a, &b_id, text).await;
    }
    common::eventually(120, "all four sent", || async {
        let sent = gs::texts(&gw.history(&a).await, "outgoing", "sent");
        (sent.len() == texts.len()).then_some(())
    })
    .await;

    // Two members serve only the newest message; the honest one answers nothing.
    let (honest, skippers) = (swarm[2], [swarm[0], swarm[1]]);
    for node in skippers {
        devnet.set_faults(node, netsupport::fault(|f| f.cursor_skip = true));
    }
    devnet.set_faults(honest, netsupport::fault(|f| f.drop = 1.0));
    let b = gw.import(&b_keys).await;
    assert_eq!(b, b_id);
    common::eventually(
        120,
        "the newest message, from the skipping members",
        || async {
            let got = gs::texts(&gw.history(&b).await, "incoming", "received");
            got.contains(&"m4".to_owned()).then_some(())
        },
    )
    .await;

    // The honest member answers again (the skipping members still skip): the older messages
    // it holds arrive, and nothing arrives twice.
    devnet.set_faults(honest, Faults::default());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    let got = loop {
        let got = gs::texts(&gw.history(&b).await, "incoming", "received");
        if got.len() >= texts.len() {
            break got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "lost behind the skipped cursor: Bob has only {got:?} of {texts:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, texts, "each exactly once: {got:?}");
    gw.stop().await;
    devnet.shutdown().await;
}
