//! The devnet's community server (communities.md §8), reached the way Session clients reach
//! SOGS: onion requests v4 over a 3-node devnet path, built with the protocol layer
//! (`protocol::onion::build_server_request`), with X-SOGS headers from
//! `protocol::community::SogsAuth`. The network layer's v4 client is bound to the file server,
//! so the test drives the protocol-layer builder directly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::rngs::OsRng;
use serde_json::{json, Map, Value};
use session_gateway::devnet::community::{Sogs, SogsRequest};
use session_gateway::devnet::{Arrival, Devnet, DevnetConfig};
use session_gateway::protocol::blinding::{
    blind15_key_pair, decrypt_from_blinded_recipient, encrypt_for_blinded_recipient, Blind15Nonce,
    BlindedId,
};
use session_gateway::protocol::community::{CommunityPost, SogsAuth, SogsKey, SogsNonce};
use session_gateway::protocol::keys::{Identity, Seed, X25519PublicKey};
use session_gateway::protocol::onion::{
    build_server_request, EncType, NodeKeys, OnionPath, ServerProtocol, ServerTarget, SnodeEd25519,
    V4Request,
};

/// A test's devnet with a path and the community server as a v4 target.
struct Setup {
    devnet: Devnet,
    http: reqwest::Client,
    path: OnionPath,
    guard_url: String,
    last_hop: String,
    target: ServerTarget,
    server_pk: X25519PublicKey,
}

/// One answer: v4 `code`, `content-type`, body.
#[derive(Debug)]
struct Answer {
    code: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        assert_eq!(self.content_type, "application/json", "{self:?}");
        serde_json::from_slice(&self.body).unwrap()
    }
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
    /// Asserts an exact SOGS error (§2.4: text/plain; charset=utf-8).
    fn assert_error(&self, code: u16, body: &str) {
        assert_eq!((self.code, self.text().as_str()), (code, body), "{self:?}");
        assert_eq!(self.content_type, "text/plain; charset=utf-8");
    }
}

fn node_keys(devnet: &Devnet, i: usize) -> NodeKeys {
    let n = &devnet.nodes()[i];
    NodeKeys {
        ed25519: SnodeEd25519::from_bytes(n.ed25519),
        x25519: x25519_dalek::PublicKey::from(n.x25519),
    }
}

impl Setup {
    async fn new() -> Self {
        let devnet = Devnet::start(DevnetConfig::default()).await.unwrap();
        let path = OnionPath::new(
            node_keys(&devnet, 0),
            node_keys(&devnet, 5),
            node_keys(&devnet, 9),
        )
        .unwrap();
        let nodes = devnet.nodes();
        let guard_url = format!("https://127.0.0.1:{}/onion_req/v2", nodes[0].port);
        let last_hop = hex::encode(nodes[9].ed25519);
        let port: u16 = devnet
            .community_url()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let x = devnet.community_x25519();
        let target = ServerTarget {
            host: "127.0.0.1".into(),
            protocol: ServerProtocol::Http,
            port,
            x25519: x25519_dalek::PublicKey::from(x),
        };
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        Self {
            devnet,
            http,
            path,
            guard_url,
            last_hop,
            target,
            server_pk: X25519PublicKey::from_bytes(x),
        }
    }

    fn now_s(&self) -> u64 {
        self.devnet.network().clock.now_ms() / 1000
    }

