//! Observability (issue 6, design.md §8): every metric the README documents is exported (and
//! every exported metric is documented), and a sent message makes one connected trace from the
//! API call through the Conversation actor and the onion store request to the `message.sent`
//! webhook delivery; a poll makes its own trace down to the `message.received` delivery. The
//! traces are read by an in-process OTLP/HTTP collector that decodes the protobuf requests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

#[macro_use]
mod common;
mod gateway_support;
mod netsupport;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use common::{Backend, Mode, Receiver};
use gateway_support as gs;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message as _;
use session_gateway::config::Settings;
use session_gateway::network::{OnionCipher, SessionNetwork};
use session_gateway::telemetry::TelemetryGuard;

/// The README's metrics table: every `session_gateway_…` name in its first column.
fn documented_metrics() -> BTreeSet<String> {
    let readme = include_str!("../README.md");
    let names: BTreeSet<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `session_gateway_"))
        .filter_map(|rest| rest.split('`').next())
        .map(|name| format!("session_gateway_{name}"))
        .collect();
    assert!(
        names.len() >= 10,
        "README metrics table not found: {names:?}"
    );
    names
}

/// Family names in a text exposition (`# TYPE name kind`).
fn exported_metrics(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

both_backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_documented_metric_is_exported_and_every_exported_one_documented() {
        let devnet = netsupport::devnet(8, 4).await;
        let dir = tempfile::tempdir().unwrap();
        let master = common::master_key();
        let mut gw = gs::start(dir.path(), gs::settings(&master), &devnet).await;
        let a = gw.create_account().await;
        let b = gw.create_account().await;
        let receiver = Receiver::start(Mode::Up).await;
        gw.webhook(&receiver.url, &["message.received"]).await;
        gw.send(&a, &b, "metrics").await;
        receiver.wait_for(1, 60).await;

        // The sender counts its send after its commit, which can come after the recipient's
        // poll has already received the message: wait for the count, not for the delivery.
        let text = common::eventually(30, "the sent message and a poll counted", || async {
            let text = gw
                .client
                .get(format!("{}/metrics", gw.base))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            // Likewise a poll cycle is timed when it ends, after what it received was stored
            // (group polls and the account's config upkeep come after): wait for its count.
            let at_least_one = |series: &str| {
                text.lines()
                    .filter_map(|l| l.strip_prefix(series))
                    .any(|v| v.trim().parse::<f64>().is_ok_and(|v| v >= 1.0))
            };
            // A cycle that failed (a slow first hop on a loaded machine) is timed too, but not
            // counted `ok`: wait for a successful one.
            let counted = at_least_one("session_gateway_messages_sent_total{outcome=\"sent\"} ")
                && at_least_one("session_gateway_poll_lag_seconds_count ")
                && at_least_one("session_gateway_polls_total{outcome=\"ok\"} ");
            counted.then_some(text)
        })
        .await;
        let documented = documented_metrics();
        let exported = exported_metrics(&text);
        let missing: Vec<_> = documented.difference(&exported).collect();
        assert!(missing.is_empty(), "documented, not exported: {missing:?}");
        let undocumented: Vec<_> = exported.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "exported, not documented: {undocumented:?}"
        );

        // The traffic above shows up in the figures.
        let value = |series: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
                .unwrap_or_else(|| panic!("{series} missing"))
                .trim()
                .parse()
                .unwrap()
        };
        assert!(value("session_gateway_messages_sent_total{outcome=\"sent\"}") >= 1.0);
        assert!(value("session_gateway_messages_received_total{kind=\"incoming\"}") >= 1.0);
        assert!(value("session_gateway_onion_request_duration_seconds_count") >= 2.0);
        assert!(value("session_gateway_poll_lag_seconds_count") >= 1.0);
        assert!(value("session_gateway_polls_total{outcome=\"ok\"}") >= 1.0);
        assert_eq!(value("session_gateway_accounts{status=\"active\"}"), 2.0);
        assert!(value("session_gateway_network{figure=\"paths\"}") >= 1.0);
        // The writes above held SQLite's writer for some time; PostgreSQL has no one writer.
        let held = value("session_gateway_database_writer_held_seconds_total");
        match common::backend() {
            common::Backend::Sqlite => assert!(held > 0.0, "{held}"),
            common::Backend::Postgres => assert_eq!(held, 0.0),
        }
        gw.stop().await;
    }
}

