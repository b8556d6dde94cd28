//! SQLite running out of space under a running gateway (issue 14). The file is capped at its
//! current size with `PRAGMA max_page_count` on the gateway's one connection
//! (`Store::set_sqlite_page_cap`): a write that needs another page then fails with
//! `SQLITE_FULL`, exactly as on a full disk, without a small filesystem (which CI could not
//! mount without privileges).
//!
//! While full: every write through the API answers `507` `storage_full` with a JSON error and
//! `Retry-After` (never a 500, never a hang), reads still answer, and the gateway stays up with
//! its actors running (they retry their writes). When space returns (the cap lifted) the
//! gateway carries on by itself: new writes are accepted, every message accepted before or
//! between the failures is delivered exactly once, each under one webhook event id, and the
//! file passes `PRAGMA integrity_check`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod common;
mod gateway_support;
mod netsupport;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::{Mode, Receiver};
use gateway_support as gs;
use serde_json::{json, Value};
use sqlx::Connection as _;

/// No API call may take longer than this while the disk is full.
const BOUND: Duration = Duration::from_secs(5);

/// Asserts a `507 storage_full` answer.
fn assert_full(
    what: &str,
    (status, retry_after, body, took): &(u16, Option<String>, Value, Duration),
) {
    assert_eq!(*status, 507, "{what}: {body}");
    assert_eq!(body["error"]["code"], "storage_full", "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("no space left"), "{what}: {message}");
    assert_eq!(retry_after.as_deref(), Some("5"), "{what}");
    assert!(*took < BOUND, "{what} took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sqlite_file_answers_507_and_the_gateway_resumes_when_space_returns() {
    let devnet = netsupport::devnet(6, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let mut gw = gs::start(dir.path(), gs::settings(&common::master_key()), &devnet).await;
    let receiver = Receiver::start(Mode::Up).await;
    gw.webhook(&receiver.url, &["message.received"]).await;
    let a = gw.create_account().await;
    let b = gw.create_account().await;
    gw.send(&a, &b, "before").await;
    common::eventually(60, "the first message delivered", || async {
        (gw.received_texts(&b).await == ["before"]).then_some(())
    })
    .await;

    // The file may not grow by a single page from now on.
    let store = gw.gateway().store();
    let cap = store.set_sqlite_page_cap(Some(0)).await.unwrap();
    assert!(cap.is_some_and(|pages| pages > 0), "{cap:?}");

    // Sends fill the last free space in the file's pages; each is accepted (202) or refused
    // as full (507), nothing else, until three in a row are refused.
    let filler = "x".repeat(1_900);
    let mut accepted = vec!["before".to_owned()];
    let mut refused_in_a_row = 0;
    let mut sends = 0;
    while refused_in_a_row < 3 {
        sends += 1;
        assert!(sends <= 500, "500 sends of 2 kB did not fill a capped file");
        let text = format!("fill {sends} {filler}");
        let send = json!({"to": b, "text": text});
        let reply = gw
            .timed("POST", &format!("/v1/accounts/{a}/messages"), Some(send))
            .await;
        if reply.0 == 202 {
            accepted.push(text);
            refused_in_a_row = 0;
        } else {
            assert_full("a send", &reply);
            refused_in_a_row += 1;
        }
    }
    eprintln!(
        "the file was full after {sends} sends, {} accepted",
        accepted.len() - 1
    );

    // Other writes are refused the same way once their tables' pages are full too (a small
    // row may still fit in a page with room): creating accounts answers 201 or 507 only.
    let mut creates = 0;
    loop {
        creates += 1;
        assert!(creates <= 200, "200 accounts created in a full file");
        let reply = gw.timed("POST", "/v1/accounts", Some(json!({}))).await;
        if reply.0 == 201 {
            continue;
        }
        assert_full("creating an account", &reply);
        break;
    }
    eprintln!("account creation refused after {} accepted", creates - 1);
    let (status, _, body, took) = gw
        .timed("GET", &format!("/v1/accounts/{a}/messages"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(took < BOUND);
    let (status, _, body, _) = gw.timed("GET", "/healthz", None).await;
    assert_eq!(status, 200, "{body}");

    // The actors keep working against the full file (polls and sends that cannot commit are
    // retried): every identity (the accounts created before it filled up too) runs and keeps
    // running, none restarting.
    let accounts = 2 + (creates - 1);
    common::eventually(10, "every identity running", || async {
        (gw.gateway().identity_counts().unwrap().running == accounts).then_some(())
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let counts = gw.gateway().identity_counts().unwrap();
        assert_eq!(
            (counts.running, counts.restarting),
            (accounts, 0),
            "{counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Space returns: the gateway resumes by itself.
    store.set_sqlite_page_cap(None).await.unwrap();
    common::eventually(30, "a send accepted again", || async {
        let text = format!("after {filler}");
        let send = json!({"to": b, "text": text.clone()});
        let (status, _, body, _) = gw
            .timed("POST", &format!("/v1/accounts/{a}/messages"), Some(send))
            .await;
        assert!(matches!(status, 202 | 507), "{status} {body}");
        (status == 202).then_some(())
    })
    .await;
    accepted.push(format!("after {filler}"));
    common::eventually(120, "every accepted message delivered once", || async {
        let got = gw.received_texts(&b).await;
        let distinct: HashSet<&String> = got.iter().collect();
        assert_eq!(distinct.len(), got.len(), "a message delivered twice");
        (got.len() == accepted.len()).then_some(got)
    })
    .await;
    let got: HashSet<String> = gw.received_texts(&b).await.into_iter().collect();
    let want: HashSet<String> = accepted.iter().cloned().collect();
    assert_eq!(got, want, "the delivered messages are the accepted ones");

    // Webhooks: every message under exactly one event id (retries repeat the same id).
    common::eventually(60, "every webhook delivered", || async {
        let texts: HashSet<String> = receiver
            .received()
            .iter()
            .filter_map(|r| r.json["data"]["text"].as_str().map(str::to_owned))
            .collect();
        (texts == want).then_some(())
    })
    .await;
    let mut ids: HashMap<String, HashSet<String>> = HashMap::new();
    for r in receiver.received() {
        let text = r.json["data"]["text"].as_str().unwrap().to_owned();
        ids.entry(text).or_default().insert(r.id.clone());
    }
    for (text, seen) in &ids {
        assert_eq!(
            seen.len(),
            1,
            "{}: {} event ids",
            &text[..12.min(text.len())],
            seen.len()
        );
    }

    // Everything accepted is in the file, not only in the gateway's connection: killed with
    // no clean stop, the file holds each accepted message on both sides. (A write refused as
    // full once left SQLite's transaction open under sqlx's count, so every later commit
    // stayed in it, seen by that connection only; a crash lost all of it.)
    let url = gw.database_url.clone();
    gw.kill().await;
    let mut conn = sqlx::sqlite::SqliteConnection::connect(&url).await.unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let stored: Vec<(String, String)> = sqlx::query_as(
        "SELECT direction, text FROM messages WHERE status IN ('sent', 'received') AND text <> ''",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for direction in ["outgoing", "incoming"] {
        let texts: HashSet<String> = (stored.iter())
            .filter(|(d, _)| d == direction)
            .map(|(_, t)| t.clone())
            .collect();
        assert_eq!(texts, want, "{direction} messages in the file");
    }
    let _ = conn.close().await;
    devnet.shutdown().await;
}