    /// Sends one v4 request with exactly these headers.
    async fn raw(
        &self,
        method: &str,
        endpoint: &str,
        headers: Map<String, Value>,
        body: Option<Vec<u8>>,
        enc: EncType,
    ) -> Answer {
        let request = V4Request {
            method: method.into(),
            endpoint: endpoint.into(),
            headers,
            body,
        };
        let (wire, pending) =
            build_server_request(&self.path, &self.target, &request, enc, &mut OsRng).unwrap();
        let resp = self
            .http
            .post(&self.guard_url)
            .body(wire.body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        let reply = pending.decode(status, &bytes).unwrap();
        Answer {
            code: reply.code,
            content_type: reply
                .headers
                .get("content-type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            body: reply.body.unwrap_or_default(),
        }
    }

    /// Signed X-SOGS headers (blind15, desktop nonce rule) for a request.
    fn auth_headers(
        &self,
        who: &Identity,
        method: &str,
        endpoint: &str,
        body: &[u8],
        ts: u64,
    ) -> Map<String, Value> {
        let auth = SogsAuth::sign(
            who,
            &self.server_pk,
            SogsKey::Blinded(Blind15Nonce::Desktop),
            method,
            endpoint,
            body,
            ts,
            SogsNonce::random(&mut OsRng),
        )
        .unwrap();
        auth.headers()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v)))
            .collect()
    }

    /// A request signed by `who` (or anonymous), with a JSON body if given.
    async fn call(
        &self,
        who: Option<&Identity>,
        method: &str,
        endpoint: &str,
        json_body: Option<Value>,
    ) -> Answer {
        let body = json_body.map(|b| b.to_string().into_bytes());
        let mut headers = match who {
            Some(w) => self.auth_headers(
                w,
                method,
                endpoint,
                body.as_deref().unwrap_or_default(),
                self.now_s(),
            ),
            None => Map::new(),
        };
        headers.insert("Content-Type".into(), "application/json".into());
        self.raw(method, endpoint, headers, body, EncType::AesGcm)
            .await
    }

    /// Uploads raw bytes to a room.
    async fn upload(&self, who: &Identity, room: &str, bytes: &[u8]) -> Answer {
        let endpoint = format!("/room/{room}/file");
        let mut headers = self.auth_headers(who, "POST", &endpoint, bytes, self.now_s());
        headers.insert("Content-Type".into(), "application/octet-stream".into());
        self.raw(
            "POST",
            &endpoint,
            headers,
            Some(bytes.to_vec()),
            EncType::XChaCha20,
        )
        .await
    }

    fn blinded(&self, who: &Identity) -> String {
        blind15_key_pair(who, &self.server_pk).id().to_string()
    }

    fn post_body(&self, who: &Identity, text: &str) -> Value {
        // The server stores `data` as given; any padded bytes will do for it.
        let content = text.as_bytes();
        let post = CommunityPost::new(who, &self.server_pk, content, 1, Blind15Nonce::Desktop);
        serde_json::from_str(&post.to_body()).unwrap()
    }

    async fn post(&self, who: &Identity, room: &str, text: &str) -> Value {
        let a = self
            .call(
                Some(who),
                "POST",
                &format!("/room/{room}/message"),
                Some(self.post_body(who, text)),
            )
            .await;
        assert_eq!(a.code, 201, "{a:?}");
        a.json()
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.devnet.control_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

fn user() -> Identity {
    Identity::generate(&mut OsRng)
}

fn decoded(data: &Value) -> Vec<u8> {
    STANDARD.decode(data.as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn capabilities_rooms_and_control_api() {
    let s = Setup::new().await;
    let alice = user();
    let a = s.call(Some(&alice), "GET", "/capabilities", None).await;
    assert_eq!(a.code, 200);
    assert_eq!(
        a.json(),
        json!({"capabilities": ["blind", "reactions", "sogs"]})
    );
    let a = s
        .call(
            None,
            "GET",
            "/capabilities?required=blind,sogs,future",
            None,
        )
        .await;
    assert_eq!(a.code, 412);
    assert_eq!(a.json()["missing"], json!(["future"]));

    // The default room, case-insensitively, with the caller's permissions.
    let info = s
        .call(Some(&alice), "GET", "/room/LOBBY", None)
        .await
        .json();
    assert_eq!(info["token"], "lobby");
    assert_eq!(info["name"], "Lobby");
    assert_eq!(info["info_updates"], 0);
    assert_eq!(info["message_sequence"], 0);
    assert_eq!(info["active_users_cutoff"], 604_800);
    assert_eq!(
        (
            info["read"].clone(),
            info["write"].clone(),
            info["upload"].clone()
        ),
        (json!(true), json!(true), json!(true))
    );
    assert!(info.get("moderator").is_none());
    assert_eq!(s.call(None, "GET", "/room/nope", None).await.code, 404);

    // Control API: a room, and a moderator named by Session ID (05) shows up blinded.
    let (status, v) = s
        .control(
            reqwest::Method::POST,
            "/community/rooms",
            json!({"token": "Bots", "name": "Bot room"}),
        )
        .await;
    assert_eq!(status, 201);
    let join = v["join_url"].as_str().unwrap();
    assert!(join.starts_with(s.devnet.community_url()));
    assert!(join.ends_with(&format!(
        "/Bots?public_key={}",
        hex::encode(s.devnet.community_x25519())
    )));
    let (status, _) = s
        .control(
            reqwest::Method::POST,
            "/community/rooms",
            json!({"token": "bots", "name": "again"}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = s
        .control(
            reqwest::Method::POST,
            "/community/rooms",
            json!({"token": "no/slash", "name": "x"}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = s
        .control(
            reqwest::Method::POST,
            "/community/rooms/bots/moderators",
            json!({"session_id": alice.session_id().to_string()}),
        )
        .await;
    assert_eq!(status, 200);
    let rooms = s.call(None, "GET", "/rooms", None).await.json();
    let tokens: Vec<&str> = rooms
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, ["Bots", "lobby"]);
    let info = s.call(Some(&alice), "GET", "/room/bots", None).await.json();
    assert_eq!(info["info_updates"], 1);
    assert_eq!(info["moderator"], true);
    assert!(info.get("admin").is_none());
    assert_eq!(info["moderators"], json!([s.blinded(&alice)]));
    assert_eq!(info["default_write"], true);

    // pollInfo: `details` only when info_updates differs from the given value.
    let p = s
        .call(Some(&alice), "GET", "/room/bots/pollInfo/1", None)
        .await
        .json();
    assert_eq!(p["token"], "Bots");
    assert!(p.get("details").is_none());
    assert_eq!(p["active_users"], 1);
    let p = s
        .call(Some(&alice), "GET", "/room/bots/pollInfo/0", None)
        .await
        .json();
    assert_eq!(p["details"]["name"], "Bot room");
    s.devnet.shutdown().await;
}

#[tokio::test]
async fn post_retrieve_edit_react_delete() {
    let s = Setup::new().await;
    let (alice, bob) = (user(), user());
    let body = s.post_body(&alice, "hello");
    let posted = s.post(&alice, "lobby", "hello").await;
    assert_eq!(posted["seqno"], 1);
    assert_eq!(posted["session_id"], s.blinded(&alice));
    assert_eq!(posted["reactions"], json!({}));
    assert_eq!(posted["data"], body["data"]);
    let id = posted["id"].as_i64().unwrap();
    assert!(posted["posted"].as_f64().unwrap() > 1e9);

    let recent = s
        .call(Some(&bob), "GET", "/room/lobby/messages/recent", None)
        .await
        .json();
    assert_eq!(recent.as_array().unwrap().len(), 1);
    assert_eq!(recent[0]["data"], body["data"]);
    assert_eq!(recent[0]["signature"], body["signature"]);
    let since = s
        .call(Some(&bob), "GET", "/room/lobby/messages/since/0", None)
        .await
        .json();
    assert_eq!(since[0]["id"], id);
    let since = s
        .call(Some(&bob), "GET", "/room/lobby/messages/since/1", None)
        .await
        .json();
    assert_eq!(since, json!([]));

    // A second post; before/{id} and recent order (newest first).
    let second = s.post(&bob, "lobby", "second").await;
    let id2 = second["id"].as_i64().unwrap();
    assert_eq!(second["seqno"], 2);
    let recent = s
        .call(None, "GET", "/room/lobby/messages/recent?limit=5", None)
        .await
        .json();
    assert_eq!(
        (recent[0]["id"].as_i64(), recent[1]["id"].as_i64()),
        (Some(id2), Some(id))
    );
    let before = s
        .call(
            None,
            "GET",
            &format!("/room/lobby/messages/before/{id2}"),
            None,
        )
        .await
        .json();
    assert_eq!(before.as_array().unwrap().len(), 1);

    // Edit: author only.
    let edit = s.post_body(&alice, "hello, edited");
    let a = s
        .call(
            Some(&bob),
            "PUT",
            &format!("/room/lobby/message/{id}"),
            Some(edit.clone()),
        )
        .await;
    assert_eq!(a.code, 403);
    let a = s
        .call(
            Some(&alice),
            "PUT",
            &format!("/room/lobby/message/{id}"),
            Some(edit.clone()),
        )
        .await;
    assert_eq!((a.code, a.json()), (200, json!({})));
    let since = s
        .call(Some(&bob), "GET", "/room/lobby/messages/since/2", None)
        .await
        .json();
    assert_eq!(since[0]["seqno"], 3);
    assert_eq!(since[0]["data"], edit["data"]);
    assert!(since[0]["edited"].as_f64().is_some());

    // Reactions: raw UTF-8 emoji in the endpoint and signed path.
    let r = s
        .call(
            Some(&bob),
            "PUT",
            &format!("/room/lobby/reaction/{id}/👍"),
            None,
        )
        .await;
    assert_eq!(r.json(), json!({"added": true, "seqno": 4}));
    let r = s
        .call(
            Some(&bob),
            "PUT",
            &format!("/room/lobby/reaction/{id}/%F0%9F%91%8D"),
            None,
        )
        .await;
    assert_eq!(r.json(), json!({"added": false, "seqno": 4}));
    let r = s
        .call(
            Some(&alice),
            "PUT",
            &format!("/room/lobby/reaction/{id}/👍"),
            None,
        )
        .await;
    assert_eq!(r.json()["seqno"], 5);
    // Without t=r only data changes come; with t=r a reaction-only row {id, seqno, reactions}.
    let plain = s
        .call(Some(&bob), "GET", "/room/lobby/messages/since/3", None)
        .await
        .json();
    assert_eq!(plain, json!([]));
    let rows = s
        .call(
            Some(&bob),
            "GET",
            "/room/lobby/messages/since/3?t=r&reactors=1",
            None,
        )
        .await
        .json();
    assert_eq!(
        rows,
        json!([{"id": id, "seqno": 5, "reactions": {"👍": {"index": 0, "count": 2, "reactors": [s.blinded(&bob)], "you": true}}}])
    );
    let one = s
        .call(
            Some(&alice),
            "GET",
            &format!("/room/lobby/message/{id}?reactors=0"),
            None,
        )
        .await
        .json();
    assert_eq!(
        one["reactions"],
        json!({"👍": {"index": 0, "count": 2, "you": true}})
    );
    let r = s
        .call(
            Some(&bob),
            "DELETE",
            &format!("/room/lobby/reaction/{id}/👍"),
            None,
        )
        .await;
    assert_eq!(r.json(), json!({"removed": true, "seqno": 6}));
    let reactors = s
        .call(None, "GET", &format!("/room/lobby/reactors/{id}/👍"), None)
        .await
        .json();
    assert_eq!(reactors[0][0], s.blinded(&alice));
    assert_eq!(
        s.call(
            Some(&bob),
            "PUT",
            &format!("/room/lobby/reaction/{id}/{}", "x".repeat(13)),
            None
        )
        .await
        .code,
        400
    );

    // Delete: not someone else's; own is fine; a tombstone for clients that saw it.
    assert_eq!(
        s.call(
            Some(&bob),
            "DELETE",
            &format!("/room/lobby/message/{id}"),
            None
        )
        .await
        .code,
        403
    );
    let d = s
        .call(
            Some(&alice),
            "DELETE",
            &format!("/room/lobby/message/{id}"),
            None,
        )
        .await;
    assert_eq!((d.code, d.json()), (200, json!({})));
    assert_eq!(
        s.call(
            Some(&alice),
            "DELETE",
            &format!("/room/lobby/message/{id}"),
            None
        )
        .await
        .code,
        404
    );
    let rows = s
        .call(None, "GET", "/room/lobby/messages/since/6", None)
        .await
        .json();
    assert_eq!(rows[0]["id"], id);
    assert_eq!(rows[0]["deleted"], true);
    assert_eq!(rows[0]["data"], Value::Null);
    assert_eq!(rows[0]["seqno"], 7);
    assert!(rows[0].get("reactions").is_none());
    assert_eq!(
        s.call(None, "GET", &format!("/room/lobby/message/{id}"), None)
            .await
            .code,
        404
    );
    let recent = s
        .call(None, "GET", "/room/lobby/messages/recent", None)
        .await
        .json();
    assert_eq!(recent.as_array().unwrap().len(), 1);
    // A client that never saw the message hears nothing of its deletion... after it joined
    // later (seqno_creation > N is never sent as a tombstone).
    let bob_new = s.post(&bob, "lobby", "third").await;
    assert_eq!(bob_new["seqno"], 8);

    // The post signature is not verified by the server, only its length (§4.5).
    let mut bad = s.post_body(&alice, "x");
    bad["signature"] = json!(STANDARD.encode([0u8; 64]));
    assert_eq!(
        s.call(
            Some(&alice),
            "POST",
            "/room/lobby/message",
            Some(bad.clone())
        )
        .await
        .code,
        201
    );
    bad["signature"] = json!(STANDARD.encode([0u8; 63]));
    assert_eq!(
        s.call(Some(&alice), "POST", "/room/lobby/message", Some(bad))
            .await
            .code,
        400
    );
    // Posting needs auth.
    s.call(
        None,
        "POST",
        "/room/lobby/message",
        Some(s.post_body(&alice, "x")),
    )
    .await
    .assert_error(401, "X-SOGS-* request authentication required");
    s.devnet.shutdown().await;
}

#[tokio::test]
async fn rate_limit_five_posts_per_sixteen_seconds() {
    let s = Setup::new().await;
    let alice = user();
    for i in 0..5 {
        s.post(&alice, "lobby", &format!("m{i}")).await;
    }
    let body = s.post_body(&alice, "too many");
    s.call(
        Some(&alice),
        "POST",
        "/room/lobby/message",
        Some(body.clone()),
    )
    .await
    .assert_error(429, "Rate limited");
    s.devnet.advance_clock(16_000);
    assert_eq!(
        s.call(Some(&alice), "POST", "/room/lobby/message", Some(body))
            .await
            .code,
        201
    );
    s.devnet.shutdown().await;
}

#[tokio::test]
async fn files_upload_download_and_expiry() {
    let s = Setup::new().await;
    let alice = user();
    let bytes: Vec<u8> = (0..50_000u32).map(|i| (i * 7) as u8).collect();
    let up = s.upload(&alice, "lobby", &bytes).await;
    assert_eq!(up.code, 201, "{up:?}");
    let kept = up.json()["id"].as_i64().unwrap();
    let up2 = s.upload(&alice, "lobby", b"dropped later").await.json();
    let dropped = up2["id"].as_i64().unwrap();
    assert_eq!(dropped, kept + 1);
    let mut body = s.post_body(&alice, "with a file");
    body["files"] = json!([kept]);
    s.call(Some(&alice), "POST", "/room/lobby/message", Some(body))
        .await;

    let bob = user();
    let down = s
        .call(Some(&bob), "GET", &format!("/room/lobby/file/{kept}"), None)
        .await;
    assert_eq!(
        (down.code, down.content_type.as_str()),
        (200, "application/octet-stream")
    );
    assert_eq!(down.body, bytes);
    let named = s
        .call(
            None,
            "GET",
            &format!("/room/lobby/file/{kept}/photo.jpg"),
            None,
        )
        .await;
    assert_eq!(named.body, bytes);
    assert_eq!(
        s.call(None, "GET", "/room/lobby/file/999", None).await.code,
        404
    );
    // Not in another room.
    s.control(
        reqwest::Method::POST,
        "/community/rooms",
        json!({"token": "other", "name": "Other"}),
    )
    .await;
    assert_eq!(
        s.call(None, "GET", &format!("/room/other/file/{kept}"), None)
            .await
            .code,
        404
    );
    // Uploads need auth.
    let a = s
        .raw(
            "POST",
            "/room/lobby/file",
            Map::new(),
            Some(b"anon".to_vec()),
            EncType::AesGcm,
        )
        .await;
    a.assert_error(401, "X-SOGS-* request authentication required");

    // An hour later the unlinked upload is gone; the posted one stays.
    s.devnet.advance_clock(3_601_000);
    assert_eq!(
        s.call(None, "GET", &format!("/room/lobby/file/{dropped}"), None)
            .await
            .code,
        404
    );
    assert_eq!(
        s.call(None, "GET", &format!("/room/lobby/file/{kept}"), None)
            .await
            .code,
        200
    );
    s.devnet.shutdown().await;
}

#[tokio::test]
async fn blinded_dm_inbox_and_outbox() {
    let s = Setup::new().await;
    let (alice, bob) = (user(), user());
    let bob_id: BlindedId = s.blinded(&bob).parse().unwrap();
    // Bob has never authenticated: unknown recipient.
    let ct = encrypt_for_blinded_recipient(&alice, &s.server_pk, &bob_id, b"hi bob", &mut OsRng)
        .unwrap();
    let msg = json!({"message": STANDARD.encode(&ct)});
    assert_eq!(
        s.call(
            Some(&alice),
            "POST",
            &format!("/inbox/{bob_id}"),
            Some(msg.clone())
        )
        .await
        .code,
        404
    );
    assert_eq!(
        s.call(Some(&bob), "GET", "/capabilities", None).await.code,
        200
    );
    let sent = s
        .call(Some(&alice), "POST", &format!("/inbox/{bob_id}"), Some(msg))
        .await;
    assert_eq!(sent.code, 201, "{sent:?}");
    let sent = sent.json();
    assert_eq!(sent["sender"], s.blinded(&alice));
    assert_eq!(sent["recipient"], bob_id.to_string());
    assert!(sent.get("message").is_none());
    let id = sent["id"].as_i64().unwrap();
    let ttl = sent["expires_at"].as_f64().unwrap() - sent["posted_at"].as_f64().unwrap();
    assert!((ttl - 15.0 * 86_400.0).abs() < 1.0);

    let inbox = s.call(Some(&bob), "GET", "/inbox", None).await.json();
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    let got = decoded(&inbox[0]["message"]);
    let alice_id: BlindedId = s.blinded(&alice).parse().unwrap();
    let opened =
        decrypt_from_blinded_recipient(&bob, &s.server_pk, &alice_id, &bob_id, &got).unwrap();
    assert_eq!(opened.plaintext.as_slice(), b"hi bob");
    assert_eq!(opened.sender_session_id, alice.session_id());
    let outbox = s.call(Some(&alice), "GET", "/outbox", None).await.json();
    assert_eq!(outbox[0]["id"], id);
    assert_eq!(outbox[0]["message"], inbox[0]["message"]);
    assert_eq!(
        s.call(Some(&alice), "GET", "/inbox", None).await.json(),
        json!([])
    );

    // Nothing newer: 304 with an empty body; since/0 is the plain listing.
    let a = s
        .call(Some(&bob), "GET", &format!("/inbox/since/{id}"), None)
        .await;
    assert_eq!((a.code, a.body.len()), (304, 0));
    assert_eq!(
        s.call(Some(&bob), "GET", "/inbox/since/0", None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Bob answers; Alice reads it with her own key.
    let reply =
        encrypt_for_blinded_recipient(&bob, &s.server_pk, &alice_id, b"hi alice", &mut OsRng)
            .unwrap();
    let r = s
        .call(
            Some(&bob),
            "POST",
            &format!("/inbox/{alice_id}"),
            Some(json!({"message": STANDARD.encode(&reply)})),
        )
        .await;
    assert_eq!(r.code, 201);
    let inbox = s
        .call(Some(&alice), "GET", &format!("/inbox/since/{id}"), None)
        .await
        .json();
    let opened = decrypt_from_blinded_recipient(
        &alice,
        &s.server_pk,
        &bob_id,
        &alice_id,
        &decoded(&inbox[0]["message"]),
    )
    .unwrap();
    assert_eq!(opened.plaintext.as_slice(), b"hi alice");
    assert_eq!(
        s.call(
            Some(&bob),
            "POST",
            &format!("/inbox/{alice_id}"),
            Some(json!({}))
        )
        .await
        .code,
        400
    );
    // Inbox routes need auth; DELETE /inbox empties the caller's inbox.
    s.call(None, "GET", "/inbox", None)
        .await
        .assert_error(401, "X-SOGS-* request authentication required");
    let d = s.call(Some(&bob), "DELETE", "/inbox", None).await.json();
    assert_eq!(d, json!({"deleted": 1}));
    assert_eq!(
        s.call(Some(&bob), "GET", "/inbox", None).await.json(),
        json!([])
    );
    s.devnet.shutdown().await;
}

#[tokio::test]
async fn moderators_delete_ban_and_pin() {
    let s = Setup::new().await;
    let (admin, moderator, alice, bob) = (user(), user(), user(), user());
    // Roles by Session ID (05) and by blinded ID (15) through the control API.
    let grant = |id: String, is_admin: bool| {
        let s = &s;
        async move {
            let (status, _) = s
                .control(
                    reqwest::Method::POST,
                    "/community/rooms/lobby/moderators",
                    json!({"session_id": id, "admin": is_admin}),
                )
                .await;
            assert_eq!(status, 200);
        }
    };
    grant(admin.session_id().to_string(), true).await;
    grant(s.blinded(&moderator), false).await;
    let info = s
        .call(Some(&admin), "GET", "/room/lobby", None)
        .await
        .json();
    assert_eq!(
        (info["admin"].clone(), info["moderator"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(info["admins"], json!([s.blinded(&admin)]));
    assert_eq!(info["moderators"], json!([s.blinded(&moderator)]));

    // A moderator deletes another's post; an ordinary user cannot.
    let a_post = s.post(&alice, "lobby", "spam").await["id"]
        .as_i64()
        .unwrap();
    let m_post = s.post(&moderator, "lobby", "rules").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        s.call(
            Some(&bob),
            "DELETE",
            &format!("/room/lobby/message/{m_post}"),
            None
        )
        .await
        .code,
        403
    );
    let d = s
        .call(
            Some(&moderator),
            "DELETE",
            &format!("/room/lobby/message/{a_post}"),
            None,
        )
        .await;
    assert_eq!((d.code, d.json()), (200, json!({})));

    // Ban: bob then cannot read or post; a moderator cannot ban a moderator, an admin can.
    let ban = json!({"rooms": ["lobby"]});
    let bob_id = s.blinded(&bob);
    s.post(&bob, "lobby", "before the ban").await;
    assert_eq!(
        s.call(
            Some(&bob),
            "POST",
            &format!("/user/{bob_id}/ban"),
            Some(ban.clone())
        )
        .await
        .code,
        403
    );
    let b = s
        .call(
            Some(&moderator),
            "POST",
            &format!("/user/{bob_id}/ban"),
            Some(ban.clone()),
        )
        .await;
    assert_eq!((b.code, b.json()), (200, json!({})));
    assert_eq!(
        s.call(Some(&bob), "GET", "/room/lobby", None).await.code,
        404
    );
    let a = s
        .call(
            Some(&bob),
            "POST",
            "/room/lobby/message",
            Some(s.post_body(&bob, "banned")),
        )
        .await;
    assert_eq!(a.code, 403);
    let a = s
        .call(Some(&bob), "GET", "/room/lobby/messages/recent", None)
        .await;
    a.assert_error(403, "This endpoint requires room message 'read' permission");
    let mod_id = s.blinded(&moderator);
    assert_eq!(
        s.call(
            Some(&moderator),
            "POST",
            &format!("/user/{mod_id}/ban"),
            Some(ban.clone())
        )
        .await
        .code,
        403
    );
    assert_eq!(
        s.call(
            Some(&moderator),
            "POST",
            &format!("/user/{}/ban", s.blinded(&admin)),
            Some(ban.clone())
        )
        .await
        .code,
        403
    );
    let both = json!({"rooms": ["lobby"], "global": true});
    assert_eq!(
        s.call(
            Some(&admin),
            "POST",
            &format!("/user/{bob_id}/ban"),
            Some(both)
        )
        .await
        .code,
        400
    );
    // Unban; delete all of a user's posts.
    let u = s
        .call(
            Some(&moderator),
            "POST",
            &format!("/user/{bob_id}/unban"),
            Some(ban.clone()),
        )
        .await;
    assert_eq!(u.code, 200);
    s.post(&bob, "lobby", "back").await;
    let d = s
        .call(
            Some(&moderator),
            "DELETE",
            &format!("/room/lobby/all/{bob_id}"),
            None,
        )
        .await;
    assert_eq!((d.code, d.json()), (200, json!({})));
    assert_eq!(
        s.call(
            Some(&moderator),
            "DELETE",
            &format!("/room/lobby/all/{bob_id}"),
            None
        )
        .await
        .code,
        404
    );
    let recent = s
        .call(None, "GET", "/room/lobby/messages/recent", None)
        .await
        .json();
    assert_eq!(recent.as_array().unwrap().len(), 1);

    // A timed ban ends by itself (devnet clock).
    let timed = json!({"rooms": ["lobby"], "timeout": 60});
    assert_eq!(
        s.call(
            Some(&admin),
            "POST",
            &format!("/user/{bob_id}/ban"),
            Some(timed)
        )
        .await
        .code,
        200
    );
    assert_eq!(
        s.call(Some(&bob), "GET", "/room/lobby", None).await.code,
        404
    );
    s.devnet.advance_clock(61_000);
    assert_eq!(
        s.call(Some(&bob), "GET", "/room/lobby", None).await.code,
        200
    );

    // Admin: moderator grants over the API, and pins (pinned_messages, info_updates).
    let before = s.call(None, "GET", "/room/lobby", None).await.json()["info_updates"]
        .as_i64()
        .unwrap();
    let g = s
        .call(
            Some(&admin),
            "POST",
            &format!("/user/{}/moderator", s.blinded(&alice)),
            Some(json!({"rooms": ["lobby"], "moderator": true, "admin": false, "visible": true})),
        )
        .await;
    assert_eq!(g.json(), json!({"info_updates": {"lobby": before + 1}}));
    assert_eq!(
        s.call(
            Some(&moderator),
            "POST",
            &format!("/user/{bob_id}/moderator"),
            Some(json!({"rooms": ["lobby"], "moderator": true}))
        )
        .await
        .code,
        403
    );
    assert_eq!(
        s.call(
            Some(&moderator),
            "POST",
            &format!("/room/lobby/pin/{m_post}"),
            Some(json!({}))
        )
        .await
        .code,
        403
    );
    assert_eq!(
        s.call(
            Some(&admin),
            "POST",
            &format!("/room/lobby/pin/{m_post}"),
            Some(json!({}))
        )
        .await
        .code,
        200
    );
    let info = s.call(None, "GET", "/room/lobby", None).await.json();
    assert_eq!(info["pinned_messages"][0]["id"], m_post);
    assert_eq!(info["pinned_messages"][0]["pinned_by"], s.blinded(&admin));
    assert_eq!(info["info_updates"], before + 2);
    assert_eq!(
        s.call(
            Some(&admin),
            "POST",
            "/room/lobby/unpin/all",
            Some(json!({}))
        )
        .await
        .code,
        200
    );
    assert!(s
        .call(None, "GET", "/room/lobby", None)
        .await
        .json()
        .get("pinned_messages")
        .is_none());
    s.devnet.shutdown().await;
}

#[tokio::test]
async fn batch_and_sequence() {
    let s = Setup::new().await;
    let alice = user();
    let id = s.post(&alice, "lobby", "one").await["id"].as_i64().unwrap();
    let batch = json!([
        {"method": "GET", "path": "/capabilities"},
        {"method": "GET", "path": "/room/lobby/pollInfo/0"},
        {"method": "GET", "path": "/room/lobby/messages/recent?reactors=5"},
        {"method": "GET", "path": "/room/nope"},
        {"method": "GET", "path": "/inbox"},
        {"method": "PUT", "path": format!("/room/lobby/reaction/{id}/❤"), "json": {}},
        {"method": "GET", "path": "/outbox/since/5"}
    ]);
    let a = s
        .call(Some(&alice), "POST", "/batch", Some(batch.clone()))
        .await;
    assert_eq!(a.code, 200);
    let v = a.json();
    let codes: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [200, 200, 200, 404, 200, 200, 304]);
    assert_eq!(
        v[0]["body"],
        json!({"capabilities": ["blind", "reactions", "sogs"]})
    );
    assert_eq!(v[0]["headers"]["content-type"], "application/json");
    assert_eq!(v[2]["body"][0]["id"], id);
    // Sub-requests run as the outer caller.
    assert_eq!(v[5]["body"]["added"], true);
    assert_eq!(v[3]["headers"]["content-type"], "text/plain; charset=utf-8");
    assert_eq!(v[3]["body"], json!(STANDARD.encode("Not found")));

    // Sequence stops after the first failure (included).
    let seq = json!([
        {"method": "GET", "path": "/capabilities"},
        {"method": "DELETE", "path": "/room/lobby/message/999"},
        {"method": "GET", "path": "/rooms"}
    ]);
    let v = s
        .call(Some(&alice), "POST", "/sequence", Some(seq.clone()))
        .await
        .json();
    let codes: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [200, 404]);
    let v = s
        .call(Some(&alice), "POST", "/batch", Some(seq))
        .await
        .json();
    assert_eq!(v.as_array().unwrap().len(), 3);
    // Malformed: a GET with a body, a PUT without, not an array.
    for bad in [
        json!([{"method": "GET", "path": "/rooms", "json": {}}]),
        json!([{"method": "PUT", "path": format!("/room/lobby/reaction/{id}/❤")}]),
        json!([{"method": "POST", "path": "/inbox/x", "json": {}, "bytes": "x"}]),
        json!({"method": "GET", "path": "/rooms"}),
    ] {
        assert_eq!(
            s.call(Some(&alice), "POST", "/batch", Some(bad)).await.code,
            400
        );
    }
    s.devnet.shutdown().await;
}

/// One test per row of §2.4, in the server's order, with the exact status and body.
#[tokio::test]
async fn auth_errors_of_section_2_4() {
    let s = Setup::new().await;
    let alice = user();
    let now = s.now_s();
    let good = |ts: u64| s.auth_headers(&alice, "GET", "/room/lobby", &[], ts);
    let with = |mut h: Map<String, Value>, k: &str, v: &str| {
        h.insert(k.into(), v.into());
        h
    };
    let send = |h: Map<String, Value>| s.raw("GET", "/room/lobby", h, None, EncType::AesGcm);
    // Row 1: missing headers (an empty value counts as missing).
    let mut h = good(now);
    h.remove("X-SOGS-Nonce");
    h.remove("X-SOGS-Signature");
    send(h).await.assert_error(
        400,
        "Invalid authentication headers: missing 2/4 required X-SOGS-* headers",
    );
    send(with(good(now), "X-SOGS-Timestamp", ""))
        .await
        .assert_error(
            400,
            "Invalid authentication headers: missing 1/4 required X-SOGS-* headers",
        );
    // Row 2.
    send(with(good(now), "X-SOGS-Pubkey", "15abcd"))
        .await
        .assert_error(
            400,
            "Invalid authentication: X-SOGS-Pubkey is not a valid 66-hex digit id",
        );
    // Row 3.
    let pk25 = format!("25{}", &s.blinded(&alice)[2..]);
    send(with(good(now), "X-SOGS-Pubkey", &pk25))
        .await
        .assert_error(
            400,
            "Invalid authentication: X-SOGS-Pubkey must be 00- or 15- prefixed",
        );
    // Row 4: a y coordinate that is not on the curve (2 is not a valid point).
    let bad_point = format!(
        "15{}",
        hex::encode({
            let mut k = [0u8; 32];
            k[0] = 2;
            k
        })
    );
    send(with(good(now), "X-SOGS-Pubkey", &bad_point))
        .await
        .assert_error(
            400,
            "Invalid authentication: given X-SOGS-Pubkey is not a valid Ed25519 pubkey",
        );
    // Row 5: a correctly signed unblinded request.
    let auth = SogsAuth::sign(
        &alice,
        &s.server_pk,
        SogsKey::Unblinded,
        "GET",
        "/room/lobby",
        &[],
        now,
        SogsNonce::random(&mut OsRng),
    )
    .unwrap();
    let h: Map<String, Value> = auth
        .headers()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v)))
        .collect();
    send(h).await.assert_error(
        400,
        "Invalid authentication: this server requires the use of blinded ids",
    );
    // Row 6.
    send(with(good(now), "X-SOGS-Nonce", "AAAA"))
        .await
        .assert_error(
            400,
            "Invalid authentication: X-SOGS-Nonce must be 16 bytes (encoded as base64 or hex)",
        );
    // Row 7.
    send(with(
        good(now),
        "X-SOGS-Signature",
        &STANDARD.encode([1u8; 63]),
    ))
    .await
    .assert_error(
        400,
        "Invalid authentication: X-SOGS-Signature is not base64[88]",
    );
    // Row 8.
    send(with(good(now), "X-SOGS-Timestamp", "12.5"))
        .await
        .assert_error(
            400,
            "Invalid authentication: X-SOGS-Timestamp is not a valid timestamp",
        );
    // Row 9: ±86400 s inclusive. The server reads its clock in whole seconds, so a probe at
    // the window's edge counts only if the second did not change while it was in flight
    // (it did once under load: `now + 86_401` was accepted a second later); then it is sent
    // again, at the new second.
    let (setup, send, good) = (&s, &send, &good);
    let at_edge = move |offset: i64| async move {
        loop {
            let second = setup.now_s();
            let ts = second.checked_add_signed(offset).unwrap();
            let answer = send(good(ts)).await;
            if setup.now_s() == second {
                return answer;
            }
        }
    };
    at_edge(-86_401).await.assert_error(
        425,
        "Invalid authentication: X-SOGS-Timestamp is too far from current time",
    );
    at_edge(86_401).await.assert_error(
        425,
        "Invalid authentication: X-SOGS-Timestamp is too far from current time",
    );
    assert_eq!(at_edge(-86_400).await.code, 200);
    assert_eq!(at_edge(86_400).await.code, 200);
    // Row 10: a globally banned user (checked before the nonce and the signature, so even a
    // bad signature gets `Banned`).
    let banned = user();
    s.devnet
        .community()
        .set_global_ban(&banned.session_id().to_string(), true)
        .unwrap();
    let h = s.auth_headers(&banned, "GET", "/room/lobby", &[], now);
    send(with(
        h.clone(),
        "X-SOGS-Signature",
        &STANDARD.encode([1u8; 64]),
    ))
    .await
    .assert_error(403, "Banned");
    send(h).await.assert_error(403, "Banned");
    // Row 11: nonce reuse, even after a failed signature (the nonce is stored first).
    let h = good(now);
    assert_eq!(send(h.clone()).await.code, 200);
    send(h.clone())
        .await
        .assert_error(425, "Invalid authentication: X-SOGS-Nonce cannot be reused");
    let mut tampered = good(now);
    tampered.insert("X-SOGS-Timestamp".into(), (now - 1).to_string().into());
    send(tampered.clone()).await.assert_error(
        401,
        "Invalid authentication: X-SOGS-Signature verification failed",
    );
    send(tampered)
        .await
        .assert_error(425, "Invalid authentication: X-SOGS-Nonce cannot be reused");
    // Row 12: signed for another path.
    let other = s.auth_headers(&alice, "GET", "/room/other", &[], now);
    send(other).await.assert_error(
        401,
        "Invalid authentication: X-SOGS-Signature verification failed",
    );
    // Hex nonce and unpadded base64 are accepted.
    let auth = SogsAuth::sign(
        &alice,
        &s.server_pk,
        SogsKey::Blinded(Blind15Nonce::Desktop),
        "GET",
        "/room/lobby",
        &[],
        now,
        SogsNonce::from_bytes([9; 16]),
    )
    .unwrap();
    let h: Map<String, Value> = auth
        .headers()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v)))
        .collect();
    assert_eq!(
        send(with(h, "X-SOGS-Nonce", &hex::encode([9u8; 16])))
            .await
            .code,
        200
    );
    // Auth runs on public routes too when headers are present.
    s.raw(
        "GET",
        "/capabilities",
        with(good(now), "X-SOGS-Pubkey", "15abcd"),
        None,
        EncType::AesGcm,
    )
    .await
    .assert_error(
        400,
        "Invalid authentication: X-SOGS-Pubkey is not a valid 66-hex digit id",
    );
    // Garbage inside the onion: an encrypted 400 with the v4 text.
    s.raw("GET", "no-slash", Map::new(), None, EncType::AesGcm)
        .await
        .assert_error(400, "Invalid v4 onion request");
    s.devnet.shutdown().await;
}

/// Every request went through `/oxen/v4/lsrpc`, relayed by the path's last hop.
#[tokio::test]
async fn route_log_shows_onion_arrivals() {
    let s = Setup::new().await;
    let alice = user();
    s.call(Some(&alice), "GET", "/capabilities", None).await;
    s.call(
        None,
        "POST",
        "/batch",
        Some(json!([{"method": "GET", "path": "/room/lobby/pollInfo/0"}])),
    )
    .await;
    let log = s.devnet.community().routes();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].method, "GET /capabilities");
    assert_eq!(log[0].pubkeys, [s.blinded(&alice)]);
    assert_eq!(log[1].method, "POST /batch[GET /room/lobby/pollInfo/0]");
    for entry in &log {
        match &entry.arrival {
            Arrival::Onion { relay, .. } => assert_eq!(relay.as_deref(), Some(s.last_hop.as_str())),
            other => panic!("not an onion arrival: {other:?}"),
        }
    }
    // The control API serves the same log; the server answers nothing but `/oxen/v4/lsrpc`.
    let (status, v) = s
        .control(reqwest::Method::GET, "/community/routes", Value::Null)
        .await;
    assert_eq!(status, 200);
    assert_eq!(v[0]["via"], "onion");
    assert_eq!(v[0]["relay"], s.last_hop);
    let plain = s
        .http
        .get(format!("{}/room/lobby", s.devnet.community_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 404);
    s.devnet.shutdown().await;
}

/// The summary line carries the community entry with a working join URL.
#[tokio::test]
async fn summary_has_community_entry() {
    let s = Setup::new().await;
    let v = s.devnet.summary();
    let c = &v["community"];
    assert_eq!(c["url"], s.devnet.community_url());
    assert_eq!(c["pubkey_x25519"], hex::encode(s.devnet.community_x25519()));
    assert_eq!(c["default_room"], "lobby");
    let url =
        session_gateway::protocol::community::CommunityUrl::parse(c["join_url"].as_str().unwrap())
            .unwrap();
    assert_eq!(url.room(), "lobby");
    assert_eq!(url.server_pubkey().as_bytes(), &s.devnet.community_x25519());
    assert!(v["file_server"]["url"].is_string());
    s.devnet.shutdown().await;
}

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/communities.json")).unwrap()
}

