//! Does the database stop growing? A busy gateway simulated on a simulated clock: every
//! simulated hour, `RETENTION_BENCH_PER_DAY / 24` incoming messages are stored as the poller
//! stores them (message, `message.received` event, a pending delivery to one webhook), every
//! tenth with a 2 KiB attachment; the webhook then delivers them all; and the retention job runs
//! its 60 rounds of that hour (`Store::prune` with the default `[retention]` limits and batch).
//! Prints one JSON line per simulated day: rows per table and the SQLite file's size. Run with
//! `cargo bench --bench retention` (`RETENTION_BENCH_DAYS`, default 45; `RETENTION_BENCH_PER_DAY`,
//! default 4000). Rows should level off after 30 days (the message limit) and the file soon
//! after (SQLite reuses the pages freed by deletes).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a failed setup step should fail loudly

use std::time::Instant;

use serde_json::json;
use session_gateway::config::{RetentionSettings, Settings};
use session_gateway::events::{EventData, MessageEvent};
use session_gateway::ids::SessionIdText;
use session_gateway::store::attachments::{FetchOutcome, IncomingPointer};
use session_gateway::store::events::{AttemptOutcome, NewEvent};
use session_gateway::store::messages::{new_message_id, Direction, MessageStatus, NewMessage};
use session_gateway::store::prune::RetentionPolicy;
use session_gateway::store::webhooks::{Webhook, WebhookSecret};
use session_gateway::store::{MasterKey, Store};
use sqlx::Row as _;

const ME: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const PEER: &str = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";
const HOUR: i64 = 3_600_000;
const T0: i64 = 1_750_000_000_000;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The policy `serve` derives from the default `[retention]` settings.
fn default_policy() -> RetentionPolicy {
    let r = Settings::default().retention;
    RetentionPolicy {
        events: RetentionSettings::days(r.events_days),
        deliveries: RetentionSettings::days(r.deliveries_days),
        messages: RetentionSettings::days(r.messages_days),
        attachment_bytes: RetentionSettings::days(r.attachment_bytes_days),
        batch: r.batch,
    }
}

/// One incoming message at `at`, as the poller stores it.
async fn receive(store: &Store, at: i64, n: u64) {
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
        text: format!("message {n}: some ordinary text of a typical length"),
        timestamp: at,
        idempotency_key: None,
    };
    tx.insert_message(&new, at).await.unwrap().unwrap();
    if n % 10 == 0 {
        let pointer = IncomingPointer {
            content_type: "application/octet-stream".into(),
            file_name: Some("file.bin".into()),
            size: 2048,
            url: "http://files/1".into(),
            key: zeroize::Zeroizing::new(vec![1; 64]),
            digest: None,
        };
        let views = tx
            .insert_incoming_attachments(ME, &id, &[pointer], at)
            .await
            .unwrap();
        tx.settle_incoming_attachment(&views[0].id, FetchOutcome::Available(&[7; 2048]), at)
            .await
            .unwrap();
    }
    let message = tx.message(&id).await.unwrap().unwrap();
    tx.append_event(&NewEvent {
        account: Some(ME.into()),
        conversation: Some(PEER.into()),
        timestamp: at,
        data: EventData::message(MessageEvent::Received, &message).unwrap(),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// The webhook delivers everything pending at `at`.
async fn deliver_all(store: &Store, at: i64) {
    loop {
        let pending = store.pending_deliveries("wh_bench", 1000).await.unwrap();
        if pending.is_empty() {
            return;
        }
        for (delivery, _) in pending {
            let outcome = AttemptOutcome::Delivered { status: 204 };
            store
                .record_attempt("wh_bench", &delivery, at, &outcome)
                .await
                .unwrap();
        }
    }
}

async fn counts(pool: &sqlx::AnyPool) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (name, sql) in [
        ("messages", "SELECT COUNT(*) AS n FROM messages"),
        ("events", "SELECT COUNT(*) AS n FROM events"),
        ("deliveries", "SELECT COUNT(*) AS n FROM webhook_deliveries"),
        ("attachments", "SELECT COUNT(*) AS n FROM attachments"),
        (
            "attachments_with_bytes",
            "SELECT COUNT(*) AS n FROM attachments WHERE data IS NOT NULL",
        ),
    ] {
        let n: i64 = sqlx::query(sql)
            .fetch_one(pool)
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
        out.insert(name.into(), n.into());
    }
    out.into()
}

fn file_size(dir: &std::path::Path) -> u64 {
    ["gateway.db", "gateway.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

#[tokio::main]
async fn main() {
    let days = env("RETENTION_BENCH_DAYS", 45);
    let per_hour = env("RETENTION_BENCH_PER_DAY", 4000) / 24;
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("gateway.db").display()
    );
    let store = Store::open(&url, 1, MasterKey::generate()).await.unwrap();
    let me = SessionIdText::parse(ME).unwrap();
    store.insert_account(&me, None, &[7; 16], T0).await.unwrap();
    store
        .insert_webhook(&Webhook {
            id: "wh_bench".into(),
            url: "http://127.0.0.1:9/hook".into(),
            events: None,
            accounts: None,
            secrets: vec![WebhookSecret {
                secret: "whsec_AAAA".into(),
                expires_at: None,
            }],
            enabled: true,
            created_at: T0,
            updated_at: T0,
        })
        .await
        .unwrap();
    // A second connection for the counts, between rounds only.
    sqlx::any::install_default_drivers();
    let counter = sqlx::AnyPool::connect(&url).await.unwrap();
    let policy = default_policy();
    let started = Instant::now();
    let mut n = 0;
    for day in 1..=days {
        let mut pruned = [0u64; 4];
        for hour in 0..24 {
            let base = T0 + (i64::try_from(day).unwrap() - 1) * 24 * HOUR + hour * HOUR;
            for i in 0..per_hour {
                n += 1;
                receive(&store, base + i64::try_from(i).unwrap(), n).await;
            }
            deliver_all(&store, base + HOUR / 2).await;
            // The job's 60 rounds in this hour, one a minute.
            for minute in 0..60 {
                let p = store.prune(&policy, base + minute * 60_000).await.unwrap();
                pruned[0] += p.events;
                pruned[1] += p.deliveries;
                pruned[2] += p.messages;
                pruned[3] += p.attachment_bytes;
            }
        }
        println!(
            "{}",
            json!({
                "day": day,
                "rows": counts(&counter).await,
                "pruned_today": {"events": pruned[0], "deliveries": pruned[1],
                                 "messages": pruned[2], "attachment_bytes": pruned[3]},
                "file_bytes": file_size(dir.path()),
                "elapsed_s": started.elapsed().as_secs(),
            })
        );
    }
}
