//! `session-gateway serve --devnet` as a process: it starts its own devnet, generates its keys
//! into the data directory, prints `{"api","devnet_seed","admin_key_file"}`, and two accounts
//! created through its API can message each other. On both backends (the database URL comes
//! from the environment, as in a container).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

#[macro_use]
mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

both_backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serve_devnet_runs_a_whole_network_and_delivers() {
        let dir = tempfile::tempdir().unwrap();
        let database = common::database_url(dir.path()).await;
        let mut child = Command::new(env!("CARGO_BIN_EXE_session-gateway"))
            .args(["serve", "--devnet", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env_remove("SESSION_GATEWAY__API__ADMIN_KEY")
            .env_remove("SESSION_GATEWAY__SECURITY__MASTER_KEY")
            .env("SESSION_GATEWAY__DATABASE__URL", &database)
            .env("SESSION_GATEWAY__POLLING__ACTIVE_INTERVAL_MS", "200")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line).unwrap();
        let api = ready["api"].as_str().unwrap().to_owned();
        assert!(ready["devnet_seed"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"));
        assert_eq!(ready["community"]["default_room"], "lobby");
        assert!(ready["community"]["join_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"));
        assert!(ready["file_server"]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"));
        assert_eq!(ready["file_server"]["pubkey_x25519"].as_str().unwrap().len(), 64);
        assert!(ready["devnet_control"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"));
        let key_file = ready["admin_key_file"].as_str().unwrap();
        let admin = std::fs::read_to_string(key_file).unwrap();
        assert!(dir.path().join("master_key").exists());

        let client = reqwest::Client::new();
        let call = |method: &str, path: &str, body: Option<Value>| {
            let mut req = client
                .request(method.parse().unwrap(), format!("{api}{path}"))
                .bearer_auth(admin.trim());
            if let Some(body) = body {
                req = req.json(&body);
            }
            async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
        };
        let a = call("POST", "/v1/accounts", Some(json!({}))).await["session_id"].clone();
        let b = call("POST", "/v1/accounts", Some(json!({}))).await["session_id"].clone();
        let (a, b) = (a.as_str().unwrap(), b.as_str().unwrap());
        call(
            "POST",
            &format!("/v1/accounts/{a}/messages"),
            Some(json!({"to": b, "text": "hello over the devnet"})),
        )
        .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let page = call("GET", &format!("/v1/accounts/{b}/messages"), None).await;
            if let Some(m) = page["messages"].as_array().and_then(|m| m.first()) {
                assert_eq!(m["text"], "hello over the devnet");
                assert_eq!(m["from"], a);
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "not delivered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
