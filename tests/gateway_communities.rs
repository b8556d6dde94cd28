//! Communities end to end on the devnet (issue 12): accounts on two gateways join the devnet's
//! community server's default room; posts, reactions, deletions and blinded DMs travel between
//! them; moderation reaches the server; every request to the server came through an onion
//! path; and a server with many local accounts in a room is polled by one of them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod common;
mod gateway_support;
mod netsupport;

use serde_json::json;
use session_gateway::devnet::{Arrival, Devnet};

use gateway_support as gs;

/// A room as `POST …/communities` answered it.
struct Joined {
    conversation: String,
    blinded: String,
}

/// Joins `account` to the devnet's default room; returns the room and its blinded ID.
async fn join(gw: &gs::Gw, devnet: &Devnet, account: &str) -> Joined {
    let url = devnet.community_join_url();
    let reply = gw
        .on("POST", account, "/communities", Some(json!({ "url": url })))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["url"], url.as_str());
    let blinded = reply.body["blinded_id"].as_str().unwrap().to_owned();
    assert!(
        blinded.starts_with("15") && blinded.len() == 66,
        "{blinded}"
    );
    Joined {
        conversation: reply.body["conversation"].as_str().unwrap().to_owned(),
        blinded,
    }
}

/// Posts `text` to `to` (a room, or a blinded ID) as `from`.
async fn post(gw: &gs::Gw, from: &str, to: &str, text: &str) -> String {
    let reply = gw
        .on(
            "POST",
            from,
            "/messages",
            Some(json!({"to": to, "text": text})),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// Waits until `account`'s message `id` is sent.
async fn wait_sent(gw: &gs::Gw, account: &str, id: &str) {
    gw.wait_event(account, "message.sent", |d| d["id"] == id)
        .await;
}

/// Waits until `account`'s message `id` is sent or failed; returns the event type and data.
async fn settled(gw: &gs::Gw, account: &str, id: &str) -> (String, serde_json::Value) {
    common::eventually(60, "settled", || async {
        gw.events_of(account).await.into_iter().find_map(|e| {
            let done = matches!(e["type"].as_str(), Some("message.sent" | "message.failed"));
            (done && e["data"]["id"] == id)
                .then(|| (e["type"].as_str().unwrap().to_owned(), e["data"].clone()))
        })
    })
    .await
}

/// Every request the community server handled came through an onion path; returns them.
fn onion_only(devnet: &Devnet) -> Vec<session_gateway::devnet::routes::RouteEntry> {
    let routes = devnet.community().routes();
    for entry in &routes {
        match &entry.arrival {
            Arrival::Onion { relay, .. } => assert!(relay.is_some(), "{entry:?}"),
            Arrival::Direct { .. } => panic!("direct request to the community server: {entry:?}"),
        }
    }
    routes
}

both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn communities_post_react_delete_and_dm_across_gateways() {
    let devnet = netsupport::devnet(6, 3).await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let master = common::master_key();
    let gw1 = gs::start(dirs[0].path(), gs::settings(&master), &devnet).await;
    let gw2 = gs::start(dirs[1].path(), gs::settings(&master), &devnet).await;
    let a = gw1.create_account().await;
    let b = gw2.create_account().await;

    let room_a = join(&gw1, &devnet, &a).await;
    let room_b = join(&gw2, &devnet, &b).await;
    let room = room_a.conversation.clone();
    assert_eq!(room, room_b.conversation);
    assert_ne!(room_a.blinded, room_b.blinded);
    let joined = gw1.wait_event(&a, "community.joined", |d| d["conversation"] == room.as_str()).await;
    assert_eq!(joined["blinded_id"], room_a.blinded.as_str());
    // Joining again changes nothing.
    let again = gw1
        .on("POST", &a, "/communities", Some(json!({"url": devnet.community_join_url()})))
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    let listed = gw1.on("GET", &a, "/communities", None).await;
    assert_eq!(listed.body["communities"].as_array().unwrap().len(), 1, "{}", listed.body);

    // A's post reaches B with A's blinded ID as author, in the room's conversation.
    let sent = post(&gw1, &a, &room, "hello room").await;
    wait_sent(&gw1, &a, &sent).await;
    let got = gw2
        .wait_event(&b, "message.received", |d| d["text"] == "hello room")
        .await;
    assert_eq!(got["from"], room_a.blinded.as_str());
    assert_eq!(got["conversation"], room.as_str());
    let b_copy = got["id"].as_str().unwrap().to_owned();
    // A's own post is not received back as someone else's.
    let a_history = gw1.history(&a).await;
    assert_eq!(a_history.iter().filter(|m| m["text"] == "hello room").count(), 1, "{a_history:?}");

    // B reacts; A sees reaction.added from B's blinded ID.
    let reacted = gw2
        .on("POST", &b, &format!("/messages/{b_copy}/reactions"), Some(json!({"emoji": "👍"})))
        .await;
    assert_eq!(reacted.status, 202, "{}", reacted.body);
    let added = gw1
        .wait_event(&a, "reaction.added", |d| d["emoji"] == "👍")
        .await;
    assert_eq!(added["author"], room_b.blinded.as_str());
    assert_eq!(added["message_id"], sent.as_str());

    // A deletes its post; B sees message.deleted.
    let deleted = gw1.on("DELETE", &a, &format!("/messages/{sent}"), None).await;
    assert_eq!(deleted.status, 202, "{}", deleted.body);
    let gone = gw2
        .wait_event(&b, "message.deleted", |d| d["message_id"] == b_copy.as_str())
        .await;
    assert_eq!(gone["conversation"], room.as_str());

    // B's blinded DM to A arrives as a message request under B's blinded ID; A's reply
    // reaches B.
    let dm = post(&gw2, &b, &room_a.blinded, "psst").await;
    wait_sent(&gw2, &b, &dm).await;
    let request = gw1
        .wait_event(&a, "message_request.received", |d| d["conversation"] == room_b.blinded.as_str())
        .await;
    assert_eq!(request["state"], "accepted");
    let got = gw1.wait_event(&a, "message.received", |d| d["text"] == "psst").await;
    assert_eq!(got["from"], room_b.blinded.as_str());
    post(&gw1, &a, &room_b.blinded, "hi back").await;
    let back = gw2.wait_event(&b, "message.received", |d| d["text"] == "hi back").await;
    assert_eq!(back["from"], room_a.blinded.as_str());

    // A file posted in the room lives on the room's server (plaintext, named by the post) and
    // B downloads the same bytes through its own account.
    let file: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let posted = gw1
        .on("POST", &a, "/messages", Some(json!({"to": room, "text": "a file", "attachments": [{
            "content_type": "application/pdf", "file_name": "report.pdf",
            "data_base64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &file),
        }]})))
        .await;
    assert_eq!(posted.status, 202, "{}", posted.body);
    let got = gw2.wait_event(&b, "message.received", |d| d["text"] == "a file").await;
    let meta = &got["attachments"][0];
    assert_eq!(meta["file_name"], "report.pdf", "{got}");
    assert_eq!(meta["size"], file.len());
    gw2.wait_event(&b, "attachment.available", |d| d["id"] == meta["id"]).await;
    let response = gw2
        .client
        .get(format!("{}{}", gw2.base, meta["url"].as_str().unwrap()))
        .bearer_auth(common::ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), file.as_slice());

    // Everything went through onion requests.
    let routes = onion_only(&devnet);
    assert!(routes.iter().any(|r| r.method.contains("/file")), "{routes:?}");
    assert!(routes.iter().any(|r| r.method.contains("inbox")), "{routes:?}");
}
}

