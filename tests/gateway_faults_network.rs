//! The third-of-nodes-faulty suite with issue 13's network faults: of twelve nodes, one member
//! of the accounts' swarm runs its clock an hour ahead and refuses honest timestamps
//! (`clock_lie`), two other nodes lie about swarms and fake store confirmations (`lie_swarm`),
//! and one streams huge answers (`huge_reply`). Every message is still delivered exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

#[macro_use]
mod common;
mod gateway_support;
mod netsupport;

use std::collections::HashSet;

use gateway_support as gs;

const N: usize = 30;

// On both backends: each variant calls the test body, a plain function below.
both_backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn messages_survive_lying_nodes() {
        super::messages_survive_lying_nodes().await;
    }
}

async fn messages_survive_lying_nodes() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("session_gateway=debug")
        .with_test_writer()
        .try_init();
    let devnet = netsupport::devnet(12, 4).await;
    let (a_keys, b_keys, swarm) = netsupport::two_in_one_swarm(&devnet);
    devnet.set_faults(swarm[0], netsupport::fault(|f| f.clock_lie = true));
    let others: Vec<usize> = (0..12).filter(|i| !swarm.contains(i)).collect();
    devnet.set_faults(others[0], netsupport::fault(|f| f.lie_swarm = true));
    devnet.set_faults(others[4], netsupport::fault(|f| f.lie_swarm = true));
    devnet.set_faults(others[7], netsupport::fault(|f| f.huge_reply = true));

    let dir = tempfile::tempdir().unwrap();
    let master = common::master_key();
    let mut gw = gs::start(dir.path(), gs::settings(&master), &devnet).await;
    let a = gw.import(&a_keys).await;
    let b = gw.import(&b_keys).await;
    let mut sent = HashSet::new();
    for i in 0..N {
        let (from, to) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let text = format!("m{i} from {}", &from[..8]);
        gw.send(from, to, &text).await;
        sent.insert(text);
    }

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(240);
    let received = loop {
        let (ha, hb) = (gw.history(&a).await, gw.history(&b).await);
        let mut got = gs::texts(&ha, "incoming", "received");
        got.extend(gs::texts(&hb, "incoming", "received"));
        if got.len() >= N {
            break got;
        }
        if tokio::time::Instant::now() >= deadline {
            let outgoing: Vec<String> = ha
                .iter()
                .chain(&hb)
                .filter(|m| m["direction"] == "outgoing")
                .map(|m| format!("{} {}", m["text"], m["status"]))
                .collect();
            let missing: Vec<&String> = sent.iter().filter(|t| !got.contains(t)).collect();
            panic!(
                "timed out: {} of {N} received; missing {missing:?}; sender side {outgoing:?}",
                got.len()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(received.len(), N, "duplicates: {received:?}");
    assert_eq!(received.into_iter().collect::<HashSet<_>>(), sent);
    assert_eq!(gs::dropped(&gw, "tampered").await, 0);
    gw.stop().await;
    devnet.shutdown().await;
}
