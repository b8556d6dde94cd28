//! Attachments and avatars through the gateway (issue 5; messages.md §4, §5), against the
//! in-process devnet: files sent as JSON base64 and as multipart arrive as events with their
//! metadata and download URL and come back byte-identical; 9.9 MB round-trips; 10,000,001
//! bytes is a 413 before anything is stored or uploaded; a tampered blob is rejected with an
//! `attachment.failed` event naming the reason (a network failure is fetched again on
//! request); an avatar set on A is served to B.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod common;
mod gateway_support;
mod netsupport;

use base64::Engine as _;
use common::{Mode, Received, Receiver};
use gateway_support as gs;
use serde_json::{json, Value};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Deterministic, incompressible-looking test bytes.
fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

/// Deliveries of `event_type`.
fn of_type<'a>(deliveries: &'a [Received], event_type: &str) -> Vec<&'a Value> {
    deliveries
        .iter()
        .filter(|d| d.json["type"] == event_type)
        .map(|d| &d.json)
        .collect()
}

/// Waits until the receiver holds an event of `event_type` for `account`; returns its data.
async fn wait_event(receiver: &Receiver, account: &str, event_type: &str, secs: u64) -> Value {
    common::eventually(secs, event_type, || async {
        of_type(&receiver.received(), event_type)
            .into_iter()
            .find(|e| e["account"] == account)
            .map(|e| e["data"].clone())
    })
    .await
}

async fn send_json(gw: &gs::Gw, from: &str, body: Value) -> common::Reply {
    gw.admin("POST", &format!("/v1/accounts/{from}/messages"), Some(body))
        .await
}

/// A `multipart/form-data` body: the `json` part, then one part per file.
fn multipart(json: &Value, files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "gateway-test-boundary-7d1f";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"json\"\r\n\
             Content-Type: application/json\r\n\r\n{json}\r\n"
        )
        .as_bytes(),
    );
    for (i, (name, content_type, data)) in files.iter().enumerate() {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file{i}\"; \
                 filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn send_multipart(
    gw: &gs::Gw,
    from: &str,
    content_type: String,
    body: Vec<u8>,
) -> common::Reply {
    let response = gw
        .client
        .post(format!("{}/v1/accounts/{from}/messages", gw.base))
        .bearer_auth(common::ADMIN_KEY)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    common::into_reply(response).await
}

async fn download(gw: &gs::Gw, path: &str) -> reqwest::Response {
    gw.client
        .get(format!("{}{path}", gw.base))
        .bearer_auth(common::ADMIN_KEY)
        .send()
        .await
        .unwrap()
}

const EVENTS: [&str; 3] = [
    "message.received",
    "attachment.available",
    "attachment.failed",
];

