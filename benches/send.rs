//! The gateway's CPU per message, sent and received, with the devnet in its own process (so
//! every CPU figure is the gateway's own; issue 16's targets: ≤ 1.0 ms per sent 1:1 message,
//! ≤ 0.5 ms per received one).
//!
//! `cargo bench --bench send` runs two phases and prints one JSON line each:
//! 1. **send**: one account queues `SEND_MESSAGES` (default 1,000) texts round-robin to
//!    `SEND_RECIPIENTS` (30) Session IDs through `POST /v1/accounts/{id}/messages` as fast as
//!    `SEND_CONCURRENCY` (16) clients can, a backlog. Each message is stored in the recipient's
//!    swarm and as a sync copy in the sender's (two onion requests), persisted before `202`,
//!    and announced by a `message.sent` webhook to a local receiver. Measured from the first
//!    POST until the receiver has every `message.sent`: messages/s, the gateway's CPU per
//!    message and cores busy, the devnet child's cores.
//! 2. **receive**: a second gateway, holding the 30 recipients, drains what phase 1 left in
//!    their swarms: each text verified, stored and announced by a `message.received` webhook.
//!    It starts before phase 1 and receives the warm-up texts (so its swarm lookups and path
//!    builds are not in the figures either), then its accounts are paused until phase 1 is
//!    done; measured from resuming them until the receiver has every backlog text. (Until
//!    stop 34 this gateway started fresh inside the measured window, warm-up texts included.)
//!    Paused, it idles in this process during phase 1, and its idle CPU is in phase 1's
//!    figures.
//!
//! The bench's own HTTP clients and webhook receiver run in this process, on threads of their
//! own (a `bench-load` runtime and the receiver's actix workers): `gateway_cpu_ms_per_message`
//! is the process's CPU less those threads', `load_cpu_ms_per_message` theirs, and
//! `process_cpu_ms_per_message` the sum (the figure this bench printed as the gateway's until
//! stop 19, an upper bound). `SEND_NODES` (24 devnet nodes, swarms of 4).
//! Pin the two processes apart with `taskset` to see the gateway on its own core(s), e.g.
//! `taskset -c 1 cargo bench --bench send` puts this process (and the devnet child it spawns)
//! on core 1: use `SEND_DEVNET_CPUS=0` to move the child to core 0 after it starts.
//! `SEND_WEBHOOK_IN_FLIGHT` sets `webhooks.max_in_flight` (default 4, the setting's default):
//! how many `message.*` deliveries the receiver takes at once.
//! `SEND_STORE_WINDOW_MS` sets `network.store_window_ms` (default 25; 0: every store in an
//! onion request of its own, as before stop 33).
//! `writer_busy` is the share of the phase the gateway's SQLite writer connection was lent out
//! (`Store::writer_held`): near 1, the database's one writer is what limits the rate.
//! `BENCH_SQL_LOG=<file>` writes every SQL statement the gateway runs, with its elapsed time
//! (sqlx's `sqlx::query` debug events), to that file: which statements a message costs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench binary may panic

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use session_gateway::app::Gateway;
use session_gateway::config::Settings;
use session_gateway::identities::{IdentityProvider as _, SessionIdentities};
use session_gateway::store::accounts::{AccountPatch, AccountStatus};
use session_gateway::store::{MasterKey, Store};

#[path = "support/devnet_process.rs"]
mod devnet_process;
#[path = "support/fleet.rs"]
#[allow(dead_code)] // its in-process devnet helper is not used here
mod fleet;
#[path = "support/hooks.rs"]
mod hooks;
#[path = "support/process.rs"]
mod process;
#[path = "support/profile.rs"]
mod profile;
use process::{cpu_secs, env, rss_mib, threads, threads_cpu_secs};

const ADMIN: &str = "send-bench-admin";

