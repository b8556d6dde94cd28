//! `/v1/webhooks` (admin): endpoints with event and account filters, secret rotation, delivery
//! log and replay.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::formats::{self, Format as _, WebhookCursor, WebhookId, WebhookUrl};
use super::paging::{self, Keyset, PageQuery};
use super::{double_option, optional_json, page_limit, session_id, ApiError, ApiState, Principal};
use crate::clock::now_ms;
use crate::store::events::{parse_event_id, Delivery, DeliveryStatus, EventType, ReplayFilter};
use crate::store::webhooks::{Webhook, WebhookSecret};
use crate::webhooks::signature;
use crate::webhooks::targets::{TargetError, TargetPolicy};

pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_webhook)
        .service(list_webhooks)
        .service(get_webhook)
        .service(patch_webhook)
        .service(delete_webhook)
        .service(rotate_secret)
        .service(list_deliveries)
        .service(replay);
}

/// `POST /v1/webhooks` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// `http://` or `https://` URL events are POSTed to.
    #[schema(value_type = WebhookUrl)]
    pub url: String,
    /// Event types to deliver (default: all).
    #[schema(value_type = Option<Vec<EventType>>)]
    pub events: Option<Vec<String>>,
    /// Session IDs whose events to deliver, at most 500 (default: all accounts).
    #[schema(value_type = Option<Vec<formats::SessionId>>, max_items = 500)]
    pub accounts: Option<Vec<String>>,
    /// Signing secret `whsec_<base64 of 24 to 64 bytes>` (default: generated).
    #[schema(value_type = Option<formats::WebhookSecret>)]
    pub secret: Option<String>,
    /// Deliver at all (default true).
    pub enabled: Option<bool>,
}

/// `PATCH /v1/webhooks/{id}` body; `null` filters mean "all".
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchWebhook {
    /// New URL.
    #[schema(value_type = Option<WebhookUrl>)]
    pub url: Option<String>,
    /// New event filter; `null` = all.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<EventType>>)]
    pub events: Option<Option<Vec<String>>>,
    /// New account filter, at most 500 Session IDs; `null` = all.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<formats::SessionId>>, max_items = 500)]
    pub accounts: Option<Option<Vec<String>>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

/// A webhook as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    /// Id.
    pub id: String,
    /// Target URL.
    pub url: String,
    /// Event filter (`null` = all).
    pub events: Option<Vec<String>>,
    /// Account filter (`null` = all).
    pub accounts: Option<Vec<String>>,
    /// Enabled.
    pub enabled: bool,
    /// Creation time, ms.
    pub created_at: i64,
    /// The signing secret: only when created or rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<&Webhook> for WebhookView {
    fn from(hook: &Webhook) -> Self {
        Self {
            id: hook.id.clone(),
            url: hook.url.clone(),
            events: hook.events.clone(),
            accounts: hook.accounts.clone(),
            enabled: hook.enabled,
            created_at: hook.created_at,
            secret: None,
        }
    }
}

/// `GET /v1/webhooks` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// Webhooks, oldest first.
    pub webhooks: Vec<WebhookView>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// `POST …/rotate-secret` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    /// The new secret (signs from now on).
    pub secret: String,
    /// Until when (ms) the previous secret also signs.
    pub previous_expires_at: i64,
}

/// Delivery log query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only deliveries with this status.
    #[param(nullable = false)]
    pub status: Option<DeliveryStatus>,
    /// Page size, 1 to 500 (default 100).
    #[param(nullable = false, minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next` of the previous page (an event id); absent for the first page.
    #[param(value_type = Option<formats::EventId>, nullable = false)]
    pub after: Option<String>,
}

/// Delivery log, newest event first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    /// Deliveries.
    pub deliveries: Vec<Delivery>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// `POST …/replay` body (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Re-send every matching event from this event id (`evt_N`) on, delivered or not. Without
    /// it, only dead-lettered deliveries are re-queued.
    #[schema(value_type = Option<formats::EventId>)]
    pub from: Option<String>,
}

/// `POST …/replay` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayResult {
    /// How many deliveries were queued.
    pub requeued: u64,
}

/// The URL parses, and its host (as it resolves now) is a target `webhooks.allowed_hosts` and
/// `webhooks.deny_private` allow (400 `webhook_target_denied`); delivery checks again.
async fn check_url(state: &ApiState, url: &str) -> Result<(), ApiError> {
    WebhookUrl::check(url, "url", "invalid_url")?;
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| ApiError::bad_request("invalid_url", format!("url: {e}")))?;
    match state.webhook_targets.check_resolved(&parsed).await {
        Ok(()) => {}
        Err(TargetError::BadUrl) => {
            return Err(ApiError::bad_request(
                "invalid_url",
                TargetError::BadUrl.to_string(),
            ))
        }
        // Well-formed, but this gateway's policy forbids the target: 403, not 400.
        Err(denied) => {
            return Err(ApiError::Refused {
                code: "webhook_target_denied",
                message: denied.to_string(),
            })
        }
    }
    if TargetPolicy::is_cleartext(&parsed) {
        tracing::warn!(
            host = parsed.host_str().unwrap_or_default(),
            "webhook target is http:// outside loopback: events (message text) travel in clear"
        );
    }
    Ok(())
}

