//! `GET /v1/events/stream`: the event outbox as Server-Sent Events (issue 15), for consumers
//! that want pushed events without accepting inbound HTTP.
//!
//! Every frame is `id: evt_N` and `data: <the event as /v1/events lists it>`. A client that
//! reconnects sends the last id it saw as `Last-Event-ID` (browsers do this themselves) and the
//! stream resumes right after it: the events table is the source, so any replica serves any
//! client from any point, and nothing is lost or repeated across a reconnect. While nothing
//! happens, a comment line (`: heartbeat`) goes out every `api.sse_heartbeat_ms`; the stream
//! ends when the gateway stops. Waiting costs no polling: the stream parks on the store's commit
//! notifier (which, on PostgreSQL, other replicas' commits advance too).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{get, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use super::formats::{EventId, Format as _, SessionId};
use super::{session_id, ApiError, ApiState, Principal};
use crate::store::events::{parse_event_id, Event};

/// Most `account=` values one stream may name.
const MAX_ACCOUNTS: usize = 100;
/// Events read per query.
const BATCH: i64 = 100;

pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(stream_events);
}

/// One frame of the stream as a Server-Sent Events parser reads it (OpenAPI 3.1 describes a
/// `text/event-stream` response by its events): `id` the event id, `data` the event's JSON.
pub struct SseFrame;

impl utoipa::PartialSchema for SseFrame {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .property("id", <EventId as utoipa::PartialSchema>::schema())
            .required("id")
            .property(
                "data",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .content_media_type("application/json")
                    .description(Some("The event, as `GET /v1/events` lists it")),
            )
            .required("data")
            .property("event", ObjectBuilder::new().schema_type(Type::String))
            .into()
    }
}

impl utoipa::ToSchema for SseFrame {}

/// Stream events as Server-Sent Events, from a cursor, live.
///
/// The response is `text/event-stream`: one frame per event, `id: evt_N` and `data:` the event
/// JSON (as `GET /v1/events` lists it); `: heartbeat` comment lines while idle.
#[utoipa::path(
    params(
        ("after" = Option<EventId>, Query, description = "Start after this event id or cursor (default 0); `Last-Event-ID` wins when both are given"),
        ("account" = Option<Vec<SessionId>>, Query, max_items = 100, description = "Only these accounts' events (repeat for several, at most 100; required for keys without the admin scope)"),
        ("Last-Event-ID" = Option<EventId>, Header, nullable = false, description = "The last event id received: resume right after it")
    ),
    responses(
        (status = 200, content_type = "text/event-stream", body = SseFrame, description = "The event stream: one frame per event (the schema describes one frame)"),
        (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody)
    ),
    security(("bearer" = [])), tag = "events"
)]
#[get("/events/stream")]
async fn stream_events(
    state: web::Data<ApiState>,
    principal: Principal,
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let mut after = 0;
    let mut accounts = Vec::new();
    for (key, value) in query.into_inner() {
        match key.as_str() {
            "after" => after = cursor(&value, "after")?,
            "account" => {
                let id = session_id(&value, "account")?;
                principal.require_read(&id)?;
                if !accounts.contains(&id.as_str().to_owned()) {
                    accounts.push(id.as_str().to_owned());
                }
            }
            other => {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!("unknown query parameter {other:?}"),
                ))
            }
        }
    }
    if accounts.is_empty() {
        principal.require_admin()?;
    }
    if accounts.len() > MAX_ACCOUNTS {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("at most {MAX_ACCOUNTS} accounts"),
        ));
    }
    if let Some(last) = req.headers().get("last-event-id") {
        let text = last
            .to_str()
            .map_err(|_| ApiError::bad_request("invalid_header", "Last-Event-ID is not text"))?;
        after = cursor(text.trim(), "Last-Event-ID")?;
    }
    // Subscribed before the first read, so a commit in between still wakes the stream.
    let mut commits = state.store.subscribe_events();
    commits.borrow_and_update();
    let tail = Tail {
        heartbeat: Duration::from_millis(state.settings.api.sse_heartbeat_ms.max(1)),
        shutdown: state.shutdown.clone(),
        state,
        accounts,
        cursor: after,
        commits,
        pending: VecDeque::new(),
    };
    let body = futures::stream::unfold(tail, next_frame);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        // Proxies that buffer (nginx) would hold frames back.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

fn cursor(text: &str, what: &str) -> Result<i64, ApiError> {
    EventId::check(text, what, "invalid_query")?;
    parse_event_id(text).ok_or_else(|| {
        ApiError::bad_request("invalid_query", format!("{what} must be an event id"))
    })
}

/// One open stream's position and wake-ups.
struct Tail {
    state: web::Data<ApiState>,
    accounts: Vec<String>,
    /// The last event sent (or the starting point).
    cursor: i64,
    commits: tokio::sync::watch::Receiver<i64>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    heartbeat: Duration,
    /// Read but not yet sent.
    pending: VecDeque<Event>,
}

/// The next chunk of the stream: an event, a heartbeat, or the end (gateway stopping, or the
/// database failing: the client reconnects with `Last-Event-ID` and loses nothing).
async fn next_frame(mut tail: Tail) -> Option<(Result<Bytes, Infallible>, Tail)> {
    loop {
        if *tail.shutdown.borrow_and_update() {
            return None;
        }
        if let Some(event) = tail.pending.pop_front() {
            tail.cursor = event.cursor;
            return frame(&event).map(|bytes| (Ok(bytes), tail));
        }
        // Marked seen before reading: a commit after this read changes the watch again.
        tail.commits.borrow_and_update();
        match tail
            .state
            .store
            .events_after_for(tail.cursor, &tail.accounts, BATCH)
            .await
        {
            Ok(events) if !events.is_empty() => {
                tail.pending.extend(events);
                continue;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "event stream: cannot read events; closing the stream");
                return None;
            }
        }
        tokio::select! {
            changed = tail.commits.changed() => {
                if changed.is_err() {
                    return None; // the store is gone
                }
            }
            _ = tail.shutdown.changed() => {}
            () = tokio::time::sleep(tail.heartbeat) => {
                return Some((Ok(Bytes::from_static(b": heartbeat\n\n")), tail));
            }
        }
    }
}

/// `id: evt_N` and `data: <json>`: the JSON has no newlines, so it is one `data:` line.
fn frame(event: &Event) -> Option<Bytes> {
    match serde_json::to_string(event) {
        Ok(json) => Some(Bytes::from(format!("id: {}\ndata: {json}\n\n", event.id))),
        Err(error) => {
            tracing::error!(%error, event = %event.id, "event stream: cannot encode an event");
            None
        }
    }
}
