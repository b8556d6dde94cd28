//! Events and webhook delivery end to end: long-poll wake-up, Standard Webhooks signatures,
//! retries while a receiver is down, dead-letter and replay, ordering per conversation, secret
//! rotation, isolation between endpoints, and survival across a restart. Events are inserted
//! through the store API (the poller does this later).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

#[macro_use]
mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::{eventually, spawn, spawn_with, Mode, Received, Receiver};
use serde_json::{json, Value};
use session_gateway::events::{EventData, MessageEvent};
use session_gateway::store::events::NewEvent;
use session_gateway::store::Store;
use session_gateway::webhooks::signature;

const A: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const PEERS: [&str; 3] = [
    "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74",
    "0511111111111111111111111111111111111111111111111111111111111111aa",
    "0522222222222222222222222222222222222222222222222222222222222222bb",
];

async fn message_event(store: &Store, account: &str, peer: &str, n: usize) {
    store
        .append_event(&NewEvent {
                        account: Some(account.to_owned()),
            conversation: Some(peer.to_owned()),
            timestamp: 1_700_000_000_000 + n as i64,
            data: EventData::message(MessageEvent::Received, &json!({"id": format!("msg_{n}"), "hash": format!("h{n}"), "from": peer, "to": account,
                         "conversation": peer, "text": format!("text {n}"), "timestamp": n})).unwrap(),
        })
        .await
        .unwrap();
}

/// Appends `n` message events round-robin over the three peers.
async fn burst(store: &Store, n: usize) {
    for i in 0..n {
        message_event(store, A, PEERS[i % PEERS.len()], i).await;
    }
}

fn cursor(id: &str) -> i64 {
    id.strip_prefix("evt_").unwrap().parse().unwrap()
}

/// Every delivery's signature verifies, and per conversation the events arrive in cursor order
/// with no event accepted twice.
fn check_signed_and_ordered(received: &[Received], secret: &str) {
    let mut seen = HashSet::new();
    let mut last: HashMap<String, i64> = HashMap::new();
    for r in received {
        assert!(
            signature::verify(secret, &r.signature, &r.id, r.timestamp, &r.body),
            "bad signature on {}",
            r.id
        );
        assert_eq!(r.json["id"], r.id.as_str(), "webhook-id is the event id");
        assert!(seen.insert(r.id.clone()), "{} accepted twice", r.id);
        let conversation = r.json["data"]["conversation"].as_str().unwrap().to_owned();
        let c = cursor(&r.id);
        if let Some(prev) = last.insert(conversation, c) {
            assert!(prev < c, "out of order: {prev} then {c}");
        }
    }
}

async fn create_hook(gw: &common::TestGateway, body: Value) -> (String, String) {
    let reply = gw.admin("POST", "/v1/webhooks", Some(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    (
        reply.body["id"].as_str().unwrap().to_owned(),
        reply.body["secret"].as_str().unwrap().to_owned(),
    )
}

both_backends! {
    async fn long_poll_wakes_when_an_event_is_written() {
        let gw = spawn().await;
        let empty = gw.admin("GET", "/v1/events?after=0&wait=0", None).await;
        assert_eq!(empty.body, json!({"events": [], "next": 0}));

        let before = gw.store().event_subscribers();
        let client = gw.client.clone();
        let url = format!("{}/v1/events?after=0&wait=30", gw.base);
        let poll = tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let reply = common::into_reply(
                client
                    .get(url)
                    .bearer_auth(common::ADMIN_KEY)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            (reply, started.elapsed())
        });
        // Wait until the long-poll has subscribed to commits, then write.
        eventually(10, "the long-poll to park", || async {
            (gw.store().event_subscribers() > before).then_some(())
        })
        .await;
        message_event(gw.store(), A, PEERS[0], 1).await;
        let (reply, elapsed) = poll.await.unwrap();
        assert!(elapsed < Duration::from_secs(20), "woken, not timed out");
        assert_eq!(reply.status, 200);
        let events = reply.body["events"].as_array().unwrap();
        assert_eq!(events.len(), 1);
        let event = &events[0];
        assert_eq!(event["type"], "message.received");
        assert_eq!(event["account"], A);
        let keys: HashSet<_> = event.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            ["id", "type", "account", "timestamp", "data"]
                .map(String::from)
                .into()
        );
        let next = reply.body["next"].as_i64().unwrap();
        assert_eq!(event["id"], format!("evt_{next}"));

        // Resuming from `next` returns nothing new; filtering by account works.
        let after = gw
            .admin("GET", &format!("/v1/events?after={next}&wait=0"), None)
            .await;
        assert_eq!(after.body["events"], json!([]));
        let other = gw
            .admin("GET", &format!("/v1/events?account={}", PEERS[1]), None)
            .await;
        assert_eq!(other.body["events"], json!([]));
    }
}

