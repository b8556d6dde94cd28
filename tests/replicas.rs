//! Several replicas on one database (design.md §6): event cursors that never become visible out
//! of order, webhook delivery claims that never hand one attempt to two workers, fenced writes,
//! notices between replicas, and account leases: even spread, takeover of a stopped replica's
//! accounts within the lease duration, rebalancing when a replica joins, and no two holders of
//! an account at once (every acquisition's time window is recorded and checked).
//!
//! Each "replica" is its own `Store` (own pool) on the same database.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

#[macro_use]
mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::leases::{self, Windows};
use common::{eventually, Backend};
use serde_json::json;
use session_gateway::events::{EventData, MessageEvent};
use session_gateway::ids::SessionIdText;
use session_gateway::leases::{LeaseConfig, LeaseHandle, LeaseManager};
use session_gateway::store::events::{AttemptOutcome, NewEvent};
use session_gateway::store::webhooks::{Webhook, WebhookSecret};
use session_gateway::store::{MasterKey, Notice, Store, StoreError};

const MASTER: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

async fn replica(url: &str) -> Store {
    Store::open(url, 10, MasterKey::from_base64(MASTER).unwrap())
        .await
        .unwrap()
}

fn account(n: usize) -> SessionIdText {
    SessionIdText::parse(&format!("05{n:064x}")).unwrap()
}

fn event(n: usize) -> NewEvent {
    NewEvent {
        account: Some(account(0).as_str().to_owned()),
        conversation: Some(format!("peer{}", n % 7)),
        timestamp: i64::try_from(n).unwrap(),
        data: EventData::message(MessageEvent::Received, &json!({"n": n})).unwrap(),
    }
}

