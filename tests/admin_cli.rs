//! The admin commands of the binary (issue 15), run as an operator runs them: against a data
//! directory and the master key in the environment, JSON (or a table) on stdout, one `error: …`
//! line on stderr on failure. What they wrote is checked through the store or a gateway started
//! on the same database (SQLite).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use serde_json::{json, Value};
use session_gateway::app::{Gateway, GatewayOptions};
use session_gateway::identities::SessionIdentities;
use session_gateway::store::events::{AttemptOutcome, DeliveryStatus, NewEvent};
use session_gateway::store::{MasterKey, Store};

/// The libsession identity vector (messages.md §1.4) and its phrase (§1.2).
const PHRASE: &str =
    "vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted adept";
const SESSION_ID: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

/// Runs the binary on `dir` with `key` as `security.master_key` (and `env` besides), feeding
/// `stdin`.
fn run_with(dir: &Path, key: &str, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_session-gateway"))
        .args(args)
        .args(["--data-dir", dir.to_str().unwrap()])
        .env("SESSION_GATEWAY__SECURITY__MASTER_KEY", key)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn run(dir: &Path, key: &str, args: &[&str]) -> Output {
    run_with(dir, key, args, &[], "")
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn ok_json(output: &Output) -> Value {
    serde_json::from_str(&ok(output)).expect("stdout is one JSON document")
}

/// A failure: non-zero exit, nothing on stdout, one `error: …` line on stderr; returns it.
fn failed(output: &Output) -> String {
    assert!(!output.status.success(), "should fail");
    assert!(output.stdout.is_empty(), "printed to stdout on failure");
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

async fn store(dir: &Path, key: &str) -> Store {
    let url = format!("sqlite://{}?mode=rwc", dir.join("gateway.db").display());
    Store::open(&url, 1, MasterKey::from_base64(key).unwrap())
        .await
        .unwrap()
}

#[test]
fn accounts_import_list_export_and_import_elsewhere() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let key = common::master_key();
    // One account by its phrase (paused, with settings), one by a bare seed.
    let fresh = fresh_account();
    let file = a.path().join("in.json");
    std::fs::write(
        &file,
        json!([
            {"format": "session-gateway-account/1", "session_id": SESSION_ID, "display_name": "Vec",
             "status": "paused", "phrase": PHRASE,
             "settings": {"read_receipts": "auto", "message_requests": "hold", "group_invites": "auto_accept"}},
            {"format": "session-gateway-account/1", "session_id": fresh.0, "display_name": null,
             "status": "active", "seed": fresh.1}
        ])
        .to_string(),
    )
    .unwrap();
    let imported = ok_json(&run(
        a.path(),
        &key,
        &["accounts", "import", file.to_str().unwrap()],
    ));
    assert_eq!(imported["imported"], json!([SESSION_ID, fresh.0]));
    // Again: nothing new, both reported as existing.
    let again = ok_json(&run(
        a.path(),
        &key,
        &["accounts", "import", file.to_str().unwrap()],
    ));
    assert_eq!(again["existing"].as_array().unwrap().len(), 2, "{again}");

    let listed = ok_json(&run(a.path(), &key, &["accounts", "list", "--json"]));
    let accounts = listed["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    let vec = accounts
        .iter()
        .find(|x| x["session_id"] == SESSION_ID)
        .unwrap();
    assert_eq!(
        (vec["display_name"].as_str(), vec["status"].as_str()),
        (Some("Vec"), Some("paused"))
    );
    let table = ok(&run(a.path(), &key, &["accounts", "list"]));
    assert!(table.starts_with("SESSION ID"), "{table}");
    assert!(
        table.contains(SESSION_ID) && table.contains(&fresh.0),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.contains(SESSION_ID) && l.contains("paused")),
        "{table}"
    );

    // Export: the phrase, with a warning on stderr.
    let exported = run(a.path(), &key, &["accounts", "export", SESSION_ID]);
    let text = ok(&exported);
    let stderr = String::from_utf8(exported.stderr.clone()).unwrap();
    assert!(stderr.contains("recovery phrase"), "{stderr}");
    let export: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(export["phrase"], PHRASE);
    assert_eq!(export["seed"], "0123456789abcdef0123456789abcdef");

    // Import it into another gateway's database from stdin, with another master key.
    let other_key = common::master_key();
    let moved = ok_json(&run_with(
        b.path(),
        &other_key,
        &["accounts", "import", "-"],
        &[],
        &text,
    ));
    assert_eq!(moved["imported"], json!([SESSION_ID]));
    let round = ok_json(&run(
        b.path(),
        &other_key,
        &["accounts", "export", SESSION_ID],
    ));
    for field in [
        "session_id",
        "display_name",
        "status",
        "phrase",
        "seed",
        "settings",
    ] {
        assert_eq!(round[field], export[field], "{field}");
    }
    assert_eq!(round["settings"]["read_receipts"], "auto");

    // Refused: a phrase that is not this Session ID's (nothing is imported), junk, unknown.
    let c = tempfile::tempdir().unwrap();
    let wrong = json!({"format": "session-gateway-account/1", "session_id": fresh.0,
        "display_name": null, "status": "active", "phrase": PHRASE})
    .to_string();
    let e = failed(&run_with(
        c.path(),
        &key,
        &["accounts", "import", "-"],
        &[],
        &wrong,
    ));
    assert!(e.contains("another Session ID"), "{e}");
    failed(&run_with(
        c.path(),
        &key,
        &["accounts", "import", "-"],
        &[],
        "[{\"x\":1}]",
    ));
    failed(&run(
        c.path(),
        &key,
        &["accounts", "import", "/nonexistent/file.json"],
    ));
    let e = failed(&run(c.path(), &key, &["accounts", "export", SESSION_ID]));
    assert!(e.contains("not found"), "{e}");
    failed(&run(c.path(), &key, &["accounts", "export", "05zz"]));
    let listed = ok_json(&run(c.path(), &key, &["accounts", "list", "--json"]));
    assert_eq!(listed["accounts"], json!([]));
    // The wrong master key is refused, as `serve` refuses it.
    let e = failed(&run(a.path(), &other_key, &["accounts", "list"]));
    assert!(e.contains("master_key"), "{e}");
}

fn fresh_account() -> (String, String) {
    use session_gateway::identities::IdentityProvider as _;
    let identity = SessionIdentities.generate().unwrap();
    (
        identity.session_id.as_str().to_owned(),
        hex::encode(&*identity.seed),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_created_on_the_command_line_works_on_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let key = common::master_key();
    let read = format!("accounts:{SESSION_ID}:read");
    let created = ok_json(&run(
        dir.path(),
        &key,
        &[
            "api-keys",
            "create",
            "--name",
            "dashboard",
            "--scope",
            &read,
        ],
    ));
    let api_key = created["key"].as_str().unwrap().to_owned();
    assert!(api_key.starts_with(&format!("sgk_{}_", created["id"].as_str().unwrap())));
    assert_eq!(created["scopes"], json!([read]));
    let e = failed(&run(
        dir.path(),
        &key,
        &["api-keys", "create", "--scope", "root"],
    ));
    assert!(e.contains("unknown scope"), "{e}");
    assert!(!run(dir.path(), &key, &["api-keys", "create"])
        .status
        .success());

    let mut settings = common::test_settings(&key);
    settings.network.enabled = false;
    let gateway = Gateway::start(GatewayOptions {
        settings,
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".into(),
        identities: Arc::new(SessionIdentities),
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let get = |path: String, bearer: &str| {
        client
            .get(format!("{}{path}", gateway.base_url()))
            .bearer_auth(bearer.to_owned())
            .send()
    };
    // The scoped key reads its account's events and nothing admin.
    let r = get(format!("/v1/events?account={SESSION_ID}"), &api_key)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = get("/v1/webhooks".into(), &api_key).await.unwrap();
    assert_eq!(r.status(), 403);
    let keys: Value = get("/v1/api-keys".into(), common::ADMIN_KEY)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys["api_keys"][0]["name"], "dashboard", "{keys}");
    assert!(
        keys["api_keys"][0].get("key").is_none(),
        "the key is never shown again"
    );
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_replay_requeues_dead_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let key = common::master_key();
    let store = store(dir.path(), &key).await;
    store
        .insert_webhook(&common::webhook("wh_1"))
        .await
        .unwrap();
    let mut cursors = Vec::new();
    for n in 0..2 {
        let event = store
            .append_event(&NewEvent {
                account: None,
                conversation: Some(format!("c{n}")),
                timestamp: 1,
                data: session_gateway::events::EventData::message_expired("05aa", "msg_1"),
            })
            .await
            .unwrap();
        let (delivery, _) = store
            .pending_deliveries("wh_1", 10)
            .await
            .unwrap()
            .into_iter()
            .find(|(d, _)| d.event_cursor == event.cursor)
            .unwrap();
        let dead = AttemptOutcome::Failed {
            status: Some(500),
            error: "down".into(),
            next_attempt_at: None,
        };
        store
            .record_attempt("wh_1", &delivery, 2, &dead)
            .await
            .unwrap();
        cursors.push(event.cursor);
    }
    store.close().await;

    let replayed = ok_json(&run(dir.path(), &key, &["webhooks", "replay", "wh_1"]));
    assert_eq!(replayed, json!({"webhook_id": "wh_1", "requeued": 2}));
    let since = format!("evt_{}", cursors[1]);
    let replayed = ok_json(&run(
        dir.path(),
        &key,
        &["webhooks", "replay", "wh_1", "--since", &since],
    ));
    assert_eq!(replayed["requeued"], 1);
    let store = self::store(dir.path(), &key).await;
    let statuses: Vec<DeliveryStatus> = store
        .list_deliveries("wh_1", None, None, 10)
        .await
        .unwrap()
        .iter()
        .map(|d| d.status)
        .collect();
    assert_eq!(statuses, [DeliveryStatus::Pending, DeliveryStatus::Pending]);
    store.close().await;
    let e = failed(&run(dir.path(), &key, &["webhooks", "replay", "wh_nope"]));
    assert!(e.contains("not found"), "{e}");
    failed(&run(
        dir.path(),
        &key,
        &["webhooks", "replay", "wh_1", "--since", "yesterday"],
    ));
}

#[test]
fn rotate_master_key_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (common::master_key(), common::master_key());
    let import = json!({"format": "session-gateway-account/1", "session_id": SESSION_ID,
        "display_name": null, "status": "active", "phrase": PHRASE})
    .to_string();
    ok(&run_with(
        dir.path(),
        &old,
        &["accounts", "import", "-"],
        &[],
        &import,
    ));
    let e = failed(&run(
        dir.path(),
        &old,
        &["rotate-master-key", "--new-key-env", "SG_NEW_KEY"],
    ));
    assert!(e.contains("SG_NEW_KEY"), "{e}");
    let rotate = |config_key: &str| {
        run_with(
            dir.path(),
            config_key,
            &["rotate-master-key", "--new-key-env", "SG_NEW_KEY"],
            &[("SG_NEW_KEY", new.as_str())],
            "",
        )
    };
    let report = ok_json(&rotate(&old));
    assert_eq!(
        report,
        json!({"resealed": 1, "already_new": 0, "finished": true})
    );
    // The old key no longer opens the database; the new one opens the account's seed.
    let e = failed(&run(dir.path(), &old, &["accounts", "list"]));
    assert!(e.contains("does not match"), "{e}");
    let export = ok_json(&run(dir.path(), &new, &["accounts", "export", SESSION_ID]));
    assert_eq!(export["phrase"], PHRASE);
    // Once more (the old key still configured): nothing left to do.
    assert_eq!(ok_json(&rotate(&old))["resealed"], 0);
    // The new key as both: refused, it is already in use.
    let e = failed(&rotate(&new));
    assert!(e.contains("already uses"), "{e}");
}
