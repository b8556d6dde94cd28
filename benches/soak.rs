//! Soak (issue 14): a long run where slow leaks and rare races show. Two gateway replicas on one
//! PostgreSQL database (a throwaway cluster, as the tests start one) hold N accounts (default
//! 1,000) against a devnet in its own process with a third of its nodes misbehaving (drop,
//! delay, tampered retrieves, false 421s, one kind per faulty node). A steady mix of 1:1 and
//! group messages is sent through whichever replica is up; webhook receivers go down for
//! periods; one replica is killed (no clean shutdown) and restarted periodically.
//!
//! `cargo bench --bench soak` prints a line per minute (RSS and open file descriptors of this
//! process, which holds both replicas and the receivers; messages sent and delivered so far)
//! and, after a drain, the totals: messages sent, deliveries expected and made, lost (must be
//! 0), duplicates under a new event id (must be 0), tampered accepted (deliveries whose text
//! or recipient was never sent: must be 0), webhook retries (the same event id again, which is
//! allowed), and delivery latency (send until a receiver got it: p50/p99/max).
//!
//! Environment: `SOAK_SECS` (3600: the sending window), `SOAK_ACCOUNTS` (1000), `SOAK_NODES`
//! (24, swarms of 4; every third node faulty), `SOAK_RATE` (messages per second, 4),
//! `SOAK_GROUP_SHARE` (percent of messages sent to groups, 30), `SOAK_GROUPS` (10 groups of
//! 4 members), `SOAK_POLL_MS` (active poll interval, 5000), `SOAK_KILL_EVERY_SECS` (600: one
//! replica killed), `SOAK_KILL_DOWN_SECS` (30: then restarted), `SOAK_HOOK_CYCLE_SECS` (600)
//! and `SOAK_HOOK_DOWN_SECS` (120: each receiver is down that long once per cycle, staggered),
//! `SOAK_RECEIVERS` (2), `SOAK_DRAIN_SECS` (600: the longest wait for the last deliveries).
//! Needs PostgreSQL binaries (`initdb`), as the PostgreSQL tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench binary may panic

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpResponse};
use rand::seq::SliceRandom as _;
use rand::Rng as _;
use serde_json::{json, Value};
use session_gateway::app::Gateway;
use session_gateway::config::Settings;
use session_gateway::network::NetworkConfig;

#[path = "support/devnet_process.rs"]
mod devnet_process;
#[allow(dead_code)] // the soak uses part of the fleet helpers
#[path = "support/fleet.rs"]
mod fleet;
#[path = "support/hooks.rs"]
mod hooks;
#[allow(dead_code)] // the tests' throwaway cluster; the soak never stops it
#[path = "../tests/common/pg.rs"]
mod pg;
#[allow(dead_code)] // the soak reads memory, not CPU
#[path = "support/process.rs"]
mod process;
use process::{env, rss_mib};

const ADMIN: &str = "soak-admin";

/// Open file descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

// ---- webhook receivers -----------------------------------------------------------------------

/// One delivery as a receiver saw it (only what the checks need, to keep memory flat).
#[derive(Clone)]
struct Delivery {
    event_id: String,
    account: String,
    text: String,
    at: Instant,
}

#[derive(Clone, Default)]
struct ReceiverState {
    up: Arc<std::sync::atomic::AtomicBool>,
    got: Arc<Mutex<Vec<Delivery>>>,
}

struct Receiver {
    url: String,
    state: ReceiverState,
}