/// One exported span, as the collector decoded it.
#[derive(Clone, Debug)]
struct Span {
    trace: Vec<u8>,
    id: Vec<u8>,
    parent: Vec<u8>,
    name: String,
    attributes: HashMap<String, String>,
}

type Spans = Arc<Mutex<Vec<Span>>>;

async fn collect(spans: web::Data<Spans>, body: web::Bytes) -> HttpResponse {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return HttpResponse::BadRequest().finish();
    };
    let mut out = spans.lock().unwrap();
    for resource in request.resource_spans {
        for scope in resource.scope_spans {
            for span in scope.spans {
                let attributes = span
                    .attributes
                    .iter()
                    .filter_map(|kv| {
                        let value = match kv.value.as_ref()?.value.as_ref()? {
                            AnyValue::StringValue(s) => s.clone(),
                            AnyValue::IntValue(i) => i.to_string(),
                            AnyValue::BoolValue(b) => b.to_string(),
                            other => format!("{other:?}"),
                        };
                        Some((kv.key.clone(), value))
                    })
                    .collect();
                out.push(Span {
                    trace: span.trace_id,
                    id: span.span_id,
                    parent: span.parent_span_id,
                    name: span.name,
                    attributes,
                });
            }
        }
    }
    HttpResponse::Ok()
        .content_type("application/x-protobuf")
        .finish()
}

/// An OTLP/HTTP collector on 127.0.0.1:0 recording every span it is sent.
async fn start_collector() -> (String, Spans, actix_web::dev::ServerHandle) {
    let spans: Spans = Arc::default();
    let data = web::Data::new(spans.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
            .route("/v1/traces", web::post().to(collect))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://{addr}"), spans, handle)
}

/// Flushes until `found` holds for the collected spans (or fails after 30 s).
async fn wait_for_spans(
    guard: &session_gateway::telemetry::TelemetryGuard,
    spans: &Spans,
    what: &str,
    found: impl Fn(&[Span]) -> bool,
) -> Vec<Span> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        guard.flush().await;
        let now = spans.lock().unwrap().clone();
        if found(&now) {
            return now;
        }
        assert!(tokio::time::Instant::now() < deadline, "never saw {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    span.attributes.get(key).map(String::as_str)
}

/// Asserts that every span of `trace` but one (the root, `root_name`) has its parent in the
/// trace, and returns the trace's spans.
fn connected<'a>(spans: &'a [Span], trace: &[u8], root_name: &str) -> Vec<&'a Span> {
    let in_trace: Vec<&Span> = spans.iter().filter(|s| s.trace == trace).collect();
    let ids: BTreeSet<&[u8]> = in_trace.iter().map(|s| s.id.as_slice()).collect();
    let roots: Vec<&&Span> = in_trace.iter().filter(|s| s.parent.is_empty()).collect();
    assert_eq!(roots.len(), 1, "one root: {roots:?}");
    assert_eq!(roots[0].name, root_name);
    for span in &in_trace {
        assert!(
            span.parent.is_empty() || ids.contains(span.parent.as_slice()),
            "{} has a parent outside its trace",
            span.name
        );
    }
    in_trace
}