both_backends! {
    async fn deliveries_are_signed_ordered_per_conversation_and_filtered() {
        let gw = spawn().await;
        let receiver = Receiver::start(Mode::Up).await;
        let filtered = Receiver::start(Mode::Up).await;
        let (_, secret) = create_hook(&gw, json!({"url": receiver.url})).await;
        let (_, _) = create_hook(
            &gw,
            json!({"url": filtered.url, "events": ["account.status"], "accounts": [PEERS[2]]}),
        )
        .await;
        burst(gw.store(), 30).await;
        let received = receiver.wait_for(30, 20).await;
        check_signed_and_ordered(&received, &secret);
        assert_eq!(received.len(), 30);
        assert!(
            filtered.received().is_empty(),
            "filters exclude other types and accounts"
        );
    }
}

both_backends! {
    async fn a_receiver_that_was_down_gets_everything_after_it_comes_back() {
        let gw = spawn().await;
        let receiver = Receiver::start(Mode::Down).await;
        let (hook, secret) = create_hook(&gw, json!({"url": receiver.url})).await;
        burst(gw.store(), 12).await;
        // Retries are happening (one in flight per conversation, with backoff).
        receiver.wait_for_attempts(9, 20).await;
        let log = gw
            .admin(
                "GET",
                &format!("/v1/webhooks/{hook}/deliveries?status=pending"),
                None,
            )
            .await;
        assert_eq!(log.body["deliveries"].as_array().unwrap().len(), 12);
        receiver.set_mode(Mode::Up);
        let received = receiver.wait_for(12, 20).await;
        check_signed_and_ordered(&received, &secret);
        let log = gw.wait_delivered(&hook, 12, 10).await;
        assert!(log.body["deliveries"][0]["attempts"].as_i64().unwrap() >= 1);
    }
}

both_backends! {
    async fn dead_letters_are_kept_and_replayed() {
        let gw = spawn_with(|s| s.webhooks.dead_after_secs = 0).await;
        let receiver = Receiver::start(Mode::Down).await;
        let (hook, secret) = create_hook(&gw, json!({"url": receiver.url})).await;
        burst(gw.store(), 3).await;
        let dead = eventually(10, "dead letters", || async {
            let log = gw
                .admin(
                    "GET",
                    &format!("/v1/webhooks/{hook}/deliveries?status=dead"),
                    None,
                )
                .await;
            (log.body["deliveries"].as_array().unwrap().len() == 3).then_some(log)
        })
        .await;
        assert_eq!(dead.body["deliveries"][0]["last_status"], 503);
        assert_eq!(dead.body["deliveries"][0]["last_error"], "HTTP 503");

        receiver.set_mode(Mode::Up);
        let replay = gw
            .admin("POST", &format!("/v1/webhooks/{hook}/replay"), None)
            .await;
        assert_eq!(replay.status, 200, "{}", replay.body);
        assert_eq!(replay.body["requeued"], 3);
        let received = receiver.wait_for(3, 10).await;
        check_signed_and_ordered(&received, &secret);
        gw.wait_delivered(&hook, 3, 10).await;

        // Replay from an event id re-sends delivered events with the same ids.
        let first = received.iter().map(|r| cursor(&r.id)).min().unwrap();
        let replay = gw
            .admin(
                "POST",
                &format!("/v1/webhooks/{hook}/replay"),
                Some(json!({"from": format!("evt_{first}")})),
            )
            .await;
        assert_eq!(replay.body["requeued"], 3);
        let again = receiver.wait_for(6, 10).await;
        let ids: Vec<_> = again.iter().map(|r| r.id.clone()).collect();
        assert_eq!(
            ids[3..].iter().collect::<HashSet<_>>(),
            ids[..3].iter().collect::<HashSet<_>>()
        );
    }
}

both_backends! {
    async fn replay_from_a_cursor_covers_events_older_than_the_webhook() {
        let gw = spawn().await;
        burst(gw.store(), 4).await;
        let receiver = Receiver::start(Mode::Up).await;
        let (hook, secret) = create_hook(&gw, json!({"url": receiver.url})).await;
        let replay = gw
            .admin(
                "POST",
                &format!("/v1/webhooks/{hook}/replay"),
                Some(json!({"from": "evt_1"})),
            )
            .await;
        assert_eq!(replay.body["requeued"], 4);
        check_signed_and_ordered(&receiver.wait_for(4, 10).await, &secret);
    }
}

