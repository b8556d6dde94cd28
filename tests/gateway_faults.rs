//! A third of the devnet misbehaves (dropped requests and corrupted onion replies on one node,
//! tampered retrieve data on three of the four members of the accounts' swarm): every message
//! is still delivered, nothing tampered is accepted, and the tamper counter shows the attempts
//! were seen. Failures that drop the honest member from the client's pool (paths through the
//! dropping node) must not hide it: a retrieve of tampered copies looks the swarm up again.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

#[macro_use]
mod common;
mod gateway_support;
mod netsupport;

use std::collections::HashSet;

use gateway_support as gs;
use session_gateway::devnet::Faults;

const N: usize = 40;

// On both backends: each variant calls the test body, a plain function below.
both_backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn messages_survive_faulty_nodes_and_tampering_is_counted() {
        super::messages_survive_faulty_nodes_and_tampering_is_counted().await;
    }
}

async fn messages_survive_faulty_nodes_and_tampering_is_counted() {
    // The gateway's own debug log, shown by the harness only if this test fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("session_gateway=debug")
        .with_test_writer()
        .try_init();
    let devnet = netsupport::devnet(12, 4).await;
    // Two accounts in the same swarm, so that three of its four members can tamper: a poll
    // then often gets only tampered copies (the client asks two members).
    let (a_keys, b_keys, swarm) = netsupport::two_in_one_swarm(&devnet);
    let tampering = netsupport::fault(|f| f.tamper_retrieve = true);
    devnet.set_faults(swarm[0], tampering.clone());
    devnet.set_faults(swarm[1], tampering.clone());
    devnet.set_faults(swarm[2], tampering);
    let other = (0..12).find(|i| !swarm.contains(i)).unwrap();
    devnet.set_faults(
        other,
        netsupport::fault(|f: &mut Faults| {
            f.drop = 0.3;
            f.corrupt_onion = true;
        }),
    );

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

    // Wait for every message; on timeout, say which are missing and where they are stuck
    // (still queued, failed, or sent but never received), so a failure is diagnosable.
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
                "timed out: {} of {N} received; missing {missing:?}; sender side {outgoing:?}; \
                 tampered counted {}",
                got.len(),
                gs::dropped(&gw, "tampered").await
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let received: Vec<String> = received;
    assert_eq!(received.len(), N, "duplicates: {received:?}");
    assert_eq!(received.into_iter().collect::<HashSet<_>>(), sent);

    // The tamper counter. The network layer asks every member before it hands on a tampered
    // copy, so with one honest member nothing tampered reached the message layer above. Make
    // the last honest member tamper too while one more message is sent: every copy of it is
    // tampered, and it must be counted and never accepted.
    devnet.set_faults(swarm[3], netsupport::fault(|f| f.tamper_retrieve = true));
    let before = gs::dropped(&gw, "tampered").await;
    let last = "sent while every member tampers".to_owned();
    gw.send(&a, &b, &last).await;
    let tampered = common::eventually(120, "a tampered copy of the last message", || async {
        let n = gs::dropped(&gw, "tampered").await;
        (n > before).then_some(n)
    })
    .await;
    assert!(tampered > 0);
    let accepted = gs::texts(&gw.history(&b).await, "incoming", "received");
    assert!(
        !accepted.contains(&last),
        "a message whose every copy was tampered was accepted"
    );
    devnet.set_faults(swarm[3], Faults::default());
    gw.stop().await;
    devnet.shutdown().await;
}
