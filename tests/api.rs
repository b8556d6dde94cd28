//! The REST API against a real gateway on port 0: accounts, phrases, scopes, error shapes,
//! messages and idempotency, operations endpoints.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

#[macro_use]
mod common;

use common::{spawn, ADMIN_KEY};
use serde_json::json;

const OTHER: &str = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";

fn assert_error(reply: &common::Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], code, "{}", reply.body);
    assert!(reply.body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

both_backends! {
    async fn accounts_crud_and_phrase_round_trip() {
        let mut gw = spawn().await;
        let created = gw
            .admin("POST", "/v1/accounts", Some(json!({"display_name": "Bot"})))
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let id = created.body["session_id"].as_str().unwrap().to_owned();
        let phrase = created.body["phrase"].as_str().unwrap().to_owned();
        assert_eq!(created.body["display_name"], "Bot");
        assert!(created.body["created_at"].as_i64().unwrap() > 0);

        // An empty body creates too.
        let bare = gw
            .client
            .post(format!("{}/v1/accounts", gw.base))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(bare.status(), 201);

        let got = gw.admin("GET", &format!("/v1/accounts/{id}"), None).await;
        assert_eq!(got.status, 200);
        assert!(
            got.body.get("phrase").is_none(),
            "the phrase is shown only once"
        );

        let list = gw.admin("GET", "/v1/accounts", None).await;
        assert_eq!(list.body["accounts"].as_array().unwrap().len(), 2);

        let exported = gw
            .admin("GET", &format!("/v1/accounts/{id}/phrase"), None)
            .await;
        assert_eq!(exported.body["phrase"], phrase.as_str());

        // Importing the same phrase names the same account: conflict here...
        let again = gw
            .admin("POST", "/v1/accounts", Some(json!({"phrase": phrase})))
            .await;
        assert_error(&again, 409, "already_exists");
        // ...and the same Session ID in a fresh gateway, without echoing the phrase.
        let other = spawn().await;
        let imported = other
            .admin("POST", "/v1/accounts", Some(json!({"phrase": phrase})))
            .await;
        assert_eq!(imported.status, 201);
        assert_eq!(imported.body["session_id"], id.as_str());
        assert!(imported.body.get("phrase").is_none());
        let bad_phrase = other
            .admin("POST", "/v1/accounts", Some(json!({"phrase": "one two"})))
            .await;
        assert_error(&bad_phrase, 400, "invalid_phrase");

        // Patch: rename, pause (emits account.status), clear the name.
        let patched = gw
            .admin(
                "PATCH",
                &format!("/v1/accounts/{id}"),
                Some(json!({"display_name": null, "status": "paused"})),
            )
            .await;
        assert_eq!(patched.status, 200, "{}", patched.body);
        assert_eq!(patched.body["status"], "paused");
        assert!(patched.body["display_name"].is_null());
        let events = gw.admin("GET", "/v1/events", None).await;
        assert_eq!(events.body["events"][0]["type"], "account.status");
        assert_eq!(events.body["events"][0]["account"], id.as_str());

        let deleted = gw
            .admin("DELETE", &format!("/v1/accounts/{id}"), None)
            .await;
        assert_eq!(deleted.status, 204);
        assert_error(
            &gw.admin("GET", &format!("/v1/accounts/{id}"), None).await,
            404,
            "not_found",
        );
        assert_error(
            &gw.admin("DELETE", &format!("/v1/accounts/{id}"), None)
                .await,
            404,
            "not_found",
        );
        gw.stop().await;
    }
}

both_backends! {
    async fn scoped_keys_cannot_touch_other_accounts() {
        let gw = spawn().await;
        let (mine, _) = gw.create_account().await;
        let (theirs, _) = gw.create_account().await;
        let key = gw
            .admin("POST", "/v1/api-keys", Some(json!({"scopes": [format!("accounts:{mine}:read"), format!("accounts:{mine}:send")]})))
            .await;
        assert_eq!(key.status, 201, "{}", key.body);
        let secret = key.body["key"].as_str().unwrap().to_owned();
        let key_id = key.body["id"].as_str().unwrap().to_owned();
        let k = Some(secret.as_str());

        assert_eq!(
            gw.call("GET", &format!("/v1/accounts/{mine}"), k, None)
                .await
                .status,
            200
        );
        let send = gw
            .call(
                "POST",
                &format!("/v1/accounts/{mine}/messages"),
                k,
                Some(json!({"to": theirs, "text": "hi"})),
            )
            .await;
        assert_eq!(send.status, 202);
        for (method, path, body) in [
            ("GET", format!("/v1/accounts/{theirs}"), None),
            ("GET", format!("/v1/accounts/{theirs}/messages"), None),
            ("GET", format!("/v1/accounts/{theirs}/conversations"), None),
            (
                "POST",
                format!("/v1/accounts/{theirs}/messages"),
                Some(json!({"to": mine, "text": "x"})),
            ),
            ("GET", format!("/v1/accounts/{mine}/phrase"), None),
            ("DELETE", format!("/v1/accounts/{mine}"), None),
            ("POST", "/v1/accounts".to_owned(), Some(json!({}))),
            ("GET", "/v1/webhooks".to_owned(), None),
            (
                "POST",
                "/v1/api-keys".to_owned(),
                Some(json!({"scopes": ["admin"]})),
            ),
            ("GET", format!("/v1/events?account={theirs}"), None),
            ("GET", "/v1/events".to_owned(), None),
        ] {
            let reply = gw.call(method, &path, k, body).await;
            assert_error(&reply, 403, "forbidden");
        }
        // The list shows only what the key may read.
        let list = gw.call("GET", "/v1/accounts", k, None).await;
        let ids: Vec<_> = list.body["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["session_id"].clone())
            .collect();
        assert_eq!(ids, vec![json!(mine)]);

        // Unknown, malformed and revoked keys are 401.
        assert_error(
            &gw.call("GET", "/v1/accounts", None, None).await,
            401,
            "unauthorized",
        );
        assert_error(
            &gw.call("GET", "/v1/accounts", Some("nope"), None).await,
            401,
            "unauthorized",
        );
        let forged = format!("sgk_{key_id}_AAAA");
        assert_error(
            &gw.call("GET", "/v1/accounts", Some(&forged), None).await,
            401,
            "unauthorized",
        );
        assert_eq!(
            gw.admin("DELETE", &format!("/v1/api-keys/{key_id}"), None)
                .await
                .status,
            204
        );
        assert_error(
            &gw.call("GET", "/v1/accounts", k, None).await,
            401,
            "unauthorized",
        );

        // Bad scopes are rejected with a clear code.
        let bad = gw
            .admin(
                "POST",
                "/v1/api-keys",
                Some(json!({"scopes": ["accounts:05zz:read"]})),
            )
            .await;
        assert_error(&bad, 400, "invalid_scope");
    }
}

both_backends! {
    async fn bad_input_gets_clear_4xx_errors() {
        let gw = spawn().await;
        let (id, _) = gw.create_account().await;
        let url = |p: &str| format!("{}{}", gw.base, p);
        let raw = |method: reqwest::Method, path: &str, ctype: &str, body: Vec<u8>| {
            gw.client
                .request(method, url(path))
                .bearer_auth(ADMIN_KEY)
                .header("content-type", ctype)
                .body(body)
        };
        let msgs = format!("/v1/accounts/{id}/messages");

        let r = common::into_reply(
            raw(
                reqwest::Method::POST,
                &msgs,
                "application/json",
                b"{not json".to_vec(),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_error(&r, 400, "invalid_json");
        let r = gw
            .admin(
                "POST",
                &msgs,
                Some(json!({"to": OTHER, "text": "x", "extra": 1})),
            )
            .await;
        assert_error(&r, 400, "invalid_json");
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field"));
        let r = gw
            .admin("POST", "/v1/accounts", Some(json!({"nickname": "x"})))
            .await;
        assert_error(&r, 400, "invalid_json");
        let r = gw
            .admin("POST", &msgs, Some(json!({"to": "05abc", "text": "x"})))
            .await;
        assert_error(&r, 400, "invalid_session_id");
        let r = gw
            .admin("POST", &msgs, Some(json!({"to": OTHER, "text": ""})))
            .await;
        assert_error(&r, 400, "invalid_text");
        let r = gw
            .admin(
                "POST",
                &msgs,
                Some(json!({"to": OTHER, "text": "x".repeat(2001)})),
            )
            .await;
        assert_error(&r, 400, "invalid_text");
        let r = gw.admin("GET", "/v1/accounts/not-a-session-id", None).await;
        assert_error(&r, 400, "invalid_session_id");
        let r = gw
            .admin(
                "GET",
                &format!("/v1/accounts/{}", OTHER.to_uppercase()),
                None,
            )
            .await;
        assert_error(&r, 400, "invalid_session_id");
        let r = gw
            .admin("GET", &format!("/v1/accounts/{OTHER}"), None)
            .await;
        assert_error(&r, 404, "not_found");
        let r = common::into_reply(
            raw(reqwest::Method::POST, &msgs, "text/plain", b"{}".to_vec())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error(&r, 415, "unsupported_media_type");
        let r = common::into_reply(
            raw(
                reqwest::Method::POST,
                "/v1/accounts",
                "text/plain",
                b"{}".to_vec(),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_error(&r, 415, "unsupported_media_type");
        let huge = format!("{{\"to\":\"{OTHER}\",\"text\":\"{}\"}}", "x".repeat(20_000));
        let r = common::into_reply(
            raw(
                reqwest::Method::POST,
                &msgs,
                "application/json",
                huge.clone().into_bytes(),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_error(&r, 413, "payload_too_large");
        let r = common::into_reply(
            raw(
                reqwest::Method::POST,
                "/v1/accounts",
                "application/json",
                huge.into_bytes(),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_error(&r, 413, "payload_too_large");
        let r = gw.admin("GET", &format!("{msgs}?limit=0"), None).await;
        assert_error(&r, 400, "invalid_query");
        let r = gw.admin("GET", &format!("{msgs}?limit=abc"), None).await;
        assert_error(&r, 400, "invalid_query");
        let r = gw.admin("GET", &format!("{msgs}?colour=red"), None).await;
        assert_error(&r, 400, "invalid_query");
        let r = gw.admin("GET", "/v1/events?wait=100000", None).await;
        assert_error(&r, 400, "invalid_query");
        let r = gw.admin("GET", "/v1/nowhere", None).await;
        assert_error(&r, 404, "not_found");
        let r = gw
            .admin("POST", "/v1/webhooks", Some(json!({"url": "ftp://x"})))
            .await;
        assert_error(&r, 400, "invalid_url");
        let r = gw
            .admin(
                "POST",
                "/v1/webhooks",
                Some(json!({"url": "http://x", "events": ["message.exploded"]})),
            )
            .await;
        assert_error(&r, 400, "invalid_event_type");
        let r = gw
            .admin(
                "POST",
                "/v1/webhooks",
                Some(json!({"url": "http://x", "secret": "hunter2"})),
            )
            .await;
        assert_error(&r, 400, "invalid_secret");
    }
}

both_backends! {
    async fn sending_is_queued_idempotent_and_listed_newest_first() {
        let gw = spawn().await;
        let (id, _) = gw.create_account().await;
        let msgs = format!("{}/v1/accounts/{id}/messages", gw.base);
        let send = |key: &'static str, text: &'static str| {
            gw.client
                .post(&msgs)
                .bearer_auth(ADMIN_KEY)
                .header("Idempotency-Key", key)
                .json(&json!({"to": OTHER, "text": text}))
                .send()
        };
        let first = common::into_reply(send("k-1", "hello").await.unwrap()).await;
        assert_eq!(first.status, 202, "{}", first.body);
        assert_eq!(first.body["status"], "queued");
        let repeat = common::into_reply(send("k-1", "hello").await.unwrap()).await;
        assert_eq!(repeat.status, 202);
        assert_eq!(
            repeat.body["id"], first.body["id"],
            "same key, same message"
        );
        let conflict = common::into_reply(send("k-1", "something else").await.unwrap()).await;
        assert_error(&conflict, 409, "idempotency_conflict");

        for i in 0..5 {
            let r = gw
                .admin(
                    "POST",
                    &format!("/v1/accounts/{id}/messages"),
                    Some(json!({"to": OTHER, "text": format!("m{i}")})),
                )
                .await;
            assert_eq!(r.status, 202);
        }
        let page = gw
            .admin("GET", &format!("/v1/accounts/{id}/messages?limit=3"), None)
            .await;
        let texts: Vec<_> = page.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(texts, ["m4", "m3", "m2"]);
        let last = page.body["messages"][2]["id"].as_str().unwrap();
        let next = gw
            .admin(
                "GET",
                &format!("/v1/accounts/{id}/messages?limit=10&before={last}&with={OTHER}"),
                None,
            )
            .await;
        let texts: Vec<_> = next.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(texts, ["m1", "m0", "hello"]);
        let one = gw
            .admin(
                "GET",
                &format!(
                    "/v1/accounts/{id}/messages/{}",
                    first.body["id"].as_str().unwrap()
                ),
                None,
            )
            .await;
        assert_eq!(one.body["from"], id.as_str());
        assert_eq!(one.body["to"], OTHER);
        assert_eq!(one.body["conversation"], OTHER);
        assert_eq!(
            one.body["status"], "queued",
            "nothing is sent until the network half exists"
        );
        let convs = gw
            .admin("GET", &format!("/v1/accounts/{id}/conversations"), None)
            .await;
        assert_eq!(convs.body["conversations"].as_array().unwrap().len(), 1);
        assert_eq!(convs.body["conversations"][0]["peer"], OTHER);
        // A well-formed id of no message is 404; a malformed one 400 (issue 15's contract).
        let none = gw
            .admin("GET", &format!("/v1/accounts/{id}/messages/msg_{}", "0".repeat(32)), None)
            .await;
        assert_error(&none, 404, "not_found");
        let malformed = gw
            .admin("GET", &format!("/v1/accounts/{id}/messages/msg_nope"), None)
            .await;
        assert_error(&malformed, 400, "invalid_id");
        // Sending from an account that does not exist.
        let r = gw
            .admin(
                "POST",
                &format!("/v1/accounts/{OTHER}/messages"),
                Some(json!({"to": id, "text": "x"})),
            )
            .await;
        assert_error(&r, 404, "not_found");
    }
}

both_backends! {
    async fn operations_endpoints() {
        let gw = spawn().await;
        let health = gw.call("GET", "/healthz", None, None).await;
        assert_eq!(health.status, 200);
        assert_eq!(health.body["status"], "ok");
        let ready = gw.call("GET", "/readyz", None, None).await;
        assert_eq!(ready.status, 200);
        assert_eq!(ready.body["database"], true);
        gw.create_account().await;
        let metrics = gw
            .client
            .get(format!("{}/metrics", gw.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("session_gateway_accounts{status=\"active\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("session_gateway_http_requests_total"),
            "{metrics}"
        );
        let doc = gw.call("GET", "/openapi.json", None, None).await;
        assert_eq!(doc.status, 200);
        // Swagger UI, served from the binary, pointed at the same document.
        let ui = gw.client.get(format!("{}/docs/", gw.base)).send().await.unwrap();
        assert_eq!(ui.status(), 200);
        assert!(ui.text().await.unwrap().contains("swagger-ui"));
        let init = gw
            .client
            .get(format!("{}/docs/swagger-initializer.js", gw.base))
            .send()
            .await
            .unwrap();
        assert_eq!(init.status(), 200);
        assert!(init.text().await.unwrap().contains("/openapi.json"));
        let paths = doc.body["paths"].as_object().unwrap();
        for path in [
            "/v1/accounts",
            "/v1/accounts/{session_id}",
            "/v1/accounts/{session_id}/phrase",
            "/v1/accounts/{session_id}/messages",
            "/v1/accounts/{session_id}/messages/{id}",
            "/v1/accounts/{session_id}/conversations",
            "/v1/webhooks",
            "/v1/webhooks/{id}",
            "/v1/webhooks/{id}/rotate-secret",
            "/v1/webhooks/{id}/deliveries",
            "/v1/webhooks/{id}/replay",
            "/v1/events",
            "/v1/api-keys",
            "/v1/api-keys/{id}",
            "/healthz",
            "/readyz",
            "/metrics",
        ] {
            assert!(
                paths.contains_key(path),
                "openapi.json lacks {path}: {:?}",
                paths.keys()
            );
        }
        // The chat routes (issue 5), with their methods.
        for (path, method) in [
            ("/v1/accounts/{session_id}/messages/{id}/reactions", "post"),
            (
                "/v1/accounts/{session_id}/messages/{id}/reactions/{emoji}",
                "delete",
            ),
            ("/v1/accounts/{session_id}/messages/{id}", "delete"),
            ("/v1/accounts/{session_id}/conversations/{peer}/read", "post"),
            ("/v1/accounts/{session_id}/conversations/{peer}/typing", "post"),
            ("/v1/accounts/{session_id}/conversations/{peer}/accept", "post"),
            ("/v1/accounts/{session_id}/conversations/{peer}/decline", "post"),
            ("/v1/accounts/{session_id}/conversations/{peer}", "get"),
            ("/v1/accounts/{session_id}/conversations/{peer}", "patch"),
        ] {
            assert!(
                paths
                    .get(path)
                    .is_some_and(|p| p.get(method).is_some()),
                "openapi.json lacks {method} {path}"
            );
        }
        assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
    }

    async fn conversation_paths_accept_groups_and_communities_but_do_not_serve_them_yet() {
        let gw = spawn().await;
        let created = gw
            .admin("POST", "/v1/accounts", Some(json!({})))
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let id = created.body["session_id"].as_str().unwrap().to_owned();
        let group = format!("03{}", "a".repeat(64));
        let room = "https%3A%2F%2Fopen.example.org%2Flobby";
        for conversation in [group.as_str(), room] {
            let path = format!("/v1/accounts/{id}/conversations/{conversation}");
            let r = gw.admin("GET", &path, None).await;
            assert_error(&r, 422, "unsupported_conversation");
            let r = gw
                .admin("POST", &format!("{path}/typing"), Some(json!({"typing": true})))
                .await;
            assert_error(&r, 422, "unsupported_conversation");
            // The account is checked first: an unknown one is still a 404.
            let r = gw
                .admin(
                    "GET",
                    &format!("/v1/accounts/{OTHER}/conversations/{conversation}"),
                    None,
                )
                .await;
            assert_error(&r, 404, "not_found");
        }
        // Junk is still an invalid Session ID; a 1:1 peer is served as before.
        let r = gw
            .admin("GET", &format!("/v1/accounts/{id}/conversations/03abc"), None)
            .await;
        assert_error(&r, 400, "invalid_session_id");
        let r = gw
            .admin("GET", &format!("/v1/accounts/{id}/conversations/{OTHER}"), None)
            .await;
        assert_ne!(r.status, 422, "{}", r.body);
        assert_ne!(r.status, 400, "{}", r.body);
    }
}