/// Waits until `count` reaches `target` (polling a counter the receiver bumps), or panics
/// after `limit`.
async fn until(count: &AtomicUsize, target: usize, limit: Duration, what: &str) {
    let start = Instant::now();
    while count.load(Ordering::SeqCst) < target {
        assert!(
            start.elapsed() < limit,
            "{what}: {} of {target} after {limit:?}",
            count.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Subscribes the receiver at `url` to `event` on `gateway`.
async fn subscribe(client: &reqwest::Client, gateway: &Gateway, url: &str, event: &str) {
    let hook = client
        .post(format!("{}/v1/webhooks", gateway.base_url()))
        .bearer_auth(ADMIN)
        .json(&json!({"url": url, "events": [event]}))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 201, "{}", hook.text().await.unwrap());
}

/// Writes identities with these seeds into the database of `settings` in `dir`, paused (so
/// that the webhook is subscribed before any of them polls).
async fn insert_paused(settings: &Settings, dir: &std::path::Path, master: &str, seeds: &[Seeded]) {
    let store = Store::open(
        &settings.database_url(dir),
        1,
        MasterKey::from_base64(master).unwrap(),
    )
    .await
    .unwrap();
    for (id, seed) in seeds {
        let id = session_gateway::ids::SessionIdText::parse(id).unwrap();
        store.insert_account(&id, None, seed, 0).await.unwrap();
        let paused = AccountPatch {
            status: Some(AccountStatus::Paused),
            ..AccountPatch::default()
        };
        store.patch_account(&id, &paused, 0).await.unwrap();
    }
    store.close().await;
}

type Seeded = (String, Vec<u8>);

/// Waits until `gateway` runs no Identity actor (its accounts are all paused).
async fn until_stopped(gateway: &Gateway, limit: Duration) {
    let start = Instant::now();
    while gateway.identity_counts().is_some_and(|c| c.running > 0) {
        assert!(start.elapsed() < limit, "paused accounts still running");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sets every account of `seeds` on `gateway` to `status` (`active` or `paused`).
async fn set_status(client: &reqwest::Client, gateway: &Gateway, seeds: &[Seeded], status: &str) {
    for (id, _) in seeds {
        let set = client
            .patch(format!("{}/v1/accounts/{id}", gateway.base_url()))
            .bearer_auth(ADMIN)
            .json(&json!({"status": status}))
            .send()
            .await
            .unwrap();
        assert_eq!(set.status(), 200, "{}", set.text().await.unwrap());
    }
}

/// Sends `text` to `to` through `url` (an account's messages endpoint); expects `202`.
async fn post(client: reqwest::Client, url: String, to: String, text: String) {
    let sent = client
        .post(&url)
        .bearer_auth(ADMIN)
        .json(&json!({"to": to, "text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202, "{}", sent.text().await.unwrap());
}

/// The bench's own load, which shares this process with the gateway: the HTTP clients and the
/// webhook receiver. They run on their own threads (the `bench-load` runtime and the
/// receiver's actix workers), so their CPU can be told apart from the gateway's.
struct Load {
    runtime: tokio::runtime::Runtime,
    /// The webhook receiver's threads.
    receiver: Vec<u32>,
}

impl Load {
    /// The load's threads now: the runtime's (named `bench-load`) and the receiver's.
    fn tids(&self) -> Vec<u32> {
        let mut tids: Vec<u32> = threads()
            .into_iter()
            .filter(|(_, name)| name.starts_with("bench-load"))
            .map(|(tid, _)| tid)
            .collect();
        tids.extend(&self.receiver);
        tids
    }

    fn cpu_secs(&self) -> f64 {
        threads_cpu_secs(&self.tids())
    }
}

/// Where a measured phase started: wall clock, this process's, the load's and the devnet's
/// CPU.
struct Mark {
    at: Instant,
    cpu: f64,
    load_cpu: f64,
    devnet_cpu: f64,
    /// How long the gateway's database writer had been lent out ([`Store::writer_held`]).
    writer: f64,
}

impl Mark {
    fn now(devnet: &devnet_process::DevnetProcess, load: &Load, gateway: &Gateway) -> Self {
        Self {
            at: Instant::now(),
            cpu: cpu_secs(),
            load_cpu: load.cpu_secs(),
            devnet_cpu: devnet.cpu_secs(),
            writer: writer_held(gateway),
        }
    }

    /// The figures from this mark until now.
    fn figures(
        &self,
        devnet: &devnet_process::DevnetProcess,
        load: &Load,
        gateway: &Gateway,
    ) -> Figures {
        Figures {
            seconds: self.at.elapsed().as_secs_f64(),
            cpu: cpu_secs() - self.cpu,
            load_cpu: load.cpu_secs() - self.load_cpu,
            devnet_cpu: devnet.cpu_secs() - self.devnet_cpu,
            writer: writer_held(gateway) - self.writer,
        }
    }
}

/// [`Store::writer_held`] in seconds (SQLite).
fn writer_held(gateway: &Gateway) -> f64 {
    gateway
        .store()
        .writer_held()
        .map_or(0.0, |held| held.as_secs_f64())
}

struct Figures {
    seconds: f64,
    /// The whole process: the gateway and the load.
    cpu: f64,
    load_cpu: f64,
    devnet_cpu: f64,
    writer: f64,
}

impl Figures {
    fn print(&self, phase: &str, messages: usize, rss_mib: f64) {
        let gateway = self.cpu - self.load_cpu;
        let per_message = |cpu: f64| round(cpu * 1000.0 / messages as f64);
        let line = json!({
            "phase": phase,
            "messages": messages,
            "seconds": round(self.seconds),
            "messages_per_sec": round(messages as f64 / self.seconds),
            "gateway_cpu_ms_per_message": per_message(gateway),
            "load_cpu_ms_per_message": per_message(self.load_cpu),
            "process_cpu_ms_per_message": per_message(self.cpu),
            "gateway_cores": round(gateway / self.seconds),
            "devnet_cores": round(self.devnet_cpu / self.seconds),
            "writer_busy": round(self.writer / self.seconds),
            "rss_mib": round(rss_mib),
        });
        println!("{line}");
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // As the binary does first thing (src/main.rs): the process's memory as in production.
    session_gateway::memory::disable_transparent_huge_pages();
    profile::sql_log_from_env();
    let messages = env("SEND_MESSAGES", 1_000) as usize;
    let recipients = env("SEND_RECIPIENTS", 30) as usize;
    let concurrency = env("SEND_CONCURRENCY", 16) as usize;
    let nodes = env("SEND_NODES", 24) as usize;
    let limit = Duration::from_secs(env("SEND_TIMEOUT_SECS", 600));
    let in_flight = env("SEND_WEBHOOK_IN_FLIGHT", 4) as usize;

    let devnet = devnet_process::DevnetProcess::spawn(nodes, 4);
    if let Ok(cpus) = std::env::var("SEND_DEVNET_CPUS") {
        let pid = devnet.pid().to_string();
        let pinned = std::process::Command::new("taskset")
            .args(["-a", "-p", "-c", &cpus, &pid])
            .output();
        assert!(
            pinned.is_ok_and(|o| o.status.success()),
            "taskset the devnet"
        );
    }
    let mut network = devnet.config.clone();
    network.request_timeout_ms = 10_000;
    network.store_window_ms = env("SEND_STORE_WINDOW_MS", network.store_window_ms);
    let client = reqwest::Client::new();
    let hook_count = Arc::new(AtomicUsize::new(0));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-load")
        .enable_all()
        .build()
        .unwrap();
    // Two receivers: `message.sent` from the sender's gateway, `message.received` from the
    // recipients', counted apart.
    let received_count = Arc::new(AtomicUsize::new(0));
    let before: Vec<u32> = threads().into_iter().map(|(tid, _)| tid).collect();
    let mut urls = Vec::new();
    for counter in [hook_count.clone(), received_count.clone()] {
        let url = runtime
            .spawn(async move { hooks::counting(counter) })
            .await
            .unwrap();
        // One request, so the receiver's workers are running before its threads are listed.
        let probe = client.post(&url).body("probe").send().await.unwrap();
        assert_eq!(probe.status(), 200);
        urls.push(url);
    }
    let (hook_url, received_url) = (urls[0].clone(), urls[1].clone());
    hook_count.store(0, Ordering::SeqCst);
    received_count.store(0, Ordering::SeqCst);
    let receiver = threads()
        .into_iter()
        .filter(|(tid, name)| !before.contains(tid) && name.starts_with("actix"))
        .map(|(tid, _)| tid)
        .collect();
    let load = Load { runtime, receiver };
    let seeds: Vec<Seeded> = (0..recipients)
        .map(|_| {
            let identity = SessionIdentities.generate().unwrap();
            (
                identity.session_id.as_str().to_owned(),
                identity.seed.to_vec(),
            )
        })
        .collect();

    // Both gateways' settings: webhooks to this process's receivers.
    let gateway_settings = || {
        let (mut settings, master) = fleet::settings(ADMIN, 5_000);
        settings.webhooks.deny_private = Some(false);
        settings.webhooks.max_in_flight = in_flight;
        (settings, master)
    };

    // The recipients' gateway starts first and receives the warm-up texts, so that its swarm
    // lookups and path builds are not in phase 2's figures (as the sender's are not in phase
    // 1's); then its accounts are paused while phase 1 fills their swarms.
    let (settings, master) = gateway_settings();
    let receiver_dir = tempfile::tempdir().unwrap();
    insert_paused(&settings, receiver_dir.path(), &master, &seeds).await;
    let receiving = fleet::start(settings, receiver_dir.path(), network.clone()).await;
    subscribe(&client, &receiving, &received_url, "message.received").await;
    set_status(&client, &receiving, &seeds, "active").await;

    // Phase 1: one sender, a backlog of texts to 30 recipients.
    let (settings, master) = gateway_settings();
    let sender_dir = tempfile::tempdir().unwrap();
    let sender = fleet::fill(&settings, sender_dir.path(), &master, 1).await[0].clone();
    let gateway = fleet::start(settings.clone(), sender_dir.path(), network.clone()).await;
    subscribe(&client, &gateway, &hook_url, "message.sent").await;
    // One message first, so that swarm lookups and path builds are not in the figures: each
    // makes a `message.sent` and, once the recipients' gateway has it, a `message.received`.
    let url = format!("{}/v1/accounts/{sender}/messages", gateway.base_url());
    for (to, _) in &seeds {
        post(client.clone(), url.clone(), to.clone(), "warm-up".into()).await;
    }
    until(&hook_count, recipients, limit, "warm-up sends").await;
    until(&received_count, recipients, limit, "warm-up receipts").await;
    set_status(&client, &receiving, &seeds, "paused").await;
    until_stopped(&receiving, limit).await;
    hook_count.store(0, Ordering::SeqCst);
    received_count.store(0, Ordering::SeqCst);

    let mark = Mark::now(&devnet, &load, &gateway);
    let profile = profile::Profile::start();
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..concurrency {
        let (next, seeds) = (next.clone(), seeds.clone());
        let (client, url) = (client.clone(), url.clone());
        clients.push(load.runtime.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= messages {
                    break;
                }
                let to = seeds[i % seeds.len()].0.clone();
                let text = format!("bench message {i}");
                post(client.clone(), url.clone(), to, text).await;
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    until(&hook_count, messages, limit, "message.sent webhooks").await;
    mark.figures(&devnet, &load, &gateway)
        .print("send", messages, rss_mib());
    profile.finish("send");
    gateway.stop().await;

    // Phase 2: the recipients' gateway drains their swarms. A poll that was already under way
    // when its account was paused may have taken a few texts during phase 1 (their CPU is in
    // phase 1's figures): phase 2 counts only what it receives.
    let early = received_count.load(Ordering::SeqCst);
    let gateway = receiving;
    let mark = Mark::now(&devnet, &load, &gateway);
    let profile = profile::Profile::start();
    set_status(&client, &gateway, &seeds, "active").await;
    until(
        &received_count,
        messages,
        limit,
        "message.received webhooks",
    )
    .await;
    mark.figures(&devnet, &load, &gateway)
        .print("receive", messages - early, rss_mib());
    profile.finish("receive");
    gateway.stop().await;
    // A runtime may not be dropped inside another's async context.
    load.runtime.shutdown_background();
}