fn check_events(events: Option<&Vec<String>>) -> Result<(), ApiError> {
    for event in events.into_iter().flatten() {
        if EventType::parse(event).is_none() {
            return Err(ApiError::bad_request(
                "invalid_event_type",
                format!("unknown event type {event:?}"),
            ));
        }
    }
    Ok(())
}

/// Most accounts one webhook's filter may name (500 Session IDs take about 35 KB of JSON,
/// within the default `api.max_body_bytes`); a webhook for more accounts has no filter.
const MAX_FILTER_ACCOUNTS: usize = 500;

fn check_accounts(accounts: Option<&Vec<String>>) -> Result<(), ApiError> {
    if accounts.is_some_and(|a| a.len() > MAX_FILTER_ACCOUNTS) {
        return Err(ApiError::bad_request(
            "invalid_session_id",
            format!("accounts lists at most {MAX_FILTER_ACCOUNTS} Session IDs"),
        ));
    }
    for account in accounts.into_iter().flatten() {
        session_id(account, "accounts")?;
    }
    Ok(())
}

/// The webhook a `{id}` path segment names (400 `invalid_id` if malformed, 404 if unknown).
async fn load(state: &ApiState, id: &str) -> Result<Webhook, ApiError> {
    let id = WebhookId::check(id, "id", "invalid_id")?;
    state
        .store
        .get_webhook(id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))
}

/// Register a webhook (admin).
#[utoipa::path(
    request_body = CreateWebhook,
    responses((status = 201, body = WebhookView), (status = 400, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody, description = "`webhook_target_denied`: `webhooks.allowed_hosts` or `webhooks.deny_private` forbid the host (or `forbidden`)")),
    security(("bearer" = [])), tag = "webhooks"
)]
#[post("/webhooks")]
async fn create_webhook(
    state: web::Data<ApiState>,
    principal: Principal,
    body: super::json_body::JsonBody<CreateWebhook>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let body = body.into_inner();
    check_url(&state, &body.url).await?;
    check_events(body.events.as_ref())?;
    check_accounts(body.accounts.as_ref())?;
    let secret = match body.secret {
        Some(secret) => {
            signature::secret_key(&secret)
                .map_err(|e| ApiError::bad_request("invalid_secret", e.to_string()))?;
            secret
        }
        None => signature::generate_secret(),
    };
    let now = now_ms();
    let hook = Webhook {
        id: format!("wh_{}", uuid::Uuid::new_v4().simple()),
        url: body.url,
        events: body.events,
        accounts: body.accounts,
        secrets: vec![WebhookSecret {
            secret: secret.clone(),
            expires_at: None,
        }],
        enabled: body.enabled.unwrap_or(true),
        created_at: now,
        updated_at: now,
    };
    state.store.insert_webhook(&hook).await?;
    state.webhooks.poke();
    let mut view = WebhookView::from(&hook);
    view.secret = Some(secret);
    Ok(HttpResponse::Created().json(view))
}

/// List webhooks, oldest first, a page at a time (admin).
#[utoipa::path(
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size, 1 to 1000 (default 100)"),
        ("after" = Option<WebhookCursor>, Query, description = "The `next` of the previous page; absent for the first page")
    ),
    responses((status = 200, body = WebhookList), (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "webhooks"
)]
#[get("/webhooks")]
async fn list_webhooks(
    state: web::Data<ApiState>,
    principal: Principal,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let limit = query.limit()?;
    let after = Keyset::decode_opt::<WebhookCursor>(query.after.as_deref())?;
    let rows = state
        .store
        .list_webhooks_page(after.as_ref().map(|k| (k.at, k.id.as_str())), limit + 1)
        .await?;
    let (hooks, next) = paging::cut(rows, limit, |h| {
        Keyset {
            at: h.created_at,
            id: h.id.clone(),
        }
        .encode()
    });
    let webhooks = hooks.iter().map(WebhookView::from).collect();
    Ok(HttpResponse::Ok().json(WebhookList { webhooks, next }))
}

/// One webhook (admin).
#[utoipa::path(
    params(("id" = WebhookId, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookView), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "webhooks"
)]
#[get("/webhooks/{id}")]
async fn get_webhook(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let hook = load(&state, &path).await?;
    Ok(HttpResponse::Ok().json(WebhookView::from(&hook)))
}

