//! Killing `serve` (SIGKILL) in the middle of a burst of sends and restarting it loses nothing:
//! every message that was answered 202 is there after the restart, and re-sending the whole
//! burst with the same `Idempotency-Key`s creates each message exactly once. SIGTERM stops the
//! process cleanly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

use std::collections::{HashMap, HashSet};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

#[macro_use]
mod common;

const ADMIN: &str = "crash-test-admin-key";
const MASTER: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const PEER: &str = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";
const BURST: usize = 120;

fn start(dir: &std::path::Path, database_url: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_session-gateway"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("SESSION_GATEWAY__DATABASE__URL", database_url)
        .env("SESSION_GATEWAY__API__ADMIN_KEY", ADMIN)
        .env("SESSION_GATEWAY__SECURITY__MASTER_KEY", MASTER)
        .env("RUST_LOG", "warn")
        // API only: no connection to mainnet from tests (the actors have their own gateway_* tests).
        .env("SESSION_GATEWAY__NETWORK__ENABLED", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    (child, ready["api"].as_str().unwrap().to_owned())
}

async fn send(client: &reqwest::Client, api: &str, account: &str, i: usize) -> Option<String> {
    let response = client
        .post(format!("{api}/v1/accounts/{account}/messages"))
        .bearer_auth(ADMIN)
        .header("Idempotency-Key", format!("burst-{i}"))
        .json(&json!({"to": PEER, "text": format!("message {i}")}))
        .send()
        .await
        .ok()?;
    if response.status() != 202 {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    Some(body["id"].as_str()?.to_owned())
}

both_backends! {
    async fn a_killed_gateway_loses_no_accepted_message() {
        let dir = tempfile::tempdir().unwrap();
        let client = reqwest::Client::new();
        let database_url = common::database_url(dir.path()).await;
        let (mut child, api) = start(dir.path(), &database_url);
        let created: Value = client
            .post(format!("{api}/v1/accounts"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let account = created["session_id"].as_str().unwrap().to_owned();

        // Fire the burst from 8 concurrent senders; kill the process once a third is accepted.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for worker in 0..8 {
            let (client, api, account, tx) = (client.clone(), api.clone(), account.clone(), tx.clone());
            tokio::spawn(async move {
                for i in (worker..BURST).step_by(8) {
                    let _ = tx.send((i, send(&client, &api, &account, i).await));
                }
            });
        }
        drop(tx);
        let mut accepted: HashMap<usize, String> = HashMap::new();
        while let Some((i, id)) = rx.recv().await {
            if let Some(id) = id {
                accepted.insert(i, id);
            }
            if accepted.len() == BURST / 3 {
                child.kill().unwrap();
                child.wait().unwrap();
            }
        }
        assert!(accepted.len() >= BURST / 3);

        let (mut child, api) = start(dir.path(), &database_url);
        for (i, id) in &accepted {
            let r = client
                .get(format!("{api}/v1/accounts/{account}/messages/{id}"))
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "message {i} was accepted before the kill");
        }
        // Re-send everything: accepted keys return their message, the rest are created once.
        let mut ids = HashSet::new();
        for i in 0..BURST {
            let id = send(&client, &api, &account, i).await.unwrap();
            if let Some(before) = accepted.get(&i) {
                assert_eq!(&id, before, "idempotency across the crash");
            }
            ids.insert(id);
        }
        assert_eq!(ids.len(), BURST);
        let page: Value = client
            .get(format!("{api}/v1/accounts/{account}/messages?limit=200"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            page["messages"].as_array().unwrap().len(),
            BURST,
            "no duplicates"
        );

        // SIGTERM: a clean stop with status 0.
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(child.wait().unwrap().success());
    }
}