/// The chain of span names from `span` up to its root.
fn ancestry(trace: &[&Span], span: &Span) -> Vec<String> {
    let mut names = vec![span.name.clone()];
    let mut parent = span.parent.clone();
    while let Some(p) = trace.iter().find(|s| s.id == parent) {
        names.push(p.name.clone());
        parent = p.parent.clone();
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sent_message_and_a_poll_each_make_one_connected_trace() {
    let (collector, spans, collector_handle) = start_collector().await;
    let master = common::master_key();
    let mut settings = gs::settings(&master);
    settings.telemetry.otlp_endpoint = Some(collector);
    settings.logging.level = "warn".into();
    let guard = session_gateway::telemetry::init(&settings, tokio::runtime::Handle::current())
        .expect("the only subscriber of this test binary");
    assert!(guard.exporting());
    // The subscriber is global and bound to this test's runtime, so the backends take turns
    // here instead of being two tests; each turn starts with no spans collected.
    for backend in [Backend::Sqlite, Backend::Postgres] {
        common::on(backend, traces_connect(&settings, &guard, &spans)).await;
        spans.lock().unwrap().clear();
    }
    guard.shutdown().await;
    collector_handle.stop(true).await;
}

/// One gateway on the current backend: the send's and the poll's traces, each connected.
async fn traces_connect(settings: &Settings, guard: &TelemetryGuard, spans: &Spans) {
    let devnet = netsupport::devnet(8, 4).await;
    let dir = tempfile::tempdir().unwrap();
    // A shared (batched) request joins the trace of the poll (store) that opened it, not of
    // every poll (store) in it: this suite follows one poll's and one send's trace end to end,
    // so polls and stores go unbatched.
    let mut network = netsupport::config(&devnet, OnionCipher::AesGcm);
    network.batch_window_ms = 0;
    network.store_window_ms = 0;
    let network = SessionNetwork::new(network).unwrap();
    let backend = common::backend();
    let mut gw = gs::start_with_network(backend, dir.path(), settings.clone(), network).await;
    let a = gw.create_account().await;
    let b = gw.create_account().await;
    let receiver = Receiver::start(Mode::Up).await;
    gw.webhook(&receiver.url, &["message.sent", "message.received"])
        .await;
    let id = gw.send(&a, &b, "traced").await;
    receiver.wait_for(2, 60).await;

    // The send: API call → message.send → network.store → onion.request, and the
    // message.sent delivery, all in the API call's trace.
    let is_sent_delivery =
        |s: &Span| s.name == "webhook.deliver" && attr(s, "event_type") == Some("message.sent");
    let all = wait_for_spans(guard, spans, "the message.sent delivery span", |all| {
        all.iter().any(is_sent_delivery)
    })
    .await;
    let api = all
        .iter()
        .find(|s| s.name == "api.send_message" && attr(s, "message_id") == Some(id.as_str()))
        .expect("the API span names the message");
    let trace = connected(&all, &api.trace, "api.send_message");
    let onion = trace
        .iter()
        .find(|s| s.name == "onion.request")
        .expect("an onion request in the send's trace");
    assert_eq!(
        ancestry(&trace, onion),
        [
            "onion.request",
            "network.store",
            "message.send",
            "api.send_message"
        ]
    );
    let send = trace
        .iter()
        .find(|s| s.name == "message.send" && attr(s, "outcome") == Some("sent"))
        .expect("the attempt that sent it");
    assert_eq!(attr(send, "message_id"), Some(id.as_str()));
    let delivery = trace
        .iter()
        .find(|s| is_sent_delivery(s))
        .expect("the message.sent delivery is in the send's trace");
    assert_eq!(
        ancestry(&trace, delivery),
        ["webhook.deliver", "message.send", "api.send_message"]
    );
    assert_eq!(attr(delivery, "status"), Some("200"));

    // The poll that received it: poll → network.retrieve → onion.request, inbox.commit, and
    // the message.received delivery, in the poll's own trace.
    let is_received_delivery =
        |s: &Span| s.name == "webhook.deliver" && attr(s, "event_type") == Some("message.received");
    // The poll's root span ends with its whole cycle (groups, rooms, configs after the own
    // swarm), which may be after the delivery: wait for both, and for the poll's onion
    // request (once, under load, the trace was read without it: see the assertion below).
    let all = wait_for_spans(guard, spans, "the message.received delivery", |all| {
        all.iter().filter(|d| is_received_delivery(d)).any(|d| {
            let in_trace = |name: &str| all.iter().any(|s| s.trace == d.trace && s.name == name);
            in_trace("onion.request")
                && all
                    .iter()
                    .any(|s| s.trace == d.trace && s.name == "poll" && s.parent.is_empty())
        })
    })
    .await;
    let delivery = all.iter().find(|s| is_received_delivery(s)).unwrap();
    assert_ne!(delivery.trace, api.trace);
    let trace = connected(&all, &delivery.trace, "poll");
    assert_eq!(
        ancestry(&trace, delivery),
        ["webhook.deliver", "inbox.commit", "poll"]
    );
    let retrieve_onion = trace
        .iter()
        .find(|s| s.name == "onion.request")
        .unwrap_or_else(|| {
            let connected: Vec<&str> = trace.iter().map(|s| s.name.as_str()).collect();
            let whole: Vec<&str> = (all.iter())
                .filter(|s| s.trace == delivery.trace)
                .map(|s| s.name.as_str())
                .collect();
            panic!("the poll's onion request: connected {connected:?}; the whole trace {whole:?}")
        });
    assert_eq!(
        ancestry(&trace, retrieve_onion),
        ["onion.request", "network.retrieve", "poll"]
    );
    // Nothing secret in any span: no message text, no full Session ID.
    for span in spans.lock().unwrap().iter() {
        for value in span.attributes.values() {
            assert!(!value.contains("traced") && !value.contains(&a) && !value.contains(&b));
        }
    }
    let sent_spans = spans
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.trace == api.trace)
        .count();
    eprintln!(
        "spans: {sent_spans} in the sent message's trace, {} in the poll's",
        trace.len()
    );
    gw.stop().await;
    devnet.shutdown().await;
    // Whatever the stopped gateway still had is exported now, not in the next turn.
    guard.flush().await;
}

// `serve` with stderr piped (as in a container): `logging.format` unset gives JSON lines, and
// at debug level nothing secret reaches the log (keys, a recovery phrase, message text).
both_backends! {
    async fn serve_logs_json_lines_without_secrets_when_not_a_terminal() {
        serve_logs_json_lines().await;
    }
}

async fn serve_logs_json_lines() {
    use std::io::{BufRead as _, BufReader, Read as _};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let database = common::database_url(dir.path()).await;
    let admin = "telemetry-test-admin-key-5f1c";
    let master = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let mut child = Command::new(env!("CARGO_BIN_EXE_session-gateway"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("SESSION_GATEWAY__API__ADMIN_KEY", admin)
        .env("SESSION_GATEWAY__SECURITY__MASTER_KEY", master)
        .env("SESSION_GATEWAY__NETWORK__ENABLED", "false")
        .env("SESSION_GATEWAY__DATABASE__URL", &database)
        .env("SESSION_GATEWAY__LOGGING__LEVEL", "debug")
        .env_remove("SESSION_GATEWAY__LOGGING__FORMAT")
        .env_remove("SESSION_GATEWAY_LOG_FORMAT")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drain stderr on a thread so a chatty child never blocks on a full pipe.
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    let api = ready["api"].as_str().unwrap().to_owned();

    let phrase =
        "vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted adept";
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(format!("{api}/v1/accounts"))
        .bearer_auth(admin)
        .json(&serde_json::json!({"phrase": phrase}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let account = created["session_id"].as_str().unwrap().to_owned();
    let sent = client
        .post(format!("{api}/v1/accounts/{account}/messages"))
        .bearer_auth(admin)
        .json(&serde_json::json!({"to": account, "text": "a very private note"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    child.kill().unwrap();
    child.wait().unwrap();
    let logs = logs.join().unwrap();

    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log lines at debug level");
    for line in &lines {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(entry["level"].is_string(), "{line}");
    }
    for secret in [admin, master, "pigment films", "a very private note"] {
        assert!(!logs.contains(secret), "a secret reached the log");
    }
}