both_backends! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_delete_ban_and_purge_and_others_cannot() {
    let devnet = netsupport::devnet(6, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gs::start(dir.path(), gs::settings(&common::master_key()), &devnet).await;
    let moderator = gw.create_account().await;
    let user = gw.create_account().await;
    let m = join(&gw, &devnet, &moderator).await;
    let u = join(&gw, &devnet, &user).await;
    let room = m.conversation.clone();
    let encoded = room.replace(':', "%3A").replace('/', "%2F");

    // Not a moderator yet: refused before anything is queued.
    let refused = gw
        .on("POST", &moderator, &format!("/communities/{encoded}/bans"), Some(json!({"user": u.blinded})))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "not_moderator");

    // The server makes it a moderator; the room's next info tells the gateway.
    devnet
        .community()
        .set_moderator(
            session_gateway::devnet::community::DEFAULT_ROOM,
            &m.blinded,
            Some(session_gateway::devnet::community::ModRole { admin: false, visible: true }),
        )
        .unwrap();
    let updated = gw
        .wait_event(&moderator, "community.updated", |d| d["moderator"] == true)
        .await;
    assert_eq!(updated["conversation"], room.as_str());
    let view = gw.on("GET", &moderator, &format!("/communities/{encoded}"), None).await;
    assert_eq!(view.body["moderator"], true, "{}", view.body);
    assert!(view.body["moderators"].as_array().unwrap().contains(&json!(m.blinded)));

    // A moderator deletes someone else's post for everyone.
    let first = post(&gw, &user, &room, "spam 1").await;
    wait_sent(&gw, &user, &first).await;
    let seen = gw.wait_event(&moderator, "message.received", |d| d["text"] == "spam 1").await;
    let id = seen["id"].as_str().unwrap();
    let deleted = gw.on("DELETE", &moderator, &format!("/messages/{id}"), None).await;
    assert_eq!(deleted.status, 202, "{}", deleted.body);
    assert_eq!(deleted.body["scope"], "everyone");
    gw.wait_event(&user, "message.deleted", |d| d["message_id"] == first.as_str()).await;

    // Purge: every post of the user goes.
    let second = post(&gw, &user, &room, "spam 2").await;
    wait_sent(&gw, &user, &second).await;
    gw.wait_event(&moderator, "message.received", |d| d["text"] == "spam 2").await;
    let purge = gw
        .on("DELETE", &moderator, &format!("/communities/{encoded}/users/{}/messages", u.blinded), None)
        .await;
    assert_eq!(purge.status, 202, "{}", purge.body);
    gw.wait_event(&user, "message.deleted", |d| d["message_id"] == second.as_str()).await;

    // Ban: once the server applied it, the user's posts fail with its 403 (a refusal is not
    // retried); unban: they go through again. The moderator's step travels its own queue, so
    // each waits for the first post that shows the change.
    let ban = gw
        .on("POST", &moderator, &format!("/communities/{encoded}/bans"), Some(json!({"user": u.blinded})))
        .await;
    assert_eq!(ban.status, 202, "{}", ban.body);
    common::eventually(60, "ban in force", || async {
        let id = post(&gw, &user, &room, "after ban").await;
        let (kind, data) = settled(&gw, &user, &id).await;
        (kind == "message.failed").then(|| {
            assert!(data["failure_reason"].as_str().unwrap().contains("403"), "{data}");
        })
    })
    .await;
    let unban = gw
        .on("DELETE", &moderator, &format!("/communities/{encoded}/bans/{}", u.blinded), None)
        .await;
    assert_eq!(unban.status, 202, "{}", unban.body);
    common::eventually(60, "ban lifted", || async {
        let id = post(&gw, &user, &room, "after unban").await;
        (settled(&gw, &user, &id).await.0 == "message.sent").then_some(())
    })
    .await;

    // Leaving: the room is no longer listed; bad rooms are clear errors.
    let left = gw.on("DELETE", &user, &format!("/communities/{encoded}"), None).await;
    assert_eq!(left.status, 204, "{}", left.body);
    let listed = gw.on("GET", &user, "/communities", None).await;
    assert_eq!(listed.body["communities"], json!([]));
    let again = gw.on("DELETE", &user, &format!("/communities/{encoded}"), None).await;
    assert_eq!(again.status, 404, "{}", again.body);
    let junk = gw.on("GET", &user, "/communities/not-a-room", None).await;
    assert_eq!(junk.status, 400, "{}", junk.body);
    onion_only(&devnet);
}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_local_accounts_in_a_room_are_polled_as_one() {
    let devnet = netsupport::devnet(6, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gs::start(dir.path(), gs::settings(&common::master_key()), &devnet).await;
    let mut accounts = Vec::new();
    for _ in 0..20 {
        let account = gw.create_account().await;
        let joined = join(&gw, &devnet, &account).await;
        accounts.push((account, joined));
    }
    let room = accounts[0].1.conversation.clone();
    devnet.community().clear_routes();
    let (author, _) = &accounts[3];
    let id = post(&gw, author, &room, "to all twenty").await;
    wait_sent(&gw, author, &id).await;
    for (account, _) in &accounts {
        if account != author {
            gw.wait_event(account, "message.received", |d| {
                d["text"] == "to all twenty"
            })
            .await;
        }
    }
    // Every room poll (a batch of pollInfo + messages) came from one account: the lead.
    let routes = onion_only(&devnet);
    let pollers: std::collections::BTreeSet<String> = routes
        .iter()
        .filter(|r| r.method.contains("messages"))
        .flat_map(|r| r.pubkeys.clone())
        .collect();
    assert_eq!(pollers.len(), 1, "room polls came from {pollers:?}");
    let lead = accounts
        .iter()
        .map(|(_, j)| j.blinded.clone())
        .collect::<Vec<_>>();
    assert!(lead.contains(pollers.iter().next().unwrap()), "{pollers:?}");
}

/// A post by a plain client (not a gateway account): `text` signed by `who` at `sent_ms`, or
/// with a wrong signature when `forge`.
fn raw_post(
    who: &session_gateway::protocol::keys::Identity,
    server: &session_gateway::network::community::CommunityServer,
    text: &str,
    sent_ms: u64,
) -> session_gateway::protocol::community::CommunityPost {
    use prost::Message as _;
    use session_gateway::protocol::protos::{Content, DataMessage};
    let content = Content {
        data_message: Some(DataMessage {
            body: Some(text.to_owned()),
            ..Default::default()
        }),
        sig_timestamp: Some(sent_ms),
        ..Default::default()
    };
    session_gateway::protocol::community::CommunityPost::new(
        who,
        server.pubkey(),
        &content.encode_to_vec(),
        sent_ms,
        session_gateway::protocol::blinding::Blind15Nonce::Desktop,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_arrive_and_forged_or_stale_posts_are_dropped() {
    use session_gateway::network::community::{CommunityServer, SogsBody};
    use session_gateway::protocol::keys::{Identity, X25519PublicKey};
    let devnet = netsupport::devnet(6, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gs::start(dir.path(), gs::settings(&common::master_key()), &devnet).await;
    let reader = gw.create_account().await;
    join(&gw, &devnet, &reader).await;

    // Another client (Session Desktop, say) posts through its own onion requests.
    let net = gs::network(&devnet);
    let server = CommunityServer::new(
        devnet.community_url(),
        X25519PublicKey::from_bytes(devnet.community_x25519()),
    )
    .unwrap();
    let other = Identity::generate(&mut rand::rngs::OsRng);
    let token = session_gateway::devnet::community::DEFAULT_ROOM;
    let now = net.now_ms();
    let post = raw_post(&other, &server, "first draft", now);
    let posted = net
        .community_post(&server, &other, token, &post, &[])
        .await
        .unwrap();
    let got = gw
        .wait_event(&reader, "message.received", |d| d["text"] == "first draft")
        .await;
    assert!(got["from"].as_str().unwrap().starts_with("15"), "{got}");

    // Its author edits it: the reader's copy changes, with message.edited.
    let edit = raw_post(&other, &server, "final text", now);
    let body = serde_json::json!({
        "data": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, edit.data()),
        "signature": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, edit.signature()),
    });
    let reply = net
        .sogs(
            &server,
            Some(&other),
            "PUT",
            &format!("/room/{token}/message/{}", posted.id),
            SogsBody::Json(body.to_string().into_bytes()),
        )
        .await
        .unwrap();
    assert_eq!(reply.code, 200);
    let edited = gw
        .wait_event(&reader, "message.edited", |d| d["id"] == got["id"])
        .await;
    assert_eq!(edited["text"], "final text");

    // A post whose signature does not verify, and one signed 7 hours away from the server's
    // time, are dropped (counted), never delivered; a good post behind them still arrives.
    let mut forged = raw_post(&other, &server, "forged", now);
    let liar = Identity::generate(&mut rand::rngs::OsRng);
    let signed_by_liar = raw_post(&liar, &server, "forged", now);
    let body = serde_json::json!({
        "data": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, forged.data()),
        "signature": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, signed_by_liar.signature()),
    });
    net.sogs(
        &server,
        Some(&other),
        "POST",
        &format!("/room/{token}/message"),
        SogsBody::Json(body.to_string().into_bytes()),
    )
    .await
    .unwrap()
    .success()
    .unwrap();
    forged = raw_post(&other, &server, "stale", now - 7 * 3_600_000);
    net.community_post(&server, &other, token, &forged, &[])
        .await
        .unwrap();
    // The server (or anyone who can post as a new id) replays the first post's signed bytes.
    let replayed = net
        .community_post(&server, &other, token, &post, &[])
        .await
        .unwrap();
    assert_ne!(replayed.id, posted.id);
    let good = raw_post(&other, &server, "after the bad ones", now);
    net.community_post(&server, &other, token, &good, &[])
        .await
        .unwrap();
    gw.wait_event(&reader, "message.received", |d| {
        d["text"] == "after the bad ones"
    })
    .await;
    assert_eq!(gs::dropped(&gw, "bad_signature").await, 1);
    assert_eq!(gs::dropped(&gw, "bad_timestamp").await, 1);
    let texts: Vec<String> = gw
        .events_typed(&reader, "message.received")
        .await
        .iter()
        .map(|e| e["data"]["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        !texts.iter().any(|t| t == "forged" || t == "stale"),
        "{texts:?}"
    );
    // The replayed post was not delivered a second time.
    assert_eq!(
        texts.iter().filter(|t| *t == "first draft").count(),
        1,
        "{texts:?}"
    );
}
