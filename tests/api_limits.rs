//! Rate limits (issue 15): 429 `rate_limited` with `Retry-After` per API key at the configured
//! rate, per client address for failed authentications (refused before the key is looked at),
//! per account for sends (`sending.max_per_minute`); the configured admin key is exempt. And the
//! webhook worker's side: a receiver's 429 `Retry-After` is honoured, a 410 disables the endpoint
//! with a `webhook.disabled` event.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

#[macro_use]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use common::{eventually, spawn_with, TestGateway, ADMIN_KEY};
use serde_json::{json, Value};
use session_gateway::events::{EventData, MessageEvent};
use session_gateway::store::events::NewEvent;

const A: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const PEER: &str = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";

/// `GET path` with `key`: status, `Retry-After` (if any) and body.
async fn get(gw: &TestGateway, path: &str, key: &str) -> (u16, Option<u64>, Value) {
    let response = gw
        .client
        .get(format!("{}{path}", gw.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

async fn admin_scoped_key(gw: &TestGateway) -> String {
    let reply = gw
        .admin("POST", "/v1/api-keys", Some(json!({"scopes": ["admin"]})))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["key"].as_str().unwrap().to_owned()
}

fn assert_rate_limited(status: u16, retry_after: Option<u64>, body: &Value) {
    assert_eq!(status, 429, "{body}");
    assert!(
        retry_after.is_some_and(|s| s >= 1),
        "Retry-After: {retry_after:?}"
    );
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

both_backends! {
    async fn an_api_key_gets_429_past_its_burst_and_the_configured_rate() {
        let gw = spawn_with(|s| {
            s.api.rate_limit_per_sec = 4;
            s.api.rate_limit_burst = 3;
        })
        .await;
        let key = admin_scoped_key(&gw).await;
        let other = admin_scoped_key(&gw).await;
        // The burst passes, the next request is refused.
        for _ in 0..3 {
            let (status, _, body) = get(&gw, "/v1/api-keys", &key).await;
            assert_eq!(status, 200, "{body}");
        }
        let (status, retry_after, body) = get(&gw, "/v1/api-keys", &key).await;
        assert_rate_limited(status, retry_after, &body);
        // Another key has its own bucket; the configured admin key is never limited.
        let (status, _, _) = get(&gw, "/v1/api-keys", &other).await;
        assert_eq!(status, 200);
        for _ in 0..50 {
            let (status, _, _) = get(&gw, "/v1/api-keys", ADMIN_KEY).await;
            assert_eq!(status, 200);
        }
        // Over two seconds of hammering, the key gets its rate (4/s) and no more: at most its
        // burst (refilled meanwhile) plus rate × elapsed, and at least rate × elapsed less a
        // little slack for the cells in flight, so the limit neither over- nor under-serves.
        let start = Instant::now();
        let mut passed = 0u64;
        while start.elapsed() < Duration::from_secs(2) {
            let (status, retry_after, body) = get(&gw, "/v1/api-keys", &key).await;
            if status == 200 {
                passed += 1;
            } else {
                assert_rate_limited(status, retry_after, &body);
            }
        }
        let elapsed = start.elapsed().as_secs_f64();
        let most = (4.0 * elapsed).ceil() as u64 + 3;
        let least = (4.0 * elapsed).floor() as u64 - 2;
        assert!((least..=most).contains(&passed), "{passed} passed in {elapsed:.2} s");
    }
}

both_backends! {
    async fn failed_authentications_are_limited_per_address_before_the_key_is_checked() {
        let gw = spawn_with(|s| {
            s.api.rate_limit_per_sec = 1;
            s.api.rate_limit_burst = 2;
        })
        .await;
        let key = admin_scoped_key(&gw).await;
        for _ in 0..2 {
            let (status, _, body) = get(&gw, "/v1/api-keys", "sgk_wrong_guess").await;
            assert_eq!(status, 401, "{body}");
        }
        let (status, retry_after, body) = get(&gw, "/v1/api-keys", "sgk_wrong_guess").await;
        assert_rate_limited(status, retry_after, &body);
        // While the address is refused, even a right key gets the 429: guesses cannot go on.
        let (status, retry_after, body) = get(&gw, "/v1/api-keys", &key).await;
        assert_rate_limited(status, retry_after, &body);
    }
}

both_backends! {
    async fn sends_are_paced_per_account() {
        let gw = spawn_with(|s| s.sending.max_per_minute = 2).await;
        let (account, _) = gw.create_account().await;
        let (other, _) = gw.create_account().await;
        let send = |from: String| {
            let gw = &gw;
            async move {
                let response = gw
                    .client
                    .post(format!("{}/v1/accounts/{from}/messages", gw.base))
                    .bearer_auth(ADMIN_KEY)
                    .json(&json!({"to": PEER, "text": "hi"}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
                (status, retry_after, response.json::<Value>().await.unwrap())
            }
        };
        for _ in 0..2 {
            let (status, _, body) = send(account.clone()).await;
            assert_eq!(status, 202, "{body}");
        }
        let (status, retry_after, body) = send(account.clone()).await;
        assert_rate_limited(status, retry_after, &body);
        // Two a minute: the next cell is about 30 s away.
        assert!(retry_after.is_some_and(|s| (25..=30).contains(&s)), "{retry_after:?}");
        // The refused message was not stored.
        let history = gw
            .admin("GET", &format!("/v1/accounts/{account}/messages"), None)
            .await;
        assert_eq!(history.body["messages"].as_array().unwrap().len(), 2);
        // Another account is paced on its own.
        let (status, _, body) = send(other).await;
        assert_eq!(status, 202, "{body}");
    }
}

// ---- webhook receivers that push back ------------------------------------------------------

/// What the scripted receiver answers (status, `Retry-After`), and when requests arrived.
type Script = (Arc<Mutex<Vec<Instant>>>, Vec<(u16, Option<&'static str>)>);

/// A receiver answering from a script (one status and optional `Retry-After` per request, the
/// last repeated), recording when each request arrived.
struct Scripted {
    url: String,
    arrivals: Arc<Mutex<Vec<Instant>>>,
    server: actix_web::dev::ServerHandle,
}

impl Scripted {
    async fn start(script: Vec<(u16, Option<&'static str>)>) -> Self {
        let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let state = web::Data::new((arrivals.clone(), script));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            App::new().app_data(state.clone()).route(
                "/hook",
                web::post().to(|state: web::Data<Script>| async move {
                    let n = {
                        let mut arrivals = state.0.lock().unwrap();
                        arrivals.push(Instant::now());
                        arrivals.len()
                    };
                    let (status, retry_after) = state.1[(n - 1).min(state.1.len() - 1)];
                    let mut response =
                        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
                    if let Some(value) = retry_after {
                        response.insert_header(("Retry-After", value));
                    }
                    response.finish()
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url,
            arrivals,
            server: handle,
        }
    }

    fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().unwrap().clone()
    }
}

async fn message_event(gw: &TestGateway, n: usize) {
    gw.store()
        .append_event(&NewEvent {
            account: Some(A.to_owned()),
            conversation: Some(PEER.to_owned()),
            timestamp: 1_700_000_000_000 + n as i64,
            data: EventData::message(
                MessageEvent::Received,
                &json!({"id": format!("msg_{n}"), "from": PEER, "to": A, "text": "x"}),
            )
            .unwrap(),
        })
        .await
        .unwrap();
}

both_backends! {
    async fn a_receiver_answering_429_with_retry_after_is_retried_no_sooner() {
        // Test settings retry after at most 100 ms; the receiver asks for 2 s.
        let gw = spawn_with(|_| {}).await;
        let receiver = Scripted::start(vec![(429, Some("2")), (503, Some("1")), (200, None)]).await;
        let reply = gw.admin("POST", "/v1/webhooks", Some(json!({"url": receiver.url}))).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let hook = reply.body["id"].as_str().unwrap().to_owned();
        message_event(&gw, 1).await;
        gw.wait_delivered(&hook, 1, 30).await;
        let arrivals = receiver.arrivals();
        assert_eq!(arrivals.len(), 3, "429, 503, then delivered");
        let first_wait = arrivals[1] - arrivals[0];
        let second_wait = arrivals[2] - arrivals[1];
        assert!(first_wait >= Duration::from_secs(2), "retried after {first_wait:?}");
        assert!(second_wait >= Duration::from_secs(1), "retried after {second_wait:?}");
        receiver.server.stop(false).await;
    }
}

both_backends! {
    async fn a_receiver_answering_410_gone_disables_its_endpoint() {
        let gw = spawn_with(|_| {}).await;
        let gone = Scripted::start(vec![(410, None)]).await;
        let listening = Scripted::start(vec![(200, None)]).await;
        let reply = gw.admin("POST", "/v1/webhooks", Some(json!({"url": gone.url}))).await;
        let hook = reply.body["id"].as_str().unwrap().to_owned();
        let reply = gw.admin("POST", "/v1/webhooks", Some(json!({"url": listening.url}))).await;
        let other = reply.body["id"].as_str().unwrap().to_owned();
        message_event(&gw, 1).await;
        let disabled = eventually(30, "the gone endpoint disabled", || async {
            let reply = gw.admin("GET", &format!("/v1/webhooks/{hook}"), None).await;
            (reply.body["enabled"] == false).then_some(reply.body)
        })
        .await;
        assert_eq!(disabled["url"], gone.url.as_str());
        // The event says which endpoint and URL; it has no account.
        let events = gw.admin("GET", "/v1/events?after=0", None).await;
        let disabled: Vec<&Value> = events.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "webhook.disabled")
            .collect();
        assert_eq!(disabled.len(), 1, "{}", events.body);
        assert_eq!(disabled[0]["data"], json!({"webhook_id": hook, "url": gone.url}));
        assert_eq!(disabled[0]["account"], Value::Null);
        // The other endpoint hears of it (and of the message).
        gw.wait_delivered(&other, 2, 30).await;
        // The undelivered message stays pending, for when the endpoint is enabled again.
        let pending = gw
            .admin("GET", &format!("/v1/webhooks/{hook}/deliveries?status=pending"), None)
            .await;
        let pending = pending.body["deliveries"].as_array().unwrap();
        assert_eq!(pending.len(), 1, "{pending:?}");
        assert_eq!(pending[0]["last_status"], 410);
        assert_eq!(gone.arrivals().len(), 1);
    }
}
