//! How far one gateway scales: N accounts (default 10,000) against a devnet in its own process
//! (`SCALE_DEVNET=process`, the default: every CPU and memory figure is the gateway's own) or
//! in this one (`SCALE_DEVNET=in-process`: the figures include the service nodes' work).
//!
//! `cargo bench --bench scale` prints, for one run:
//! - start-up: accounts written to the store, every Identity running, ≥ N successful polls;
//! - memory: process RSS before the gateway starts, after the first round, after the window,
//!   and the growth per account;
//! - an idle window first (`SCALE_IDLE_SECS`, 15; 0 skips it): the accounts poll and nothing
//!   else happens (no API calls, no messages), so its CPU is idle polling's alone (issue 16's
//!   "2,000 accounts on the 5 s interval" target); polls/s, onion requests/s and CPU;
//! - over a fixed window (`SCALE_WINDOW_SECS`): polls/s achieved against N / interval, onion
//!   requests/s and failures, CPU (by thread group: gateway runtime, actor thread, HTTP server
//!   threads which include the devnet's nodes), poll lag;
//! - during that window: latency (p50/p99/max) of `GET /v1/accounts/{id}` and
//!   `POST /v1/accounts/{id}/messages`, and end-to-end delivery latency (POST by A until B's
//!   `message.received` event shows up on the long-poll stream) of a few messages.
//!
//! Accounts are written straight into the store (`Store::insert_account`, the call the API's
//! `POST /v1/accounts` ends in) before the gateway starts: creating 10,000 through the API
//! would measure key generation and the REST layer (`benches/gateway.rs` does that), while this
//! bench wants the replica that (re)starts with N accounts already in its database.
//!
//! Environment: `SCALE_ACCOUNTS` (10000), `SCALE_NODES` (24 devnet nodes, swarms of 4),
//! `SCALE_POLL_MS` (active poll interval, 5000), `SCALE_IDLE_SECS` (15), `SCALE_WINDOW_SECS` (30), `SCALE_GETS_PER_SEC`
//! (20), `SCALE_POSTS_PER_SEC` (5), `SCALE_E2E` (5 messages), `SCALE_TIMEOUT_SECS` (900, for
//! each wait), `SCALE_DEVNET` (`process`), `SCALE_BATCH_WINDOW_MS` (the network's
//! `batch_window_ms`, default 100; 0 = every poll its own onion requests),
//! `SCALE_SLOW_MS` (print each probe slower than this, with its time into the window),
//! `SCALE_PATH_ISOLATION` (`shared` or `per_account`), `SCALE_DB_CONNECTIONS`
//! (`database.max_connections`, 10: SQLite reads on 2 connections beside the writer; 0: on
//! the writer). Either way the devnet shares the
//! machine's cores with the gateway (pin them apart with `taskset` to see each alone).
//! `BENCH_SQL_LOG=<file>` writes every SQL statement the gateway runs, with its elapsed time,
//! to that file (as the send bench does).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench binary may panic

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng as _;
use session_gateway::app::Gateway;
use session_gateway::devnet::{Devnet, DevnetConfig};
use session_gateway::network::{NetworkConfig, PathIsolation};

#[path = "support/devnet_process.rs"]
mod devnet_process;
#[path = "support/fleet.rs"]
mod fleet;
#[path = "support/process.rs"]
mod process;
#[path = "support/profile.rs"]
mod profile;
use process::{cpu_secs, env, rss_file_mib, rss_mib};

const ADMIN: &str = "scale-admin";

/// API probe answers with an unexpected status.
static FAILED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// CPU seconds (user + system) per thread name, from /proc/self/task/*/stat (100 Hz ticks).
/// Threads are grouped by name with trailing digits removed.
fn cpu_by_thread() -> HashMap<String, f64> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let name = head.split_once('(').map_or("?", |(_, n)| n);
        let name = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == ' ');
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        let secs = (tick(11).unwrap_or(0.0) + tick(12).unwrap_or(0.0)) / 100.0;
        *out.entry(name.to_owned()).or_insert(0.0) += secs;
    }
    out
}

