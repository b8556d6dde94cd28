//! Group commit of queued sends and of send outcomes (issue 16, `src/store/group_commit.rs`):
//! writes of one account that queue while another waits for the database's writer are done in
//! that one's transaction, and nothing about them differs from one transaction each.
//!
//! SQLite only: its single writer connection is what a test can hold to make outcomes queue
//! deterministically (on PostgreSQL groups form the same way whenever outcomes arrive while a
//! `BEGIN` is under way, and every other suite runs through the same code on both backends).
//! Waits are on observable state with a deadline, never sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod common;

use std::time::{Duration, Instant};

use session_gateway::actors::outgoing::{settle, SettleKey};
use session_gateway::actors::transports::Stored;
use session_gateway::actors::{ActorError, Deps};
use session_gateway::config::Settings;
use session_gateway::ids::SessionIdText;
use session_gateway::network::{NetworkConfig, SessionNetwork};
use session_gateway::store::messages::{
    new_message_id, Direction, Enqueued, MessageStatus, NewMessage,
};
use session_gateway::store::{LeaseToken, MasterKey, Store, StoreError, StoreTx};

const ME: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

/// How many outcomes each test settles at once.
const OUTCOMES: usize = 8;

fn url(dir: &tempfile::TempDir) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("gateway.db").display()
    )
}

/// Makes every `event` (`INSERT`, `UPDATE`) of `messages` rows matching `condition` fail, as a
/// database error would (a trigger, created on a connection of the test's own).
async fn fail_writes_where(dir: &tempfile::TempDir, event: &str, condition: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::SqliteConnection::connect(&url(dir)).await.unwrap();
    let trigger = format!(
        "CREATE TRIGGER fail_{event} BEFORE {event} ON messages WHEN {condition} \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
    );
    sqlx::query(&trigger).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

/// A SQLite store holding `ME`, and actor dependencies around it (the network is never used).
async fn deps() -> (Deps, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir);
    let store = Store::open(&url, 10, MasterKey::generate()).await.unwrap();
    let id = SessionIdText::parse(ME).unwrap();
    store.insert_account(&id, None, &[7; 16], 1).await.unwrap();
    let network = SessionNetwork::new(NetworkConfig::default()).unwrap();
    let deps = common::deps(&store, network, &Settings::default());
    (deps, store, dir)
}

/// A text from `ME` to peer number `i`, as the API would queue it.
fn text(i: usize, idempotency_key: Option<&str>) -> NewMessage {
    NewMessage {
        id: new_message_id(),
        account: ME.into(),
        peer: format!("05{:064x}", i + 1),
        author: ME.into(),
        direction: Direction::Outgoing,
        status: MessageStatus::Queued,
        hash: None,
        text: format!("text {i}"),
        timestamp: 1_000,
        idempotency_key: idempotency_key.map(str::to_owned),
    }
}

/// One queued text from `ME` to each of `OUTCOMES` peers; their IDs.
async fn queue_texts(store: &Store) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..OUTCOMES {
        let queued = store.enqueue_outgoing(&text(i, None), 1_000).await.unwrap();
        ids.push(queued.message.id);
    }
    ids
}

/// Waits until all of `tasks` but their group's leader queue behind it (`waiting` counts
/// them), gives the writer back (`held`) and returns each task's result.
async fn release_when_queued<R>(
    held: StoreTx,
    tasks: Vec<tokio::task::JoinHandle<R>>,
    waiting: impl Fn() -> usize,
) -> Vec<R> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while waiting() < tasks.len() - 1 {
        assert!(Instant::now() < deadline, "the writes never queued");
        tokio::task::yield_now().await;
    }
    drop(held);
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