both_backends! {
    async fn rotated_secrets_both_sign_during_the_grace_period() {
        let gw = spawn().await;
        let receiver = Receiver::start(Mode::Up).await;
        let old = signature::generate_secret();
        let (hook, given) = create_hook(&gw, json!({"url": receiver.url, "secret": old})).await;
        assert_eq!(given, old);
        let rotated = gw
            .admin("POST", &format!("/v1/webhooks/{hook}/rotate-secret"), None)
            .await;
        assert_eq!(rotated.status, 200);
        let new = rotated.body["secret"].as_str().unwrap().to_owned();
        assert_ne!(new, old);
        burst(gw.store(), 1).await;
        let r = &receiver.wait_for(1, 10).await[0];
        assert_eq!(r.signature.split(' ').count(), 2);
        assert!(signature::verify(
            &old,
            &r.signature,
            &r.id,
            r.timestamp,
            &r.body
        ));
        assert!(signature::verify(
            &new,
            &r.signature,
            &r.id,
            r.timestamp,
            &r.body
        ));
    }
}

both_backends! {
    async fn a_hanging_endpoint_does_not_delay_another() {
        let gw = spawn_with(|s| s.webhooks.timeout_ms = 60_000).await;
        let stuck = Receiver::start(Mode::Hang).await;
        let healthy = Receiver::start(Mode::Up).await;
        create_hook(&gw, json!({"url": stuck.url})).await;
        let (_, secret) = create_hook(&gw, json!({"url": healthy.url})).await;
        burst(gw.store(), 9).await;
        stuck.wait_for_attempts(1, 10).await;
        let received = healthy.wait_for(9, 10).await;
        check_signed_and_ordered(&received, &secret);
    }
}

both_backends! {
    async fn undelivered_events_survive_a_restart() {
        let mut gw = spawn().await;
        let receiver = Receiver::start(Mode::Down).await;
        let (_, secret) = create_hook(&gw, json!({"url": receiver.url})).await;
        burst(gw.store(), 6).await;
        receiver.wait_for_attempts(3, 10).await;
        gw.stop().await;

        receiver.set_mode(Mode::Up);
        let settings = gw.settings();
        let restarted = common::start_in(gw.dir.path(), settings).await.unwrap();
        let received = receiver.wait_for(6, 20).await;
        check_signed_and_ordered(&received, &secret);
        restarted.stop().await;
    }
}

both_backends! {
    async fn a_flaky_receiver_gets_200_events_once_each_in_order() {
        let gw = spawn().await;
        let receiver = Receiver::start(Mode::Flaky).await;
        let (hook, secret) = create_hook(&gw, json!({"url": receiver.url})).await;
        burst(gw.store(), 200).await;
        let received = receiver.wait_for(200, 60).await;
        check_signed_and_ordered(&received, &secret);
        // The receiver has answered; the gateway records the last outcomes just after.
        gw.wait_delivered(&hook, 200, 10).await;
    }
}

both_backends! {
    async fn stopping_answers_parked_long_polls() {
        let mut gw = spawn().await;
        let before = gw.store().event_subscribers();
        let client = gw.client.clone();
        let url = format!("{}/v1/events?wait=60", gw.base);
        let poll = tokio::spawn(async move {
            client
                .get(url)
                .bearer_auth(common::ADMIN_KEY)
                .send()
                .await
                .unwrap()
                .status()
        });
        eventually(10, "the long-poll to park", || async {
            (gw.store().event_subscribers() > before).then_some(())
        })
        .await;
        let started = tokio::time::Instant::now();
        gw.stop().await;
        assert_eq!(poll.await.unwrap(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "stop did not wait out the poll"
        );
    }
}

both_backends! {
    async fn deliveries_to_one_receiver_reuse_one_connection() {
        let gw = spawn().await;
        let receiver = Receiver::start(Mode::Up).await;
        create_hook(&gw, json!({"url": receiver.url})).await;
        // One at a time, so a pooled connection is always idle when the next one goes out.
        for n in 0..5 {
            message_event(gw.store(), A, PEERS[0], n).await;
            receiver.wait_for(n + 1, 30).await;
        }
        assert_eq!(
            receiver.connections(),
            1,
            "every delivery after the first reuses the connection (the answer's body is read)"
        );
    }
}

both_backends! {
    async fn more_conversations_than_slots_get_everything_once_in_order() {
        // Sixteen conversations against four slots (`webhooks.max_in_flight`): most heads wait
        // for a slot, events keep arriving (each a wake-up) while every slot is taken, and the
        // flaky receiver's refusals put heads into backoff. Every event still arrives once, in
        // order per conversation.
        let gw = spawn().await;
        let receiver = Receiver::start(Mode::Flaky).await;
        let (hook, secret) = create_hook(&gw, json!({"url": receiver.url})).await;
        let peers: Vec<String> = (1..=16u32).map(|i| format!("05{i:064x}")).collect();
        for n in 0..160 {
            message_event(gw.store(), A, &peers[n % peers.len()], n).await;
        }
        let received = receiver.wait_for(160, 90).await;
        check_signed_and_ordered(&received, &secret);
        assert_eq!(received.len(), 160);
        gw.wait_delivered(&hook, 160, 20).await;
    }
}
