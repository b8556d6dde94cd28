//! The 1:1 chat features end to end (issue 5): two accounts on one gateway, a devnet between
//! them; for each feature one account does it through the REST API and the other sees the
//! event and the data, and the reverse. Waits are on events with deadlines, never sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod common;
mod gateway_support;
mod netsupport;

use gateway_support as gs;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reactions_and_unsend_both_ways() {
    let (devnet, _dir, mut gw) = gs::chat::on_devnet().await;
    let a = gw.create_account().await;
    let b = gw.create_account().await;
    let named = gw
        .on("PATCH", &a, "", Some(json!({"display_name": "Alice"})))
        .await;
    assert_eq!(named.status, 200, "{}", named.body);

    // A first message: B auto-accepts the request (once) and learns A's profile.
    let hello = gw.send(&a, &b, "hello").await;
    let b_hello = gw.received(&b, &a, "hello").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    gw.wait_event(&b, "message_request.received", |d| d["conversation"] == a)
        .await;
    gw.wait_event(&b, "profile.updated", |d| d["display_name"] == "Alice")
        .await;
    gw.wait_event(&a, "message_request.accepted", |d| d["conversation"] == b)
        .await;
    let conv = gw.on("GET", &b, &format!("/conversations/{a}"), None).await;
    assert_eq!(conv.status, 200, "{}", conv.body);
    assert_eq!(conv.body["state"], "accepted");
    assert_eq!(conv.body["profile"]["display_name"], "Alice");

    // B replies with a quote; A sees the quote pointing at its own message.
    let b_reply = gw.reply(&b, &a, "hi back", &b_hello).await;
    let got = gw.received(&a, &b, "hi back").await;
    assert_eq!(got["quote"]["id"], hello.as_str());
    assert_eq!(got["quote"]["author"], a.as_str());
    assert_eq!(got["quote"]["text"], "hello");
    let a_reply = got["id"].as_str().unwrap().to_owned();

    // A reacts to B's reply, B to A's hello.
    let r = gw
        .on(
            "POST",
            &a,
            &format!("/messages/{a_reply}/reactions"),
            Some(json!({"emoji": "👍"})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let added = gw
        .wait_event(&b, "reaction.added", |d| d["emoji"] == "👍")
        .await;
    assert_eq!(added["message_id"], b_reply.as_str());
    assert_eq!(added["author"], a.as_str());
    let shown = gw.message(&b, &b_reply).await;
    assert_eq!(shown["reactions"], json!([{"emoji": "👍", "author": a}]));
    let r = gw
        .on(
            "POST",
            &b,
            &format!("/messages/{b_hello}/reactions"),
            Some(json!({"emoji": "❤️"})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let added = gw
        .wait_event(&a, "reaction.added", |d| d["emoji"] == "❤️")
        .await;
    assert_eq!(added["message_id"], hello.as_str());

    // A removes its reaction (URL-encoded emoji).
    let r = gw
        .on(
            "DELETE",
            &a,
            &format!("/messages/{a_reply}/reactions/%F0%9F%91%8D"),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    gw.wait_event(&b, "reaction.removed", |d| d["emoji"] == "👍")
        .await;
    assert_eq!(gw.message(&b, &b_reply).await["reactions"], json!([]));

    // A unsends hello: gone for B too; B unsends its reply: gone for A.
    let r = gw
        .on("DELETE", &a, &format!("/messages/{hello}"), None)
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["scope"], "everyone");
    let deleted = gw
        .wait_event(&b, "message.deleted", |d| {
            d["message_id"] == b_hello.as_str()
        })
        .await;
    assert_eq!(deleted["scope"], "everyone");
    let gone = gw.deleted_message(&b, &b_hello).await;
    assert_eq!(gone["text"], "");
    assert!(gone["deleted_at"].is_i64());
    let r = gw
        .on("DELETE", &b, &format!("/messages/{b_reply}"), None)
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    gw.wait_event(&a, "message.deleted", |d| {
        d["message_id"] == a_reply.as_str()
    })
    .await;

    // Deleting a received message is local only.
    gw.send(&b, &a, "keep or not").await;
    let local = gw.received(&a, &b, "keep or not").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = gw
        .on("DELETE", &a, &format!("/messages/{local}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["scope"], "local");

    // Bad input.
    let unknown = "msg_00000000000000000000000000000000";
    let r = gw
        .on(
            "POST",
            &a,
            &format!("/messages/{unknown}/reactions"),
            Some(json!({"emoji": "👍"})),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = gw
        .on(
            "POST",
            &a,
            &format!("/messages/{local}/reactions"),
            Some(json!({"emoji": "thumbs"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "invalid_emoji");
    let r = gw
        .on(
            "POST",
            &a,
            "/messages",
            Some(json!({"to": b, "text": "x", "quote": {"id": unknown}})),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let c = gw.create_account().await;
    let r = gw
        .on(
            "POST",
            &a,
            "/messages",
            Some(json!({"to": c, "text": "x", "quote": {"id": local}})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // Deleting it again: it is gone from its own path (issue 15's contract).
    let r = gw
        .on("DELETE", &a, &format!("/messages/{hello}"), None)
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = gw
        .on(
            "POST",
            &a,
            &format!("/messages/{local}/reactions"),
            Some(json!({"emoji": "👍", "x": 1})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);

    gw.stop().await;
    devnet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_receipts_typing_and_disappearing_both_ways() {
    let (devnet, _dir, mut gw) = gs::chat::on_devnet().await;
    let a = gw.create_account().await;
    let b = gw.create_account().await;

    // Manual receipts: B reads, A sees message.read for its message (once).
    let first = gw.send(&a, &b, "read me").await;
    gw.received(&b, &a, "read me").await;
    let r = gw
        .on("POST", &b, &format!("/conversations/{a}/read"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["receipted"], 1);
    let read = gw
        .wait_event(&a, "message.read", |d| d["id"] == first.as_str())
        .await;
    assert!(read["read_at"].is_i64());
    let again = gw
        .on(
            "POST",
            &b,
            &format!("/conversations/{a}/read"),
            Some(json!({})),
        )
        .await;
    assert_eq!(again.body["receipted"], 0, "a message is receipted once");

    // Automatic receipts, the other way round.
    let r = gw
        .on("PATCH", &a, "", Some(json!({"read_receipts": "auto"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["read_receipts"], "auto");
    let second = gw.send(&b, &a, "auto read").await;
    gw.wait_event(&b, "message.read", |d| d["id"] == second.as_str())
        .await;

    // Typing both ways.
    let r = gw
        .on(
            "POST",
            &a,
            &format!("/conversations/{b}/typing"),
            Some(json!({"typing": true})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    gw.wait_event(&b, "typing.started", |d| d["conversation"] == a)
        .await;
    let r = gw
        .on(
            "POST",
            &b,
            &format!("/conversations/{a}/typing"),
            Some(json!({"typing": false})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    gw.wait_event(&a, "typing.stopped", |d| d["conversation"] == b)
        .await;
    let typing = gw.history(&a).await;
    assert!(
        typing.iter().all(|m| m["text"] != ""),
        "no control rows in history"
    );

    // Disappearing after send: B learns the setting, both sides prune the message.
    let r = gw
        .on(
            "PATCH",
            &a,
            &format!("/conversations/{b}"),
            Some(json!({"disappearing": {"mode": "after_send", "seconds": 3}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["disappearing"],
        json!({"mode": "after_send", "seconds": 3})
    );
    gw.wait_event(&b, "conversation.updated", |d| {
        d["disappearing"]["mode"] == "after_send"
    })
    .await;
    let conv = gw.on("GET", &b, &format!("/conversations/{a}"), None).await;
    assert_eq!(conv.body["disappearing"]["seconds"], 3);
    let gone = gw.send(&a, &b, "vanishing").await;
    let got = gw.received(&b, &a, "vanishing").await;
    assert!(got["expires_at"].is_i64(), "{got}");
    let b_gone = got["id"].as_str().unwrap().to_owned();
    gw.wait_event(&a, "message.expired", |d| d["message_id"] == gone.as_str())
        .await;
    gw.wait_event(&b, "message.expired", |d| {
        d["message_id"] == b_gone.as_str()
    })
    .await;
    assert!(gw
        .history(&b)
        .await
        .iter()
        .all(|m| m["id"] != b_gone.as_str()));

    // Disappearing after read: the timer starts when B reads it, on both sides.
    let r = gw
        .on(
            "PATCH",
            &a,
            &format!("/conversations/{b}"),
            Some(json!({"disappearing": {"mode": "after_read", "seconds": 2}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    gw.wait_event(&b, "conversation.updated", |d| {
        d["disappearing"]["mode"] == "after_read"
    })
    .await;
    let later = gw.send(&a, &b, "read then vanish").await;
    let got = gw.received(&b, &a, "read then vanish").await;
    assert!(got.get("expires_at").is_none(), "not read yet: {got}");
    let b_later = got["id"].as_str().unwrap().to_owned();
    let r = gw
        .on(
            "POST",
            &b,
            &format!("/conversations/{a}/read"),
            Some(json!({"up_to": b_later})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(gw.message(&b, &b_later).await["expires_at"].is_i64());
    gw.wait_event(&b, "message.expired", |d| {
        d["message_id"] == b_later.as_str()
    })
    .await;
    gw.wait_event(&a, "message.expired", |d| d["message_id"] == later.as_str())
        .await;

    // B turns it off again; A learns it.
    let r = gw
        .on(
            "PATCH",
            &b,
            &format!("/conversations/{a}"),
            Some(json!({"disappearing": {"mode": "off"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    gw.wait_event(&a, "conversation.updated", |d| {
        d["disappearing"]["mode"] == "off"
    })
    .await;

    // Bad input.
    for bad in [
        json!({"disappearing": {"mode": "sometimes", "seconds": 3}}),
        json!({"disappearing": {"mode": "after_read", "seconds": 0}}),
        json!({"disappearing": {"mode": "off"}, "x": 1}),
    ] {
        let r = gw
            .on("PATCH", &a, &format!("/conversations/{b}"), Some(bad))
            .await;
        assert_eq!(r.status, 400, "{}", r.body);
    }
    let unknown = "msg_00000000000000000000000000000000";
    let r = gw
        .on(
            "POST",
            &b,
            &format!("/conversations/{a}/read"),
            Some(json!({"up_to": unknown})),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let nobody = gw.create_account().await;
    let r = gw
        .on("GET", &a, &format!("/conversations/{nobody}"), None)
        .await;
    assert_eq!(r.status, 404, "{}", r.body);

    gw.stop().await;
    devnet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_message_requests_wait_for_accept_or_are_dropped() {
    let (devnet, _dir, mut gw) = gs::chat::on_devnet().await;
    let a = gw.create_account().await;
    let b = gw.create_account().await;
    let c = gw.create_account().await;
    for held in [&b, &c] {
        let r = gw
            .on("PATCH", held, "", Some(json!({"message_requests": "hold"})))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["message_requests"], "hold");
    }
    let r = gw
        .on("PATCH", &a, "", Some(json!({"display_name": "Alice"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // B holds A's request: stored, not delivered, not in history.
    gw.send(&a, &b, "may I?").await;
    gw.wait_event(&b, "message_request.received", |d| d["state"] == "pending")
        .await;
    let conv = gw.on("GET", &b, &format!("/conversations/{a}"), None).await;
    assert_eq!(conv.body["state"], "pending");
    let list = gw.on("GET", &b, "/conversations", None).await;
    assert_eq!(list.body["conversations"][0]["state"], "pending");
    assert!(gw.history(&b).await.is_empty());
    assert!(gw.events_typed(&b, "message.received").await.is_empty());

    // B accepts: the message is delivered now and A learns it was accepted.
    let r = gw
        .on("POST", &b, &format!("/conversations/{a}/accept"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["state"], "accepted");
    assert_eq!(r.body["profile"]["display_name"], "Alice");
    gw.received(&b, &a, "may I?").await;
    gw.wait_event(&a, "message_request.accepted", |d| d["conversation"] == b)
        .await;
    assert_eq!(gw.history(&b).await.len(), 1);

    // C declines A's request: held messages and later ones are dropped.
    gw.send(&a, &c, "first").await;
    gw.wait_event(&c, "message_request.received", |d| d["conversation"] == a)
        .await;
    let r = gw
        .on("POST", &c, &format!("/conversations/{a}/decline"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["state"], "declined");
    gw.send(&a, &c, "second").await;
    gw.wait_event(&a, "message.sent", |m| m["text"] == "second")
        .await;
    // A message C does deliver, stored on its swarm after "second", proves C polled past it.
    let d = gw.create_account().await;
    gw.on(
        "PATCH",
        &c,
        "",
        Some(json!({"message_requests": "auto_accept"})),
    )
    .await;
    gw.send(&d, &c, "marker").await;
    gw.received(&c, &d, "marker").await;
    let history = gw.history(&c).await;
    assert!(
        history.iter().all(|m| m["from"] != a.as_str()),
        "{history:?}"
    );

    // Writing to a declined peer accepts the conversation again.
    gw.send(&c, &a, "changed my mind").await;
    let conv = gw.on("GET", &c, &format!("/conversations/{a}"), None).await;
    assert_eq!(conv.body["state"], "accepted");
    gw.received(&a, &c, "changed my mind").await;
    gw.send(&a, &c, "third").await;
    gw.received(&c, &a, "third").await;

    // Unknown peer → 404.
    let r = gw
        .on("POST", &c, &format!("/conversations/{b}/accept"), None)
        .await;
    assert_eq!(r.status, 404, "{}", r.body);

    gw.stop().await;
    devnet.shutdown().await;
}

/// A held request released by `accept` is delivered as the live path delivers: the
/// `message.received` event carries the message's attachments, and under `read_receipts: auto`
/// the sender gets its read receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_request_delivers_attachments_and_auto_receipts() {
    let (devnet, _dir, mut gw) = gs::chat::on_devnet().await;
    let a = gw.create_account().await;
    let b = gw.create_account().await;
    let settings = json!({"message_requests": "hold", "read_receipts": "auto"});
    let r = gw.on("PATCH", &b, "", Some(settings)).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let file = json!({"content_type": "text/plain", "file_name": "w.txt",
                      "data_base64": "YSBmaWxlIHRoYXQgd2FpdGVk"});
    let body = json!({"to": b, "text": "held with a file", "attachments": [file]});
    let sent = gw.on("POST", &a, "/messages", Some(body)).await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    let sent = sent.body["id"].as_str().unwrap().to_owned();
    gw.wait_event(&b, "message_request.received", |d| d["conversation"] == a)
        .await;
    assert!(gw.events_typed(&b, "message.received").await.is_empty());

    let r = gw
        .on("POST", &b, &format!("/conversations/{a}/accept"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let received = gw.received(&b, &a, "held with a file").await;
    let files = received["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{received}");
    assert_eq!(files[0]["content_type"], "text/plain");
    assert_eq!(files[0]["file_name"], "w.txt");
    assert!(files[0]["url"]
        .as_str()
        .unwrap()
        .contains("/attachments/att_"));
    // Auto receipts: A learns its message was read.
    gw.wait_event(&a, "message.read", |d| d["id"] == sent.as_str())
        .await;

    gw.stop().await;
    devnet.shutdown().await;
}