/// A webhook receiver subscribed to [`EVENTS`] and two fresh accounts, A and B.
async fn two_accounts(gw: &gs::Gw) -> (Receiver, String, String) {
    let receiver = Receiver::start(Mode::Up).await;
    gw.webhook(&receiver.url, &EVENTS).await;
    let a = gw.create_account().await;
    let b = gw.create_account().await;
    (receiver, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_round_trip_both_ways_json_and_multipart() {
    let (devnet, _dir, mut gw) = gs::chat::on_devnet().await;
    let (receiver, a, b) = two_accounts(&gw).await;

    // A → B: JSON, text plus one file.
    let photo = bytes(70_000, 1);
    let reply = send_json(
        &gw,
        &a,
        json!({"to": b, "text": "see attached", "attachments": [
            {"content_type": "image/png", "file_name": "cat.png", "data_base64": B64.encode(&photo)}
        ]}),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let received = wait_event(&receiver, &b, "message.received", 60).await;
    assert_eq!(received["text"], "see attached");
    let meta = &received["attachments"][0];
    assert_eq!(meta["content_type"], "image/png");
    assert_eq!(meta["file_name"], "cat.png");
    assert_eq!(meta["size"], photo.len());
    let url = meta["url"].as_str().unwrap().to_owned();
    assert_eq!(
        url,
        format!(
            "/v1/accounts/{b}/attachments/{}",
            meta["id"].as_str().unwrap()
        )
    );
    let available = wait_event(&receiver, &b, "attachment.available", 60).await;
    assert_eq!(available["id"], meta["id"]);
    assert_eq!(available["status"], "available");
    let response = download(&gw, &url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.contains("cat.png"), "{disposition}");
    assert_eq!(response.bytes().await.unwrap().as_ref(), photo.as_slice());

    // The sender's history shows the file as uploaded, and the message as sent.
    let history = gw.history(&a).await;
    let sent = history
        .iter()
        .find(|m| m["direction"] == "outgoing")
        .unwrap();
    assert_eq!(sent["status"], "sent");
    assert_eq!(sent["attachments"][0]["status"], "uploaded");

    // B → A: multipart, no text, one file.
    let doc = bytes(5_000, 2);
    let (content_type, body) = multipart(&json!({"to": a}), &[("notes.txt", "text/plain", &doc)]);
    let reply = send_multipart(&gw, &b, content_type, body).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let received = wait_event(&receiver, &a, "message.received", 60).await;
    assert_eq!(received["text"], "");
    let meta = &received["attachments"][0];
    assert_eq!(meta["content_type"], "text/plain");
    assert_eq!(meta["file_name"], "notes.txt");
    wait_event(&receiver, &a, "attachment.available", 60).await;
    let response = download(&gw, meta["url"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), doc.as_slice());

    // Unknown ids are 404; malformed ones 400 (issue 15's contract).
    let unknown = format!("att_{}", "0".repeat(32));
    let response = download(&gw, &format!("/v1/accounts/{a}/attachments/{unknown}")).await;
    assert_eq!(response.status(), 404);
    let response = download(&gw, &format!("/v1/accounts/{a}/attachments/att_nope")).await;
    assert_eq!(response.status(), 400);

    // The new routes are in the OpenAPI document.
    let doc: Value = download(&gw, "/openapi.json").await.json().await.unwrap();
    for path in [
        "/v1/accounts/{session_id}/attachments/{id}",
        "/v1/accounts/{session_id}/conversations/{peer}/avatar",
    ] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} missing");
    }
    let send = &doc["paths"]["/v1/accounts/{session_id}/messages"]["post"];
    assert!(send["requestBody"]["content"]["multipart/form-data"].is_object());
    assert!(send["responses"]["413"].is_object());
    gw.stop().await;
    devnet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_limit_is_enforced_before_upload_and_9_9_mb_round_trips() {
    let (devnet, _dir, mut gw) = gs::chat::on_devnet().await;
    let (receiver, a, b) = two_accounts(&gw).await;

    // 10,000,001 bytes: 413 attachment_too_large, as JSON and as multipart; nothing stored or
    // uploaded.
    let over = bytes(10_000_001, 3);
    let reply = send_json(
        &gw,
        &a,
        json!({"to": b, "attachments": [
            {"content_type": "application/octet-stream", "data_base64": B64.encode(&over)}
        ]}),
    )
    .await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], "attachment_too_large");
    let (content_type, body) = multipart(
        &json!({"to": b}),
        &[("big.bin", "application/octet-stream", &over)],
    );
    let reply = send_multipart(&gw, &a, content_type, body).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], "attachment_too_large");
    // A body far over every limit is a clean 413 too, not a reset.
    let huge = vec![b'x'; 20 * 1024 * 1024];
    let response = gw
        .client
        .post(format!("{}/v1/accounts/{a}/messages", gw.base))
        .bearer_auth(common::ADMIN_KEY)
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(gw.history(&a).await.is_empty());
    assert_eq!(devnet.file_server().uploads(), 0);

    // 9.9 MB: padded to 10,000,000 and encrypted to 10,000,064 bytes, which the file server
    // takes (its limit applies to the uploaded body); arrives intact.
    let big = bytes(9_900_000, 4);
    let started = std::time::Instant::now();
    let reply = send_json(
        &gw,
        &a,
        json!({"to": b, "attachments": [
            {"content_type": "video/mp4", "file_name": "clip.mp4", "data_base64": B64.encode(&big)}
        ]}),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let available = wait_event(&receiver, &b, "attachment.available", 120).await;
    eprintln!(
        "9.9 MB: API accept → upload → send → poll → download → verified in {:?} ({} upload(s))",
        started.elapsed(),
        devnet.file_server().uploads()
    );
    assert_eq!(available["size"], big.len());
    let response = download(&gw, available["url"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.unwrap().as_ref() == big.as_slice());
    // Uploaded at least once (a lost upload answer under load means one more upload; a
    // recorded upload is never repeated), and delivered once.
    assert!(devnet.file_server().uploads() >= 1);
    let incoming = gw.history(&b).await;
    assert_eq!(incoming.len(), 1, "{incoming:?}");
    gw.stop().await;
    devnet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_attachment_is_rejected_with_the_reason() {
    let (devnet, _dir, mut gw) = gs::chat::on_devnet().await;
    let (receiver, a, b) = two_accounts(&gw).await;

    devnet.file_server().set_tamper_downloads(true);
    let reply = send_json(
        &gw,
        &a,
        json!({"to": b, "text": "evil", "attachments": [
            {"content_type": "application/pdf", "data_base64": B64.encode(bytes(3_000, 5))}
        ]}),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let failed = wait_event(&receiver, &b, "attachment.failed", 60).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["failure_reason"], "tampered: bad hmac");
    let response = download(&gw, failed["url"].as_str().unwrap()).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "attachment_rejected");
    assert_eq!(body["error"]["message"], "tampered: bad hmac");
    // Exactly one download: tampering is a verdict, not network weather.
    assert!(of_type(&receiver.received(), "attachment.available").is_empty());
    gw.stop().await;
    devnet.shutdown().await;
}

/// A download that failed for network reasons (the file server answered 503 through every
/// retry) is not a verdict: the next `GET` queues the fetch again and answers 409
/// `attachment_pending`, and once the file server is back the attachment becomes available.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_failed_by_the_network_is_fetched_again_on_request() {
    let (devnet, _dir, mut gw) = gs::chat::on_devnet().await;
    let (receiver, a, b) = two_accounts(&gw).await;

    devnet.file_server().set_refuse_downloads(true);
    let data = bytes(2_000, 9);
    let body = json!({"to": b, "text": "later", "attachments": [
        {"content_type": "application/pdf", "data_base64": B64.encode(&data)}
    ]});
    let reply = send_json(&gw, &a, body).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let failed = wait_event(&receiver, &b, "attachment.failed", 60).await;
    let reason = failed["failure_reason"].as_str().unwrap();
    assert!(reason.starts_with("network: "), "{reason}");

    devnet.file_server().set_refuse_downloads(false);
    let url = failed["url"].as_str().unwrap();
    let response = download(&gw, url).await;
    assert_eq!(response.status(), 409);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "attachment_pending");
    let available = wait_event(&receiver, &b, "attachment.available", 60).await;
    assert_eq!(available["id"], failed["id"]);
    let response = download(&gw, url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), data.as_slice());
    gw.stop().await;
    devnet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_failed_by_the_network_is_fetched_again_later_by_itself() {
    let (devnet, _dir, mut gw) =
        gs::chat::on_devnet_with(|s| s.polling.attachment_retry_ms = 300).await;
    let (receiver, a, b) = two_accounts(&gw).await;

    devnet.file_server().set_refuse_downloads(true);
    let data = bytes(3_000, 4);
    let body = json!({"to": b, "text": "retry me", "attachments": [
        {"content_type": "image/png", "data_base64": B64.encode(&data)}
    ]});
    let reply = send_json(&gw, &a, body).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let failed = wait_event(&receiver, &b, "attachment.failed", 60).await;
    assert!(failed["failure_reason"]
        .as_str()
        .unwrap()
        .starts_with("network: "));

    // Nobody asks for it: the refetcher queues it again once the file server answers.
    devnet.file_server().set_refuse_downloads(false);
    let available = wait_event(&receiver, &b, "attachment.available", 60).await;
    assert_eq!(available["id"], failed["id"]);
    let response = download(&gw, failed["url"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), data.as_slice());
    gw.stop().await;
    devnet.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatar_set_on_a_is_served_to_b() {
    let (devnet, _dir, mut gw) = gs::chat::on_devnet().await;
    let (receiver, a, b) = two_accounts(&gw).await;

    let image = bytes(40_000, 6);
    let reply = gw
        .admin(
            "PATCH",
            &format!("/v1/accounts/{a}"),
            Some(json!({"display_name": "Alice", "avatar_base64": B64.encode(&image)})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(devnet.file_server().uploads(), 1);
    let avatar = format!("/v1/accounts/{b}/conversations/{a}/avatar");
    assert_eq!(download(&gw, &avatar).await.status(), 404);

    gw.send(&a, &b, "hello with a face").await;
    wait_event(&receiver, &b, "message.received", 60).await;
    let conversations = gw
        .admin("GET", &format!("/v1/accounts/{b}/conversations"), None)
        .await;
    assert_eq!(conversations.body["conversations"][0]["peer"], a.as_str());
    assert_eq!(
        conversations.body["conversations"][0]["avatar"],
        avatar.as_str()
    );
    // One profile object on the conversation: the file-server URL and our download path.
    let conversation = gw
        .admin("GET", &format!("/v1/accounts/{b}/conversations/{a}"), None)
        .await;
    let profile = &conversation.body["profile"];
    assert_eq!(profile["display_name"], "Alice");
    assert_eq!(profile["avatar"], avatar.as_str());
    assert!(profile["avatar_url"].as_str().unwrap().contains("/file/"));
    let response = download(&gw, &avatar).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), image.as_slice());
    // Served from the cache the second time (no second download needed, same bytes).
    let again = download(&gw, &avatar).await.bytes().await.unwrap();
    assert_eq!(again.as_ref(), image.as_slice());

    // Removing it: null is accepted.
    let reply = gw
        .admin(
            "PATCH",
            &format!("/v1/accounts/{a}"),
            Some(json!({"avatar_base64": null})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    gw.stop().await;
    devnet.shutdown().await;
}

/// A raw client (a Desktop-like sender: its own keys and network client) uploads a legacy blob
/// and sends two pointers to it: one correct, one whose digest is wrong. The gateway accepts
/// the first and rejects the second with `tampered: digest mismatch`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_client_pointer_with_a_wrong_digest_is_rejected() {
    use session_gateway::actors::keys::AccountKeys;
    use session_gateway::actors::outgoing::{seal_data_message, DM_TTL_MS};
    use session_gateway::ids::SessionIdText;
    use session_gateway::protocol::attachment::encrypt_attachment;
    use session_gateway::protocol::chat::pointer::{AttachmentInfo, AttachmentMeta};
    use session_gateway::protocol::protos::DataMessage;
    use session_gateway::protocol::storage::{AccountId, Namespace};

    let (devnet, _dir, mut gw) = gs::chat::on_devnet().await;
    let receiver = Receiver::start(Mode::Up).await;
    gw.webhook(&receiver.url, &EVENTS).await;
    let b = gw.create_account().await;

    // The sender: keys that never touch the gateway.
    let sender = netsupport::identity();
    let id = SessionIdText::parse(&sender.session_id().to_string()).unwrap();
    let entropy = sender.recovery_phrase().unwrap().entropy().to_vec();
    let keys = AccountKeys::from_stored_seed(&id, &entropy).unwrap();
    let client = gs::network(&devnet);
    let plain = bytes(2_000, 7);
    let encrypted = encrypt_attachment(&plain, &mut rand::rngs::OsRng).unwrap();
    let uploaded = client.upload_file(encrypted.blob.clone()).await.unwrap();
    let meta = AttachmentMeta {
        content_type: Some("image/jpeg".into()),
        file_name: Some("ok.jpg".into()),
        ..AttachmentMeta::default()
    };
    let good = AttachmentInfo::from_upload(&uploaded.url, &encrypted, meta.clone());
    let mut bad = AttachmentInfo::from_upload(&uploaded.url, &encrypted, meta);
    bad.digest = Some([0u8; 32]);
    let data = DataMessage {
        body: Some("two pointers".into()),
        attachments: vec![good.to_pointer(), bad.to_pointer()],
        ..DataMessage::default()
    };
    let to: session_gateway::protocol::keys::SessionId = b.parse().unwrap();
    let payload = seal_data_message(&keys, &to, data, 1_700_000_000_000, None, "raw-1").unwrap();
    client
        .store(
            &AccountId::from_hex(&b).unwrap(),
            Namespace(0),
            &payload,
            DM_TTL_MS,
            None,
        )
        .await
        .unwrap();

    let received = wait_event(&receiver, &b, "message.received", 60).await;
    assert_eq!(received["attachments"].as_array().unwrap().len(), 2);
    let available = wait_event(&receiver, &b, "attachment.available", 60).await;
    let failed = wait_event(&receiver, &b, "attachment.failed", 60).await;
    assert_eq!(available["id"], received["attachments"][0]["id"]);
    assert_eq!(failed["id"], received["attachments"][1]["id"]);
    assert_eq!(failed["failure_reason"], "tampered: digest mismatch");
    let response = download(&gw, available["url"].as_str().unwrap()).await;
    assert_eq!(response.bytes().await.unwrap().as_ref(), plain.as_slice());
    gw.stop().await;
    devnet.shutdown().await;
}
