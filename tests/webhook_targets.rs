//! Webhook targets (issue 13, attack 9): by default (`webhooks.deny_private`) a webhook may
//! not call loopback, private or link-local addresses (the cloud metadata endpoint), neither
//! when it is created (403 `webhook_target_denied`: well-formed, but this gateway's policy
//! forbids it) nor when it is delivered, after DNS
//! resolution (a name that resolves to loopback); `webhooks.allowed_hosts` lists exceptions
//! and, when set, is the only set of targets.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

#[macro_use]
mod common;

use common::{eventually, spawn_with, Mode, Receiver};
use serde_json::{json, Value};
use session_gateway::events::{EventData, MessageEvent};
use session_gateway::store::events::NewEvent;
use session_gateway::store::webhooks::{Webhook, WebhookSecret};
use session_gateway::webhooks::signature;

const A: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const PEER: &str = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";

async fn create(gw: &common::TestGateway, url: &str) -> common::Reply {
    gw.admin("POST", "/v1/webhooks", Some(json!({"url": url})))
        .await
}

async fn one_event(gw: &common::TestGateway) {
    let body = json!({"id": "msg_1", "from": PEER, "to": A, "conversation": PEER, "text": "hi"});
    gw.store()
        .append_event(&NewEvent {
            account: Some(A.to_owned()),
            conversation: Some(PEER.to_owned()),
            timestamp: 1_700_000_000_000,
            data: EventData::message(MessageEvent::Received, &body).unwrap(),
        })
        .await
        .unwrap();
}

both_backends! {
    async fn private_and_metadata_targets_are_refused_at_creation() {
        // The defaults, not the tests' loopback-friendly ones.
        let gw = spawn_with(|s| s.webhooks.deny_private = None).await;
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:9/hook",
            "http://localhost:9/hook",
            "http://10.0.0.1/hook",
            "http://[fe80::1]/hook",
            "http://[::ffff:169.254.169.254]/",
        ] {
            let r = create(&gw, url).await;
            assert_eq!(r.status, 403, "{url}: {}", r.body);
            assert_eq!(r.body["error"]["code"], "webhook_target_denied", "{url}: {}", r.body);
        }
        let r = create(&gw, "https://93.184.216.34/hook").await;
        assert_eq!(r.status, 201, "{}", r.body);
        // A change of URL is checked the same way.
        let id = r.body["id"].as_str().unwrap();
        let r = gw
            .admin("PATCH", &format!("/v1/webhooks/{id}"),
                   Some(json!({"url": "http://169.254.169.254/"})))
            .await;
        assert_eq!(r.body["error"]["code"], "webhook_target_denied", "{}", r.body);
    }
}

both_backends! {
    async fn a_listed_loopback_receiver_gets_its_events() {
        let receiver = Receiver::start(Mode::Up).await;
        let gw = spawn_with(|s| {
            s.webhooks.deny_private = None;
            s.webhooks.allowed_hosts = vec!["127.0.0.1".into()];
        })
        .await;
        let r = create(&gw, &receiver.url).await;
        assert_eq!(r.status, 201, "{}", r.body);
        // Listing makes the list the only targets.
        let r = create(&gw, "https://93.184.216.34/hook").await;
        assert_eq!(r.body["error"]["code"], "webhook_target_denied", "{}", r.body);
        one_event(&gw).await;
        receiver.wait_for(1, 20).await;
    }
}

both_backends! {
    async fn a_name_resolving_to_loopback_is_refused_at_delivery() {
        let receiver = Receiver::start(Mode::Up).await;
        let gw = spawn_with(|s| s.webhooks.deny_private = None).await;
        // Stored as if created before the rule (or under other settings): the API would
        // refuse it; delivery must too, after resolving `localhost`.
        let url = receiver.url.replace("127.0.0.1", "localhost");
        let now = session_gateway::clock::now_ms();
        let id = format!("wh_{}", "0".repeat(32));
        let hook = Webhook {
            id: id.clone(),
            url,
            events: None,
            accounts: None,
            secrets: vec![WebhookSecret {
                secret: signature::generate_secret(),
                expires_at: None,
            }],
            enabled: true,
            created_at: now,
            updated_at: now,
        };
        gw.store().insert_webhook(&hook).await.unwrap();
        gw.admin("PATCH", &format!("/v1/webhooks/{id}"), Some(json!({"enabled": true})))
            .await;
        one_event(&gw).await;
        let log: Value = eventually(20, "a refused attempt", || async {
            let log = gw
                .admin("GET", &format!("/v1/webhooks/{id}/deliveries"), None)
                .await;
            let first = log.body["deliveries"][0].clone();
            first["last_error"].is_string().then_some(first)
        })
        .await;
        let error = log["last_error"].as_str().unwrap();
        assert!(error.contains("target refused"), "{error}");
        assert!(error.contains("loopback"), "{error}");
        assert!(receiver.received().is_empty(), "the receiver was called");
    }
}
