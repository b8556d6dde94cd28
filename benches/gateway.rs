//! Figures for the gateway half that needs no network: REST sends persisted per second (with
//! latency percentiles), events appended per second, webhook deliveries per second to a local
//! receiver, and resident memory. Run with `cargo bench --bench gateway`. Prints JSON lines;
//! not a pass/fail test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a failed setup step should fail loudly

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::RngCore as _;
use serde_json::json;
use session_gateway::app::{Gateway, GatewayOptions};
use session_gateway::config::{SecretString, Settings};
use session_gateway::events::{EventData, MessageEvent};
use session_gateway::identities::SessionIdentities;
use session_gateway::store::events::NewEvent;

#[path = "support/hooks.rs"]
mod hooks;

const ADMIN: &str = "bench-admin-key";
const SENDS: usize = 2000;
const CONCURRENCY: usize = 32;
const EVENTS: usize = 2000;
const CONVERSATIONS: usize = 100;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn bench() {
    let dir = tempfile::tempdir().unwrap();
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let mut settings = Settings::default();
    settings.api.admin_key = Some(SecretString::new(ADMIN.into()));
    settings.security.master_key = Some(SecretString::new(
        base64::engine::general_purpose::STANDARD.encode(key),
    ));
    let rss_start = rss_kib();
    let gateway = Gateway::start(GatewayOptions {
        settings,
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".into(),
        identities: Arc::new(SessionIdentities),
    })
    .await
    .unwrap();
    let api = gateway.base_url();
    let client = reqwest::Client::new();
    let account: serde_json::Value = client
        .post(format!("{api}/v1/accounts"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let account = account["session_id"].as_str().unwrap().to_owned();

    // 1. REST sends (each persisted before its 202).
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CONCURRENCY {
        let (client, api, account) = (client.clone(), api.clone(), account.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for i in (worker..SENDS).step_by(CONCURRENCY) {
                let t = Instant::now();
                let r = client
                    .post(format!("{api}/v1/accounts/{account}/messages"))
                    .bearer_auth(ADMIN)
                    .header("Idempotency-Key", format!("k{i}"))
                    .json(&json!({"to": account, "text": format!("bench {i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 202);
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    println!(
        "{}",
        json!({"bench": "rest_send", "messages": SENDS, "concurrency": CONCURRENCY,
               "per_second": (SENDS as f64 / elapsed).round(),
               "p50_ms": percentile(&latencies, 0.5), "p99_ms": percentile(&latencies, 0.99)})
    );

    // 2. Events appended (one transaction each, with one webhook's delivery row), then 3.
    // delivered to a local receiver.
    let delivered = Arc::new(AtomicUsize::new(0));
    let url = hooks::counting(delivered.clone());
    let hook = client
        .post(format!("{api}/v1/webhooks"))
        .bearer_auth(ADMIN)
        .json(&json!({"url": url}))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 201);
    let started = Instant::now();
    for i in 0..EVENTS {
        let peer = format!("05{:064x}", i % CONVERSATIONS);
        gateway
            .store()
            .append_event(&NewEvent {
                account: Some(account.clone()),
                conversation: Some(peer.clone()),
                timestamp: i as i64,
                data: EventData::message(
                    MessageEvent::Received,
                    &json!({"from": peer, "text": format!("event {i}")}),
                )
                .unwrap(),
            })
            .await
            .unwrap();
    }
    let appended = started.elapsed().as_secs_f64();
    while delivered.load(Ordering::SeqCst) < EVENTS {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "deliveries stalled"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let total = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"bench": "events", "events": EVENTS, "conversations": CONVERSATIONS,
               "appended_per_second": (EVENTS as f64 / appended).round(),
               "delivered_per_second": (EVENTS as f64 / total).round()})
    );
    println!(
        "{}",
        json!({"bench": "memory", "rss_start_kib": rss_start, "rss_end_kib": rss_kib()})
    );
    gateway.stop().await;
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and expects no run.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    tokio::runtime::Runtime::new().unwrap().block_on(bench());
}
