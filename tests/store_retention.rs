//! Retention by age (issue 15, `src/store/prune.rs`), with controlled time: rows are written with
//! old timestamps through the store and pruned "now", a fixed instant, so nothing waits. Old
//! rows go, newer ones stay, events a webhook still needs stay, queued messages keep their
//! bytes, and two replicas pruning at once share the work.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use session_gateway::events::{EventData, MessageEvent};
use session_gateway::ids::SessionIdText;
use session_gateway::store::attachments::{
    AttachmentStatus, FetchOutcome, IncomingPointer, NewAttachment,
};
use session_gateway::store::chat::TextExtras;
use session_gateway::store::events::{AttemptOutcome, NewEvent};
use session_gateway::store::messages::{
    new_message_id, Direction, MessageStatus, NewMessage, Quote,
};
use session_gateway::store::modes::ExpireMode;
use session_gateway::store::prune::{Pruned, RetentionPolicy};
use session_gateway::store::webhooks::Webhook;
use session_gateway::store::{MasterKey, Store};

const ME: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const PEER: &str = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";
const DAY: i64 = 86_400_000;
/// "Now" for every test: a fixed instant.
const NOW: i64 = 1_750_000_000_000;

fn days(n: u64) -> Option<Duration> {
    Some(Duration::from_secs(n * 86_400))
}

/// The defaults of `[retention]`: a week of events and deliveries, a month of messages, two
/// weeks of attachment bytes.
fn policy() -> RetentionPolicy {
    RetentionPolicy {
        events: days(7),
        deliveries: days(7),
        messages: days(30),
        attachment_bytes: days(14),
        batch: 1000,
    }
}

/// One master key for every store of this binary, so two "replicas" open the same database.
fn master() -> MasterKey {
    static KEY: std::sync::OnceLock<MasterKey> = std::sync::OnceLock::new();
    KEY.get_or_init(MasterKey::generate).clone()
}

async fn store_at(url: &str) -> Store {
    Store::open(url, 10, master()).await.unwrap()
}

async fn store() -> (Store, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = common::database_url(dir.path()).await;
    let store = store_at(&url).await;
    let me = SessionIdText::parse(ME).unwrap();
    store.insert_account(&me, None, &[7; 16], 1).await.unwrap();
    (store, url, dir)
}

async fn webhook(store: &Store, id: &str, events: Option<Vec<String>>) {
    let hook = Webhook {
        events,
        ..common::webhook(id)
    };
    store.insert_webhook(&hook).await.unwrap();
}

/// An `account.status` event recorded at `at`; returns its cursor.
async fn status_event(store: &Store, at: i64) -> i64 {
    store
        .append_event(&NewEvent {
            account: Some(ME.into()),
            conversation: None,
            timestamp: at,
            data: EventData::account_status("paused", "active"),
        })
        .await
        .unwrap()
        .cursor
}

/// Records one attempt on webhook `hook`'s delivery of event `cursor` at `at`: delivered, or
/// dead when `delivered` is false.
async fn attempt(store: &Store, hook: &str, cursor: i64, at: i64, delivered: bool) {
    let (delivery, _) = store
        .pending_deliveries(hook, 1000)
        .await
        .unwrap()
        .into_iter()
        .find(|(d, _)| d.event_cursor == cursor)
        .expect("a pending delivery at the head of its queue");
    let outcome = if delivered {
        AttemptOutcome::Delivered { status: 200 }
    } else {
        AttemptOutcome::Failed {
            status: Some(500),
            error: "refused".into(),
            next_attempt_at: None,
        }
    };
    store
        .record_attempt(hook, &delivery, at, &outcome)
        .await
        .unwrap();
}

async fn cursors(store: &Store) -> BTreeSet<i64> {
    store
        .events_after(0, None, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.cursor)
        .collect()
}

