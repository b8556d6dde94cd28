//! `/healthz` (alive), `/readyz` (database usable), `/metrics` (Prometheus text). None needs a
//! key: they reveal no account data.

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
    /// `ok`, `ready` or `not_ready`.
    pub status: &'static str,
    /// Whether the database answered (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<bool>,
    /// Identity actors running, and waiting for a restart (readiness, when connected to the
    /// Session network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identities: Option<IdentityFigures>,
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
    })
}

/// The gateway can serve requests (the database answers).
#[utoipa::path(responses((status = 200, body = Health), (status = 503, body = Health)), tag = "operations")]
#[get("/readyz")]
async fn readyz(state: web::Data<ApiState>) -> HttpResponse {
    let database = state.store.ping().await;
    let body = Health {
        status: if database { "ready" } else { "not_ready" },
        database: Some(database),
        identities: state.actors.counts().map(|c| IdentityFigures {
            running: c.running,
            restarting: c.restarting,
        }),
    };
    if database {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
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
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