/// Enqueues `messages` at once, each from its own task, while the test holds the writer (as
/// [`settle_behind_the_writer`]).
async fn enqueue_behind_the_writer(
    store: &Store,
    messages: Vec<NewMessage>,
) -> Vec<Result<Enqueued, StoreError>> {
    let held = store.begin().await.unwrap();
    let tasks: Vec<_> = messages
        .into_iter()
        .map(|message| {
            let store = store.clone();
            tokio::spawn(async move { store.enqueue_outgoing(&message, 1_000).await })
        })
        .collect();
    let groups = store.enqueue_groups();
    release_when_queued(held, tasks, || groups.waiting(&ME.to_owned())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_queued_behind_the_writer_share_one_transaction() {
    let (_deps, store, _dir) = deps().await;
    let messages: Vec<NewMessage> = (0..OUTCOMES).map(|i| text(i, None)).collect();
    let results = enqueue_behind_the_writer(&store, messages.clone()).await;

    assert_eq!(store.enqueue_groups().followed(), (OUTCOMES - 1) as u64);
    // Each as if queued alone: created, queued, under its own ID, and the account's outgoing
    // timestamps still strictly increasing (Session names a sender's messages by them).
    let mut timestamps = Vec::new();
    for (sent, result) in messages.iter().zip(&results) {
        let enqueued = result.as_ref().unwrap();
        assert!(enqueued.created);
        assert_eq!(enqueued.message.id, sent.id);
        let stored = store.get_message(ME, &sent.id).await.unwrap().unwrap();
        assert_eq!(stored.status, MessageStatus::Queued);
        assert_eq!(stored.text, sent.text);
        timestamps.push(stored.timestamp);
    }
    timestamps.sort_unstable();
    timestamps.dedup();
    assert_eq!(
        timestamps.len(),
        OUTCOMES,
        "timestamps repeat: {timestamps:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_with_a_repeated_idempotency_key_queues_the_message_once() {
    let (_deps, store, _dir) = deps().await;
    // Two requests with one idempotency key, in one group with others: the group fails on
    // the key and each request is written alone, so the key's message is queued once and
    // both requests get it back, as without grouping.
    let mut messages: Vec<NewMessage> = (0..OUTCOMES).map(|i| text(i, None)).collect();
    messages[2] = text(2, Some("retry-me"));
    messages[5] = NewMessage {
        id: new_message_id(),
        ..messages[2].clone()
    };
    let results = enqueue_behind_the_writer(&store, messages.clone()).await;

    assert_eq!(
        store.enqueue_groups().followed(),
        0,
        "the group was not committed"
    );
    let (first, second) = (results[2].as_ref().unwrap(), results[5].as_ref().unwrap());
    assert_eq!(first.message.id, second.message.id);
    assert!(first.created != second.created, "{first:?} {second:?}");
    for (i, result) in results.iter().enumerate() {
        let enqueued = result.as_ref().unwrap();
        if i != 2 && i != 5 {
            assert!(enqueued.created);
            assert_eq!(enqueued.message.id, messages[i].id);
        }
    }
    let history = store.list_messages(ME, None, None, 50).await.unwrap();
    assert_eq!(history.len(), OUTCOMES - 1, "{history:?}");
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
    release_when_queued(held, tasks, || deps.settles.waiting(&key)).await
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_send_in_a_group_fails_alone_and_the_others_are_queued() {
    let (_deps, store, dir) = deps().await;
    fail_writes_where(&dir, "INSERT", "NEW.text = 'text 3'").await;
    let messages: Vec<NewMessage> = (0..OUTCOMES).map(|i| text(i, None)).collect();
    let results = enqueue_behind_the_writer(&store, messages.clone()).await;

    // The group was rolled back and each send written on its own: only the refused one
    // failed, with its own error (not a wait for the writer the group still held).
    assert_eq!(store.enqueue_groups().followed(), 0);
    for (i, result) in results.iter().enumerate() {
        if i == 3 {
            let error = result.as_ref().unwrap_err().to_string();
            assert!(error.contains("refused by the test"), "{error}");
        } else {
            assert!(result.as_ref().unwrap().created, "{result:?}");
        }
    }
    let history = store.list_messages(ME, None, None, 50).await.unwrap();
    assert_eq!(history.len(), OUTCOMES - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_outcome_in_a_group_fails_alone_and_the_others_are_written() {
    let (deps, store, dir) = deps().await;
    let ids = queue_texts(&store).await;
    let refused = &ids[3];
    fail_writes_where(&dir, "UPDATE", &format!("NEW.id = '{refused}'")).await;

    let results = settle_behind_the_writer(&deps, &store, &ids, None).await;
    assert_eq!(deps.settles.followed(), 0);
    for (id, result) in ids.iter().zip(&results) {
        let message = store.get_message(ME, id).await.unwrap().unwrap();
        if id == refused {
            let error = result.as_ref().unwrap_err().to_string();
            assert!(error.contains("refused by the test"), "{error}");
            assert_eq!(message.status, MessageStatus::Queued);
        } else {
            assert!(result.is_ok(), "{result:?}");
            assert_eq!(message.status, MessageStatus::Sent);
        }
    }
    let events = store.events_after(0, Some(ME), 100).await.unwrap();
    let sent = events.iter().filter(|e| e.event_type == "message.sent");
    assert_eq!(sent.count(), OUTCOMES - 1, "{events:?}");
}
