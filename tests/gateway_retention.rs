//! What stays after deletion (issue 13, attack 8): an unsent or expired message's text does not
//! live on in its events (nor in the quote of a reply), and deleting an account deletes its
//! events and their webhook deliveries. And retention by age (issue 15): the gateway's
//! retention job prunes old rows by itself, and the API shows what it dropped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

#[macro_use]
mod common;
mod gateway_support;
mod netsupport;

use gateway_support as gs;
use serde_json::{json, Value};
use session_gateway::clock::now_ms;
use session_gateway::events::{EventData, MessageEvent};
use session_gateway::store::attachments::{FetchOutcome, IncomingPointer};
use session_gateway::store::events::NewEvent;
use session_gateway::store::messages::{new_message_id, Direction, MessageStatus, NewMessage};

both_backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unsent_text_leaves_no_copy_and_a_deleted_account_leaves_no_events() {
        super::unsent_text_leaves_no_copy_and_a_deleted_account_leaves_no_events().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_retention_job_prunes_old_rows_and_the_api_says_so() {
        super::the_retention_job_prunes_old_rows_and_the_api_says_so().await;
    }
}

const DAY: i64 = 86_400_000;

/// An incoming message to `account` stored `age` ms ago, with its `message.received` event
/// (recorded now) and, with `file`, one fetched attachment; returns (message id, attachment id).
async fn stored_message(
    gw: &gs::Gw,
    account: &str,
    text: &str,
    age: i64,
    file: Option<&[u8]>,
) -> (String, Option<String>) {
    let store = gw.gateway().store();
    let peer = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";
    let at = now_ms() - age;
    let id = new_message_id();
    let mut tx = store.begin().await.unwrap();
    let new = NewMessage {
        id: id.clone(),
        account: account.into(),
        peer: peer.into(),
        author: peer.into(),
        direction: Direction::Incoming,
        status: MessageStatus::Received,
        hash: Some(new_message_id()),
        text: text.into(),
        timestamp: at,
        idempotency_key: None,
    };
    tx.insert_message(&new, at).await.unwrap().unwrap();
    let mut attachment = None;
    if let Some(bytes) = file {
        let pointer = IncomingPointer {
            content_type: "text/plain".into(),
            file_name: Some("notes.txt".into()),
            size: i64::try_from(bytes.len()).unwrap(),
            url: "http://files/1".into(),
            key: zeroize::Zeroizing::new(vec![1; 64]),
            digest: None,
        };
        let views = tx
            .insert_incoming_attachments(account, &id, &[pointer], at)
            .await
            .unwrap();
        tx.settle_incoming_attachment(&views[0].id, FetchOutcome::Available(bytes), at)
            .await
            .unwrap();
        attachment = Some(views[0].id.clone());
    }
    let message = tx.message(&id).await.unwrap().unwrap();
    tx.append_event(&NewEvent {
        account: Some(account.into()),
        conversation: Some(peer.into()),
        timestamp: now_ms(),
        data: EventData::message(MessageEvent::Received, &message).unwrap(),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (id, attachment)
}

async fn the_retention_job_prunes_old_rows_and_the_api_says_so() {
    // The default limits (7 / 7 / 30 / 14 days), a round every 100 ms.
    let (devnet, _dir, mut gw) = gs::chat::on_devnet_with(|s| s.retention.interval_ms = 100).await;
    let a = gw.create_account().await;
    let store = gw.gateway().store().clone();
    // A week-old event nobody needs, and a fresh one.
    for (age, name) in [(8 * DAY, "old"), (0, "new")] {
        store
            .append_event(&NewEvent {
                account: Some(a.clone()),
                conversation: None,
                timestamp: now_ms() - age,
                data: EventData::message_expired(&a, &format!("msg_{name}")),
            })
            .await
            .unwrap();
    }
    let (ancient, _) = stored_message(&gw, &a, "forty days ago", 40 * DAY, None).await;
    let (kept, file) = stored_message(&gw, &a, "twenty days ago", 20 * DAY, Some(b"notes")).await;
    let file = file.unwrap();

    let expired_ids = || async {
        gw.events_typed(&a, "message.expired")
            .await
            .iter()
            .map(|e| e["data"]["message_id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    common::eventually(30, "the old event pruned", || async {
        (expired_ids().await == ["msg_new"]).then_some(())
    })
    .await;
    // The 40-day-old message is gone, and its event (recorded now, so kept) no longer carries
    // its text.
    common::eventually(30, "the old message pruned", || async {
        let r = gw
            .on("GET", &a, &format!("/messages/{ancient}"), None)
            .await;
        (r.status == 404).then_some(())
    })
    .await;
    assert_eq!(
        mentions(&gw, &a, "forty days ago").await,
        Vec::<Value>::new()
    );
    // The 20-day-old message stays; its attachment's bytes are gone, and both the message and
    // the download say so.
    let view = common::eventually(30, "the old file's bytes dropped", || async {
        let m = gw.message(&a, &kept).await;
        (m["attachments"][0]["status"] == "expired").then_some(m)
    })
    .await;
    assert_eq!(view["text"], "twenty days ago");
    assert_eq!(view["attachments"][0]["file_name"], "notes.txt");
    let r = gw
        .on("GET", &a, &format!("/attachments/{file}"), None)
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "attachment_expired");
    gw.stop().await;
    devnet.shutdown().await;
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
