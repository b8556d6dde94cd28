//! The store's transaction API as the poller will use it: a received message, its conversation,
//! its event (with webhook deliveries) and the poll cursor land together or not at all, and a
//! repeated swarm hash inserts nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

#[macro_use]
mod common;

use serde_json::json;
use session_gateway::events::{EventData, MessageEvent};
use session_gateway::ids::SessionIdText;
use session_gateway::store::events::NewEvent;
use session_gateway::store::messages::{new_message_id, Direction, MessageStatus, NewMessage};
use session_gateway::store::{MasterKey, Store};

const ME: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const PEER: &str = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";

async fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = common::database_url(dir.path()).await;
    let store = Store::open(&url, 10, MasterKey::generate()).await.unwrap();
    let me = SessionIdText::parse(ME).unwrap();
    store
        .insert_account(&me, None, &[7; 16], 1)
        .await
        .unwrap()
        .unwrap();
    (store, dir)
}

fn incoming(hash: &str, ts: i64) -> NewMessage {
    NewMessage {
        id: new_message_id(),
        account: ME.into(),
        peer: PEER.into(),
        author: PEER.into(),
        direction: Direction::Incoming,
        status: MessageStatus::Received,
        hash: Some(hash.into()),
        text: format!("text {hash}"),
        timestamp: ts,
        idempotency_key: None,
    }
}

/// A text of ours, queued, sent at `ts`.
fn queued(ts: i64) -> NewMessage {
    NewMessage {
        author: ME.into(),
        direction: Direction::Outgoing,
        status: MessageStatus::Queued,
        hash: None,
        ..incoming("unused", ts)
    }
}

/// What the poller does for one retrieved message.
async fn receive(store: &Store, hash: &str, ts: i64, commit: bool) -> bool {
    let mut tx = store.begin().await.unwrap();
    let inserted = tx.insert_message(&incoming(hash, ts), ts).await.unwrap();
    if let Some(message) = &inserted {
        tx.append_event(&NewEvent {
            account: Some(ME.into()),
            conversation: Some(PEER.into()),
            timestamp: ts,
            data: EventData::message(MessageEvent::Received, &message).unwrap(),
        })
        .await
        .unwrap();
    }
    tx.set_poll_cursor(ME, 0, hash, ts).await.unwrap();
    if commit {
        tx.commit().await.unwrap();
    }
    inserted.is_some()
}

both_backends! {
    async fn message_event_and_cursor_commit_together() {
        let (store, _dir) = store().await;
        let mut commits = store.subscribe_events();
        commits.borrow_and_update();

        assert!(receive(&store, "h1", 10, true).await);
        assert!(
            commits.has_changed().unwrap(),
            "a commit with events wakes subscribers"
        );
        let events = store.events_after(0, None, 10).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data["hash"], "h1");
        assert_eq!(events[0].data["from"], PEER);
        assert_eq!(
            store.poll_cursor(ME, 0).await.unwrap().as_deref(),
            Some("h1")
        );
        let convs = store.list_conversations(ME).await.unwrap();
        assert_eq!(convs.len(), 1);
        assert_eq!(convs[0].last_message_at, 10);

        // The same swarm hash again (a poll repeated after a crash): nothing new.
        commits.borrow_and_update();
        assert!(!receive(&store, "h1", 10, true).await);
        assert_eq!(store.events_after(0, None, 10).await.unwrap().len(), 1);
        assert_eq!(
            store.list_messages(ME, None, None, 10).await.unwrap().len(),
            1
        );
        assert!(!commits.has_changed().unwrap());
    }
}

both_backends! {
    async fn an_uncommitted_transaction_leaves_no_trace() {
        let (store, _dir) = store().await;
        assert!(receive(&store, "h1", 10, true).await);
        assert!(receive(&store, "h2", 20, false).await);
        assert_eq!(store.events_after(0, None, 10).await.unwrap().len(), 1);
        assert_eq!(
            store.list_messages(ME, None, None, 10).await.unwrap().len(),
            1
        );
        assert_eq!(
            store.poll_cursor(ME, 0).await.unwrap().as_deref(),
            Some("h1")
        );
        // After the rollback the same message goes in normally.
        assert!(receive(&store, "h2", 20, true).await);
        assert_eq!(
            store.poll_cursor(ME, 0).await.unwrap().as_deref(),
            Some("h2")
        );
    }
}

