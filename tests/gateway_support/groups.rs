//! Helpers for the closed-group suites (`gateway_groups.rs`, `gateway_group_admin.rs`): the
//! group calls through the REST API, and waits on what members receive.

use serde_json::{json, Value};

use super::Gw;
use crate::common::eventually;

impl Gw {
    /// `POST …/groups` named "Ops room" as `admin` inviting `members`; returns the group ID.
    pub async fn create_group(&self, admin: &str, members: &[&str]) -> String {
        let reply = self
            .on(
                "POST",
                admin,
                "/groups",
                Some(json!({"name": "Ops room", "description": "alerts", "members": members})),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_eq!(reply.body["role"], "admin", "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    /// Waits for `who`'s invitation to `group`, accepts it and waits for `group.joined`.
    pub async fn join_group(&self, who: &str, group: &str) {
        self.wait_event(who, "group.invited", |d| d["group"] == group)
            .await;
        self.accept_group(who, group).await;
        self.wait_event(who, "group.joined", |d| d["group"] == group)
            .await;
    }

    /// `POST …/groups/{group}/accept`.
    pub async fn accept_group(&self, who: &str, group: &str) {
        let reply = self
            .on("POST", who, &format!("/groups/{group}/accept"), None)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    /// `POST …/messages {"to": group, "text"}`; returns the message id.
    pub async fn post_to_group(&self, from: &str, group: &str, text: &str) -> String {
        let reply = self
            .on(
                "POST",
                from,
                "/messages",
                Some(json!({"to": group, "text": text})),
            )
            .await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    /// The `message.received` events of `account` in `group` with `text`.
    pub async fn received_in(&self, account: &str, group: &str, text: &str) -> Vec<Value> {
        self.events_typed(account, "message.received")
            .await
            .into_iter()
            .map(|e| e["data"].clone())
            .filter(|d| d["conversation"] == group && d["text"] == text)
            .collect()
    }

    /// Waits (up to 60 s) until `account` received `text` in `group`; returns it.
    pub async fn wait_received_in(&self, account: &str, group: &str, text: &str) -> Value {
        eventually(60, text, || async {
            self.received_in(account, group, text).await.pop()
        })
        .await
    }
}