both_backends! {
    async fn event_cursors_become_visible_in_cursor_order() {
        let dir = tempfile::tempdir().unwrap();
        let url = common::database_url(dir.path()).await;
        let writer = replica(&url).await;
        let reader = replica(&url).await;
        const WRITERS: usize = 8;
        const EACH: usize = 25;
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let store = writer.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..EACH {
                    let mut tx = store.begin().await.unwrap();
                    tx.append_event(&event(w * EACH + i)).await.unwrap();
                    // Keep the transaction open a little so commits interleave.
                    tokio::task::yield_now().await;
                    tx.commit().await.unwrap();
                }
            }));
        }
        // A reader that resumes from the last cursor it saw, as `GET /v1/events?after=` does:
        // it may never skip an event.
        let mut last = 0;
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while seen.len() < WRITERS * EACH {
            assert!(tokio::time::Instant::now() < deadline, "saw {} events", seen.len());
            for e in reader.events_after(last, None, 1000).await.unwrap() {
                assert!(e.cursor > last);
                last = e.cursor;
                seen.push(e.data["n"].as_u64().unwrap());
            }
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        let distinct: HashSet<_> = seen.iter().collect();
        assert_eq!(distinct.len(), WRITERS * EACH, "every event seen exactly once");
    }

    async fn delivery_claims_never_hand_an_attempt_to_two_workers() {
        let dir = tempfile::tempdir().unwrap();
        let url = common::database_url(dir.path()).await;
        let a = replica(&url).await;
        let b = replica(&url).await;
        a.insert_webhook(&Webhook {
            id: "wh_1".into(),
            url: "http://127.0.0.1:9/".into(),
            events: None,
            accounts: None,
            secrets: vec![WebhookSecret { secret: "whsec_x".into(), expires_at: None }],
            enabled: true,
            created_at: 1,
            updated_at: 1,
        })
        .await
        .unwrap();
        const EVENTS: usize = 120;
        for n in 0..EVENTS {
            a.append_event(&event(n)).await.unwrap();
        }
        // Two workers (one per replica) scan, claim and deliver until nothing is pending.
        let claims: Arc<Mutex<Vec<(usize, i64)>>> = Arc::default();
        let mut workers = Vec::new();
        for (w, store) in [a.clone(), b.clone()].into_iter().enumerate() {
            let claims = claims.clone();
            workers.push(tokio::spawn(async move {
                loop {
                    let pending = store.pending_deliveries("wh_1", 1000).await.unwrap();
                    // Claimed heads stay pending (not due) until their outcome is recorded.
                    if pending.is_empty() {
                        return;
                    }
                    for (delivery, _) in pending {
                        // Every event is due at NOW; a claim holds it for a minute past that.
                        const NOW: i64 = 1_000_000;
                        let claim = store.claim_delivery("wh_1", &delivery, NOW, NOW + 60_000);
                        if let Some(claimed) = claim.await.unwrap()
                        {
                            claims.lock().unwrap().push((w, claimed.event_cursor));
                            tokio::task::yield_now().await;
                            store
                                .record_attempt(
                                    "wh_1",
                                    &claimed,
                                    2,
                                    &AttemptOutcome::Delivered { status: 200 },
                                )
                                .await
                                .unwrap();
                        }
                    }
                }
            }));
        }
        for worker in workers {
            tokio::time::timeout(Duration::from_secs(60), worker).await.unwrap().unwrap();
        }
        let claims = claims.lock().unwrap().clone();
        let cursors: HashSet<i64> = claims.iter().map(|(_, c)| *c).collect();
        assert_eq!(cursors.len(), EVENTS, "every delivery claimed");
        assert_eq!(claims.len(), EVENTS, "no delivery claimed twice: {claims:?}");
    }

    async fn renewal_in_chunks_renews_every_lease_and_only_live_ones() {
        // More leases than one renewal statement takes (500), so it runs in several.
        let dir = tempfile::tempdir().unwrap();
        let url = common::database_url(dir.path()).await;
        let a = replica(&url).await;
        const N: usize = 1_234;
        for i in 0..N {
            a.insert_account(&account(i), None, &[1; 16], 1).await.unwrap().unwrap();
        }
        let now = a.db_now().await.unwrap();
        let held = a.acquire_leases("a", now, now + 60_000, N as i64).await.unwrap();
        assert_eq!(held.len(), N);
        // One lease expires before the renewal: it is not renewed (nor returned).
        let short = held[7].clone();
        assert!(a.release_lease(&short, now + 1).await.unwrap());
        let renewed = a.renew_leases("a", now + 2, now + 120_000).await.unwrap();
        let accounts: HashSet<String> = renewed.iter().map(|l| l.account.to_string()).collect();
        assert_eq!(renewed.len(), N - 1);
        assert_eq!(accounts.len(), N - 1, "no lease returned twice");
        assert!(!accounts.contains(&*short.account));
        assert!(renewed.iter().all(|l| l.expires_at == now + 120_000));
        // Another owner renews nothing.
        assert!(a.renew_leases("b", now + 2, now + 120_000).await.unwrap().is_empty());
    }

    async fn a_fenced_write_fails_once_the_lease_moved() {
        let dir = tempfile::tempdir().unwrap();
        let url = common::database_url(dir.path()).await;
        let a = replica(&url).await;
        let b = replica(&url).await;
        let id = account(1);
        a.insert_account(&id, None, &[1; 16], 1).await.unwrap().unwrap();
        let now = a.db_now().await.unwrap();
        let held = a.acquire_leases("a", now, now + 60_000, 10).await.unwrap();
        assert_eq!(held.len(), 1);
        let lease = held[0].clone();
        let mut tx = a.begin_fenced(&lease).await.unwrap();
        tx.set_poll_cursor(id.as_str(), 0, "h1", now).await.unwrap();
        tx.commit().await.unwrap();

        // The lease is released (or expires); replica b takes it under a newer epoch.
        assert!(a.release_lease(&lease, now + 1).await.unwrap());
        let taken = b.acquire_leases("b", now + 2, now + 60_000, 10).await.unwrap();
        assert_eq!(taken.len(), 1);
        assert!(taken[0].epoch > lease.epoch);
        let mut tx = b.begin_fenced(&taken[0]).await.unwrap();
        tx.set_poll_cursor(id.as_str(), 0, "h2", now).await.unwrap();
        tx.commit().await.unwrap();

        // Replica a, unaware, cannot write under its old lease.
        match a.begin_fenced(&lease).await {
            Err(StoreError::LeaseLost { epoch, .. }) => assert_eq!(epoch, lease.epoch),
            other => panic!("expected LeaseLost, got {:?}", other.err()),
        }
        assert_eq!(a.poll_cursor(id.as_str(), 0).await.unwrap().as_deref(), Some("h2"));
    }
}