/// The sum of every sample of metric `name` whose label set contains `labels`.
fn metric(gateway: &Gateway, name: &str, labels: &str) -> f64 {
    let text = gateway.metrics().render();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let (metric_name, label_set) = key.split_once('{').unwrap_or((key, ""));
            (metric_name == name && label_set.contains(labels)).then_some(value)
        })
        .filter_map(|v| v.parse::<f64>().ok())
        .sum()
}

fn polls_ok(gateway: &Gateway) -> f64 {
    metric(gateway, "session_gateway_polls_total", "outcome=\"ok\"")
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

/// p50 / p99 / max of `samples`, formatted.
fn percentiles(samples: &mut [Duration]) -> String {
    if samples.is_empty() {
        return "no samples".into();
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    format!(
        "n={} p50 {:.1?} p99 {:.1?} max {:.1?}",
        samples.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// Requests at `per_sec` (one at a time) until `until`, returning each one's latency.
async fn probe(
    client: reqwest::Client,
    per_sec: u64,
    until: Instant,
    request: impl Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder,
    expect: u16,
) -> Vec<Duration> {
    let mut out = Vec::new();
    if per_sec == 0 {
        return out;
    }
    let gap = Duration::from_millis(1000 / per_sec);
    let start_of_window = Instant::now();
    let slow = Duration::from_millis(env("SCALE_SLOW_MS", u64::MAX));
    let mut next = Instant::now();
    let mut i = 0;
    while Instant::now() < until {
        tokio::time::sleep_until(next.into()).await;
        next += gap;
        let start = Instant::now();
        let status = request(&client, i).send().await.unwrap().status();
        let took = start.elapsed();
        out.push(took);
        if took >= slow {
            let at = start - start_of_window;
            eprintln!("slow: {expect} after {took:.1?}, {at:.1?} into the window");
        }
        if status.as_u16() != expect {
            eprintln!("probe: {status} after {took:.1?}");
            FAILED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        i += 1;
    }
    out
}

/// The newest event cursor, so the end-to-end probe only looks at new events.
async fn event_cursor(client: &reqwest::Client, base: &str, account: &str) -> i64 {
    let page: serde_json::Value = client
        .get(format!(
            "{base}/v1/events?account={account}&after=0&limit=1000"
        ))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["next"].as_i64().unwrap_or(0)
}

/// Sends `count` messages from `a` to `b`, one at a time, each timed from the POST until `b`'s
/// event stream shows its text.
async fn end_to_end(
    client: reqwest::Client,
    base: String,
    a: String,
    b: String,
    count: usize,
    timeout: Duration,
) -> (Vec<Duration>, Instant) {
    let mut out = Vec::new();
    let mut cursor = event_cursor(&client, &base, &b).await;
    for i in 0..count {
        let text = format!("e2e {i} {}", rand::thread_rng().gen::<u64>());
        let start = Instant::now();
        let status = client
            .post(format!("{base}/v1/accounts/{a}/messages"))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({"to": b, "text": text}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 202);
        'wait: loop {
            assert!(start.elapsed() < timeout, "end-to-end message {i} lost");
            let page: serde_json::Value = client
                .get(format!(
                    "{base}/v1/events?account={b}&after={cursor}&wait=10&limit=1000"
                ))
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            cursor = page["next"].as_i64().unwrap_or(cursor);
            for event in page["events"].as_array().into_iter().flatten() {
                if event.to_string().contains(&text) {
                    out.push(start.elapsed());
                    break 'wait;
                }
            }
        }
    }
    (out, Instant::now())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // As the binary does first thing (src/main.rs): the process's memory as in production.
    session_gateway::memory::disable_transparent_huge_pages();
    profile::sql_log_from_env();
    let accounts = env("SCALE_ACCOUNTS", 10_000).max(4) as usize;
    let nodes = env("SCALE_NODES", 24) as usize;
    let poll_ms = env("SCALE_POLL_MS", 5_000);
    let idle_window = Duration::from_secs(env("SCALE_IDLE_SECS", 15));
    let window = Duration::from_secs(env("SCALE_WINDOW_SECS", 30));
    let gets_per_sec = env("SCALE_GETS_PER_SEC", 20);
    let posts_per_sec = env("SCALE_POSTS_PER_SEC", 5);
    let e2e = env("SCALE_E2E", 5) as usize;
    // RUST_LOG=sqlx=warn shows slow statements, for instance.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let timeout = Duration::from_secs(env("SCALE_TIMEOUT_SECS", 900));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());

    let own_process = std::env::var("SCALE_DEVNET").map_or(true, |v| v != "in-process");
    let devnet = Network::start(own_process, nodes).await;
    let dir = tempfile::tempdir().unwrap();
    let (mut settings, master) = fleet::settings(ADMIN, poll_ms);
    // On SQLite: read connections beside the writer (0: reads share the writer).
    let db_connections = env("SCALE_DB_CONNECTIONS", 10);
    settings.database.max_connections = u32::try_from(db_connections).unwrap_or(u32::MAX);

    let filled = Instant::now();
    let ids = fleet::fill(&settings, dir.path(), &master, accounts).await;
    let filled = filled.elapsed();

    let mut config = devnet.config();
    config.request_timeout_ms = settings.network.request_timeout_ms;
    config.batch_window_ms = env("SCALE_BATCH_WINDOW_MS", config.batch_window_ms);
    if std::env::var("SCALE_PATH_ISOLATION").is_ok_and(|v| v == "per_account") {
        config.path_isolation = PathIsolation::PerAccount;
    }
    let (batch_window, isolation) = (config.batch_window_ms, config.path_isolation);
    let (rss0, file0) = (rss_mib(), rss_file_mib());
    let cpu0 = cpu_secs();
    let started = Instant::now();
    let gateway = fleet::start(settings, dir.path(), config).await;
    let running = wait_until("every identity running", timeout, || {
        gateway
            .identity_counts()
            .is_some_and(|c| c.running >= accounts)
    })
    .await;
    wait_until("N successful polls", timeout, || {
        polls_ok(&gateway) >= accounts as f64
    })
    .await;
    let first_round = started.elapsed();
    let (rss1, file1) = (rss_mib(), rss_file_mib());
    let start_cpu = cpu_secs() - cpu0;

    // The idle window: polling alone, nothing else asked of the gateway.
    let idle = Counters::read(&gateway, &devnet);
    tokio::time::sleep(idle_window).await;
    let idle = Counters::read(&gateway, &devnet).since(&idle);
    let cpu1 = cpu_secs();

    // The window: probes and end-to-end messages run while every account keeps polling. They
    // run on a runtime of their own (one `bench-load` thread), as a client in another process
    // would: on the gateway's runtime, each probe's request and answer waited behind the
    // poll tasks, and that wait was counted as the API's latency (until stop 20).
    let load = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-load")
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let base = gateway.base_url();
    let threads0 = cpu_by_thread();
    let devnet_cpu0 = devnet.cpu_secs();
    let polls0 = polls_ok(&gateway);
    let onion = ONION_REQUESTS;
    let onion0 = metric(&gateway, onion, "");
    let fails = "session_gateway_onion_request_failures_total";
    let fails0 = metric(&gateway, fails, "");
    let poll_errors0 = metric(&gateway, "session_gateway_polls_total", "outcome=\"error\"");
    let t0 = Instant::now();
    let profile = profile::Profile::start();
    let until = t0 + window;
    let ids = Arc::new(ids);
    let gets = {
        let ids = ids.clone();
        let base = base.clone();
        load.spawn(probe(
            client.clone(),
            gets_per_sec,
            until,
            move |c, i| {
                let id = &ids[(i as usize * 7919) % ids.len()];
                c.get(format!("{base}/v1/accounts/{id}")).bearer_auth(ADMIN)
            },
            200,
        ))
    };
    let posts = {
        let ids = ids.clone();
        let base = base.clone();
        // Senders and recipients away from the end-to-end pair (accounts 0 and 1).
        load.spawn(probe(
            client.clone(),
            posts_per_sec,
            until,
            move |c, i| {
                let n = ids.len();
                let from = &ids[2 + (i as usize * 104_729) % (n - 2)];
                let to = &ids[2 + (i as usize * 7_907 + 1) % (n - 2)];
                c.post(format!("{base}/v1/accounts/{from}/messages"))
                    .bearer_auth(ADMIN)
                    .json(&serde_json::json!({"to": to, "text": format!("load {i}")}))
            },
            202,
        ))
    };
    let e2e_task = load.spawn(end_to_end(
        client.clone(),
        base.clone(),
        ids[0].clone(),
        ids[1].clone(),
        e2e,
        timeout,
    ));
    let mut get_lat = gets.await.unwrap();
    let mut post_lat = posts.await.unwrap();
    tokio::time::sleep_until(until.into()).await;
    let measured = t0.elapsed().as_secs_f64();
    profile.finish("scale window");
    let polls = polls_ok(&gateway) - polls0;
    let onions = metric(&gateway, onion, "") - onion0;
    let failures = metric(&gateway, fails, "") - fails0;
    let poll_errors =
        metric(&gateway, "session_gateway_polls_total", "outcome=\"error\"") - poll_errors0;
    let cpu2 = cpu_secs();
    let devnet_cpu = devnet.cpu_secs() - devnet_cpu0;
    let threads1 = cpu_by_thread();
    let (rss2, file2) = (rss_mib(), rss_file_mib());
    let lag_sum = metric(&gateway, "session_gateway_poll_lag_seconds_sum", "");
    let lag_count = metric(&gateway, "session_gateway_poll_lag_seconds_count", "");
    let (mut e2e_lat, e2e_done) = e2e_task.await.unwrap();
    // A runtime may not be dropped inside another's async context.
    load.shutdown_background();
    let e2e_total = e2e_done - t0;

    let per_account = (rss1 - rss0).max(0.0) * 1024.0 * 1024.0 / accounts as f64;
    let target = accounts as f64 * 1000.0 / poll_ms as f64;
    let place = if own_process {
        "the devnet in its own process"
    } else {
        "the devnet in this process (CPU figures include it)"
    };
    println!(
        "scale: {accounts} accounts, {nodes} devnet nodes (swarms of 4), active poll interval \
         {poll_ms} ms (±20 % jitter), SQLite, {cores} cores, {place}; batch window \
         {batch_window} ms, path isolation {isolation:?}"
    );
    println!("  store: {accounts} accounts written in {filled:.1?}");
    println!(
        "  start: all identities running after {running:.1?}; {accounts} successful polls \
         (~ every account once) after {first_round:.1?}; start CPU {:.1} s",
        start_cpu
    );
    println!(
        "  RSS: {rss0:.1} MiB before the gateway, {rss1:.1} after the first round, {rss2:.1} \
         after the window (of which file pages, the binary and the database's memory map: \
         {file0:.1}, {file1:.1}, {file2:.1}): {:.1} KiB per account",
        per_account / 1024.0
    );
    if !idle_window.is_zero() {
        println!(
            "  idle window {:.1} s (polling only, no API calls): {:.0} polls/s ({:.0} % of \
             configured), {:.0} onion requests/s; {:.2} cores busy ({:.0} us CPU per poll); \
             devnet process {:.2} cores",
            idle.secs,
            idle.polls / idle.secs,
            idle.polls / idle.secs / target * 100.0,
            idle.onions / idle.secs,
            idle.cpu / idle.secs,
            idle.cpu / idle.polls.max(1.0) * 1e6,
            idle.devnet_cpu / idle.secs,
        );
    }
    println!(
        "  window {measured:.1} s: {:.0} polls/s (configured {target:.0}/s = {:.0} %), \
         {:.0} onion requests/s, {failures} onion failures, {poll_errors} poll errors, mean \
         poll lag {:.2} s",
        polls / measured,
        polls / measured / target * 100.0,
        onions / measured,
        if lag_count > 0.0 {
            lag_sum / lag_count
        } else {
            0.0
        }
    );
    let cpu_window = cpu2 - cpu1;
    let per_poll = |cpu: f64| if polls > 0.0 { cpu / polls * 1e6 } else { 0.0 };
    println!(
        "  window CPU: {:.2} cores busy ({:.0} us CPU per poll); devnet process {:.2} cores \
         ({:.0} us per poll)",
        cpu_window / measured,
        per_poll(cpu_window),
        devnet_cpu / measured,
        per_poll(devnet_cpu),
    );
    let mut groups: Vec<(String, f64)> = threads1
        .iter()
        .map(|(name, t)| (name.clone(), t - threads0.get(name).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d > 0.0)
        .collect();
    groups.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (name, secs) in groups.iter().take(6) {
        println!("    thread group {name:?}: {:.2} cores", secs / measured);
    }
    println!(
        "  GET /v1/accounts/{{id}} at {gets_per_sec}/s under load: {}",
        percentiles(&mut get_lat)
    );
    println!(
        "  POST /v1/accounts/{{id}}/messages at {posts_per_sec}/s under load: {}",
        percentiles(&mut post_lat)
    );
    println!(
        "  API answers other than 200/202 during the window: {}",
        FAILED.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!(
        "  end-to-end A -> B (POST until B's message.received event), one at a time: {} \
         (all done {e2e_total:.1?} into the window)",
        percentiles(&mut e2e_lat)
    );
    gateway.stop().await;
    devnet.stop().await;
}

/// The running totals a window is measured by: its figures are the difference of two reads.
struct Counters {
    at: Instant,
    secs: f64,
    polls: f64,
    onions: f64,
    cpu: f64,
    devnet_cpu: f64,
}

impl Counters {
    fn read(gateway: &Gateway, devnet: &Network) -> Self {
        Self {
            at: Instant::now(),
            secs: 0.0,
            polls: polls_ok(gateway),
            onions: metric(gateway, ONION_REQUESTS, ""),
            cpu: cpu_secs(),
            devnet_cpu: devnet.cpu_secs(),
        }
    }

    /// What happened between `earlier` and this read.
    fn since(&self, earlier: &Self) -> Self {
        Self {
            at: self.at,
            secs: (self.at - earlier.at).as_secs_f64(),
            polls: self.polls - earlier.polls,
            onions: self.onions - earlier.onions,
            cpu: self.cpu - earlier.cpu,
            devnet_cpu: self.devnet_cpu - earlier.devnet_cpu,
        }
    }
}

/// The metric counting onion requests (one sample per request).
const ONION_REQUESTS: &str = "session_gateway_onion_request_duration_seconds_count";

/// The devnet the bench runs against: a child process, or in this process.
enum Network {
    Process(devnet_process::DevnetProcess),
    InProcess(Devnet),
}

impl Network {
    async fn start(own_process: bool, nodes: usize) -> Self {
        if own_process {
            return Self::Process(devnet_process::DevnetProcess::spawn(nodes, 4));
        }
        let devnet = Devnet::start(DevnetConfig {
            nodes,
            swarm_size: 4,
            ..DevnetConfig::default()
        })
        .await
        .unwrap();
        Self::InProcess(devnet)
    }

    fn config(&self) -> NetworkConfig {
        match self {
            Self::Process(p) => p.config.clone(),
            Self::InProcess(d) => fleet::network(d, 10_000),
        }
    }

    /// The devnet process's CPU seconds (0 in process: counted with the gateway's).
    fn cpu_secs(&self) -> f64 {
        match self {
            Self::Process(p) => p.cpu_secs(),
            Self::InProcess(_) => 0.0,
        }
    }

    async fn stop(self) {
        match self {
            Self::Process(p) => drop(p),
            Self::InProcess(d) => d.shutdown().await,
        }
    }
}
