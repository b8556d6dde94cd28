//! Fuzzed requests never get a 5xx: random methods, paths, headers and bodies (junk bytes,
//! random JSON, near-valid objects with wrong types or extra fields) against every route.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

mod common;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use session_gateway::protocol::phrase::RecoveryPhrase;

const SID: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

fn segment(sid: String) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(sid),
        1 => Just(SID.to_owned()),
        1 => Just("evt_1".to_owned()),
        1 => Just("wh_0".to_owned()),
        1 => "[a-zA-Z0-9_%.-]{0,70}",
        1 => "\\PC{0,20}".prop_map(|s| urlencode(&s)),
    ]
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Every route with its method, so most requests reach a handler; `{a}`/`{b}` are segments.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/accounts"),
    ("GET", "/v1/accounts"),
    ("GET", "/v1/accounts/{a}"),
    ("PATCH", "/v1/accounts/{a}"),
    ("DELETE", "/v1/accounts/{a}"),
    ("GET", "/v1/accounts/{a}/phrase"),
    ("POST", "/v1/accounts/{a}/messages"),
    ("GET", "/v1/accounts/{a}/messages"),
    ("GET", "/v1/accounts/{a}/messages/{b}"),
    ("GET", "/v1/accounts/{a}/conversations"),
    ("POST", "/v1/webhooks"),
    ("GET", "/v1/webhooks"),
    ("GET", "/v1/webhooks/{a}"),
    ("PATCH", "/v1/webhooks/{a}"),
    ("DELETE", "/v1/webhooks/{a}"),
    ("POST", "/v1/webhooks/{a}/rotate-secret"),
    ("GET", "/v1/webhooks/{a}/deliveries"),
    ("POST", "/v1/webhooks/{a}/replay"),
    ("GET", "/v1/events"),
    ("POST", "/v1/api-keys"),
    ("GET", "/v1/api-keys"),
    ("GET", "/v1/api-keys/{a}"),
    ("DELETE", "/v1/api-keys/{a}"),
    ("GET", "/{a}/{b}"),
];

fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z=&0-9_%-]{0,40}",
        (
            prop::sample::select(vec![
                "after", "wait", "account", "limit", "with", "before", "status"
            ]),
            prop_oneof![
                Just(SID.to_owned()),
                Just("0".to_owned()),
                Just("-1".to_owned()),
                Just("dead".to_owned()),
                "[a-z0-9_%-]{0,12}"
            ],
        )
            .prop_map(|(k, v)| if k == "wait" {
                "wait=0".to_owned()
            } else {
                format!("{k}={v}")
            }),
    ]
    // A long-poll with a real wait would only slow the run down.
    .prop_filter("no long waits", |q| !q.contains("wait") || q == "wait=0")
}

fn route(sid: String) -> impl Strategy<Value = (&'static str, String)> {
    (
        prop::sample::select(ROUTES.to_vec()),
        segment(sid.clone()),
        segment(sid),
        query(),
        0u8..10,
        prop::sample::select(vec!["GET", "POST", "PATCH", "DELETE", "PUT"]),
    )
        .prop_map(|((method, template), a, b, q, mix, other)| {
            let method = if mix == 0 { other } else { method };
            (
                method,
                format!("{}?{q}", template.replace("{a}", &a).replace("{b}", &b)),
            )
        })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        "\\PC{0,30}".prop_map(Value::String),
        Just(json!(SID)),
    ];
    leaf.prop_recursive(3, 20, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::hash_map(
                prop_oneof![
                    Just("to".to_owned()),
                    Just("text".to_owned()),
                    Just("url".to_owned()),
                    Just("scopes".to_owned()),
                    Just("events".to_owned()),
                    Just("accounts".to_owned()),
                    Just("phrase".to_owned()),
                    Just("display_name".to_owned()),
                    Just("status".to_owned()),
                    Just("from".to_owned()),
                    "[a-z]{1,8}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
    ]
}

#[derive(Debug, Clone)]
struct Request {
    method: &'static str,
    path: String,
    content_type: &'static str,
    auth: u8,
    idempotency: Option<String>,
    body: Vec<u8>,
}

fn request(sid: String) -> impl Strategy<Value = Request> {
    (
        route(sid),
        prop::sample::select(vec![
            "application/json",
            "text/plain",
            "",
            "application/json; charset=utf-8",
        ]),
        0u8..8,
        prop::option::of("\\PC{0,10}"),
        body(),
    )
        .prop_map(
            |((method, path), content_type, auth, idempotency, body)| Request {
                method,
                path,
                content_type,
                auth,
                idempotency,
                body,
            },
        )
}

#[test]
fn fuzzed_requests_never_get_a_5xx() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (gw, sid) = runtime.block_on(async {
        let gw = common::spawn().await;
        // Some real state so handlers get past "not found".
        let reply = gw
            .admin(
                "POST",
                "/v1/accounts",
                Some(json!({"phrase": RecoveryPhrase::from_entropy(&[0xab; 16]).expose_secret()})),
            )
            .await;
        assert_eq!(reply.status, 201);
        let sid = reply.body["session_id"].as_str().unwrap().to_owned();
        (gw, sid)
    });
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&request(sid), |req| {
            let status = runtime.block_on(async {
                let Ok(url) = reqwest::Url::parse(&format!("{}{}", gw.base, req.path)) else {
                    return 0;
                };
                let mut builder = gw
                    .client
                    .request(req.method.parse().unwrap(), url)
                    .body(req.body.clone());
                if !req.content_type.is_empty() {
                    builder = builder.header("content-type", req.content_type);
                }
                if let Some(key) = &req.idempotency {
                    if let Ok(value) = reqwest::header::HeaderValue::from_str(key) {
                        builder = builder.header("Idempotency-Key", value);
                    }
                }
                builder = match req.auth {
                    0 => builder,
                    1 => builder.bearer_auth("wrong"),
                    _ => builder.bearer_auth(common::ADMIN_KEY),
                };
                builder.send().await.unwrap().status().as_u16()
            });
            prop_assert!(status < 500, "{req:?} got {status}");
            Ok(())
        })
        .unwrap();
}
