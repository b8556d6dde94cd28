//! `/healthz` (alive), `/readyz` (database usable; network state), `/metrics` (Prometheus
//! text). None needs a key: they reveal no account data.
//!
//! Readiness gates traffic, so it fails (503) only for what makes the API itself unusable: the
//! database. A Session network the gateway cannot use (no seed answered, no onion path) leaves
//! the API serving (reads work, sends are persisted and wait) and is reported as `degraded`
//! with the reason; `GET /readyz?require=network` answers 503 for it too, for probes that want
//! that.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::ApiState;

pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}

/// Health or readiness.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` (liveness); `ready`, `degraded` or `not_ready` (readiness).
    pub status: &'static str,
    /// Whether the database answered (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<bool>,
    /// Identity actors running, and waiting for a restart (readiness, when connected to the
    /// Session network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identities: Option<IdentityFigures>,
    /// The Session network as this replica sees it (readiness, when connected to it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkFigures>,
    /// What is degraded, in words (readiness; empty when nothing is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded: Option<Vec<String>>,
}

/// The network's state.
#[derive(Serialize, ToSchema)]
pub struct NetworkFigures {
    /// Service nodes in the pool.
    pub pool: usize,
    /// Onion paths built and tested.
    pub paths: usize,
    /// Requests can go out (at least one path).
    pub usable: bool,
}

/// `GET /readyz` query.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadyQuery {
    /// `network`: also answer 503 when the Session network is unusable.
    #[param(value_type = Option<ReadyRequirement>, nullable = false)]
    pub require: Option<String>,
}

/// `?require=` values.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ReadyRequirement {
    /// The Session network must be usable too.
    Network,
}

/// Identity actor counts.
#[derive(Serialize, ToSchema)]
pub struct IdentityFigures {
    /// Running.
    pub running: usize,
    /// Waiting for a restart after a failure.
    pub restarting: usize,
}

/// The process is alive.
#[utoipa::path(responses((status = 200, body = Health)), tag = "operations")]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        database: None,
        identities: None,
        network: None,
        degraded: None,
    })
}

/// The gateway can serve requests (the database answers): `ready`, or `degraded` with the
/// reason when the Session network is unusable (503 only with `?require=network`); 503
/// `not_ready` when the database does not answer.
#[utoipa::path(params(ReadyQuery),
    responses((status = 200, body = Health), (status = 400, body = super::error::ErrorBody, description = "`invalid_query`: `require` is not `network`"), (status = 503, body = Health)),
    tag = "operations")]
#[get("/readyz")]
async fn readyz(
    state: web::Data<ApiState>,
    query: web::Query<ReadyQuery>,
) -> Result<HttpResponse, super::ApiError> {
    let require_network = match query.require.as_deref() {
        None => false,
        Some("network") => true,
        Some(other) => {
            return Err(super::ApiError::bad_request(
                "invalid_query",
                format!("require: {other:?} is not \"network\""),
            ))
        }
    };
    let database = state.store.ping().await;
    let network = state.actors.network_stats().map(|s| NetworkFigures {
        pool: s.pool_size,
        paths: s.paths,
        usable: s.paths > 0,
    });
    let mut degraded = Vec::new();
    if !database {
        degraded.push("database: no answer".to_owned());
    }
    if let Some(n) = &network {
        if !n.usable {
            degraded.push(format!(
                "network: no onion path (pool of {} nodes); sends wait",
                n.pool
            ));
        }
    }
    let network_down = network.as_ref().is_some_and(|n| !n.usable);
    let ready = database && !(require_network && network_down);
    let status = match (ready, degraded.is_empty()) {
        (false, _) => "not_ready",
        (true, true) => "ready",
        (true, false) => "degraded",
    };
    let body = Health {
        status,
        database: Some(database),
        identities: state.actors.counts().map(|c| IdentityFigures {
            running: c.running,
            restarting: c.restarting,
        }),
        network,
        degraded: Some(degraded),
    };
    Ok(if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    })
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(responses((status = 200, content_type = "text/plain", body = String)), tag = "operations")]
#[get("/metrics")]
async fn metrics(state: web::Data<ApiState>) -> HttpResponse {
    if let Ok(counts) = state.store.status_counts().await {
        state
            .metrics
            .set_stored_counts(&counts.accounts, &counts.deliveries);
    }
    let slack = i64::try_from(crate::actors::health::FLUSH_MS).unwrap_or(0);
    if let Ok(stale) = state
        .store
        .stale_accounts(crate::clock::now_ms(), slack)
        .await
    {
        state.metrics.set_stale_accounts(stale.len());
    }
    if let Some(held) = state.store.writer_held() {
        state.metrics.set_writer_held(held);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
