//! `session-gateway serve` as a process: prints the ready line, serves the API with real
//! Session identities, and refuses to start without its keys.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

const ADMIN: &str = "serve-test-admin-key";

fn gateway(dir: &std::path::Path, master: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_session-gateway"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("SESSION_GATEWAY__API__ADMIN_KEY", ADMIN)
        .env_remove("SESSION_GATEWAY__SECURITY__MASTER_KEY")
        // No connection to mainnet from tests; `serve --devnet` is tested in gateway_serve.rs.
        .env("SESSION_GATEWAY__NETWORK__ENABLED", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(key) = master {
        cmd.env("SESSION_GATEWAY__SECURITY__MASTER_KEY", key);
    }
    cmd
}

#[tokio::test]
async fn serve_prints_its_address_and_serves_real_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let master = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let mut child = gateway(dir.path(), Some(master)).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ready["devnet_seed"], Value::Null);
    let api = ready["api"].as_str().unwrap().to_owned();
    assert!(api.starts_with("http://127.0.0.1:"));

    let client = reqwest::Client::new();
    let health = client.get(format!("{api}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let phrase =
        "vexed enjoy pigment films adept voted vexed enjoy pigment films adept voted adept";
    let created: Value = client
        .post(format!("{api}/v1/accounts"))
        .bearer_auth(ADMIN)
        .json(&json!({"phrase": phrase}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        created["session_id"],
        "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72"
    );
    let fresh: Value = client
        .post(format!("{api}/v1/accounts"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fresh["phrase"].as_str().unwrap().split(' ').count(), 13);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn serve_refuses_to_start_without_a_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = gateway(dir.path(), None).output().unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "no ready line");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("security.master_key"), "{stderr}");
}

fn devnet_gateway(dir: &std::path::Path) -> (std::process::Child, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_session-gateway"))
        .args(["serve", "--devnet", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_remove("SESSION_GATEWAY__API__ADMIN_KEY")
        .env_remove("SESSION_GATEWAY__SECURITY__MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, serde_json::from_str(&line).unwrap())
}

#[tokio::test]
async fn serve_devnet_needs_no_keys_and_keeps_the_ones_it_made() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, ready) = devnet_gateway(dir.path());
    let seed = ready["devnet_seed"].as_str().unwrap();
    assert!(seed.starts_with("http://127.0.0.1:"), "{seed}");
    let admin = std::fs::read_to_string(dir.path().join("admin_key")).unwrap();
    let admin = admin.trim().to_owned();
    assert!(dir.path().join("master_key").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("master_key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let client = reqwest::Client::new();
    let api = ready["api"].as_str().unwrap().to_owned();
    let created = client
        .post(format!("{api}/v1/accounts"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    child.kill().unwrap();
    child.wait().unwrap();

    // Restarted: the same generated keys open the same database.
    let (mut child, ready) = devnet_gateway(dir.path());
    let api = ready["api"].as_str().unwrap();
    let phrase = client
        .get(format!("{api}/v1/accounts/{id}/phrase"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(phrase.status(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Starts `cmd` and reads its ready line; returns the child and the API's base URL.
fn spawn_ready(cmd: &mut Command) -> (std::process::Child, String) {
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    (child, ready["api"].as_str().unwrap().to_owned())
}

/// `GET {api}{path}` with the admin key, as JSON.
async fn get_json(client: &reqwest::Client, api: &str, path: &str) -> Value {
    let reply = client
        .get(format!("{api}{path}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "{path}");
    reply.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_pointed_at_a_standalone_devnet_by_settings_sends_files() {
    use session_gateway::devnet::{Devnet, DevnetConfig};
    let devnet = Devnet::start(DevnetConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let master = session_gateway::store::MasterKey::generate().to_base64();
    let mut cmd = gateway(dir.path(), Some(&master));
    cmd.env("SESSION_GATEWAY__NETWORK__ENABLED", "true")
        .env("SESSION_GATEWAY__NETWORK__SEEDS", devnet.seed_url())
        .env(
            "SESSION_GATEWAY__NETWORK__FILE_SERVER_URL",
            devnet.file_server_url(),
        )
        .env(
            "SESSION_GATEWAY__NETWORK__FILE_SERVER_X25519",
            hex::encode(devnet.file_server_x25519()),
        )
        .env("SESSION_GATEWAY__POLLING__ACTIVE_INTERVAL_MS", "200")
        .stderr(Stdio::null());
    let (mut child, api) = spawn_ready(&mut cmd);
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let created = client
            .post(format!("{api}/v1/accounts"))
            .bearer_auth(ADMIN)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let body: Value = created.json().await.unwrap();
        ids.push(body["session_id"].as_str().unwrap().to_owned());
    }
    let (a, b) = (&ids[0], &ids[1]);
    let file: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
    let sent = client
        .post(format!("{api}/v1/accounts/{a}/messages"))
        .bearer_auth(ADMIN)
        .json(&json!({"to": b, "text": "a file", "attachments": [{
            "content_type": "application/octet-stream", "file_name": "blob.bin",
            "data_base64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &file),
        }]}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    // Wait (with a deadline) for B's copy of the file to be fetched.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let url = loop {
        let events = get_json(&client, &api, &format!("/v1/events?account={b}&limit=1000")).await;
        let available = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "attachment.available")
            .map(|e| e["data"]["url"].as_str().unwrap().to_owned());
        if let Some(url) = available {
            break url;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no attachment.available: {events}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let bytes = client
        .get(format!("{api}{url}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), file.as_slice());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn readiness_reports_an_unusable_network_as_degraded() {
    let dir = tempfile::tempdir().unwrap();
    let master = session_gateway::store::MasterKey::generate().to_base64();
    // A seed nobody answers: no pool, no path.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let seed = format!("http://{}/json_rpc", closed.local_addr().unwrap());
    drop(closed);
    let mut cmd = gateway(dir.path(), Some(&master));
    cmd.env("SESSION_GATEWAY__NETWORK__ENABLED", "true")
        .env("SESSION_GATEWAY__NETWORK__SEEDS", &seed)
        .stderr(Stdio::null());
    let (mut child, api) = spawn_ready(&mut cmd);
    let client = reqwest::Client::new();
    let plain = client.get(format!("{api}/readyz")).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    let body: Value = plain.json().await.unwrap();
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["network"]["usable"], false, "{body}");
    assert_eq!(body["network"]["paths"], 0, "{body}");
    assert!(
        body["degraded"][0].as_str().unwrap().contains("network"),
        "{body}"
    );
    let strict = client
        .get(format!("{api}/readyz?require=network"))
        .send()
        .await
        .unwrap();
    assert_eq!(strict.status(), 503);
    let bad = client
        .get(format!("{api}/readyz?require=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    child.kill().unwrap();
    child.wait().unwrap();
}
