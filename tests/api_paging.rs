//! Paging (issue 15): every list pages with `limit` and `after=<next>`, `next` null on the last
//! page, through many items without repeats or gaps, also while items are created and deleted
//! between pages (keyset cursors, not offsets).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

#[macro_use]
mod common;

use std::collections::HashSet;

use common::{spawn, TestGateway};
use serde_json::{json, Value};
use session_gateway::events::{EventData, MessageEvent};
use session_gateway::store::events::NewEvent;

/// Walks a list from its first page: every item's `id_field`, in order, and the page count.
async fn walk(
    gw: &TestGateway,
    path: &str,
    field: &str,
    id_field: &str,
    limit: usize,
) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    let join = if path.contains('?') { '&' } else { '?' };
    loop {
        let mut url = format!("{path}{join}limit={limit}");
        if let Some(after) = &after {
            url.push_str(&format!("&after={after}"));
        }
        let page = gw.admin("GET", &url, None).await;
        assert_eq!(page.status, 200, "{url}: {}", page.body);
        let items = page.body[field].as_array().unwrap();
        assert!(items.len() <= limit);
        ids.extend(
            items
                .iter()
                .map(|i| i[id_field].as_str().unwrap().to_owned()),
        );
        pages += 1;
        match &page.body["next"] {
            Value::Null => return (ids, pages),
            Value::String(next) => {
                assert_eq!(items.len(), limit, "a page before the last is full");
                after = Some(next.clone());
            }
            other => panic!("next: {other}"),
        }
    }
}

fn assert_once_each(ids: &[String], expected: &HashSet<String>) {
    let seen: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(seen.len(), ids.len(), "an item was listed twice");
    assert_eq!(&seen, expected, "listed vs created");
}

fn peer(n: usize) -> String {
    format!("05{n:064x}")
}

