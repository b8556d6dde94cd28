//! Shared setup for the `gateway_*` tests: a whole gateway (API, actors, webhooks) against an
//! in-process devnet, on port 0 with a temp data dir, with fast polling and retries. Waits are
//! on observable state with a deadline (the receiver's counters, API rows), never fixed sleeps.
//!
//! Backends: [`start`] runs on the current test variant's backend (see `common::both_backends!`;
//! SQLite outside it), [`start_on`] on a named one. Without a `database.url` in the settings, a
//! gateway gets a SQLite file in its data dir or a fresh database in the binary's throwaway
//! PostgreSQL cluster; [`Gw::database_url`] names it, so a test can restart on the same data.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use session_gateway::app::{Gateway, GatewayOptions};
use session_gateway::config::Settings;
use session_gateway::devnet::Devnet;
use session_gateway::identities::SessionIdentities;
use session_gateway::network::{OnionCipher, SessionNetwork};
use session_gateway::protocol::keys::Identity;

use crate::common::{self, into_reply, Backend, Reply, ADMIN_KEY};
use crate::netsupport;

/// Test settings: polls every ~150 ms while active, quick send retries.
pub fn settings(master: &str) -> Settings {
    let mut s = common::test_settings(master);
    s.polling.active_interval_ms = 150;
    s.polling.quiet_interval_ms = 1_000;
    s.polling.idle_interval_ms = 2_000;
    s.sending.initial_backoff_ms = 50;
    s.sending.max_backoff_ms = 1_000;
    s.sending.max_attempts = 50;
    s.network.path_check_ms = 2_000;
    s
}

/// A network client for `devnet` (3 s request timeouts).
pub fn network(devnet: &Devnet) -> SessionNetwork {
    netsupport::network(devnet, OnionCipher::AesGcm)
}

/// A gateway and its HTTP client.
pub struct Gw {
    pub gateway: Option<Gateway>,
    pub base: String,
    pub client: reqwest::Client,
    /// The database this gateway runs on (restart on it by putting it in `database.url`).
    pub database_url: String,
}

/// Starts a gateway in `dir` against `devnet`, on the current test variant's backend: SQLite
/// outside `both_backends!` (so existing callers keep their SQLite file in `dir`).
pub async fn start(dir: &Path, settings: Settings, devnet: &Devnet) -> Gw {
    start_on(common::backend(), dir, settings, devnet).await
}

/// Starts a gateway on `backend`: a `database.url` already in `settings` is kept; otherwise the
/// gateway gets `dir/gateway.db` (SQLite) or a fresh database in the test cluster (PostgreSQL;
/// panics where there is no cluster, so call it inside a variant that has one).
pub async fn start_on(backend: Backend, dir: &Path, settings: Settings, devnet: &Devnet) -> Gw {
    start_with_network(backend, dir, settings, network(devnet)).await
}

/// [`start_on`] with its own network client (a test that needs other network settings).
pub async fn start_with_network(
    backend: Backend,
    dir: &Path,
    mut settings: Settings,
    network: SessionNetwork,
) -> Gw {
    if settings.database.url.is_none() && backend == Backend::Postgres {
        let url = common::pg::fresh_database()
            .await
            .expect("a PostgreSQL test cluster");
        settings.database.url = Some(url);
    }
    let database_url = settings.database_url(dir);
    let gateway = Gateway::start_with_network(
        GatewayOptions {
            settings,
            data_dir: dir.to_path_buf(),
            listen: "127.0.0.1:0".into(),
            identities: Arc::new(SessionIdentities),
        },
        network,
    )
    .await
    .unwrap();
    Gw {
        base: gateway.base_url(),
        gateway: Some(gateway),
        client: reqwest::Client::new(),
        database_url,
    }
}

impl Gw {
    /// Texts of `account`'s incoming messages, in order (any status).
    pub async fn received_texts(&self, account: &str) -> Vec<String> {
        self.history(account)
            .await
            .iter()
            .filter(|m| m["direction"] == "incoming")
            .filter_map(|m| m["text"].as_str().map(str::to_owned))
            .collect()
    }

    /// One admin call with a 30 s client timeout, as the outage tests time it: status,
    /// `Retry-After`, JSON body (`Null` when none), duration.
    pub async fn timed(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Option<String>, Value, std::time::Duration) {
        let started = std::time::Instant::now();
        let mut request = self
            .client
            .request(method.parse().unwrap(), format!("{}{}", self.base, path))
            .bearer_auth(ADMIN_KEY)
            .timeout(std::time::Duration::from_secs(30));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, retry_after, body, started.elapsed())
    }

    pub fn gateway(&self) -> &Gateway {
        self.gateway.as_ref().unwrap()
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .client
            .request(method.parse().unwrap(), format!("{}{}", self.base, path))
            .bearer_auth(ADMIN_KEY);
        if let Some(body) = body {
            req = req.json(&body);
        }
        into_reply(req.send().await.unwrap()).await
    }

    /// A new account; returns its Session ID.
    pub async fn create_account(&self) -> String {
        let reply = self.admin("POST", "/v1/accounts", Some(json!({}))).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body["session_id"].as_str().unwrap().to_owned()
    }

    /// Imports `identity` by its phrase; returns its Session ID.
    pub async fn import(&self, identity: &Identity) -> String {
        let phrase = identity.recovery_phrase().unwrap();
        let reply = self
            .admin(
                "POST",
                "/v1/accounts",
                Some(json!({"phrase": phrase.expose_secret()})),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body["session_id"].as_str().unwrap().to_owned()
    }

    /// Registers a webhook for `events` at `url`.
    pub async fn webhook(&self, url: &str, events: &[&str]) {
        let reply = self
            .admin(
                "POST",
                "/v1/webhooks",
                Some(json!({"url": url, "events": events})),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }

    /// Sends `text`; returns the message id.
    pub async fn send(&self, from: &str, to: &str, text: &str) -> String {
        let reply = self
            .admin(
                "POST",
                &format!("/v1/accounts/{from}/messages"),
                Some(json!({"to": to, "text": text})),
            )
            .await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    /// Every message of `account`, oldest first (pages through the history API).
    pub async fn history(&self, account: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut before: Option<String> = None;
        loop {
            let mut path = format!("/v1/accounts/{account}/messages?limit=200");
            if let Some(b) = &before {
                path.push_str(&format!("&before={b}"));
            }
            let reply = self.admin("GET", &path, None).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let page = reply.body["messages"].as_array().unwrap().clone();
            if page.is_empty() {
                break;
            }
            before = page.last().unwrap()["id"].as_str().map(str::to_owned);
            out.extend(page);
        }
        out.reverse();
        out
    }

    pub async fn kill(&mut self) {
        if let Some(g) = self.gateway.take() {
            g.kill().await;
        }
    }

    pub async fn stop(&mut self) {
        if let Some(g) = self.gateway.take() {
            g.stop().await;
        }
    }
}

/// `messages_dropped_total{reason}` from `/metrics`.
pub async fn dropped(gw: &Gw, reason: &str) -> u64 {
    let text = gw
        .client
        .get(format!("{}/metrics", gw.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("session_gateway_messages_dropped_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// Messages of a history with this direction and status.
pub fn texts(history: &[Value], direction: &str, status: &str) -> Vec<String> {
    history
        .iter()
        .filter(|m| m["direction"] == direction && m["status"] == status)
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

pub mod chat;
pub mod groups;
