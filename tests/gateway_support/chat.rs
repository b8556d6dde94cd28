//! Helpers for the chat-feature suites (`gateway_chat*.rs`): REST calls by path, and waits on
//! an account's events (through `GET /v1/events?account=`) with a deadline.

use serde_json::{json, Value};
use session_gateway::devnet::Devnet;

use super::Gw;
use crate::common::{eventually, Reply};
use crate::netsupport;

/// The issue-5 suites' setup: a 6-node devnet (swarms of 3) and a gateway on a temp data dir
/// (keep the dir alive as long as the gateway).
pub async fn on_devnet() -> (Devnet, tempfile::TempDir, Gw) {
    on_devnet_with(|_| {}).await
}

/// [`on_devnet`] with the gateway's test settings changed by `tweak`.
pub async fn on_devnet_with(
    tweak: impl FnOnce(&mut session_gateway::config::Settings),
) -> (Devnet, tempfile::TempDir, Gw) {
    let devnet = netsupport::devnet(6, 3).await;
    let dir = tempfile::tempdir().unwrap();
    let master = crate::common::master_key();
    let mut settings = super::settings(&master);
    tweak(&mut settings);
    let gw = super::start(dir.path(), settings, &devnet).await;
    (devnet, dir, gw)
}

impl Gw {
    /// Every event of `account` so far, oldest first.
    pub async fn events_of(&self, account: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let path = format!("/v1/events?account={account}&after={after}&limit=1000");
            let reply = self.admin("GET", &path, None).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let page = reply.body["events"].as_array().unwrap().clone();
            if page.is_empty() {
                return out;
            }
            after = reply.body["next"].as_i64().unwrap();
            out.extend(page);
        }
    }

    /// Events of `account` of one type.
    pub async fn events_typed(&self, account: &str, kind: &str) -> Vec<Value> {
        self.events_of(account)
            .await
            .into_iter()
            .filter(|e| e["type"] == kind)
            .collect()
    }

    /// Waits (up to 60 s) for an event of `kind` for `account` whose data satisfies `pred`;
    /// returns its data.
    pub async fn wait_event(
        &self,
        account: &str,
        kind: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let pred = &pred;
        eventually(60, kind, || async move {
            self.events_typed(account, kind)
                .await
                .into_iter()
                .map(|e| e["data"].clone())
                .find(|d| pred(d))
        })
        .await
    }

    /// Sends `text` replying to message `quote`; returns the message id.
    pub async fn reply(&self, from: &str, to: &str, text: &str, quote: &str) -> String {
        let reply = self
            .admin(
                "POST",
                &format!("/v1/accounts/{from}/messages"),
                Some(json!({"to": to, "text": text, "quote": {"id": quote}})),
            )
            .await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    /// A call to `/v1/accounts/{account}{path}`.
    pub async fn on(&self, method: &str, account: &str, path: &str, body: Option<Value>) -> Reply {
        self.admin(method, &format!("/v1/accounts/{account}{path}"), body)
            .await
    }

    /// One message of `account` by id.
    pub async fn message(&self, account: &str, id: &str) -> Value {
        let reply = self
            .on("GET", account, &format!("/messages/{id}"), None)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }

    /// A deleted message of `account`: gone from its own path (404), still in the history as
    /// a tombstone, which is returned.
    pub async fn deleted_message(&self, account: &str, id: &str) -> Value {
        let reply = self
            .on("GET", account, &format!("/messages/{id}"), None)
            .await;
        assert_eq!(reply.status, 404, "{}", reply.body);
        let history = self.on("GET", account, "/messages?limit=200", None).await;
        assert_eq!(history.status, 200, "{}", history.body);
        history.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not in the history: {}", history.body))
            .clone()
    }

    /// Waits for `account` to receive `text` from `from`; returns the message JSON.
    pub async fn received(&self, account: &str, from: &str, text: &str) -> Value {
        self.wait_event(account, "message.received", |d| {
            d["from"] == from && d["text"] == text
        })
        .await
    }
}
