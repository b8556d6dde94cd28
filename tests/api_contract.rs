//! The exact contract (issue 15): what `/openapi.json` promises is what the router answers.
//!
//! Expectations come from the generated document and from the answers of the running router,
//! never from a copy of the document: every operation is probed (no key, a key without the
//! scope, each path parameter malformed, a body of the wrong type or over the size limit, a
//! key over its rate) and every status it answers must be documented for it, with the error
//! body; every path answers a method it does not serve with 405 and an `Allow` header listing
//! exactly the document's methods; every path parameter has a pattern its example matches;
//! and the links of the creating operations lead to their items.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

mod common;

use std::collections::BTreeSet;

use common::{spawn, spawn_with, TestGateway, ADMIN_KEY};
use serde_json::{json, Value};

/// Methods an API path may be asked with (schemathesis sends these, QUERY included).
const METHODS: [&str; 8] = [
    "GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "TRACE", "QUERY",
];

async fn document(gw: &TestGateway) -> Value {
    let doc = gw.call("GET", "/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    doc.body
}

/// `schema`, following one `$ref` into the components.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.strip_prefix("#/components/schemas/").unwrap();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Percent-encodes everything but unreserved characters (a path segment).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The operations of the document: (method, path template, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    out
}

/// The path with each parameter filled in: `value(name, example)` chooses the text.
fn fill(doc: &Value, path: &str, op: &Value, value: impl Fn(&str, &str) -> String) -> String {
    let mut filled = path.to_owned();
    for param in op["parameters"].as_array().into_iter().flatten() {
        if param["in"] != "path" {
            continue;
        }
        let name = param["name"].as_str().unwrap();
        let schema = resolve(doc, &param["schema"]);
        let example = schema["examples"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: {name} has no example"));
        filled = filled.replace(&format!("{{{name}}}"), &encode(&value(name, example)));
    }
    filled
}

fn documented(op: &Value) -> BTreeSet<u16> {
    op["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(|s| s.parse().unwrap())
        .collect()
}

fn allow_of(response: &reqwest::Response) -> BTreeSet<String> {
    response
        .headers()
        .get("allow")
        .map(|v| {
            v.to_str()
                .unwrap()
                .split(',')
                .map(|m| m.trim().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn send(
    gw: &TestGateway,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> reqwest::Response {
    let mut req = gw.client.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{}{}", gw.base, path),
    );
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    if let Some((content_type, bytes)) = body {
        req = req.header("content-type", content_type).body(bytes);
    }
    req.send().await.unwrap()
}

/// Sends a request and checks its status is one `op` documents, with the error body for
/// errors. Returns the status.
async fn probe(
    gw: &TestGateway,
    what: &str,
    (method, path, op): (&str, &str, &Value),
    key: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> u16 {
    let response = send(gw, method, path, key, body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert!(
        documented(op).contains(&status),
        "{what}: {method} {path} answered {status}, documented {:?}: {text}",
        documented(op)
    );
    if status >= 400 {
        let body: Value = serde_json::from_str(&text).unwrap_or_default();
        assert!(
            body["error"]["code"].is_string() && body["error"]["message"].is_string(),
            "{what}: {method} {path} {status}: {text}"
        );
    }
    status
}

#[tokio::test]
async fn every_path_answers_a_method_it_does_not_serve_with_405_and_allow() {
    let gw = spawn().await;
    let doc = document(&gw).await;
    let mut probed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let declared: BTreeSet<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        let (_, op) = item.as_object().unwrap().iter().next().unwrap();
        let concrete = fill(&doc, path, op, |_, example| example.to_owned());
        for method in METHODS.iter().filter(|m| !declared.contains(**m)) {
            let response = send(&gw, method, &concrete, Some(ADMIN_KEY), None).await;
            assert_eq!(response.status(), 405, "{method} {concrete}");
            assert_eq!(allow_of(&response), declared, "{method} {concrete}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
            probed += 1;
        }
    }
    assert!(probed > 200, "only {probed} probes");
    // The routes outside the document: the status page's and the documentation's.
    for (method, path, allow) in [
        ("GET", "/login", "POST"),
        ("DELETE", "/", "GET"),
        ("PUT", "/status.json", "GET"),
        ("POST", "/openapi.json", "GET"),
        ("POST", "/docs/", "GET"),
    ] {
        let response = send(&gw, method, path, None, None).await;
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(allow_of(&response), BTreeSet::from([allow.to_owned()]));
    }
    // Unknown paths stay 404, whatever the method.
    for (method, path) in [
        ("GET", "/v1/nothing"),
        (
            "POST",
            "/v1/webhooks/wh_4f1c2b3a4d5e6f708192a3b4c5d6e7f8/nothing",
        ),
        ("DELETE", "/v1/accounts/"),
    ] {
        let response = send(&gw, method, path, Some(ADMIN_KEY), None).await;
        assert_eq!(response.status(), 404, "{method} {path}");
        assert!(response.headers().get("allow").is_none());
    }
}

#[tokio::test]
async fn every_parameter_is_constrained_and_ids_have_patterns() {
    let gw = spawn().await;
    let doc = document(&gw).await;
    for (method, path, op) in operations(&doc) {
        for param in op["parameters"].as_array().into_iter().flatten() {
            let name = param["name"].as_str().unwrap();
            let schema = resolve(&doc, &param["schema"]);
            let item = match schema["type"].as_str() {
                Some("array") => resolve(&doc, &schema["items"]),
                _ => schema,
            };
            let what = format!("{method} {path}: {} {name}", param["in"]);
            match item["type"].as_str() {
                Some("string") => {
                    let pattern = item["pattern"].as_str();
                    assert!(
                        pattern.is_some() || item["enum"].is_array(),
                        "{what}: a string with no pattern or enum: {item}"
                    );
                    if let (Some(pattern), Some(example)) = (pattern, item["examples"][0].as_str())
                    {
                        let regex = regex::Regex::new(pattern).unwrap();
                        assert!(regex.is_match(example), "{what}: {example} !~ {pattern}");
                    }
                }
                Some("integer") => assert!(
                    item["minimum"].is_number() || name == "delete_messages",
                    "{what}: an unbounded integer: {item}"
                ),
                Some("boolean") => {}
                other => panic!("{what}: type {other:?}: {item}"),
            }
            if name == "limit" {
                assert!(item["maximum"].is_number(), "{what}: {item}");
            }
            if param["in"] == "query" || param["in"] == "header" {
                assert!(
                    param["schema"]["type"] != json!(["string", "null"]),
                    "{what}: a nullable {} parameter cannot be sent",
                    param["in"]
                );
            }
        }
    }
    // The id formats themselves (the parsers' rules, see src/api/formats.rs).
    let schemas = &doc["components"]["schemas"];
    for (name, pattern) in [
        ("SessionId", "^05[0-9a-f]{64}$"),
        ("GroupId", "^03[0-9a-f]{64}$"),
        ("UserId", "^(?:05|15|25)[0-9a-f]{64}$"),
        ("WebhookId", "^wh_[0-9a-f]{32}$"),
        ("ApiKeyId", "^[0-9a-f]{32}$"),
        ("MessageId", "^msg_[0-9a-f]{32}$"),
        ("AttachmentId", "^att_[0-9a-f]{32}$"),
        ("EventId", "^(?:evt_)?[0-9]{1,18}$"),
    ] {
        assert_eq!(schemas[name]["pattern"], pattern, "{name}");
    }
    // Path parameters named for what they hold use those formats.
    for (method, path, op) in operations(&doc) {
        for param in op["parameters"].as_array().into_iter().flatten() {
            let expected = match (param["name"].as_str().unwrap(), path.as_str()) {
                ("session_id" | "member" | "peer", _) => "SessionId",
                ("group_id", _) => "GroupId",
                ("user", _) => "UserId",
                ("id", p) if p.starts_with("/v1/webhooks/") => "WebhookId",
                ("id", p) if p.starts_with("/v1/api-keys/") => "ApiKeyId",
                ("id", p) if p.contains("/messages/") => "MessageId",
                ("id", p) if p.contains("/attachments/") => "AttachmentId",
                _ => continue,
            };
            if param["in"] == "path" {
                assert_eq!(
                    param["schema"]["$ref"],
                    format!("#/components/schemas/{expected}"),
                    "{method} {path} {}",
                    param["name"]
                );
            }
        }
    }
}

#[tokio::test]
async fn every_status_the_router_answers_is_documented_with_the_error_body() {
    let gw = spawn().await;
    let doc = document(&gw).await;
    // A key with a scope on another account: authenticated, never authorised here.
    let other = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";
    let scoped = gw
        .admin(
            "POST",
            "/v1/api-keys",
            Some(json!({"scopes": [format!("accounts:{other}:read")]})),
        )
        .await;
    assert_eq!(scoped.status, 201, "{}", scoped.body);
    let scoped = scoped.body["key"].as_str().unwrap().to_owned();
    let mut seen = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let secured = op["security"].is_array();
        let concrete = fill(&doc, &path, &op, |_, example| example.to_owned());
        let target = (method.as_str(), concrete.as_str(), &op);
        if secured {
            seen.insert(probe(&gw, "no key", target, None, None).await);
            seen.insert(probe(&gw, "wrong key", target, Some("sgk_x_y"), None).await);
            seen.insert(probe(&gw, "scoped key", target, Some(&scoped), None).await);
        }
        // Each path parameter malformed in turn.
        for param in op["parameters"].as_array().into_iter().flatten() {
            if param["in"] != "path" {
                continue;
            }
            let bad = param["name"].as_str().unwrap();
            let malformed = fill(&doc, &path, &op, |name, example| {
                if name == bad {
                    "x".to_owned()
                } else {
                    example.to_owned()
                }
            });
            let body = op["requestBody"]
                .is_object()
                .then(|| ("application/json", b"{}".to_vec()));
            let status = probe(&gw, bad, (&method, &malformed, &op), Some(ADMIN_KEY), body).await;
            assert!(
                matches!(status, 400 | 404),
                "{method} {malformed}: {status}"
            );
            seen.insert(status);
        }
        if op["requestBody"].is_object() {
            let text = Some(("text/plain", b"hello".to_vec()));
            let status = probe(&gw, "text/plain body", target, Some(ADMIN_KEY), text).await;
            seen.insert(status);
            let big = format!("{{\"x\":\"{}\"}}", "a".repeat(20 * 1024)).into_bytes();
            let big = Some(("application/json", big));
            seen.insert(probe(&gw, "oversized body", target, Some(ADMIN_KEY), big).await);
            let array = Some(("application/json", b"[1, 2]".to_vec()));
            seen.insert(probe(&gw, "array body", target, Some(ADMIN_KEY), array).await);
        }
        // A query parameter malformed in turn.
        for param in op["parameters"].as_array().into_iter().flatten() {
            if param["in"] != "query" {
                continue;
            }
            let name = param["name"].as_str().unwrap();
            let query = format!("{concrete}?{name}=%00x");
            seen.insert(probe(&gw, name, (&method, &query, &op), Some(ADMIN_KEY), None).await);
        }
    }
    for status in [400, 401, 403, 404, 413, 415] {
        assert!(
            seen.contains(&status),
            "no probe answered {status}: {seen:?}"
        );
    }
}

#[tokio::test]
async fn over_its_rate_a_key_gets_a_documented_429_with_retry_after() {
    let gw = spawn_with(|s| {
        s.api.rate_limit_per_sec = 1;
        s.api.rate_limit_burst = 1;
    })
    .await;
    let doc = document(&gw).await;
    let created = gw
        .admin("POST", "/v1/api-keys", Some(json!({"scopes": ["admin"]})))
        .await;
    let key = created.body["key"].as_str().unwrap().to_owned();
    let mut limited = 0;
    for (method, path, op) in operations(&doc) {
        if !op["security"].is_array() {
            continue;
        }
        let concrete = fill(&doc, &path, &op, |_, example| example.to_owned());
        let response = send(&gw, &method, &concrete, Some(&key), None).await;
        if response.status() == 429 {
            assert!(documented(&op).contains(&429), "{method} {path}");
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry >= 1);
            let documented_header = &op["responses"]["429"]["headers"]["Retry-After"];
            assert!(documented_header.is_object(), "{method} {path}");
            limited += 1;
        }
    }
    assert!(limited > 10, "only {limited} operations were limited");
}

#[tokio::test]
async fn creating_operations_link_to_the_operations_on_what_they_create() {
    let gw = spawn().await;
    let doc = document(&gw).await;
    let account = gw.admin("POST", "/v1/accounts", Some(json!({}))).await;
    let webhook = gw
        .admin(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/hook"})),
        )
        .await;
    let key = gw
        .admin("POST", "/v1/api-keys", Some(json!({"scopes": ["admin"]})))
        .await;
    for (path, created, field, item) in [
        (
            "/v1/accounts",
            &account,
            "session_id",
            "/v1/accounts/{session_id}",
        ),
        ("/v1/webhooks", &webhook, "id", "/v1/webhooks/{id}"),
        ("/v1/api-keys", &key, "id", "/v1/api-keys/{id}"),
    ] {
        assert_eq!(created.status, 201, "{path}: {}", created.body);
        let links = doc["paths"][path]["post"]["responses"]["201"]["links"]
            .as_object()
            .unwrap_or_else(|| panic!("POST {path} has no links"));
        // Every operation on the created item is linked.
        let expected: BTreeSet<String> = operations(&doc)
            .into_iter()
            .filter(|(_, p, _)| p == item || p.starts_with(&format!("{item}/")))
            .filter(|(_, p, _)| p.matches('{').count() == 1)
            .map(|(_, _, op)| op["operationId"].as_str().unwrap().to_owned())
            .collect();
        let linked: BTreeSet<String> = links
            .values()
            .map(|l| l["operationId"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            expected.is_subset(&linked),
            "{path}: {expected:?} vs {linked:?}"
        );
        // Following each GET link with the created id reaches the item.
        let id = created.body[field].as_str().unwrap();
        for link in links.values() {
            let param = item.rsplit('{').next().unwrap().trim_end_matches('}');
            assert_eq!(
                link["parameters"][param],
                format!("$response.body#/{field}")
            );
            let target = link["operationId"].as_str().unwrap();
            let (method, target_path, _) = operations(&doc)
                .into_iter()
                .find(|(_, _, op)| op["operationId"] == target)
                .unwrap();
            if method != "GET" || target_path.matches('{').count() != 1 {
                continue;
            }
            let concrete = target_path.replace(&format!("{{{param}}}"), id);
            let r = gw.admin("GET", &concrete, None).await;
            assert_eq!(r.status, 200, "{target}: GET {concrete}: {}", r.body);
        }
    }
}
