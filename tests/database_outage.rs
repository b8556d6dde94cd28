//! PostgreSQL going away under a running gateway (issue 14): while it is down the API answers
//! 503 with a JSON error (never a 500, never a wait past the pool's acquire timeout) and
//! `/readyz` says not ready; the accounts' leases lapse and their actors stop; when the server
//! is back the gateway carries on by itself: ready again, leases re-taken, messages queued
//! before the outage delivered exactly once, new sends accepted and delivered.
//!
//! The outage lasts until the gateway has given up its leases: about 25 s here (four requests
//! that each wait out the 5 s acquire timeout, then the 3 s leases lapse), not the 60 s of the
//! issue's scenario. What happens during it does not change with its length: every request
//! fails on its own timeout and the lease manager retries on its interval.
//!
//! Alone in its binary: it stops the binary's one test cluster.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod common;
mod gateway_support;
mod netsupport;

use std::time::{Duration, Instant};

use gateway_support as gs;
use serde_json::{json, Value};

/// The pool's acquire timeout (`store::connect::ACQUIRE_TIMEOUT`) plus room for a slow machine:
/// no request may take longer while the database is down.
const BOUND: Duration = Duration::from_secs(9);

async fn readyz(gw: &gs::Gw) -> (u16, Value) {
    let (status, _, body, took) = gw.timed("GET", "/readyz", None).await;
    assert!(took < Duration::from_secs(5), "/readyz took {took:?}");
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_answers_503_and_the_gateway_recovers_by_itself() {
    let Some(cluster) = common::pg::cluster() else {
        return;
    };
    let devnet = netsupport::devnet(12, 4).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = gs::settings(&common::master_key());
    settings.replicas.lease_ttl_ms = 3_000;
    let mut gw = gs::start_on(common::Backend::Postgres, dir.path(), settings, &devnet).await;
    let a = gw.create_account().await;
    let b = gw.create_account().await;
    gw.send(&a, &b, "before").await;
    common::eventually(60, "the first message delivered", || async {
        (gw.received_texts(&b).await == ["before"]).then_some(())
    })
    .await;

    // Queued, then the database goes away before (most of) them are sent.
    for i in 0..3 {
        gw.send(&a, &b, &format!("queued {i}")).await;
    }
    cluster.stop();
    let outage = Instant::now();

    let (status, body) = readyz(&gw).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["database"], false);

    let send = json!({"to": b, "text": "during"});
    let writes = [
        ("POST", format!("/v1/accounts/{a}/messages"), Some(send)),
        ("POST", "/v1/accounts".to_owned(), Some(json!({}))),
        (
            "PATCH",
            format!("/v1/accounts/{a}"),
            Some(json!({"display_name": "A"})),
        ),
        ("GET", format!("/v1/accounts/{a}/messages"), None),
    ];
    for (method, path, body) in writes {
        let (status, retry_after, reply, took) = gw.timed(method, &path, body).await;
        assert_eq!(status, 503, "{method} {path}: {reply}");
        assert_eq!(reply["error"]["code"], "unavailable", "{reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains("database is unavailable"), "{message}");
        assert_eq!(retry_after.as_deref(), Some("5"));
        assert!(took < BOUND, "{method} {path} took {took:?}");
    }

    // The outage lasts until the leases lapsed and the accounts' actors stopped.
    common::eventually(30, "the identities stopped for lack of leases", || async {
        let (status, body) = readyz(&gw).await;
        assert_eq!(status, 503, "{body}");
        (body["identities"]["running"] == 0).then_some(())
    })
    .await;
    cluster.start();
    eprintln!("outage lasted {:?}", outage.elapsed());

    common::eventually(30, "ready again", || async {
        let (status, body) = readyz(&gw).await;
        (status == 200 && body["identities"]["running"] == 2).then_some(())
    })
    .await;
    gw.send(&a, &b, "after").await;
    let want = ["before", "queued 0", "queued 1", "queued 2", "after"];
    common::eventually(60, "everything delivered once", || async {
        let got = gw.received_texts(&b).await;
        assert!(got.len() <= want.len(), "a duplicate: {got:?}");
        (got == want).then_some(())
    })
    .await;
    let outgoing: Vec<Value> = gw
        .history(&a)
        .await
        .into_iter()
        .filter(|m| m["direction"] == "outgoing")
        .collect();
    assert_eq!(
        outgoing.len(),
        want.len(),
        "nothing sent during the outage was kept"
    );
    assert!(
        outgoing.iter().all(|m| m["status"] == "sent"),
        "{outgoing:?}"
    );
    gw.stop().await;
}
