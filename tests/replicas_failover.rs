//! Failover end to end (design.md §6): three gateways with the network on one PostgreSQL
//! database and one in-process devnet, 2 s account leases, 60 accounts spread over them.
//! Messages are sent through random replicas; one replica is killed abruptly mid-flow. Within
//! 15 s its accounts run on the survivors (held sets and identity counts), every message is
//! received exactly once per message (a webhook retry repeats the same event id, never a new
//! one), and no account's lease windows overlap (recorded from every manager's events).
//!
//! PostgreSQL only: skipped without a cluster, failed with `REQUIRE_POSTGRES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod common;
mod gateway_support;
mod netsupport;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use common::leases::{self, Windows};
use common::{eventually, Backend, Mode, Receiver};
use gateway_support as gs;
use rand::{Rng as _, SeedableRng as _};
use session_gateway::leases::Held;
use tokio::sync::watch;

const ACCOUNTS: usize = 60;
const MESSAGES: usize = 120;

/// Records `gw`'s lease events into `windows`; returns its held set.
fn record(gw: &mut gs::Gw, windows: &Windows) -> watch::Receiver<Held> {
    let leases = gw.gateway.as_mut().unwrap().leases().unwrap();
    let held = leases.held();
    let mut events = leases.observe();
    let windows = windows.clone();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            leases::record(&windows, event);
        }
    });
    held
}

fn running(gws: &[&gs::Gw]) -> usize {
    gws.iter()
        .map(|g| g.gateway().identity_counts().unwrap().running)
        .sum()
}