/// Change a webhook (admin).
#[utoipa::path(
    params(("id" = WebhookId, Path, description = "Webhook id")),
    request_body = PatchWebhook,
    responses((status = 200, body = WebhookView), (status = 404, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody, description = "`webhook_target_denied`: `webhooks.allowed_hosts` or `webhooks.deny_private` forbid the host (or `forbidden`)")),
    security(("bearer" = [])), tag = "webhooks"
)]
#[patch("/webhooks/{id}")]
async fn patch_webhook(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
    body: super::json_body::JsonBody<PatchWebhook>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let body = body.into_inner();
    let mut hook = load(&state, &path).await?;
    if let Some(url) = body.url {
        check_url(&state, &url).await?;
        hook.url = url;
    }
    if let Some(events) = body.events {
        check_events(events.as_ref())?;
        hook.events = events;
    }
    if let Some(accounts) = body.accounts {
        check_accounts(accounts.as_ref())?;
        hook.accounts = accounts;
    }
    if let Some(enabled) = body.enabled {
        hook.enabled = enabled;
    }
    hook.updated_at = now_ms();
    state.store.update_webhook(&hook).await?;
    state.webhooks.poke();
    Ok(HttpResponse::Ok().json(WebhookView::from(&hook)))
}

/// Delete a webhook and its delivery log (admin).
#[utoipa::path(
    params(("id" = WebhookId, Path, description = "Webhook id")),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "webhooks"
)]
#[delete("/webhooks/{id}")]
async fn delete_webhook(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let id = WebhookId::check(&path, "id", "invalid_id")?;
    if !state.store.delete_webhook(id).await? {
        return Err(ApiError::NotFound("webhook"));
    }
    state.webhooks.poke();
    Ok(HttpResponse::NoContent().finish())
}

/// Start signing with a new secret; the previous one keeps signing for
/// `webhooks.rotation_grace_secs` so receivers can switch without downtime (admin).
#[utoipa::path(
    params(("id" = WebhookId, Path, description = "Webhook id")),
    responses((status = 200, body = RotatedSecret), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "webhooks"
)]
#[post("/webhooks/{id}/rotate-secret")]
async fn rotate_secret(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let mut hook = load(&state, &path).await?;
    let now = now_ms();
    let grace = i64::try_from(
        state
            .settings
            .webhooks
            .rotation_grace_secs
            .saturating_mul(1000),
    )
    .unwrap_or(i64::MAX);
    let previous_expires_at = now.saturating_add(grace);
    let secret = signature::generate_secret();
    let mut secrets = vec![WebhookSecret {
        secret: secret.clone(),
        expires_at: None,
    }];
    // Keep the current secret for the grace period; drop anything already expired.
    secrets.extend(
        hook.secrets
            .iter()
            .filter(|s| s.expires_at.is_none_or(|at| at > now))
            .map(|s| WebhookSecret {
                secret: s.secret.clone(),
                expires_at: Some(
                    s.expires_at
                        .unwrap_or(previous_expires_at)
                        .min(previous_expires_at),
                ),
            }),
    );
    hook.secrets = secrets;
    hook.updated_at = now;
    state.store.update_webhook(&hook).await?;
    state.webhooks.poke();
    Ok(HttpResponse::Ok().json(RotatedSecret {
        secret,
        previous_expires_at,
    }))
}

/// Delivery log (admin).
#[utoipa::path(
    params(("id" = WebhookId, Path, description = "Webhook id"), DeliveryQuery),
    responses((status = 200, body = DeliveryList), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "webhooks"
)]
#[get("/webhooks/{id}/deliveries")]
async fn list_deliveries(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    load(&state, &path).await?;
    let limit = page_limit(query.limit, 100, 500)?;
    let before =
        formats::check_opt::<formats::EventId>(query.after.as_deref(), "after", "invalid_query")?
            .and_then(parse_event_id);
    let rows = state
        .store
        .list_deliveries(&path, query.status, before, limit + 1)
        .await?;
    let (deliveries, next) = paging::cut(rows, limit, |d| d.event_id.clone());
    Ok(HttpResponse::Ok().json(DeliveryList { deliveries, next }))
}

/// Re-queue dead deliveries, or everything from an event on (admin).
#[utoipa::path(
    params(("id" = WebhookId, Path, description = "Webhook id")),
    request_body(content = Option<ReplayRequest>, content_type = "application/json",
        description = "Optional: no body re-queues the dead-lettered deliveries"),
    responses((status = 200, body = ReplayResult), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "webhooks"
)]
#[post("/webhooks/{id}/replay")]
async fn replay(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let body: ReplayRequest =
        optional_json(&req, payload, state.settings.api.max_body_bytes).await?;
    load(&state, &path).await?;
    let from_cursor =
        formats::check_opt::<formats::EventId>(body.from.as_deref(), "from", "invalid_event_id")?
            .and_then(parse_event_id);
    let requeued = state
        .store
        .replay_deliveries(&path, &ReplayFilter { from_cursor }, now_ms())
        .await?;
    state.webhooks.poke();
    Ok(HttpResponse::Ok().json(ReplayResult { requeued }))
}