fn sogs_request(
    method: &str,
    endpoint: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> SogsRequest {
    let headers = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    SogsRequest::new(method, endpoint, headers, body.to_vec()).unwrap()
}

/// §9.1 and §9.3 headers verify against the server's checks at their timestamp; the §9.3 post is
/// stored and served byte-identical; §9.2 Session IDs made moderators by `05` ID are recognised
/// when their owners authenticate blinded.
#[test]
fn vectors_and_global_ban() {
    let v = vectors();
    let hex32 = |s: &Value| -> [u8; 32] {
        hex::decode(s.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    // §9.1: desktop's blinded GET is accepted; its unblinded twin is refused (row 5).
    let x = &v["x_sogs"];
    let server = X25519PublicKey::from_bytes(hex32(&x["server_pk"]));
    let ts_ms = x["timestamp"].as_u64().unwrap() * 1000;
    let mut sogs = Sogs::new(server);
    sogs.create_room("the-best-room", "Best", None, ts_ms)
        .unwrap();
    for case in x["cases"].as_array().unwrap() {
        if case["body_utf8"] != Value::Null {
            continue;
        }
        let blinded = case["key"].as_str().unwrap().starts_with("blinded");
        let pk = if blinded {
            &x["blinded_pubkey"]
        } else {
            &x["unblinded_pubkey"]
        };
        let ts = case["timestamp"].to_string();
        let headers = [
            ("X-SOGS-Pubkey", pk.as_str().unwrap()),
            ("X-SOGS-Nonce", case["nonce"].as_str().unwrap()),
            ("X-SOGS-Timestamp", ts.as_str()),
            ("X-SOGS-Signature", case["signature"].as_str().unwrap()),
        ];
        let req = sogs_request("GET", case["endpoint"].as_str().unwrap(), &headers, &[]);
        // A fresh server per case: the cases share one nonce.
        let mut fresh = Sogs::new(server);
        fresh
            .create_room("the-best-room", "Best", None, ts_ms)
            .unwrap();
        let (resp, _) = fresh.handle(&req, ts_ms);
        if blinded {
            assert_eq!(
                resp.code,
                200,
                "{case}: {}",
                String::from_utf8_lossy(&resp.body)
            );
        } else {
            assert_eq!(resp.code, 400);
            assert_eq!(
                resp.body,
                b"Invalid authentication: this server requires the use of blinded ids"
            );
        }
    }
    // §9.3: the post's header signature verifies; the data comes back byte-identical.
    let p = &v["post"];
    let body = p["body"].as_str().unwrap().as_bytes();
    let ts = p["timestamp"].to_string();
    let headers = [
        ("X-SOGS-Pubkey", x["blinded_pubkey"].as_str().unwrap()),
        ("X-SOGS-Nonce", p["nonce"].as_str().unwrap()),
        ("X-SOGS-Timestamp", ts.as_str()),
        ("X-SOGS-Signature", p["header_signature"].as_str().unwrap()),
        ("Content-Type", "application/json"),
    ];
    let (resp, _) = sogs.handle(
        &sogs_request("POST", p["endpoint"].as_str().unwrap(), &headers, body),
        ts_ms,
    );
    assert_eq!(resp.code, 201, "{}", String::from_utf8_lossy(&resp.body));
    let stored: Value = serde_json::from_slice(&resp.body).unwrap();
    let sent: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(stored["data"], sent["data"]);
    assert_eq!(stored["signature"], sent["signature"]);
    assert_eq!(stored["session_id"], x["blinded_pubkey"]);
    // Same nonce again: row 11.
    let (resp, _) = sogs.handle(
        &sogs_request("POST", p["endpoint"].as_str().unwrap(), &headers, body),
        ts_ms,
    );
    assert_eq!(
        (resp.code, resp.body.as_slice()),
        (
            425,
            b"Invalid authentication: X-SOGS-Nonce cannot be reused".as_slice()
        )
    );

    // §9.2: moderators named by Session ID; their owners authenticate with the vector's
    // blinded ID and are recognised.
    for b in v["blinded_ids"].as_array().unwrap() {
        let server = X25519PublicKey::from_bytes(hex32(&b["server_pk"]));
        let mut sogs = Sogs::new(server);
        sogs.create_room("r", "R", None, 1_700_000_000_000).unwrap();
        let who = Identity::from_seed(Seed::from_bytes(hex32(&b["seed"])));
        // Three vectors carry the Session ID (§9.2); for the others it is the seed's.
        let session_id = who.session_id().to_string();
        if let Some(given) = b["session_id"].as_str() {
            assert_eq!(given, session_id);
        }
        let role = session_gateway::devnet::community::ModRole {
            admin: false,
            visible: true,
        };
        sogs.set_moderator("r", &session_id, Some(role)).unwrap();
        let auth = SogsAuth::sign(
            &who,
            &server,
            SogsKey::Blinded(Blind15Nonce::Desktop),
            "GET",
            "/room/r",
            &[],
            1_700_000_000,
            SogsNonce::random(&mut OsRng),
        )
        .unwrap();
        let pairs = auth.headers();
        assert_eq!(pairs[0].1, b["blinded_id"].as_str().unwrap());
        let headers: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (resp, handling) = sogs.handle(
            &sogs_request("GET", "/room/r", &headers, &[]),
            1_700_000_000_000,
        );
        assert_eq!(resp.code, 200);
        assert_eq!(handling.pubkey.as_deref(), b["blinded_id"].as_str());
        let info: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(info["moderator"], true, "{b}");
        assert_eq!(info["moderators"], json!([b["blinded_id"]]));
    }
}

proptest::proptest! {
    /// Junk requests (paths, headers, bodies, batches) get answers, never panics.
    #[test]
    fn junk_requests_get_answers(
        method in "(GET|POST|PUT|DELETE|PATCH)",
        path in "/[a-zA-Z0-9/%_.?=&-]{0,48}",
        pubkey in "[0-9a-f]{0,68}",
        sub_path in "/[a-z0-9/]{0,24}",
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..48),
    ) {
        let mut sogs = Sogs::new(X25519PublicKey::from_bytes([9; 32]));
        sogs.create_room("lobby", "Lobby", None, 1_000).unwrap();
        let headers = [("X-SOGS-Pubkey", pubkey.as_str()), ("Content-Type", "application/json")];
        if let Some(req) = SogsRequest::new(&method, &path, headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), body.clone()) {
            let (resp, _) = sogs.handle(&req, 1_000);
            proptest::prop_assert!(resp.code >= 200);
        }
        let batch = json!([{"method": method, "path": sub_path, "bytes": String::from_utf8_lossy(&body)}]).to_string();
        let req = sogs_request("POST", "/batch", &[("Content-Type", "application/json")], batch.as_bytes());
        let (resp, _) = sogs.handle(&req, 1_000);
        proptest::prop_assert!(resp.code == 200 || resp.code == 400);
    }
}