/// True when the held sets are disjoint and cover all accounts.
fn covered(helds: &[&watch::Receiver<Held>]) -> bool {
    let mut all = HashSet::new();
    let mut total = 0;
    for h in helds {
        let h = h.borrow();
        total += h.len();
        all.extend(h.keys().cloned());
    }
    total == ACCOUNTS && all.len() == ACCOUNTS
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_replica_s_accounts_move_and_no_message_is_lost() {
    common::on(Backend::Postgres, async {
        let started = std::time::Instant::now();
        let devnet = netsupport::devnet(12, 4).await;
        let master = common::master_key();
        let db_dir = tempfile::tempdir().unwrap();
        let url = common::database_url(db_dir.path()).await;
        let mut settings = gs::settings(&master);
        settings.database.url = Some(url);
        settings.replicas.lease_ttl_ms = 2_000;
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut gws = Vec::new();
        for dir in &dirs {
            gws.push(gs::start(dir.path(), settings.clone(), &devnet).await);
        }
        let ids: Vec<String> = gws
            .iter_mut()
            .map(|g| {
                let leases = g.gateway.as_mut().unwrap().leases().unwrap();
                leases.replica_id().to_owned()
            })
            .collect();
        eprintln!("replicas {ids:?}; the last one is killed");
        let windows: Windows = Arc::default();
        let helds: Vec<_> = gws.iter_mut().map(|g| record(g, &windows)).collect();
        let receiver = Receiver::start(Mode::Up).await;
        gws[0].webhook(&receiver.url, &["message.received"]).await;

        let mut accounts = Vec::new();
        for n in 0..ACCOUNTS {
            accounts.push(gws[n % 3].create_account().await);
        }
        eventually(30, "60 accounts spread and running", || async {
            let spread = helds.iter().all(|h| h.borrow().len() == ACCOUNTS / 3);
            let all: Vec<&gs::Gw> = gws.iter().collect();
            (spread && covered(&helds.iter().collect::<Vec<_>>()) && running(&all) == ACCOUNTS)
                .then_some(())
        })
        .await;
        eprintln!("spread after {:?}", started.elapsed());

        // Account k sends to account k+1; half before the kill, half after, each through a
        // random live replica.
        let text = |k: usize| format!("m{k}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(6);
        for k in 0..MESSAGES / 2 {
            let gw = &gws[rng.gen_range(0..3)];
            gw.send(
                &accounts[k % ACCOUNTS],
                &accounts[(k + 1) % ACCOUNTS],
                &text(k),
            )
            .await;
        }
        let victim_held = helds[2].clone();
        gws[2].kill().await;
        let killed = tokio::time::Instant::now();
        // Conversations with queued messages, through the query the sender itself uses.
        let store = gws[0].gateway().store();
        let victims = victim_held.borrow().clone();
        let (mut queued, mut victim_queued) = (0, 0);
        for account in &accounts {
            let peers = store.queued_peers(account).await.unwrap().len();
            queued += peers;
            if victims.contains_key(account.as_str()) {
                victim_queued += peers;
            }
        }
        eprintln!(
            "at the kill: {queued} conversations with queued messages, {victim_queued} of them \
             on the victim's accounts"
        );
        // Its last published renewal closes its windows (it may have renewed later unseen,
        // which only makes the check below stricter).
        {
            let last = victim_held.borrow().clone();
            let mut windows = windows.lock().unwrap();
            for lease in last.values() {
                let list = windows.get_mut(&*lease.account).unwrap();
                for w in list
                    .iter_mut()
                    .filter(|w| *w.owner == *lease.owner && w.epoch == lease.epoch)
                {
                    w.end = Some(lease.expires_at);
                }
            }
        }
        for k in MESSAGES / 2..MESSAGES {
            let gw = &gws[rng.gen_range(0..2)];
            gw.send(
                &accounts[k % ACCOUNTS],
                &accounts[(k + 1) % ACCOUNTS],
                &text(k),
            )
            .await;
        }

        eventually(15, "survivors run all 60 accounts", || async {
            let survivors = [&gws[0], &gws[1]];
            (covered(&[&helds[0], &helds[1]]) && running(&survivors) == ACCOUNTS).then_some(())
        })
        .await;
        let took = killed.elapsed();
        eprintln!("takeover with a 2 s lease took {took:?}");
        assert!(took < Duration::from_secs(15), "takeover took {took:?}");

        // Every message received; a text only ever under one event id.
        // Every message delivered; on timeout, say where each missing one is stuck.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
        loop {
            let texts: HashSet<String> = receiver
                .received()
                .iter()
                .filter_map(|r| r.json["data"]["text"].as_str().map(str::to_owned))
                .collect();
            if texts.len() == MESSAGES {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                let mut report = Vec::new();
                for k in (0..MESSAGES).filter(|k| !texts.contains(&text(*k))) {
                    let (from, to) = (&accounts[k % ACCOUNTS], &accounts[(k + 1) % ACCOUNTS]);
                    let status = |h: Vec<serde_json::Value>| {
                        h.iter()
                            .find(|m| m["text"] == text(k))
                            .map(|m| format!("{}/{}", m["direction"], m["status"]))
                    };
                    let sent = status(gws[0].history(from).await);
                    let got = status(gws[0].history(to).await);
                    let owner =
                        |a: &String| (0..2).find(|i| helds[*i].borrow().contains_key(a.as_str()));
                    report.push(format!(
                        "{}: sender {sent:?} (replica {:?}), recipient {got:?} (replica {:?})",
                        text(k),
                        owner(from),
                        owner(to)
                    ));
                }
                panic!(
                    "{} of {MESSAGES} delivered after 45 s; missing:\n{}",
                    texts.len(),
                    report.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eventually(10, "every message received", || async {
            let texts: HashSet<String> = receiver
                .received()
                .iter()
                .filter_map(|r| r.json["data"]["text"].as_str().map(str::to_owned))
                .collect();
            (texts.len() == MESSAGES).then_some(())
        })
        .await;
        let mut ids: HashMap<String, HashSet<String>> = HashMap::new();
        for r in receiver.received() {
            let text = r.json["data"]["text"].as_str().unwrap().to_owned();
            ids.entry(text).or_default().insert(r.id.clone());
        }
        for k in 0..MESSAGES {
            let seen = ids.get(&text(k)).map_or(0, HashSet::len);
            assert_eq!(seen, 1, "{}: received under {seen} event ids", text(k));
        }
        let retries = receiver.received().len() - MESSAGES;
        eprintln!("{retries} webhook retries (same event id)");

        // No two windows of one account overlap; epochs grow with each holder.
        gws[0].stop().await;
        gws[1].stop().await;
        let windows = windows.lock().unwrap();
        assert_eq!(windows.len(), ACCOUNTS);
        let moved: usize = leases::assert_disjoint(&windows)
            .values()
            .map(|list| list.len() - 1)
            .sum();
        assert!(
            moved >= ACCOUNTS / 3,
            "the victim's accounts moved: {moved}"
        );
        eprintln!("whole test took {:?}", started.elapsed());
    })
    .await;
}