both_backends! {
    async fn old_events_and_deliveries_go_unless_a_webhook_still_needs_them() {
        let (store, _url, _dir) = store().await;
        // Each event below is alone in its conversation, so each delivery heads its queue.
        webhook(&store, "wh_1", Some(vec!["account.status".into()])).await;
        let delivered_old = status_event(&store, NOW - 10 * DAY).await;
        attempt(&store, "wh_1", delivered_old, NOW - 10 * DAY, true).await;
        let delivered_new = {
            // A newer event, delivered yesterday.
            let c = status_event(&store, NOW - DAY).await;
            attempt(&store, "wh_1", c, NOW - DAY, true).await;
            c
        };
        // Old, its delivery failed for good yesterday: a replay may still want it.
        let dead_recently = status_event(&store, NOW - 10 * DAY).await;
        attempt(&store, "wh_1", dead_recently, NOW - DAY, false).await;
        // Old, its delivery died long ago: the dead letter and the event go.
        let dead_long_ago = status_event(&store, NOW - 10 * DAY).await;
        attempt(&store, "wh_1", dead_long_ago, NOW - 9 * DAY, false).await;
        // Old and never delivered (the receiver is down): kept however old.
        let undelivered = status_event(&store, NOW - 20 * DAY).await;
        // Old, and no webhook wants this type: nothing needs it.
        let _unneeded = store
            .append_event(&NewEvent {
                account: Some(ME.into()),
                conversation: Some(PEER.into()),
                timestamp: NOW - 10 * DAY,
                data: EventData::message_expired(PEER, "msg_x"),
            })
            .await
            .unwrap()
            .cursor;
        let before = cursors(&store).await;
        assert_eq!(before.len(), 6);

        let pruned = store.prune(&policy(), NOW).await.unwrap();
        assert_eq!(
            cursors(&store).await,
            BTreeSet::from([delivered_new, dead_recently, undelivered]),
            "{pruned:?}"
        );
        assert_eq!(pruned.events, 3, "{pruned:?}");
        // The old delivered one and the long-dead one (by age), nothing else.
        assert_eq!(pruned.deliveries, 2, "{pruned:?}");
        let left: BTreeSet<String> = store
            .list_deliveries("wh_1", None, None, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.event_id)
            .collect();
        let ids = |cs: &[i64]| cs.iter().map(|c| format!("evt_{c}")).collect::<BTreeSet<_>>();
        assert_eq!(left, ids(&[delivered_new, dead_recently, undelivered]));
        // A second round finds nothing more; the undelivered event is still there.
        assert_eq!(store.prune(&policy(), NOW).await.unwrap(), Pruned::default());

        // Once delivered, the undelivered event goes with the next round after a week.
        attempt(&store, "wh_1", undelivered, NOW, true).await;
        let later = store.prune(&policy(), NOW + 8 * DAY).await.unwrap();
        assert!(!cursors(&store).await.contains(&undelivered), "{later:?}");
        // 0 = forever: nothing is pruned however old (an event no webhook wants).
        let kept = store
            .append_event(&NewEvent {
                account: Some(ME.into()),
                conversation: Some(PEER.into()),
                timestamp: NOW - 20 * DAY,
                data: EventData::message_expired(PEER, "msg_y"),
            })
            .await
            .unwrap()
            .cursor;
        let forever = RetentionPolicy::default();
        assert_eq!(store.prune(&forever, NOW + 1000 * DAY).await.unwrap(), Pruned::default());
        assert_eq!(cursors(&store).await, BTreeSet::from([kept]));
    }

    async fn old_messages_go_with_their_content_and_old_attachment_bytes_are_dropped() {
        let (store, _url, _dir) = store().await;
        let old = receive(&store, "old secret", NOW - 40 * DAY, None).await;
        let recent = receive(&store, "recent", NOW - DAY, None).await;
        // An old message quoted by a recent reply: the reply stays, the quote's text goes.
        let reply = receive(&store, "reply", NOW - DAY, Some(&old)).await;
        let queued = queue(&store, NOW - 40 * DAY, b"still to send").await;
        // Attachment bytes: 20 days old (dropped; the message, younger than 30 days, stays),
        // a day old (kept).
        let (with_old_file, old_file) = receive_file(&store, NOW - 20 * DAY).await;
        let (_, new_file) = receive_file(&store, NOW - DAY).await;

        let pruned = store.prune(&policy(), NOW).await.unwrap();
        assert_eq!(pruned.messages, 1, "{pruned:?}");
        assert_eq!(pruned.attachment_bytes, 1, "{pruned:?}");
        assert!(store.get_message(ME, &old.0).await.unwrap().is_none());
        for id in [&recent.0, &reply.0, &queued, &with_old_file] {
            assert!(store.get_message(ME, id).await.unwrap().is_some(), "{id}");
        }
        // The old message's event (a day old, so kept) no longer carries its text, nor does
        // the reply's quote.
        let events = store.events_after(0, Some(ME), 100).await.unwrap();
        let text = serde_json::to_string(&events).unwrap();
        assert!(!text.contains("old secret"), "{text}");
        let of_old = events.iter().find(|e| e.data["id"] == old.0.as_str()).unwrap();
        assert_eq!(of_old.data["redacted"], true);
        let reply_now = store.get_message(ME, &reply.0).await.unwrap().unwrap();
        assert_eq!(reply_now.quote.unwrap().text, None);

        let expired = store.get_attachment(ME, &old_file).await.unwrap().unwrap();
        assert_eq!(expired.view.status, AttachmentStatus::Expired);
        assert!(expired.data.is_none());
        assert_eq!(expired.view.size, 3, "the row keeps its metadata");
        let kept = store.get_attachment(ME, &new_file).await.unwrap().unwrap();
        assert_eq!(kept.data.as_deref(), Some(&b"new"[..]));
        // The queued message's file is still there to be sent.
        let files = store.message_attachments(&queued).await.unwrap();
        assert_eq!(files[0].data.as_deref(), Some(&b"still to send"[..]));
        assert_eq!(store.prune(&policy(), NOW).await.unwrap(), Pruned::default());
    }

    async fn a_round_is_bounded_and_two_replicas_share_the_work() {
        let (a, url, _dir) = store().await;
        // Two replicas share a PostgreSQL database; SQLite has one process (two tasks on it).
        let b = match common::backend() {
            common::Backend::Postgres => store_at(&url).await,
            common::Backend::Sqlite => a.clone(),
        };
        for _ in 0..300 {
            status_event(&a, NOW - 10 * DAY).await;
        }
        let recent = status_event(&a, NOW).await;
        let small = RetentionPolicy { batch: 40, ..policy() };
        assert_eq!(a.prune(&small, NOW).await.unwrap().events, 40);
        // Both replicas prune until neither finds anything: every old event goes exactly once.
        let run = |store: Store| async move {
            let mut total = 0;
            loop {
                let n = store.prune(&small, NOW).await.unwrap().events;
                if n == 0 {
                    return total;
                }
                total += n;
            }
        };
        let (x, y) = tokio::join!(tokio::spawn(run(a.clone())), tokio::spawn(run(b.clone())));
        assert_eq!(x.unwrap() + y.unwrap(), 260);
        assert_eq!(cursors(&a).await, BTreeSet::from([recent]));
    }
}