both_backends! {
    async fn outgoing_messages_move_to_sent_with_their_event() {
        let (store, _dir) = store().await;
        let message = NewMessage {
            author: ME.into(),
            direction: Direction::Outgoing,
            status: MessageStatus::Queued,
            hash: None,
            idempotency_key: Some("k".into()),
            ..incoming("unused", 5)
        };
        let queued = store.enqueue_outgoing(&message, 5).await.unwrap();
        assert!(queued.created);
        let head = store.next_queued(ME, PEER).await.unwrap().unwrap();
        assert_eq!(head.id, queued.message.id);
        assert_eq!(store.queued_peers(ME).await.unwrap(), [PEER]);
        assert!(store.queued_peers(PEER).await.unwrap().is_empty());
        let mut tx = store.begin().await.unwrap();
        assert!(tx
            .set_message_status(
                &queued.message.id,
                MessageStatus::Sent,
                Some("swarmhash"),
                None,
                6
            )
            .await
            .unwrap());
        tx.append_event(&NewEvent {
                        account: Some(ME.into()),
            conversation: Some(PEER.into()),
            timestamp: 6,
            data: EventData::message(MessageEvent::Sent, &json!({"id": queued.message.id})).unwrap(),
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let sent = store
            .get_message(ME, &queued.message.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sent.status, MessageStatus::Sent);
        assert_eq!(sent.hash.as_deref(), Some("swarmhash"));
        assert!(store.next_queued(ME, PEER).await.unwrap().is_none());
        assert!(store.queued_peers(ME).await.unwrap().is_empty());
    }
}

both_backends! {
    async fn an_accounts_outgoing_timestamps_strictly_increase() {
        let (store, _dir) = store().await;
        let mut last = 0;
        for _ in 0..5 {
            let message = NewMessage {
                id: new_message_id(),
                author: ME.into(),
                direction: Direction::Outgoing,
                status: MessageStatus::Queued,
                hash: None,
                ..incoming("unused", 1_000)
            };
            let stored = store
                .enqueue_outgoing(&message, 1_000)
                .await
                .unwrap()
                .message;
            assert!(stored.timestamp > last, "{} after {last}", stored.timestamp);
            last = stored.timestamp;
        }
        let history = store.list_messages(ME, None, None, 10).await.unwrap();
        let stamps: Vec<_> = history.iter().map(|m| m.timestamp).collect();
        assert_eq!(stamps, [1_004, 1_003, 1_002, 1_001, 1_000], "newest first");
    }
}

both_backends! {
    async fn unsupported_urls_are_refused_without_echoing_the_password() {
        let result = Store::open("mysql://user:secret@localhost/gw", 5, MasterKey::generate()).await;
        match result {
            Err(session_gateway::store::StoreError::UnsupportedUrl(shown)) => {
                assert!(
                    !shown.contains("secret"),
                    "the password is not echoed: {shown}"
                );
            }
            other => panic!("expected UnsupportedUrl, got {:?}", other.err()),
        }
    }
}

/// Every table and column, as `table.column`, of the database at `url` (after the store
/// migrated it), leaving out sqlx's own bookkeeping.
async fn schema(url: &str) -> std::collections::BTreeSet<String> {
    use sqlx::Row as _;
    let sql = if url.starts_with("sqlite:") {
        "SELECT m.name AS tbl, p.name AS col FROM sqlite_master m \
         JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'"
    } else {
        "SELECT CAST(table_name AS TEXT) AS tbl, CAST(column_name AS TEXT) AS col \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'"
    };
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
    pool.close().await;
    rows.iter()
        .map(|r| {
            format!(
                "{}.{}",
                r.try_get::<String, _>("tbl").unwrap(),
                r.try_get::<String, _>("col").unwrap()
            )
        })
        .collect()
}

/// migrations/sqlite and migrations/postgres are two copies of one schema (types differ): after
/// every migration ran, both databases have the same tables with the same columns.
#[tokio::test]
async fn both_backends_migrate_to_the_same_tables_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = common::database_url(dir.path()).await;
    let Some(postgres) = common::pg::fresh_database().await else {
        return; // no cluster here (REQUIRE_POSTGRES=1 fails inside fresh_database instead)
    };
    for url in [&sqlite, &postgres] {
        Store::open(url, 2, MasterKey::generate()).await.unwrap();
    }
    let (lite, pg) = (schema(&sqlite).await, schema(&postgres).await);
    assert!(lite.len() > 50, "suspiciously small schema: {lite:?}");
    let only_lite: Vec<_> = lite.difference(&pg).collect();
    let only_pg: Vec<_> = pg.difference(&lite).collect();
    assert!(
        only_lite.is_empty() && only_pg.is_empty(),
        "only in SQLite: {only_lite:?}; only in PostgreSQL: {only_pg:?}"
    );
}

/// The `author` column of message `id`, read directly (the API shows it as `from`).
async fn stored_author(url: &str, id: &str) -> String {
    use sqlx::Row as _;
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let row = sqlx::query("SELECT author FROM messages WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    row.try_get("author").unwrap()
}

// A message's author is separate from its conversation: the peer for what we received, the
// account for what we send (text and control rows alike).
both_backends! {
    async fn the_author_is_the_peer_when_received_and_the_account_when_sent() {
        let dir = tempfile::tempdir().unwrap();
        let url = common::database_url(dir.path()).await;
        let store = Store::open(&url, 10, MasterKey::generate()).await.unwrap();
        let me = SessionIdText::parse(ME).unwrap();
        store.insert_account(&me, None, &[7; 16], 1).await.unwrap().unwrap();
        assert!(receive(&store, "h1", 1, true).await);
        let received = store.list_messages(ME, Some(PEER), None, 10).await.unwrap();
        let received = &received[0];
        let outgoing = queued(2);
        let sent = store.enqueue_outgoing(&outgoing, 2).await.unwrap().message;
        let control = session_gateway::store::chat::ControlBody::Typing { typing: true };
        let typing = store.enqueue_control(ME, PEER, &control, 3).await.unwrap();

        assert_eq!(stored_author(&url, &received.id).await, PEER);
        assert_eq!(stored_author(&url, &sent.id).await, ME);
        assert_eq!(stored_author(&url, &typing).await, ME);
        // The API view: `from` is the author, `to` the other side, the conversation the peer.
        assert_eq!((received.from.as_str(), received.to.as_str()), (PEER, ME));
        assert_eq!((sent.from.as_str(), sent.to.as_str()), (ME, PEER));
        assert_eq!((received.conversation.as_str(), sent.conversation.as_str()), (PEER, PEER));
    }
}

// Migration 0005 fills `author` of the rows written before it: the peer for incoming messages,
// the account for outgoing ones (sent through the API, sync copies, control rows).
both_backends! {
    async fn migration_0005_gives_existing_messages_their_author() {
        use std::borrow::Cow;
        let dir = tempfile::tempdir().unwrap();
        let url = common::database_url(dir.path()).await;
        let folder = match common::backend() {
            common::Backend::Sqlite => "migrations/sqlite",
            common::Backend::Postgres => "migrations/postgres",
        };
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
        let mut before = sqlx::migrate::Migrator::new(path).await.unwrap();
        before.migrations = Cow::Owned(
            before.migrations.iter().filter(|m| m.version < 5).cloned().collect(),
        );
        assert_eq!(before.migrations.len(), 4, "0001 to 0004");
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        before.run(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO accounts (session_id, seed_sealed, status, created_at, updated_at) \
             VALUES ($1, $2, 'active', 1, 1)",
        )
        .bind(ME)
        .bind(vec![7u8; 16])
        .execute(&pool)
        .await
        .unwrap();
        // (id, direction, status, kind): a received message, an API send, a sync copy from
        // another device, a queued reaction.
        let rows = [
            ("msg_in", "incoming", "received", "text"),
            ("msg_out", "outgoing", "queued", "text"),
            ("msg_sync", "outgoing", "sent", "text"),
            ("msg_react", "outgoing", "queued", "reaction"),
        ];
        for (n, (id, direction, status, kind)) in rows.iter().enumerate() {
            let ts = i64::try_from(n).unwrap() + 1;
            sqlx::query(
                "INSERT INTO messages (id, account, peer, direction, status, text, timestamp, \
                 created_at, updated_at, kind) VALUES ($1, $2, $3, $4, $5, 'x', $6, $6, $6, $7)",
            )
            .bind(*id)
            .bind(ME)
            .bind(PEER)
            .bind(*direction)
            .bind(*status)
            .bind(ts)
            .bind(*kind)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;

        let store = Store::open(&url, 2, MasterKey::generate()).await.unwrap();
        assert_eq!(stored_author(&url, "msg_in").await, PEER);
        for id in ["msg_out", "msg_sync", "msg_react"] {
            assert_eq!(stored_author(&url, id).await, ME, "{id}");
        }
        // The API view reads the same answers as before the column existed.
        let received = store.get_message(ME, "msg_in").await.unwrap().unwrap();
        assert_eq!((received.from.as_str(), received.to.as_str()), (PEER, ME));
        let sent = store.get_message(ME, "msg_out").await.unwrap().unwrap();
        assert_eq!((sent.from.as_str(), sent.to.as_str()), (ME, PEER));
    }
}

both_backends! {
    async fn node_cursors_advance_per_member_are_pruned_and_go_with_the_account() {
        use session_gateway::store::messages::NODE_CURSORS_KEPT;
        let (store, _dir) = store().await;
        let node = |i: i64| format!("{i:064x}");
        let mut tx = store.begin().await.unwrap();
        tx.set_node_cursors(ME, 0, &[(node(1), "a".into()), (node(2), "b".into())], 1)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        tx.set_node_cursors(ME, 0, &[(node(1), "c".into())], 2).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            store.node_cursors(ME, 0).await.unwrap(),
            vec![(node(1), "c".to_owned()), (node(2), "b".to_owned())]
        );
        assert!(store.node_cursors(ME, 2).await.unwrap().is_empty(), "per namespace");

        // Members that left the swarm: only the most recently advanced rows stay.
        for i in 0..NODE_CURSORS_KEPT + 5 {
            let mut tx = store.begin().await.unwrap();
            tx.set_node_cursors(ME, 0, &[(node(100 + i), "x".into())], 10 + i)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let kept = store.node_cursors(ME, 0).await.unwrap();
        assert_eq!(kept.len(), usize::try_from(NODE_CURSORS_KEPT).unwrap());
        assert!(kept.iter().all(|(n, _)| *n >= node(105)), "the oldest went first");

        let me = SessionIdText::parse(ME).unwrap();
        assert!(store.delete_account(&me).await.unwrap());
        assert!(store.node_cursors(ME, 0).await.unwrap().is_empty());
    }
}

both_backends! {
    // On SQLite the enabled webhooks are kept between transactions (`HookCache`); every change
    // of a webhook, in or outside a transaction, must still decide which webhooks get the
    // events appended after it.
    async fn events_reach_the_webhooks_enabled_when_they_are_appended() {
        let (store, _dir) = store().await;
        let hook = common::webhook;
        let event = |at: i64| NewEvent {
            account: None,
            conversation: None,
            timestamp: at,
            data: EventData::account_status("paused", "active"),
        };
        let delivered = |id: &'static str| {
            let store = store.clone();
            async move {
                let mut ids: Vec<String> = store
                    .list_deliveries(id, None, None, 100)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|d| d.event_id)
                    .collect();
                ids.sort();
                ids
            }
        };
        let evt = |e: &session_gateway::store::events::Event| e.id.clone();

        store.insert_webhook(&hook("a")).await.unwrap();
        let e1 = evt(&store.append_event(&event(1)).await.unwrap());
        store.insert_webhook(&hook("b")).await.unwrap();
        let e2 = evt(&store.append_event(&event(2)).await.unwrap());
        let mut a = hook("a");
        a.enabled = false;
        assert!(store.update_webhook(&a).await.unwrap());
        let e3 = evt(&store.append_event(&event(3)).await.unwrap());
        // B's 410: disabled, and the `webhook.disabled` event it records in the same
        // transaction goes to no one (A is disabled too).
        assert!(store.disable_gone_webhook(&hook("b"), 4).await.unwrap());
        a.enabled = true;
        assert!(store.update_webhook(&a).await.unwrap());
        let e5 = evt(&store.append_event(&event(5)).await.unwrap());
        let mut b_expected = vec![e2.clone(), e3];
        b_expected.sort();
        assert_eq!(delivered("b").await, b_expected);
        assert!(store.delete_webhook("b").await.unwrap());
        let e6 = evt(&store.append_event(&event(6)).await.unwrap());
        let mut a_expected = vec![e1, e2, e5, e6];
        a_expected.sort();
        assert_eq!(delivered("a").await, a_expected);
        assert!(delivered("b").await.is_empty());
    }
}

both_backends! {
    // `insert_message` returns the message without reading it back: it must be exactly what a
    // read of the row gives, for either direction, with and without a hash.
    async fn an_inserted_message_is_what_reading_its_row_gives() {
        let (store, _dir) = store().await;
        let received = incoming("h-in", 41);
        let sent = NewMessage {
            id: new_message_id(),
            author: ME.into(),
            direction: Direction::Outgoing,
            status: MessageStatus::Queued,
            hash: None,
            idempotency_key: Some("key-1".into()),
            text: "queued text".into(),
            ..incoming("unused", 42)
        };
        for new in [received, sent] {
            let mut tx = store.begin().await.unwrap();
            let inserted = tx.insert_message(&new, 50).await.unwrap().unwrap();
            tx.commit().await.unwrap();
            let read = store.get_message(ME, &new.id).await.unwrap().unwrap();
            assert_eq!(inserted, read, "{:?}", new.direction);
        }
    }
}

/// A webhook whose filter is `events` (all when `None`).
async fn hook(store: &Store, id: &str, events: Option<Vec<String>>) {
    let hook = session_gateway::store::webhooks::Webhook {
        events,
        ..common::webhook(id)
    };
    store.insert_webhook(&hook).await.unwrap();
}

/// The event cursors a webhook has deliveries for, oldest first.
async fn delivered_cursors(store: &Store, hook: &str) -> Vec<i64> {
    let mut cursors: Vec<i64> = (store.list_deliveries(hook, None, None, 100).await.unwrap())
        .iter()
        .map(|d| d.event_cursor)
        .collect();
    cursors.reverse();
    cursors
}

both_backends! {
    // A message and its conversation, an event and its deliveries are each written by one
    // statement (issue 16): each event gets a delivery for every webhook it matches, naming that
    // event, and none for the others; a message inserted moves its conversation's latest message
    // only forward, and a duplicate writes nothing.
    async fn one_statement_writes_a_message_with_its_conversation_and_an_event_with_its_deliveries() {
        let (store, _dir) = store().await;
        hook(&store, "wh_all", None).await;
        hook(&store, "wh_received", Some(vec!["message.received".into()])).await;
        hook(&store, "wh_sent", Some(vec!["message.sent".into()])).await;

        assert!(receive(&store, "h1", 20, true).await);
        assert!(receive(&store, "h0", 10, true).await, "an older message goes in");
        assert!(!receive(&store, "h1", 20, true).await, "a duplicate does not");
        let mut tx = store.begin().await.unwrap();
        let sent = tx
            .append_event(&NewEvent {
                account: Some(ME.into()),
                conversation: Some(PEER.into()),
                timestamp: 30,
                data: EventData::message(MessageEvent::Sent, &json!({"id": "m"})).unwrap(),
            })
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let events = store.events_after(0, None, 10).await.unwrap();
        let cursors: Vec<i64> = events.iter().map(|e| e.cursor).collect();
        assert_eq!(cursors.len(), 3);
        assert_eq!(sent.cursor, cursors[2]);
        assert_eq!(delivered_cursors(&store, "wh_all").await, cursors);
        assert_eq!(delivered_cursors(&store, "wh_received").await, cursors[..2]);
        assert_eq!(delivered_cursors(&store, "wh_sent").await, [cursors[2]]);

        // Each delivery row as a lone insert wrote it: pending, unattempted, due at the event's
        // time, in its conversation's queue.
        let first = store.list_deliveries("wh_all", None, None, 100).await.unwrap();
        let first = first.last().unwrap();
        assert_eq!(first.status.as_str(), "pending");
        assert_eq!((first.attempts, first.next_attempt_at), (0, 20));
        let sent_delivery = &store.list_deliveries("wh_sent", None, None, 1).await.unwrap()[0];
        assert_eq!(sent_delivery.order_key, first.order_key, "one conversation, one queue");

        let messages = store.list_messages(ME, None, None, 10).await.unwrap();
        assert_eq!(messages.len(), 2);
        let h1 = messages.iter().find(|m| m.hash.as_deref() == Some("h1")).unwrap();
        let conversations = store.list_conversations(ME).await.unwrap();
        assert_eq!(conversations.len(), 1);
        assert_eq!(conversations[0].last_message_at, 20, "not moved back by h0");
        assert_eq!(
            conversations[0].last_message_id.as_deref(),
            Some(h1.id.as_str()),
            "the duplicate of h1 did not name itself"
        );
    }
}

both_backends! {
    // A transaction reads the account's latest outgoing timestamp once and then keeps it itself
    // (issue 16): what it queues after a sync copy from another device comes after that copy,
    // and sends queued together, in groups sharing a transaction, all get timestamps of their
    // own.
    async fn a_transaction_keeps_the_latest_outgoing_timestamp_itself() {
        use session_gateway::store::chat::ControlBody;
        let (store, _dir) = store().await;
        let receipt = ControlBody::ReadReceipt { timestamps: vec![1] };
        let other = SessionIdText::parse(PEER).unwrap();
        store.insert_account(&other, None, &[8; 16], 1).await.unwrap().unwrap();
        let mut tx = store.begin().await.unwrap();
        tx.enqueue_control(ME, PEER, &receipt, 1_000).await.unwrap();
        let copy = NewMessage {
            author: ME.into(),
            direction: Direction::Outgoing,
            status: MessageStatus::Sent,
            ..incoming("sync", 5_000)
        };
        assert!(tx.insert_message(&copy, 1_000).await.unwrap().is_some());
        tx.enqueue_control(ME, PEER, &receipt, 1_000).await.unwrap();
        // Another account's latest is its own: the transaction keeps one at a time.
        tx.enqueue_control(PEER, ME, &receipt, 1_000).await.unwrap();
        tx.enqueue_control(ME, PEER, &receipt, 1_000).await.unwrap();
        tx.commit().await.unwrap();
        // The receipts after the copy took 5,001 and 5,002, so a send now reads 5,002 as the
        // latest.
        let text = queued(1_000);
        let first = store.enqueue_outgoing(&text, 1_000).await.unwrap().message;
        assert_eq!(first.timestamp, 5_003);

        // All started before any is awaited.
        let sends: Vec<_> = (0..24).map(|_| {
            let (store, text) = (store.clone(), NewMessage { id: new_message_id(), ..text.clone() });
            tokio::spawn(async move { store.enqueue_outgoing(&text, 1_000).await.unwrap() })
        }).collect();
        let mut stamps = Vec::new();
        for send in sends {
            stamps.push(send.await.unwrap().message.timestamp);
        }
        stamps.sort_unstable();
        let expected: Vec<i64> = (5_004..5_028).collect();
        assert_eq!(stamps, expected, "distinct, after every earlier one");
        assert!(
            store.enqueue_groups().followed() > 0,
            "some of them shared a transaction"
        );
    }
}

both_backends! {
    // A group's send outcomes are written by one statement (issue 16): each queued message
    // moves as its own outcome says, a message no longer queued is left alone and not returned,
    // and the others are untouched.
    async fn one_statement_settles_several_queued_messages_each_its_own_way() {
        use session_gateway::store::send_queue::Settle;
        let (store, _dir) = store().await;
        let mut ids = Vec::new();
        for _ in 0..4 {
            let text = queued(1_000);
            ids.push(store.enqueue_outgoing(&text, 1_000).await.unwrap().message.id);
        }
        let mut tx = store.begin().await.unwrap();
        let early = tx
            .settle_outgoing(&ids[2], MessageStatus::Sent, Some("early"), None, None, 5)
            .await
            .unwrap();
        assert_eq!(early.unwrap().status, MessageStatus::Sent);
        let settles = [
            Settle { id: &ids[0], status: MessageStatus::Sent, hash: Some("h0"), own_hash: Some("o0"), failure_reason: None },
            Settle { id: &ids[1], status: MessageStatus::Failed, hash: None, own_hash: None, failure_reason: Some("gone") },
            Settle { id: &ids[2], status: MessageStatus::Failed, hash: None, own_hash: None, failure_reason: Some("late") },
        ];
        let settled = tx.settle_outgoing_many(&settles, 6).await.unwrap();
        tx.commit().await.unwrap();

        let mut moved: Vec<&str> = settled.keys().map(String::as_str).collect();
        moved.sort_unstable();
        let mut expected = vec![ids[0].as_str(), ids[1].as_str()];
        expected.sort_unstable();
        assert_eq!(moved, expected, "the one settled already is not moved again");
        let get = |i: usize| {
            let (store, id) = (store.clone(), ids[i].clone());
            async move { store.get_message(ME, &id).await.unwrap().unwrap() }
        };
        let (m0, m1, m2, m3) = (get(0).await, get(1).await, get(2).await, get(3).await);
        assert_eq!((m0.status, m0.hash.as_deref()), (MessageStatus::Sent, Some("h0")));
        assert_eq!(settled[&ids[0]].hash.as_deref(), Some("h0"), "returned as stored");
        assert_eq!((m1.status, m1.failure_reason.as_deref()), (MessageStatus::Failed, Some("gone")));
        assert_eq!((m2.status, m2.hash.as_deref()), (MessageStatus::Sent, Some("early")));
        assert_eq!(m3.status, MessageStatus::Queued, "not in the group: untouched");
    }
}