both_backends! {
    async fn a_thousand_api_keys_page_without_repeats_or_gaps_while_keys_come_and_go() {
        let gw = spawn().await;
        let mut created = Vec::new();
        for _ in 0..1000 {
            let reply = gw.admin("POST", "/v1/api-keys", Some(json!({"scopes": ["admin"]}))).await;
            assert_eq!(reply.status, 201, "{}", reply.body);
            created.push(reply.body["id"].as_str().unwrap().to_owned());
        }
        let all: HashSet<String> = created.iter().cloned().collect();
        let (ids, pages) = walk(&gw, "/v1/api-keys", "api_keys", "id", 37).await;
        assert_eq!(pages, 1000 / 37 + 1);
        assert_once_each(&ids, &all);
        // Pages in the order of the whole list (oldest first; ties in the same millisecond by id).
        let (whole, pages) = walk(&gw, "/v1/api-keys", "api_keys", "id", 1000).await;
        assert_eq!(pages, 1);
        assert_eq!(ids, whole);

        // Churn between pages: every key that exists throughout appears exactly once; deleted
        // ones never break the walk.
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        let mut deleted = HashSet::new();
        let mut round = 0;
        loop {
            let url = match &after {
                Some(a) => format!("/v1/api-keys?limit=100&after={a}"),
                None => "/v1/api-keys?limit=100".to_owned(),
            };
            let page = gw.admin("GET", &url, None).await;
            let items = page.body["api_keys"].as_array().unwrap();
            seen.extend(items.iter().map(|k| k["id"].as_str().unwrap().to_owned()));
            // Delete the last key listed (the cursor's own item) and one not yet listed; add one.
            if let Some(last) = items.last() {
                let last = last["id"].as_str().unwrap().to_owned();
                let path = format!("/v1/api-keys/{last}");
                assert_eq!(gw.admin("DELETE", &path, None).await.status, 204);
                deleted.insert(last);
            }
            let ahead = &created[(round * 100 + 150).min(999)];
            if deleted.insert(ahead.clone()) {
                gw.admin("DELETE", &format!("/v1/api-keys/{ahead}"), None).await;
            }
            gw.admin("POST", "/v1/api-keys", Some(json!({"scopes": ["admin"]}))).await;
            round += 1;
            match &page.body["next"] {
                Value::String(next) => after = Some(next.clone()),
                _ => break,
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "a key was listed twice");
        for id in created.iter().filter(|id| !deleted.contains(*id)) {
            assert!(unique.contains(id), "{id} was skipped");
        }
    }
}

both_backends! {
    async fn webhooks_accounts_and_deliveries_page_without_repeats_or_gaps() {
        let gw = spawn().await;
        // Webhooks (disabled: no delivery workers), oldest first.
        let mut hooks = Vec::new();
        for _ in 0..300 {
            let reply = gw
                .admin(
                    "POST",
                    "/v1/webhooks",
                    Some(json!({"url": "http://127.0.0.1:9/hook", "enabled": false})),
                )
                .await;
            assert_eq!(reply.status, 201, "{}", reply.body);
            hooks.push(reply.body["id"].as_str().unwrap().to_owned());
        }
        let (ids, _) = walk(&gw, "/v1/webhooks", "webhooks", "id", 29).await;
        assert_once_each(&ids, &hooks.iter().cloned().collect());
        let (whole, _) = walk(&gw, "/v1/webhooks", "webhooks", "id", 1000).await;
        assert_eq!(ids, whole);

        // Accounts.
        let mut accounts = HashSet::new();
        for _ in 0..200 {
            accounts.insert(gw.create_account().await.0);
        }
        let (ids, _) = walk(&gw, "/v1/accounts", "accounts", "session_id", 23).await;
        assert_once_each(&ids, &accounts);

        // Deliveries: one enabled endpoint that never answers (connection refused), 400 events.
        let reply = gw
            .admin("POST", "/v1/webhooks", Some(json!({"url": "http://127.0.0.1:9/hook"})))
            .await;
        let hook = reply.body["id"].as_str().unwrap().to_owned();
        let account = accounts.iter().next().unwrap().clone();
        let mut events = HashSet::new();
        for n in 0..400 {
            let event = gw
                .store()
                .append_event(&NewEvent {
                    account: Some(account.clone()),
                    conversation: Some(peer(n % 7)),
                    timestamp: 1_700_000_000_000 + n as i64,
                    data: EventData::message(
                        MessageEvent::Received,
                        &json!({"id": format!("msg_{n}")}),
                    )
                    .unwrap(),
                })
                .await
                .unwrap();
            events.insert(event.id);
        }
        let path = format!("/v1/webhooks/{hook}/deliveries");
        let (ids, _) = walk(&gw, &path, "deliveries", "event_id", 31).await;
        assert_once_each(&ids, &events);
        let cursors: Vec<i64> =
            ids.iter().map(|id| id.strip_prefix("evt_").unwrap().parse().unwrap()).collect();
        assert!(cursors.windows(2).all(|w| w[0] > w[1]), "newest first");
    }
}

both_backends! {
    async fn conversations_and_messages_page_without_repeats_or_gaps() {
        let gw = spawn().await;
        let (account, _) = gw.create_account().await;
        let mut messages = HashSet::new();
        let mut peers = HashSet::new();
        for n in 0..300 {
            let to = peer(n % 150);
            peers.insert(to.clone());
            let reply = gw
                .admin(
                    "POST",
                    &format!("/v1/accounts/{account}/messages"),
                    Some(json!({"to": to, "text": format!("m{n}")})),
                )
                .await;
            assert_eq!(reply.status, 202, "{}", reply.body);
            messages.insert(reply.body["id"].as_str().unwrap().to_owned());
        }
        let path = format!("/v1/accounts/{account}/messages");
        let (ids, _) = walk(&gw, &path, "messages", "id", 17).await;
        assert_once_each(&ids, &messages);
        // `before` still works as it did: the page after the first 17.
        let first = gw.admin("GET", &format!("{path}?limit=17"), None).await;
        let last = first.body["messages"][16]["id"].as_str().unwrap();
        let older = gw.admin("GET", &format!("{path}?limit=17&before={last}"), None).await;
        assert_eq!(older.body["messages"][0]["id"], Value::String(ids[17].clone()));

        let path = format!("/v1/accounts/{account}/conversations");
        let (ids, _) = walk(&gw, &path, "conversations", "id", 13).await;
        assert_once_each(&ids, &peers);

        // Junk cursors are a 400, not a 500 or an empty page.
        for url in [
            "/v1/api-keys?after=%25%25".to_owned(),
            format!("{path}?after=bm9jb2xvbg"),
            format!("/v1/accounts/{account}/messages?after=msg_unknown"),
            "/v1/accounts?limit=0".to_owned(),
        ] {
            let reply = gw.admin("GET", &url, None).await;
            assert_eq!(reply.status, 400, "{url}: {}", reply.body);
            assert_eq!(reply.body["error"]["code"], "invalid_query", "{url}");
        }
    }
}