/// An incoming message stored at `at` (optionally replying to `quote`), with its
/// `message.received` event recorded a day before `NOW` (so the event outlives the message);
/// returns (id, text).
async fn receive(
    store: &Store,
    text: &str,
    at: i64,
    quote: Option<&(String, String)>,
) -> (String, String) {
    let id = new_message_id();
    let mut tx = store.begin().await.unwrap();
    let new = NewMessage {
        id: id.clone(),
        account: ME.into(),
        peer: PEER.into(),
        author: PEER.into(),
        direction: Direction::Incoming,
        status: MessageStatus::Received,
        hash: Some(new_message_id()),
        text: text.into(),
        timestamp: at,
        idempotency_key: None,
    };
    tx.insert_message(&new, at).await.unwrap().unwrap();
    if let Some((quoted, quoted_text)) = quote {
        let extras = TextExtras {
            quote: Some(Quote {
                timestamp: at - 1,
                author: PEER.into(),
                text: Some(quoted_text.clone()),
                id: Some(quoted.clone()),
            }),
            expire_mode: ExpireMode::Off,
            expire_seconds: 0,
        };
        tx.set_text_extras(&id, at, &extras).await.unwrap();
    }
    let message = tx.message(&id).await.unwrap().unwrap();
    tx.append_event(&NewEvent {
        account: Some(ME.into()),
        conversation: Some(PEER.into()),
        timestamp: NOW - DAY,
        data: EventData::message(MessageEvent::Received, &message).unwrap(),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (id, text.into())
}

/// An outgoing message still queued since `at`, with one file; returns its id.
async fn queue(store: &Store, at: i64, file: &[u8]) -> String {
    let id = new_message_id();
    let mut tx = store.begin().await.unwrap();
    let new = NewMessage {
        id: id.clone(),
        account: ME.into(),
        peer: PEER.into(),
        author: ME.into(),
        direction: Direction::Outgoing,
        status: MessageStatus::Queued,
        hash: None,
        text: "queued".into(),
        timestamp: at,
        idempotency_key: None,
    };
    tx.insert_message(&new, at).await.unwrap().unwrap();
    let files = [NewAttachment {
        content_type: "text/plain".into(),
        file_name: None,
        data: file.to_vec(),
    }];
    tx.insert_outgoing_attachments(ME, &id, &files, at)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// An incoming message stored at `at` with one fetched 3-byte file (`old` or `new`); returns
/// (message id, attachment id).
async fn receive_file(store: &Store, at: i64) -> (String, String) {
    let (message, _) = receive(store, "a file", at, None).await;
    let pointer = IncomingPointer {
        content_type: "text/plain".into(),
        file_name: Some("f.txt".into()),
        size: 3,
        url: "http://files/1".into(),
        key: zeroize::Zeroizing::new(vec![1; 64]),
        digest: None,
    };
    let bytes: &[u8] = if at < NOW - 7 * DAY { b"old" } else { b"new" };
    let mut tx = store.begin().await.unwrap();
    let views = tx
        .insert_incoming_attachments(ME, &message, &[pointer], at)
        .await
        .unwrap();
    tx.settle_incoming_attachment(&views[0].id, FetchOutcome::Available(bytes), at)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    (message, views[0].id.clone())
}

// The webhook worker's scan reads queue heads without their events, and loads an event only
// for a delivery it attempts: the heads are the deliveries `pending_deliveries` pairs with
// events (each conversation's oldest), and `event` gives back that very event.
both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_scan_reads_heads_and_each_event_on_demand() {
    let (store, _url, _dir) = store().await;
    webhook(&store, "wh_heads", None).await;
    let mut cursors = Vec::new();
    for (i, conversation) in [None, Some(PEER), None, Some(PEER)].into_iter().enumerate() {
        cursors.push(append_in(&store, conversation, NOW + i as i64).await);
    }
    let heads = store.pending_heads("wh_heads", 1000).await.unwrap();
    let paired = store.pending_deliveries("wh_heads", 1000).await.unwrap();
    let head_cursors: Vec<i64> = heads.iter().map(|d| d.event_cursor).collect();
    assert_eq!(head_cursors, [cursors[0], cursors[1]], "each conversation's oldest");
    let paired_deliveries: Vec<_> = paired.iter().map(|(d, _)| d.clone()).collect();
    assert_eq!(heads, paired_deliveries);
    for (delivery, event) in &paired {
        let read = store.event(delivery.event_cursor).await.unwrap();
        assert_eq!(read.as_ref(), Some(event));
    }
    assert_eq!(store.event(cursors[3] + 1_000).await.unwrap(), None);
}
}

// The scan walks each conversation's queue through the index of pending deliveries: a
// conversation whose first deliveries were delivered or dead-lettered has its oldest *pending*
// one as head, a conversation with nothing pending has none, a long queue gives one head, and
// the limit keeps the oldest heads.
both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_scan_gives_each_conversation_its_oldest_pending_delivery() {
    let (store, _url, _dir) = store().await;
    webhook(&store, "wh_queues", None).await;
    let a = PEER.replace("05aa", "05a1");
    let b = PEER.replace("05aa", "05b2");
    let c = PEER.replace("05aa", "05c3");
    let order = [
        Some(&a), Some(&b), Some(&a), None, Some(&c), Some(&a), Some(&b), Some(&c),
    ];
    let mut cursors = Vec::new();
    for (i, conversation) in order.into_iter().enumerate() {
        cursors.push(append_in(&store, conversation.map(String::as_str), NOW + i as i64).await);
    }
    // A long queue behind a's head.
    for i in 0..50 {
        append_in(&store, Some(&a), NOW + 100 + i).await;
    }
    let settle = |cursor: i64, outcome: AttemptOutcome| {
        let store = store.clone();
        async move {
            let heads = store.pending_heads("wh_queues", 1000).await.unwrap();
            let head = heads.iter().find(|d| d.event_cursor == cursor).unwrap();
            store
                .record_attempt("wh_queues", head, NOW, &outcome)
                .await
                .unwrap();
        }
    };
    let delivered = || AttemptOutcome::Delivered { status: 200 };
    settle(cursors[0], delivered()).await; // a's first
    let dead = AttemptOutcome::Failed {
        status: Some(500),
        error: "gave up".into(),
        next_attempt_at: None,
    };
    settle(cursors[1], dead).await; // b's first, dead-lettered
    settle(cursors[4], delivered()).await; // c's first…
    settle(cursors[7], delivered()).await; // …and last

    let heads = store.pending_heads("wh_queues", 1000).await.unwrap();
    let head_cursors: Vec<i64> = heads.iter().map(|d| d.event_cursor).collect();
    assert_eq!(head_cursors, [cursors[2], cursors[3], cursors[6]]);
    assert!(heads.iter().all(|d| d.status.as_str() == "pending"));
    let oldest = store.pending_heads("wh_queues", 2).await.unwrap();
    let oldest: Vec<i64> = oldest.iter().map(|d| d.event_cursor).collect();
    assert_eq!(oldest, [cursors[2], cursors[3]]);
    let paired = store.pending_deliveries("wh_queues", 1000).await.unwrap();
    let paired: Vec<i64> = paired.iter().map(|(d, e)| {
        assert_eq!(d.event_cursor, e.cursor);
        d.event_cursor
    }).collect();
    assert_eq!(paired, head_cursors);
    // One conversation's head on its own (the worker's look after an attempt) is the same
    // row the scan gives; c has nothing pending; a's next head follows once its head is done.
    for head in &heads {
        let own = store.pending_head("wh_queues", &head.order_key).await.unwrap();
        assert_eq!(own.as_ref(), Some(head));
    }
    let all = store.list_deliveries("wh_queues", None, None, 1000).await.unwrap();
    let key_of = |cursor: i64| {
        let delivery = all.iter().find(|d| d.event_cursor == cursor).unwrap();
        delivery.order_key.clone()
    };
    let (a_key, c_key) = (key_of(cursors[0]), key_of(cursors[4]));
    assert_eq!(store.pending_head("wh_queues", &c_key).await.unwrap(), None);
    settle(cursors[2], delivered()).await;
    let next = store.pending_head("wh_queues", &a_key).await.unwrap().unwrap();
    assert_eq!(next.event_cursor, cursors[5]);
    assert_eq!(store.pending_head("wh_other", &a_key).await.unwrap(), None);
}
}

// One attempt as the webhook worker makes it: the claim comes with the webhook as it is now
// and the event; the same read claimed again (another worker, or a stale head) claims nothing,
// and so does a head not yet due; the outcome's record comes with the conversation's next
// pending head, then with none; a stale record changes nothing. A disabled webhook's claim
// shows it disabled.
both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_claims_with_its_inputs_and_settles_with_the_next_head() {
    let (store, _url, _dir) = store().await;
    webhook(&store, "wh_attempt", None).await;
    let a = PEER.replace("05aa", "05a1");
    let first = append_in(&store, Some(&a), NOW).await;
    let second = append_in(&store, Some(&a), NOW + 1).await;
    let heads = store.pending_heads("wh_attempt", 10).await.unwrap();
    let [head] = heads.as_slice() else { panic!("one conversation: {heads:?}") };
    assert_eq!(head.event_cursor, first);
    let due = head.next_attempt_at;
    let until = due + 60_000;
    let early = store.claim_attempt("wh_attempt", head, due - 1, until).await.unwrap();
    assert!(early.is_none(), "not due yet");

    let claim = store.claim_attempt("wh_attempt", head, due, until).await.unwrap().unwrap();
    assert_eq!(claim.delivery.next_attempt_at, until);
    assert_eq!(claim.delivery.event_cursor, first);
    assert_eq!(claim.hook.id, "wh_attempt");
    assert!(claim.hook.enabled);
    assert_eq!(claim.event.as_ref().map(|e| e.cursor), Some(first));
    let again = store.claim_attempt("wh_attempt", head, due, until).await.unwrap();
    assert!(again.is_none(), "the row moved on with the first claim");

    let delivered = AttemptOutcome::Delivered { status: 200 };
    let next = store
        .settle_attempt("wh_attempt", &claim.delivery, NOW, &delivered)
        .await
        .unwrap()
        .expect("the next head");
    assert_eq!(next.event_cursor, second);
    assert_eq!(next.order_key, head.order_key);
    // Recorded: the first is delivered after one attempt.
    let rows = store.list_deliveries("wh_attempt", None, None, 10).await.unwrap();
    let row = rows.iter().find(|d| d.event_cursor == first).unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("delivered", 1));
    // A stale record (the row as claimed, recorded twice) changes nothing.
    let failed = AttemptOutcome::Failed {
        status: Some(500),
        error: "late".into(),
        next_attempt_at: None,
    };
    let still = store
        .settle_attempt("wh_attempt", &claim.delivery, NOW, &failed)
        .await
        .unwrap();
    assert_eq!(still.as_ref(), Some(&next));
    let rows = store.list_deliveries("wh_attempt", None, None, 10).await.unwrap();
    let row = rows.iter().find(|d| d.event_cursor == first).unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("delivered", 1));

    let mut hook = store.get_webhook("wh_attempt").await.unwrap().unwrap();
    hook.enabled = false;
    assert!(store.update_webhook(&hook).await.unwrap());
    let due = next.next_attempt_at;
    let claim = store
        .claim_attempt("wh_attempt", &next, due, due + 60_000)
        .await
        .unwrap()
        .unwrap();
    assert!(!claim.hook.enabled, "the webhook as it is now");
    let last = store
        .settle_attempt("wh_attempt", &claim.delivery, NOW, &delivered)
        .await
        .unwrap();
    assert_eq!(last, None, "nothing pending in the conversation");
}
}

/// Appends an event of ME in `conversation` at `timestamp` (every webhook gets a delivery of
/// it); its cursor.
async fn append_in(store: &Store, conversation: Option<&str>, timestamp: i64) -> i64 {
    let event = NewEvent {
        account: Some(ME.into()),
        conversation: conversation.map(Into::into),
        timestamp,
        data: EventData::account_status("paused", "active"),
    };
    store.append_event(&event).await.unwrap().cursor
}
