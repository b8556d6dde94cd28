//! What stays after deletion (issue 13, attack 8): an unsent or expired message's text does not
//! live on in its events (nor in the quote of a reply), and deleting an account deletes its
//! events and their webhook deliveries.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

#[macro_use]
mod common;
mod gateway_support;
mod netsupport;

use gateway_support as gs;
use serde_json::{json, Value};

both_backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unsent_text_leaves_no_copy_and_a_deleted_account_leaves_no_events() {
        super::unsent_text_leaves_no_copy_and_a_deleted_account_leaves_no_events().await;
    }
}

/// Every event body of `account` that mentions `text` anywhere.
async fn mentions(gw: &gs::Gw, account: &str, text: &str) -> Vec<Value> {
    gw.events_of(account)
        .await
        .into_iter()
        .filter(|e| e["data"].to_string().contains(text))
        .collect()
}

async fn unsent_text_leaves_no_copy_and_a_deleted_account_leaves_no_events() {
    let (devnet, _dir, mut gw) = gs::chat::on_devnet().await;
    // Deliveries that stay pending (nothing listens on port 9): deleting the account must
    // take them with its events.
    gw.webhook("http://127.0.0.1:9/hook", &[]).await;
    let a = gw.create_account().await;
    let b = gw.create_account().await;

    let secret = "the launch code is 0000";
    let sent = gw.send(&a, &b, secret).await;
    let got = gw.received(&b, &a, secret).await;
    let b_copy = got["id"].as_str().unwrap().to_owned();
    let reply = gw.reply(&b, &a, "noted", &b_copy).await;
    let quoted = gw.received(&a, &b, "noted").await;
    assert_eq!(quoted["quote"]["text"], secret);
    assert!(!mentions(&gw, &b, secret).await.is_empty());

    // A unsends: B's copy goes, and so does every copy of its text in events and quotes.
    let r = gw
        .on("DELETE", &a, &format!("/messages/{sent}"), None)
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    gw.wait_event(&b, "message.deleted", |d| {
        d["message_id"] == b_copy.as_str()
    })
    .await;
    assert_eq!(mentions(&gw, &b, secret).await, Vec::<Value>::new());
    assert_eq!(mentions(&gw, &a, secret).await, Vec::<Value>::new());
    let received: Vec<Value> = gw
        .events_typed(&b, "message.received")
        .await
        .into_iter()
        .filter(|e| e["data"]["id"] == b_copy.as_str())
        .collect();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["data"]["redacted"], true);
    assert_eq!(received[0]["data"]["text"], "");
    let reply_now = gw.message(&b, &reply).await;
    assert_eq!(reply_now["quote"]["text"], Value::Null, "{reply_now}");

    // A disappearing message's text goes with it when it expires.
    let r = gw
        .on(
            "PATCH",
            &a,
            &format!("/conversations/{b}"),
            Some(json!({"disappearing": {"mode": "after_send", "seconds": 3}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    gw.wait_event(&b, "conversation.updated", |d| {
        d["disappearing"]["mode"] == "after_send"
    })
    .await;
    let fleeting = "meet at the old mill";
    gw.send(&a, &b, fleeting).await;
    let got = gw.received(&b, &a, fleeting).await;
    let b_fleeting = got["id"].as_str().unwrap().to_owned();
    gw.wait_event(&b, "message.expired", |d| {
        d["message_id"] == b_fleeting.as_str()
    })
    .await;
    assert_eq!(mentions(&gw, &b, fleeting).await, Vec::<Value>::new());

    // Deleting B deletes its events (and their pending deliveries).
    assert!(!gw.events_of(&b).await.is_empty());
    let r = gw.admin("DELETE", &format!("/v1/accounts/{b}"), None).await;
    assert!(r.status < 300, "{}", r.body);
    let left: Vec<Value> = gw
        .events_of(&b)
        .await
        .into_iter()
        .filter(|e| e["account"] == b.as_str())
        .collect();
    assert_eq!(left, Vec::<Value>::new());
    assert!(!gw.events_of(&a).await.is_empty(), "A's events stay");
    gw.stop().await;
    devnet.shutdown().await;
}
