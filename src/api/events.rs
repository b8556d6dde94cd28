//! `GET /v1/events?after=&wait=&account=&limit=`: the event outbox as a long-poll stream, for
//! consumers that cannot accept inbound HTTP. The request parks on the store's commit notifier
//! (no polling loop) until an event after the cursor exists or `wait` seconds pass.

use std::time::Duration;

use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::{formats, page_limit, session_id, ApiError, ApiState, Principal};
use crate::store::events::{parse_event_id, Event};

pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_events);
}

/// Query parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Return events after this cursor (`next` of the previous page, or an event id). Default 0.
    #[param(value_type = Option<formats::EventId>, nullable = false)]
    pub after: Option<String>,
    /// Seconds to wait for an event when none is ready (0 to `api.max_wait_secs`, default 0;
    /// the document states the configured maximum).
    #[param(nullable = false, minimum = 0)]
    pub wait: Option<u64>,
    /// Only this account's events (required for keys without the admin scope).
    #[param(value_type = Option<formats::SessionId>, nullable = false)]
    pub account: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[param(nullable = false, minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Events, oldest first.
    pub events: Vec<Event>,
    /// The cursor to pass as `after` next time.
    pub next: i64,
}

/// Read events after a cursor, waiting up to `wait` seconds for one.
#[utoipa::path(
    params(EventsQuery),
    responses((status = 200, body = EventPage), (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "events"
)]
#[get("/events")]
async fn list_events(
    state: web::Data<ApiState>,
    principal: Principal,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let after = match formats::check_opt::<formats::EventId>(
        query.after.as_deref(),
        "after",
        "invalid_query",
    )? {
        None => 0,
        Some(text) => parse_event_id(text)
            .ok_or_else(|| ApiError::bad_request("invalid_query", "after must be a cursor"))?,
    };
    let max_wait = state.settings.api.max_wait_secs;
    let wait = query.wait.unwrap_or(0);
    if wait > max_wait {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("wait must be at most {max_wait} seconds"),
        ));
    }
    let limit = page_limit(query.limit, 100, 1000)?;
    let account = query
        .account
        .as_deref()
        .map(|a| session_id(a, "account"))
        .transpose()?;
    match &account {
        Some(id) => principal.require_read(id)?,
        None => principal.require_admin()?,
    }
    let account = account.as_ref().map(|a| a.as_str());

    // Subscribe before the first read so an event committed in between still wakes us.
    let mut commits = state.store.subscribe_events();
    commits.borrow_and_update();
    let mut shutdown = state.shutdown.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    let events = loop {
        let events = state.store.events_after(after, account, limit).await?;
        if !events.is_empty() || *shutdown.borrow_and_update() {
            break events;
        }
        tokio::select! {
            woken = tokio::time::timeout_at(deadline, commits.changed()) => match woken {
                Ok(Ok(())) => continue,
                // Timed out, or the store is gone: answer with what we have (nothing).
                Ok(Err(_)) | Err(_) => break events,
            },
            // The gateway is stopping: answer now rather than hold shutdown up.
            _ = shutdown.changed() => break events,
        }
    };
    let next = events.last().map_or(after, |e| e.cursor);
    Ok(HttpResponse::Ok().json(EventPage { events, next }))
}