/// Waits for the next notice matching `wanted`.
async fn notice(rx: &mut tokio::sync::broadcast::Receiver<Notice>, wanted: &Notice) {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if &rx.recv().await.unwrap() == wanted {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {wanted:?}"));
}

#[tokio::test]
async fn another_replica_hears_of_queued_messages_and_account_changes() {
    common::on(Backend::Postgres, async {
        let dir = tempfile::tempdir().unwrap();
        let url = common::database_url(dir.path()).await;
        let a = replica(&url).await;
        let b = replica(&url).await;
        let mut heard = b.subscribe_notices();
        let mut events = b.subscribe_events();
        let id = account(2);
        a.insert_account(&id, None, &[2; 16], 1)
            .await
            .unwrap()
            .unwrap();
        let changed = Notice::AccountChanged {
            account: id.as_str().to_owned(),
        };
        notice(&mut heard, &changed).await;

        let message = session_gateway::store::messages::NewMessage {
            id: session_gateway::store::messages::new_message_id(),
            account: id.as_str().to_owned(),
            peer: account(3).as_str().to_owned(),
            author: id.as_str().to_owned(),
            direction: session_gateway::store::messages::Direction::Outgoing,
            status: session_gateway::store::messages::MessageStatus::Queued,
            hash: None,
            text: "hi".into(),
            timestamp: 5,
            idempotency_key: None,
        };
        let mut own = a.subscribe_notices();
        a.enqueue_outgoing(&message, 5).await.unwrap();
        // The other replica hears the account (the NOTIFY payload has no peer: it reads the
        // queue); the replica that queued it also knows the conversation.
        let queued = Notice::OutgoingQueued {
            account: id.as_str().to_owned(),
            peer: None,
            id: None,
        };
        notice(&mut heard, &queued).await;
        let queued_here = Notice::OutgoingQueued {
            account: id.as_str().to_owned(),
            peer: Some(message.peer.clone()),
            id: Some(message.id.clone()),
        };
        notice(&mut own, &queued_here).await;

        // Event commits on one replica wake long-polls and webhook workers on the other.
        let stored = a.append_event(&event(1)).await.unwrap();
        tokio::time::timeout(
            Duration::from_secs(10),
            events.wait_for(|c| *c >= stored.cursor),
        )
        .await
        .unwrap()
        .unwrap();
    })
    .await;
}

/// Starts a manager whose events are recorded into `windows`.
fn start_manager(store: &Store, ttl: Duration, windows: &Windows) -> LeaseHandle {
    let mut config = LeaseConfig::new("replica", ttl);
    config.renew_interval = ttl / 4;
    let mut handle = LeaseManager::spawn(store.clone(), config);
    let mut events = handle.take_events().unwrap();
    let windows = windows.clone();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            leases::record(&windows, event);
        }
    });
    handle
}

fn counts(handles: &[&LeaseHandle]) -> Vec<usize> {
    handles.iter().map(|h| h.held().borrow().len()).collect()
}

