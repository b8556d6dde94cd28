//! Two accounts on one gateway exchange 200 messages each way through the REST API and a
//! devnet: every message reaches the other account's webhook exactly once per event id, in
//! order per conversation, and every request naming an account reached its node through an
//! onion relay (design.md §2 privacy guarantee, read from the devnet's route logs).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

#[macro_use]
mod common;
mod gateway_support;
mod netsupport;

use std::collections::{HashMap, HashSet};

use common::{Mode, Receiver};
use gateway_support as gs;
use session_gateway::devnet::Arrival;

const N: usize = 200;

both_backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_accounts_exchange_messages_exactly_once_in_order_through_onions() {
        let devnet = netsupport::devnet(12, 4).await;
        let dir = tempfile::tempdir().unwrap();
        let master = common::master_key();
        let mut gw = gs::start(dir.path(), gs::settings(&master), &devnet).await;
        let receiver = Receiver::start(Mode::Up).await;
        gw.webhook(&receiver.url, &["message.received"]).await;
        let a = gw.create_account().await;
        let b = gw.create_account().await;

        for i in 0..N {
            gw.send(&a, &b, &format!("a2b {i}")).await;
            gw.send(&b, &a, &format!("b2a {i}")).await;
        }
        let deliveries = receiver.wait_for(2 * N, 150).await;

        // Exactly once per event id, and each message once.
        let ids: HashSet<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(
            ids.len(),
            deliveries.len(),
            "an event id was delivered twice"
        );
        assert_eq!(deliveries.len(), 2 * N);
        // In order per conversation.
        let mut next: HashMap<String, usize> = HashMap::new();
        for d in &deliveries {
            let data = &d.json["data"];
            let account = d.json["account"].as_str().unwrap();
            let (prefix, from) = if account == b {
                ("a2b", &a)
            } else {
                ("b2a", &b)
            };
            assert_eq!(data["from"].as_str().unwrap(), from.as_str());
            assert_eq!(data["direction"], "incoming");
            let text = data["text"].as_str().unwrap();
            let (p, i) = text.split_once(' ').unwrap();
            assert_eq!(p, prefix);
            let expected = next.entry(prefix.to_owned()).or_insert(0);
            assert_eq!(
                i.parse::<usize>().unwrap(),
                *expected,
                "out of order: {text}"
            );
            *expected += 1;
        }

        // The senders' records: all sent, with their swarm hash; no sync copy shows up twice.
        let history = gw.history(&a).await;
        assert_eq!(gs::texts(&history, "outgoing", "sent").len(), N);
        assert_eq!(gs::texts(&history, "incoming", "received").len(), N);
        assert_eq!(history.len(), 2 * N);

        // Privacy: every storage request that named an account came through an onion relay.
        let mut named = 0;
        for (index, _) in devnet.nodes().iter().enumerate() {
            for entry in devnet.routes(index) {
                if entry.pubkeys.is_empty() {
                    continue;
                }
                named += 1;
                assert!(
                    matches!(entry.arrival, Arrival::Onion { relay: Some(_), .. }),
                    "node {index} got {} for an account without a relay: {:?}",
                    entry.method,
                    entry.arrival
                );
            }
        }
        assert!(named >= 2 * N, "only {named} account requests logged");
        gw.stop().await;
        devnet.shutdown().await;
    }
}
