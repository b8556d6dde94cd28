//! `GET /v1/events/stream` (issue 15): Server-Sent Events live, resumed with `Last-Event-ID`
//! after a disconnect and after the gateway serving it stops (another process on the same
//! database takes over) without losing or repeating an event; several `account=` filters;
//! heartbeats while idle; the stream ends when the gateway stops.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

#[macro_use]
mod common;

use std::time::Duration;

use serde_json::{json, Value};
use session_gateway::events::{EventData, MessageEvent};
use session_gateway::store::events::NewEvent;
use session_gateway::store::Store;

use common::{spawn_with, start_in, TestGateway, ADMIN_KEY};

const A: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
const B: &str = "05aa654f00fc39fc69fd0db829410ca38177d7732a8d2f0934ab3872ac56d5aa74";
const C: &str = "0511111111111111111111111111111111111111111111111111111111111111aa";

/// One parsed SSE block: an event (`id`, `data`) or a comment.
#[derive(Debug)]
enum Frame {
    Event { id: String, data: Value },
    Comment(String),
}

/// An open stream and its undecoded bytes.
struct Sse {
    response: reqwest::Response,
    buffer: String,
}

impl Sse {
    async fn open(base: &str, query: &str, last_event_id: Option<&str>) -> Self {
        let mut req = reqwest::Client::new()
            .get(format!("{base}/v1/events/stream{query}"))
            .bearer_auth(ADMIN_KEY);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let response = req.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next frame; `None` when the server ended the stream. Fails after 30 s.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(comment) = line.strip_prefix(':') {
                        return Some(Frame::Comment(comment.trim().to_owned()));
                    }
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.to_owned());
                    }
                    if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(v).unwrap());
                    }
                }
                return Some(Frame::Event {
                    id: id.expect("an id line"),
                    data: data.expect("a data line"),
                });
            }
            let chunk = tokio::time::timeout(Duration::from_secs(30), self.response.chunk())
                .await
                .expect("a frame within 30 s")
                .unwrap();
            match chunk {
                Some(bytes) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                None => return None,
            }
        }
    }

    /// The next `n` events (skipping heartbeats): their ids, checked against their data.
    async fn events(&mut self, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        while ids.len() < n {
            match self.next().await.expect("the stream ended early") {
                Frame::Event { id, data } => {
                    assert_eq!(data["id"], id.as_str(), "id: is the event id");
                    ids.push(id);
                }
                Frame::Comment(_) => {}
            }
        }
        ids
    }
}

async fn event(store: &Store, account: &str, n: usize) -> String {
    store
        .append_event(&NewEvent {
            account: Some(account.to_owned()),
            conversation: Some(B.to_owned()),
            timestamp: 1_700_000_000_000 + n as i64,
            data: EventData::message(MessageEvent::Received, &json!({"id": format!("msg_{n}")}))
                .unwrap(),
        })
        .await
        .unwrap()
        .id
}

async fn gateway() -> TestGateway {
    spawn_with(|s| s.api.sse_heartbeat_ms = 200).await
}

both_backends! {
    async fn a_client_resumes_with_last_event_id_and_loses_or_repeats_nothing() {
        let mut gw = gateway().await;
        let mut expected = Vec::new();
        for n in 0..3 {
            expected.push(event(gw.store(), A, n).await);
        }
        // Backlog, then live.
        let mut sse = Sse::open(&gw.base, "?after=0", None).await;
        let mut seen = sse.events(3).await;
        for n in 3..6 {
            expected.push(event(gw.store(), A, n).await);
        }
        seen.extend(sse.events(3).await);
        // Disconnect; events keep coming.
        drop(sse);
        for n in 6..9 {
            expected.push(event(gw.store(), A, n).await);
        }
        // Reconnect: `Last-Event-ID` wins over the original `after=0`.
        let last = seen.last().unwrap().clone();
        let mut sse = Sse::open(&gw.base, "?after=0", Some(&last)).await;
        seen.extend(sse.events(3).await);
        for n in 9..12 {
            expected.push(event(gw.store(), A, n).await);
        }
        seen.extend(sse.events(3).await);
        assert_eq!(seen, expected);

        // The gateway stops: the stream ends cleanly. Another gateway process on the same
        // database (a replica change) serves the resumed stream.
        let settings = gw.settings();
        gw.stop().await;
        loop {
            match sse.next().await {
                None => break,
                Some(Frame::Comment(_)) => {}
                Some(frame) => panic!("nothing new was committed: {frame:?}"),
            }
        }
        let next = start_in(gw.dir.path(), settings).await.unwrap();
        for n in 12..15 {
            expected.push(event(next.store(), A, n).await);
        }
        let last = seen.last().unwrap().clone();
        let mut sse = Sse::open(&next.base_url(), "", Some(&last)).await;
        seen.extend(sse.events(3).await);
        assert_eq!(seen, expected);
        drop(sse);
        next.stop().await;
    }
}

both_backends! {
    async fn several_accounts_filter_the_stream_and_idle_streams_send_heartbeats() {
        let gw = gateway().await;
        let mut expected = Vec::new();
        for n in 0..9 {
            let account = [A, B, C][n % 3];
            let id = event(gw.store(), account, n).await;
            if account != C {
                expected.push(id);
            }
        }
        let mut sse = Sse::open(&gw.base, &format!("?account={A}&account={B}"), None).await;
        assert_eq!(sse.events(6).await, expected);
        // Idle now: a heartbeat comes before anything else.
        match sse.next().await.unwrap() {
            Frame::Comment(text) => assert_eq!(text, "heartbeat"),
            frame => panic!("expected a heartbeat, got {frame:?}"),
        }
        let id = event(gw.store(), C, 100).await;
        let id_b = event(gw.store(), B, 101).await;
        assert_eq!(sse.events(1).await, vec![id_b], "{id} (account C) is filtered out");

        // Bad requests are JSON errors, not streams.
        for query in ["?after=x", "?account=05", "?unknown=1"] {
            let reply = gw.admin("GET", &format!("/v1/events/stream{query}"), None).await;
            assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        }
        // A read-scoped key must name its accounts, and only those.
        let key = gw
            .admin("POST", "/v1/api-keys", Some(json!({"scopes": [format!("accounts:{A}:read")]})))
            .await
            .body["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let status = |q: String| {
            let gw = &gw;
            let key = key.clone();
            async move {
                let path = format!("/v1/events/stream{q}");
                gw.call("GET", &path, Some(&key), None).await.status
            }
        };
        assert_eq!(status(String::new()).await, 403);
        assert_eq!(status(format!("?account={A}&account={B}")).await, 403);
    }
}