fn receive(body: &[u8], state: &ReceiverState) -> HttpResponse {
    if !state.up.load(Ordering::Relaxed) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let Ok(event) = serde_json::from_slice::<Value>(body) else {
        return HttpResponse::BadRequest().finish();
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let delivery = Delivery {
        event_id: text(&event["id"]),
        account: text(&event["account"]),
        text: text(&event["data"]["text"]),
        at: Instant::now(),
    };
    state.got.lock().unwrap().push(delivery);
    HttpResponse::Ok().finish()
}

impl Receiver {
    fn start() -> Self {
        let state = ReceiverState::default();
        state.up.store(true, Ordering::Relaxed);
        let shared = state.clone();
        let url = hooks::serve(move |body: web::Bytes| {
            let answer = receive(&body, &shared);
            async move { answer }
        });
        Self { url, state }
    }

    fn set_up(&self, up: bool) {
        self.state.up.store(up, Ordering::Relaxed);
    }
}

// ---- replicas --------------------------------------------------------------------------------

/// The replicas' base URLs (`None` while one is down).
type Live = Arc<Mutex<Vec<Option<String>>>>;

async fn start_replica(settings: &Settings, dir: &std::path::Path, net: &NetworkConfig) -> Gateway {
    fleet::start(settings.clone(), dir, net.clone()).await
}

fn live_base(live: &Live) -> Option<String> {
    let bases: Vec<String> = live.lock().unwrap().iter().flatten().cloned().collect();
    bases.choose(&mut rand::thread_rng()).cloned()
}

/// An admin call on any live replica, retried (same `Idempotency-Key` for a send) across
/// replicas for up to `patience`: a replica killed mid-request loses the connection.
async fn api(
    client: &reqwest::Client,
    live: &Live,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    idempotency: Option<&str>,
    patience: Duration,
) -> Option<(u16, Value)> {
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        let Some(base) = live_base(live) else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let mut request = client
            .request(method.clone(), format!("{base}{path}"))
            .bearer_auth(ADMIN)
            .timeout(Duration::from_secs(30));
        if let Some(key) = idempotency {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = &body {
            request = request.json(body);
        }
        match request.send().await {
            Ok(response) if response.status().is_server_error() => {}
            Ok(response) => {
                let status = response.status().as_u16();
                let value = response.json::<Value>().await.unwrap_or(Value::Null);
                return Some((status, value));
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// Waits for `account`'s first event of `kind` matching `pred` (long-poll on the events API).
async fn wait_event(
    client: &reqwest::Client,
    live: &Live,
    account: &str,
    kind: &str,
    pred: impl Fn(&Value) -> bool,
    limit: Duration,
) -> bool {
    let deadline = Instant::now() + limit;
    let mut after = 0i64;
    while Instant::now() < deadline {
        let path = format!("/v1/events?account={account}&after={after}&wait=5&limit=500");
        let Some((200, page)) =
            api(client, live, reqwest::Method::GET, &path, None, None, limit).await
        else {
            continue;
        };
        after = page["next"].as_i64().unwrap_or(after);
        let events = page["events"].as_array().cloned().unwrap_or_default();
        if events.iter().any(|e| e["type"] == kind && pred(&e["data"])) {
            return true;
        }
    }
    false
}

// ---- the run ---------------------------------------------------------------------------------

/// What was sent: text → (when, the accounts that must receive it).
type Sent = Arc<Mutex<HashMap<String, (Instant, Vec<String>)>>>;

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // As the binary does first thing (src/main.rs): the process's memory as in production.
    session_gateway::memory::disable_transparent_huge_pages();
    let window = Duration::from_secs(env("SOAK_SECS", 3600));
    let accounts = env("SOAK_ACCOUNTS", 1000).max(8) as usize;
    let nodes = env("SOAK_NODES", 24) as usize;
    let rate = env("SOAK_RATE", 4).max(1);
    let group_share = env("SOAK_GROUP_SHARE", 30).min(100);
    let groups = env("SOAK_GROUPS", 10) as usize;
    let poll_ms = env("SOAK_POLL_MS", 5_000);
    let kill_every = Duration::from_secs(env("SOAK_KILL_EVERY_SECS", 600));
    let kill_down = Duration::from_secs(env("SOAK_KILL_DOWN_SECS", 30));
    let hook_cycle = Duration::from_secs(env("SOAK_HOOK_CYCLE_SECS", 600).max(1));
    let hook_down = Duration::from_secs(env("SOAK_HOOK_DOWN_SECS", 120));
    let receivers_n = env("SOAK_RECEIVERS", 2).max(1) as usize;
    let drain = Duration::from_secs(env("SOAK_DRAIN_SECS", 600));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();

    // A third of the nodes faulty, one kind each, in turn.
    let kinds = ["drop=0.5", "delay_ms=500", "tamper_retrieve", "false_421"];
    let spec: Vec<String> = (0..nodes)
        .filter(|i| i % 3 == 0)
        .enumerate()
        .map(|(k, i)| format!("{i}:{}", kinds[k % kinds.len()]))
        .collect();
    let spec = spec.join(";");
    let devnet = devnet_process::DevnetProcess::spawn_with_faults(nodes, 4, &spec);
    let mut net = devnet.config.clone();
    net.request_timeout_ms = 3_000;

    std::env::set_var("REQUIRE_POSTGRES", "1");
    pg::cluster();
    let url = pg::fresh_database().await.expect("a PostgreSQL cluster");
    let (mut settings, master) = fleet::settings(ADMIN, poll_ms);
    settings.database.url = Some(url);
    settings.replicas.lease_ttl_ms = 10_000;
    settings.webhooks.initial_backoff_ms = 500;
    settings.webhooks.max_backoff_ms = 15_000;
    settings.webhooks.deny_private = Some(false);
    settings.sending.max_backoff_ms = 10_000;
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let started = Instant::now();
    let ids = fleet::fill(&settings, dirs[0].path(), &master, accounts).await;
    eprintln!(
        "soak: {accounts} accounts written in {:.1?}",
        started.elapsed()
    );

    let mut replicas: Vec<Option<Gateway>> = Vec::new();
    for dir in &dirs {
        replicas.push(Some(start_replica(&settings, dir.path(), &net).await));
    }
    let live: Live = Arc::new(Mutex::new(
        replicas
            .iter()
            .map(|g| g.as_ref().map(Gateway::base_url))
            .collect(),
    ));
    let client = reqwest::Client::new();
    let receivers: Vec<Receiver> = (0..receivers_n).map(|_| Receiver::start()).collect();
    for r in &receivers {
        let body = json!({"url": r.url, "events": ["message.received"]});
        let (status, reply) = api(
            &client,
            &live,
            reqwest::Method::POST,
            "/v1/webhooks",
            Some(body),
            None,
            Duration::from_secs(60),
        )
        .await
        .expect("webhook registered");
        assert_eq!(status, 201, "{reply}");
    }

    // Groups: an admin and three members each, invitations accepted before traffic starts.
    let mut group_members: Vec<(String, Vec<String>)> = Vec::new();
    for g in 0..groups {
        let chosen: Vec<String> = ids[2 + g * 4..2 + g * 4 + 4].to_vec();
        let path = format!("/v1/accounts/{}/groups", chosen[0]);
        let body = json!({"name": format!("soak {g}"), "members": &chosen[1..]});
        let (status, reply) = api(
            &client,
            &live,
            reqwest::Method::POST,
            &path,
            Some(body),
            None,
            Duration::from_secs(60),
        )
        .await
        .expect("group created");
        assert_eq!(status, 201, "{reply}");
        group_members.push((reply["id"].as_str().unwrap().to_owned(), chosen));
    }
    let joins = group_members
        .iter()
        .flat_map(|(group, members)| members[1..].iter().map(|m| (group.clone(), m.clone())));
    let joins: Vec<_> = joins
        .map(|(group, member)| {
            let (client, live) = (client.clone(), live.clone());
            tokio::spawn(async move {
                let limit = Duration::from_secs(600);
                let of_group = |d: &Value| d["group"] == group.as_str();
                let invited = wait_event(&client, &live, &member, "group.invited", of_group, limit);
                assert!(invited.await, "no invitation");
                let path = format!("/v1/accounts/{member}/groups/{group}/accept");
                let (status, reply) = api(
                    &client,
                    &live,
                    reqwest::Method::POST,
                    &path,
                    None,
                    None,
                    limit,
                )
                .await
                .expect("accepted");
                assert_eq!(status, 200, "{reply}");
                let joined = wait_event(&client, &live, &member, "group.joined", of_group, limit);
                assert!(joined.await, "never joined");
            })
        })
        .collect();
    for j in joins {
        j.await.unwrap();
    }
    eprintln!(
        "soak: {groups} groups joined; set-up took {:.1?}",
        started.elapsed()
    );

    // The window.
    let sent: Sent = Arc::default();
    let not_accepted = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let until = t0 + window;
    let sender = {
        let (client, live, sent, not_accepted) = (
            client.clone(),
            live.clone(),
            sent.clone(),
            not_accepted.clone(),
        );
        let ids = ids.clone();
        let group_members = group_members.clone();
        tokio::spawn(async move {
            let gap = Duration::from_micros(1_000_000 / rate);
            let mut next = Instant::now();
            let mut n = 0u64;
            let mut tasks = Vec::new();
            while Instant::now() < until {
                tokio::time::sleep_until(next.into()).await;
                next += gap;
                n += 1;
                let text = format!("soak {n} {}", rand::thread_rng().gen::<u32>());
                let to_group =
                    !group_members.is_empty() && rand::thread_rng().gen_range(0..100) < group_share;
                let (from, to, recipients) = if to_group {
                    let (group, members) = group_members
                        .choose(&mut rand::thread_rng())
                        .unwrap()
                        .clone();
                    let from = members.choose(&mut rand::thread_rng()).unwrap().clone();
                    let others = members.iter().filter(|m| **m != from).cloned().collect();
                    (from, group, others)
                } else {
                    let pair: Vec<&String> =
                        ids.choose_multiple(&mut rand::thread_rng(), 2).collect();
                    (pair[0].clone(), pair[1].clone(), vec![pair[1].clone()])
                };
                let (client, live, sent, not_accepted) = (
                    client.clone(),
                    live.clone(),
                    sent.clone(),
                    not_accepted.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    let at = Instant::now();
                    let path = format!("/v1/accounts/{from}/messages");
                    let body = json!({"to": to, "text": text});
                    let key = format!("soak-{n}");
                    let reply = api(
                        &client,
                        &live,
                        reqwest::Method::POST,
                        &path,
                        Some(body),
                        Some(&key),
                        Duration::from_secs(60),
                    )
                    .await;
                    match reply {
                        Some((202, _)) => {
                            sent.lock().unwrap().insert(text, (at, recipients));
                        }
                        other => {
                            eprintln!("soak: a send was not accepted: {other:?}");
                            not_accepted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }));
                tasks.retain(|t| !t.is_finished());
            }
            for t in tasks {
                let _ = t.await;
            }
        })
    };

    // Faults of the harness: receivers down in turn, a replica killed and restarted; a line of
    // figures every minute.
    let mut next_minute = t0 + Duration::from_secs(60);
    let mut next_kill = t0 + kill_every;
    let mut restart_at: Option<Instant> = None;
    let mut kills = 0;
    let rss0 = rss_mib();
    let fds0 = open_fds();
    println!("soak: minute 0: RSS {rss0:.1} MiB, {fds0} open fds (after set-up)");
    while Instant::now() < until {
        let now = Instant::now();
        let into = now - t0;
        for (i, r) in receivers.iter().enumerate() {
            let offset = hook_cycle * i as u32 / receivers_n as u32;
            let phase = (into + hook_cycle - offset).as_secs_f64() % hook_cycle.as_secs_f64();
            r.set_up(!(into >= offset && phase < hook_down.as_secs_f64()));
        }
        if now >= next_kill && replicas[1].is_some() {
            live.lock().unwrap()[1] = None;
            replicas[1].take().unwrap().kill().await;
            kills += 1;
            restart_at = Some(now + kill_down);
            next_kill += kill_every;
        }
        if restart_at.is_some_and(|t| now >= t) {
            let gw = start_replica(&settings, dirs[1].path(), &net).await;
            live.lock().unwrap()[1] = Some(gw.base_url());
            replicas[1] = Some(gw);
            restart_at = None;
        }
        if now >= next_minute {
            let minute = (now - t0).as_secs() / 60;
            let sent_n = sent.lock().unwrap().len();
            let delivered: usize = receivers[0].state.got.lock().unwrap().len();
            println!(
                "soak: minute {minute}: RSS {:.1} MiB, {} open fds, {sent_n} messages sent, \
                 {delivered} webhook requests at receiver 0, replicas up {}",
                rss_mib(),
                open_fds(),
                live.lock().unwrap().iter().flatten().count()
            );
            next_minute += Duration::from_secs(60);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    sender.await.unwrap();
    let sending_took = t0.elapsed();

    // Drain: everyone up, wait for every expected delivery at every receiver.
    if replicas[1].is_none() {
        let gw = start_replica(&settings, dirs[1].path(), &net).await;
        live.lock().unwrap()[1] = Some(gw.base_url());
        replicas[1] = Some(gw);
    }
    for r in &receivers {
        r.set_up(true);
    }
    let expected: HashSet<(String, String)> = sent
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(text, (_, to))| to.iter().map(move |a| (text.clone(), a.clone())))
        .collect();
    let drain_started = Instant::now();
    loop {
        let done = receivers.iter().all(|r| {
            let got = r.state.got.lock().unwrap();
            let pairs: HashSet<(String, String)> = got
                .iter()
                .map(|d| (d.text.clone(), d.account.clone()))
                .collect();
            expected.is_subset(&pairs)
        });
        if done || drain_started.elapsed() > drain {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let drained = drain_started.elapsed();

    // Figures.
    let sent = sent.lock().unwrap().clone();
    let mut lost = 0;
    let mut duplicates = 0;
    let mut tampered = 0;
    let mut retries = 0;
    let mut latencies = Vec::new();
    for r in &receivers {
        let got = r.state.got.lock().unwrap();
        let mut ids: HashMap<(String, String), HashSet<String>> = HashMap::new();
        let mut first: HashMap<(String, String), Instant> = HashMap::new();
        for d in got.iter() {
            let key = (d.text.clone(), d.account.clone());
            if !expected.contains(&key) {
                tampered += 1;
                continue;
            }
            if !ids
                .entry(key.clone())
                .or_default()
                .insert(d.event_id.clone())
            {
                retries += 1;
            }
            first.entry(key).or_insert(d.at);
        }
        lost += expected.iter().filter(|k| !ids.contains_key(*k)).count();
        duplicates += ids.values().map(|s| s.len() - 1).sum::<usize>();
        for ((text, _), at) in first {
            if let Some((sent_at, _)) = sent.get(&text) {
                latencies.push(at.saturating_duration_since(*sent_at));
            }
        }
    }
    latencies.sort();
    let groups_sent = sent.values().filter(|(_, to)| to.len() > 1).count();
    println!(
        "soak: {accounts} accounts, 2 replicas on PostgreSQL, {nodes} devnet nodes (swarms of \
         4; faulty: {spec}), {receivers_n} webhook receivers each down {hook_down:?} per \
         {hook_cycle:?}, replica 1 killed every {kill_every:?} for {kill_down:?} ({kills} kills)"
    );
    println!(
        "  sending window {sending_took:.1?}, drain {drained:.1?}; {} messages sent ({} to \
         groups), {} not accepted by the API",
        sent.len(),
        groups_sent,
        not_accepted.load(Ordering::Relaxed)
    );
    println!(
        "  deliveries expected {} per receiver; lost {lost}; duplicates by new event id \
         {duplicates}; tampered accepted {tampered}; webhook retries (same event id) {retries}",
        expected.len()
    );
    println!(
        "  delivery latency (send until a receiver got it): p50 {:.1?} p99 {:.1?} max {:.1?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    println!(
        "  RSS {rss0:.1} MiB after set-up, {:.1} MiB at the end; open fds {fds0} after set-up, \
         {} at the end",
        rss_mib(),
        open_fds()
    );
    for gw in replicas.into_iter().flatten() {
        gw.stop().await;
    }
    drop(devnet);
}
