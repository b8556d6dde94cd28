//! Replays (issue 13, attack 3). The `WebSocketMessage`/`Envelope` wrapper of a 1:1 message is
//! outside the sender's signature, so a node can store the same sealed content again under a
//! new hash (devnet fault `replay`). De-duplicating by swarm hash alone delivered it twice (a
//! second row and a second `message.received`); the gateway de-duplicates on what the sender
//! signed: sender, signed timestamp and a digest of the signed content.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

#[macro_use]
mod common;
mod gateway_support;
mod netsupport;

use gateway_support as gs;

both_backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rewrapped_copy_is_not_delivered_twice() {
        super::a_rewrapped_copy_is_not_delivered_twice().await;
    }
}

async fn a_rewrapped_copy_is_not_delivered_twice() {
    let devnet = netsupport::devnet(9, 3).await;
    let b_keys = netsupport::identity();
    let swarm = netsupport::swarm_indexes(&devnet, &netsupport::account(&b_keys));
    // Every member of Bob's swarm stores a re-wrapped copy right after each original.
    for &node in &swarm {
        devnet.set_faults(node, netsupport::fault(|f| f.replay = true));
    }
    let dir = tempfile::tempdir().unwrap();
    let master = common::master_key();
    let gw = gs::start(dir.path(), gs::settings(&master), &devnet).await;
    let a = gw.create_account().await;
    let b = gw.import(&b_keys).await;

    gw.send(&a, &b, "hello").await;
    gw.send(&a, &b, "after").await;
    // Each member holds hello, hello', after, after' in that order: once "after" is in, the
    // copy of "hello" was consumed too (in the same page or an earlier one).
    common::eventually(120, "the second message", || async {
        let got = gs::texts(&gw.history(&b).await, "incoming", "received");
        got.contains(&"after".to_owned()).then_some(())
    })
    .await;
    let got = gs::texts(&gw.history(&b).await, "incoming", "received");
    assert_eq!(got, ["hello", "after"], "a replayed copy was delivered");
    let received: Vec<String> = gw
        .events_typed(&b, "message.received")
        .await
        .iter()
        .map(|e| e["data"]["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        received.iter().filter(|t| *t == "hello").count(),
        1,
        "{received:?}"
    );
    let mut gw = gw;
    gw.stop().await;
    devnet.shutdown().await;
}
