//! Gateway figures with many accounts against an in-process devnet: start-up time, RSS per
//! account, CPU while idle-polling, and messages/s sent and received end to end.
//!
//! `cargo bench --bench gateway_accounts` (defaults: 1,000 accounts, 1,000 messages).
//! Environment: `GATEWAY_BENCH_ACCOUNTS`, `GATEWAY_BENCH_MESSAGES`, `GATEWAY_BENCH_POLL_MS`
//! (active poll interval, default 5000), `GATEWAY_BENCH_IDLE_SECS` (default 10),
//! `GATEWAY_BENCH_NODES` (default 24). The devnet runs in the same process, so CPU and RSS
//! include its service nodes doing the onion relaying and storage.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench binary may panic

use std::time::{Duration, Instant};

use session_gateway::app::Gateway;
use session_gateway::devnet::{Devnet, DevnetConfig};

#[path = "support/fleet.rs"]
mod fleet;
#[path = "support/process.rs"]
mod process;
use process::{cpu_secs, env, rss_mib};

fn counter(gateway: &Gateway, family: &str, label: &str) -> u64 {
    let text = gateway.metrics().render();
    let prefix = format!("session_gateway_{family}{{{label}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // As the binary does first thing (src/main.rs): the process's memory as in production.
    session_gateway::memory::disable_transparent_huge_pages();
    let accounts = env("GATEWAY_BENCH_ACCOUNTS", 1_000) as usize;
    let messages = env("GATEWAY_BENCH_MESSAGES", 1_000) as usize;
    let poll_ms = env("GATEWAY_BENCH_POLL_MS", 5_000);
    let idle_secs = env("GATEWAY_BENCH_IDLE_SECS", 10);
    let nodes = env("GATEWAY_BENCH_NODES", 24) as usize;

    let devnet = Devnet::start(DevnetConfig {
        nodes,
        swarm_size: 4,
        ..DevnetConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut settings, master) = fleet::settings("bench-admin", poll_ms);
    settings.sending.initial_backoff_ms = 200;

    // Accounts go straight into the database; the supervisor starts them all at once.
    let ids = fleet::fill(&settings, dir.path(), &master, accounts).await;

    let config = fleet::network(&devnet, 5_000);
    let (rss0, cpu0) = (rss_mib(), cpu_secs());
    let started = Instant::now();
    let gateway = fleet::start(settings, dir.path(), config).await;
    let up = wait_until("every identity running", Duration::from_secs(300), || {
        gateway
            .identity_counts()
            .is_some_and(|c| c.running >= accounts)
    })
    .await;
    // Every account polls at least once before measuring the steady state.
    let polls_needed = accounts as u64;
    wait_until("a first poll per account", Duration::from_secs(600), || {
        counter(&gateway, "polls_total", "outcome=\"ok\"") >= polls_needed
    })
    .await;
    let first_round = started.elapsed();
    let (rss1, cpu1) = (rss_mib(), cpu_secs());
    let polls1 = counter(&gateway, "polls_total", "outcome=\"ok\"");
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let (rss2, cpu2) = (rss_mib(), cpu_secs());
    let polls2 = counter(&gateway, "polls_total", "outcome=\"ok\"");
    let errors = counter(&gateway, "polls_total", "outcome=\"error\"");

    // Messages: account i sends to account i+1 (round robin), through the REST API.
    let client = reqwest::Client::new();
    let base = gateway.base_url();
    let send_start = Instant::now();
    let cpu_send0 = cpu_secs();
    for i in 0..messages {
        let from = &ids[i % accounts];
        let to = &ids[(i + 1) % accounts];
        let status = client
            .post(format!("{base}/v1/accounts/{from}/messages"))
            .bearer_auth("bench-admin")
            .json(&serde_json::json!({"to": to, "text": format!("bench {i}")}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 202);
    }
    let accepted = send_start.elapsed();
    let n = messages as u64;
    let sent_in = wait_until("every message sent", Duration::from_secs(600), || {
        counter(&gateway, "messages_sent_total", "outcome=\"sent\"") >= n
    })
    .await
        + accepted;
    let received_in = wait_until("every message received", Duration::from_secs(600), || {
        counter(&gateway, "messages_received_total", "kind=\"incoming\"") >= n
    })
    .await
        + sent_in;
    let cpu_send = cpu_secs() - cpu_send0;

    let per_account_kib = (rss1 - rss0).max(0.0) * 1024.0 / accounts as f64;
    println!("gateway_accounts: {accounts} accounts, {nodes} devnet nodes, poll {poll_ms} ms");
    println!("  start: all identities running after {up:.2?}, first poll of every account after {first_round:.2?}");
    println!("  start CPU: {:.2} s; RSS {rss0:.1} -> {rss1:.1} MiB ({per_account_kib:.1} KiB per account, devnet included)", cpu1 - cpu0);
    let idle_cpu = (cpu2 - cpu1) / idle_secs as f64;
    let poll_rate = (polls2 - polls1) as f64 / idle_secs as f64;
    println!("  idle: {poll_rate:.0} polls/s, CPU {:.1}% of one core ({:.0} us CPU per poll incl. devnet), RSS {rss2:.1} MiB, poll errors {errors}",
        idle_cpu * 100.0, if poll_rate > 0.0 { idle_cpu / poll_rate * 1e6 } else { 0.0 });
    println!(
        "  messages: {messages} accepted in {accepted:.2?} ({:.0}/s)",
        messages as f64 / accepted.as_secs_f64()
    );
    println!("  messages: all sent after {sent_in:.2?} ({:.0}/s), all received after {received_in:.2?} ({:.0}/s), CPU {cpu_send:.2} s",
        messages as f64 / sent_in.as_secs_f64(), messages as f64 / received_in.as_secs_f64());
    gateway.stop().await;
    devnet.shutdown().await;
}