/// Waits until the managers hold exactly `want` accounts each, all distinct.
async fn spread(handles: &[&LeaseHandle], want: usize, secs: u64) {
    eventually(secs, &format!("{want} accounts each"), || async {
        let mut all = HashSet::new();
        for h in handles {
            all.extend(h.held().borrow().keys().cloned());
        }
        let each = counts(handles);
        (each.iter().all(|c| *c == want) && all.len() == want * handles.len()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn three_replicas_share_sixty_accounts_and_take_over_a_stopped_one() {
    common::on(Backend::Postgres, async {
        let dir = tempfile::tempdir().unwrap();
        let url = common::database_url(dir.path()).await;
        let setup = replica(&url).await;
        for n in 0..60 {
            setup
                .insert_account(&account(n), None, &[3; 16], 1)
                .await
                .unwrap()
                .unwrap();
        }
        let ttl = Duration::from_millis(2_000);
        let windows: Windows = Arc::default();
        let stores = [
            replica(&url).await,
            replica(&url).await,
            replica(&url).await,
        ];
        let a = start_manager(&stores[0], ttl, &windows);
        let b = start_manager(&stores[1], ttl, &windows);
        let c = start_manager(&stores[2], ttl, &windows);
        spread(&[&a, &b, &c], 20, 30).await;

        // Stop c abruptly (no release): its task ends, its leases are left to expire. Its last
        // published renewal closes its windows.
        let c_held = c.held();
        drop(c);
        let killed = tokio::time::Instant::now();
        let last = c_held.borrow().clone();
        {
            let mut windows = windows.lock().unwrap();
            for lease in last.values() {
                let w = windows.get_mut(&*lease.account).unwrap().iter_mut();
                for w in w.filter(|w| *w.owner == *lease.owner && w.epoch == lease.epoch) {
                    w.end = Some(lease.expires_at);
                }
            }
        }
        spread(&[&a, &b], 30, 30).await;
        let took = killed.elapsed();
        eprintln!("takeover of 20 accounts with a {ttl:?} lease took {took:?}");
        assert!(took < Duration::from_secs(15), "takeover took {took:?}");
        assert!(
            took < ttl * 3,
            "takeover within the lease duration plus a round: {took:?}"
        );

        // A replica joins: the others give up a third each.
        let d = start_manager(&replica(&url).await, ttl, &windows);
        spread(&[&a, &b, &d], 20, 30).await;

        // Clean stops release at once; the survivor takes everything.
        a.shutdown().await;
        b.shutdown().await;
        eventually(30, "d holds all 60", || async {
            (d.held().borrow().len() == 60).then_some(())
        })
        .await;
        d.shutdown().await;

        // No two windows of one account overlap, and epochs grow with each holder.
        let windows = windows.lock().unwrap();
        assert_eq!(windows.len(), 60);
        let mut holders: HashMap<String, usize> = HashMap::new();
        for list in leases::assert_disjoint(&windows).values() {
            for w in list {
                *holders.entry(w.owner.clone()).or_default() += 1;
            }
        }
        assert_eq!(holders.len(), 4, "every replica held accounts: {holders:?}");
    })
    .await;
}

#[tokio::test]
async fn a_single_sqlite_replica_owns_every_account_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::database_url(dir.path()).await;
    let store = replica(&url).await;
    for n in 0..5 {
        store
            .insert_account(&account(n), None, &[4; 16], 1)
            .await
            .unwrap()
            .unwrap();
    }
    // Leases left by an earlier run (another replica id) do not delay a restart.
    let now = store.db_now().await.unwrap();
    store.heartbeat("old", now, now + 3_600_000).await.unwrap();
    assert_eq!(
        store
            .acquire_leases("old", now, now + 3_600_000, 2)
            .await
            .unwrap()
            .len(),
        2
    );
    let windows: Windows = Arc::default();
    let manager = start_manager(&store, Duration::from_secs(3600), &windows);
    eventually(10, "all 5 accounts", || async {
        (manager.held().borrow().len() == 5).then_some(())
    })
    .await;
    manager.shutdown().await;
}

#[tokio::test]
async fn two_gateways_on_one_database_deliver_each_event_once() {
    common::on(Backend::Postgres, async {
        let gw = common::spawn().await;
        let other_dir = tempfile::tempdir().unwrap();
        let second = common::start_in(other_dir.path(), gw.settings())
            .await
            .unwrap();
        let receiver = common::Receiver::start(common::Mode::Up).await;
        let hook = gw
            .admin("POST", "/v1/webhooks", Some(json!({"url": receiver.url})))
            .await;
        assert_eq!(hook.status, 201, "{}", hook.body);
        let id = hook.body["id"].as_str().unwrap().to_owned();
        // Both dispatchers run a worker for the endpoint (the second hears of it by NOTIFY).
        const EVENTS: usize = 150;
        for n in 0..EVENTS {
            gw.store().append_event(&event(n)).await.unwrap();
        }
        receiver.wait_for(EVENTS, 60).await;
        gw.wait_delivered(&id, EVENTS, 20).await;
        let received = receiver.received();
        let distinct: HashSet<&str> = received.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(distinct.len(), EVENTS);
        assert_eq!(received.len(), EVENTS, "an event was delivered twice");
        second.stop().await;
    })
    .await;
}
