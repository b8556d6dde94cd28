//! The status page (issue 15): `GET /` shows the accounts with their health, this replica's
//! onion paths, each account's swarm, the webhook queues and the latest failures, and redraws
//! itself every 3 s from `GET /status.json`. Everything is served from the binary (HTML, CSS
//! and one script; no external assets), and a strict Content-Security-Policy allows only that
//! script (by its hash) and requests to this origin.
//!
//! Admin only: a bearer admin key (the page then also sets the session cookie its refreshes
//! use), or the login form (`POST /login`) that sets an `HttpOnly; SameSite=Strict` session
//! cookie ([`session`]); `POST /logout` clears it. Without either, `/` is the login form and
//! `/status.json` answers 401. These routes are for people, not integrations: they are not in
//! `/openapi.json`.

mod session;
mod view;

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use self::session::Access;
use super::{ApiError, ApiState};

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("page.js");
const LOGIN: &str = include_str!("login.html");

/// The page with its script inlined.
static PAGE_HTML: LazyLock<String> = LazyLock::new(|| PAGE.replace("/*SCRIPT*/", SCRIPT));

/// The policy both pages are served with: the inline script by its hash, styles inline, data
/// from this origin only, forms posting here only, no framing.
static CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT));
    format!(
        "default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
});

/// The routes [`routes`] registers, with their methods (for the 405 fallback's `Allow`,
/// [`super::contract`]).
pub(crate) const ROUTES: &[(&str, &str)] = &[
    ("/", "GET"),
    ("/login", "POST"),
    ("/logout", "POST"),
    ("/status.json", "GET"),
];

/// Registers `/`, `/login`, `/logout` and `/status.json` (outside the OpenAPI document).
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(page))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/status.json", web::get().to(status_json));
}

/// `POST /login` form.
#[derive(serde::Deserialize)]
struct LoginForm {
    key: String,
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP.as_str()))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// The login form, with `error` (static text) under it.
fn login_page(status: StatusCode, error: &str) -> HttpResponse {
    html(status, LOGIN.replace("<!--ERROR-->", error))
}

/// `GET /`: the page for an admin, the login form for anyone else.
async fn page(req: HttpRequest, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    match session::access(&req, &state).await? {
        Access::Bearer(kid) => {
            let cookie = session::issue(&req, &state, kid.as_deref()).await?;
            let mut response = html(StatusCode::OK, PAGE_HTML.clone());
            response.headers_mut().insert(
                header::SET_COOKIE,
                header::HeaderValue::from_str(&cookie)
                    .map_err(|e| ApiError::Internal(e.to_string()))?,
            );
            Ok(response)
        }
        Access::Cookie => Ok(html(StatusCode::OK, PAGE_HTML.clone())),
        Access::Anonymous => Ok(login_page(StatusCode::OK, "")),
    }
}

/// `POST /login`: a right admin key gets the session cookie and goes to the page.
async fn login(
    req: HttpRequest,
    state: web::Data<ApiState>,
    form: Result<web::Form<LoginForm>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let Ok(form) = form else {
        return Ok(login_page(
            StatusCode::BAD_REQUEST,
            "Send the form's key field.",
        ));
    };
    let ip = req.peer_addr().map(|a| a.ip());
    let key = form.into_inner().key;
    match super::auth::admin_key_id(&state, key, ip).await {
        Ok(kid) => {
            let cookie = session::issue(&req, &state, kid.as_deref()).await?;
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/"))
                .insert_header((header::SET_COOKIE, cookie))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish())
        }
        Err(ApiError::Unauthorized) => Ok(login_page(
            StatusCode::UNAUTHORIZED,
            "That key is not an admin key of this gateway.",
        )),
        Err(ApiError::Forbidden(_)) => Ok(login_page(
            StatusCode::FORBIDDEN,
            "That key does not have the admin scope.",
        )),
        Err(other) => Err(other),
    }
}

/// `POST /logout`: ends the session.
async fn logout(req: HttpRequest) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/"))
        .insert_header((header::SET_COOKIE, session::clear(&req)))
        .finish()
}

/// `GET /status.json`: the page's data (bearer admin key or session cookie).
async fn status_json(
    req: HttpRequest,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    match session::access(&req, &state).await? {
        Access::Anonymous => Err(ApiError::Unauthorized),
        Access::Bearer(_) | Access::Cookie => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(view::read(&state).await?)),
    }
}
