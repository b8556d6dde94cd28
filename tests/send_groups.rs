//! Group commit of send outcomes (issue 16, `src/store/group_commit.rs`): outcomes of one account
//! that queue while another waits for the database's writer are written in that one's
//! transaction, and nothing about them differs from one transaction each.
//!
//! SQLite only: its single writer connection is what a test can hold to make outcomes queue
//! deterministically (on PostgreSQL groups form the same way whenever outcomes arrive while a
//! `BEGIN` is under way, and every other suite runs through the same code on both backends).
//! Waits are on observable state with a deadline, never sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use session_gateway::actors::outgoing::{settle, SettleKey};
use session_gateway::actors::transports::Stored;
use session_gateway::actors::{startup_permits, ActorError, ActorSettings, Deps, Services};
use session_gateway::config::Settings;
use session_gateway::ids::SessionIdText;
use session_gateway::metrics::Metrics;
use session_gateway::network::{NetworkConfig, SessionNetwork};
use session_gateway::store::messages::{new_message_id, Direction, MessageStatus, NewMessage};
use session_gateway::store::{LeaseToken, MasterKey, Store, StoreError};

const ME: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

/// How many outcomes each test settles at once.
const OUTCOMES: usize = 8;

/// A SQLite store holding `ME`, and actor dependencies around it (the network is never used).
async fn deps() -> (Deps, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("gateway.db").display()
    );
    let store = Store::open(&url, 10, MasterKey::generate()).await.unwrap();
    let id = SessionIdText::parse(ME).unwrap();
    store.insert_account(&id, None, &[7; 16], 1).await.unwrap();
    let deps = Deps::new(Services {
        store: store.clone(),
        network: SessionNetwork::new(NetworkConfig::default()).unwrap(),
        metrics: Metrics::new(),
        settings: Arc::new(ActorSettings::from_settings(&Settings::default())),
        io: tokio::runtime::Handle::current(),
        attachments: Default::default(),
        startups: startup_permits(),
        health: Default::default(),
        own_copies: Default::default(),
        settles: Default::default(),
    });
    (deps, store, dir)
}

/// One queued text from `ME` to each of `OUTCOMES` peers; their IDs.
async fn queue_texts(store: &Store) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..OUTCOMES {
        let peer = format!("05{:064x}", i + 1);
        let message = NewMessage {
            id: new_message_id(),
            account: ME.into(),
            peer: peer.clone(),
            author: ME.into(),
            direction: Direction::Outgoing,
            status: MessageStatus::Queued,
            hash: None,
            text: format!("text {i}"),
            timestamp: 1_000 + i as i64,
            idempotency_key: None,
        };
        let queued = store.enqueue_outgoing(&message, 1_000).await.unwrap();
        ids.push(queued.message.id);
    }
    ids
}

/// Settles every message of `ids` at once, each from its own task, while the test holds the
/// writer: the first waits for it and every other queues behind the first. Returns each
/// settle's result once the writer is given back.
async fn settle_behind_the_writer(
    deps: &Deps,
    store: &Store,
    ids: &[String],
    lease: Option<LeaseToken>,
) -> Vec<Result<(), ActorError>> {
    let held = store.begin().await.unwrap();
    let tasks: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let (deps, id, lease) = (deps.clone(), id.clone(), lease.clone());
            tokio::spawn(async move {
                let stored = Stored {
                    hash: Some(format!("hash{i}")),
                    own_hash: None,
                };
                settle(&deps, ME, &id, Ok(&stored), lease.as_ref()).await
            })
        })
        .collect();
    let key = SettleKey::new(ME, lease.as_ref());
    let deadline = Instant::now() + Duration::from_secs(30);
    while deps.settles.waiting(&key) < ids.len() - 1 {
        assert!(Instant::now() < deadline, "the outcomes never queued");
        tokio::task::yield_now().await;
    }
    drop(held);
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_queued_behind_the_writer_share_one_transaction() {
    let (deps, store, _dir) = deps().await;
    let ids = queue_texts(&store).await;

    let results = settle_behind_the_writer(&deps, &store, &ids, None).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    // One leader wrote all of them: the others rode along.
    assert_eq!(deps.settles.followed(), (OUTCOMES - 1) as u64);
    // Each as if written alone: sent, with its own hash, and one `message.sent` each.
    for (i, id) in ids.iter().enumerate() {
        let message = store.get_message(ME, id).await.unwrap().unwrap();
        assert_eq!(message.status, MessageStatus::Sent, "{id}");
        assert_eq!(message.hash.as_deref(), Some(format!("hash{i}").as_str()));
    }
    let events = store.events_after(0, Some(ME), 100).await.unwrap();
    let sent: Vec<&str> = events
        .iter()
        .filter(|e| e.event_type == "message.sent")
        .filter_map(|e| e.data["id"].as_str())
        .collect();
    assert_eq!(sent.len(), OUTCOMES, "{events:?}");
    for id in &ids {
        assert!(sent.contains(&id.as_str()), "no message.sent for {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_under_a_lost_lease_fails_each_outcome_and_writes_nothing() {
    let (deps, store, _dir) = deps().await;
    let ids = queue_texts(&store).await;
    // A lease this replica does not hold: every fenced transaction must refuse it.
    let stale = LeaseToken {
        account: ME.into(),
        owner: "another-replica".into(),
        epoch: 7,
        acquired_at: 0,
        expires_at: i64::MAX,
    };

    let results = settle_behind_the_writer(&deps, &store, &ids, Some(stale)).await;
    for result in &results {
        assert!(
            matches!(result, Err(ActorError::Store(StoreError::LeaseLost { .. }))),
            "{result:?}"
        );
    }
    assert_eq!(deps.settles.followed(), 0);
    for id in &ids {
        let message = store.get_message(ME, id).await.unwrap().unwrap();
        assert_eq!(message.status, MessageStatus::Queued, "{id}");
    }
    let events = store.events_after(0, Some(ME), 100).await.unwrap();
    assert!(
        events.iter().all(|e| e.event_type != "message.sent"),
        "{events:?}"
    );
}
