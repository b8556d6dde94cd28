//! `/v1/api-keys` (admin): scoped keys. The key itself is returned once, at creation.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::Scope;
use super::formats::{self, ApiKeyCursor, ApiKeyId, DisplayName, Format as _, ScopeText};
use super::paging::{self, Keyset, PageQuery};
use super::{ApiError, ApiState, Principal};
use crate::clock::now_ms;
use crate::store::api_keys::{valid_name, ApiKeyRecord, MAX_NAME_CHARS};

/// Most scopes one key may hold (500 of the longest take about 45 KB of JSON, within the
/// default `api.max_body_bytes` of 64 KiB; a key for more accounts has the admin scope).
const MAX_SCOPES: usize = 500;

pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_key)
        .service(list_keys)
        .service(get_key)
        .service(delete_key);
}

/// `POST /v1/api-keys` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// `admin`, `accounts:<session_id>:read`, `accounts:<session_id>:send` (1 to 500: the
    /// most that fit the default `api.max_body_bytes` with room to spare).
    #[schema(value_type = Vec<ScopeText>, min_items = 1, max_items = 500)]
    pub scopes: Vec<String>,
    /// A label for the operator (at most 100 characters, no control characters).
    #[schema(value_type = Option<DisplayName>)]
    pub name: Option<String>,
}

/// A key as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    /// Id (also inside the key).
    pub id: String,
    /// The label given at creation, if any.
    pub name: Option<String>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Creation time, ms.
    pub created_at: i64,
    /// The bearer key: only in the creation response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl From<ApiKeyRecord> for ApiKeyView {
    fn from(record: ApiKeyRecord) -> Self {
        Self {
            id: record.id,
            name: record.name,
            scopes: record.scopes,
            created_at: record.created_at,
            key: None,
        }
    }
}

/// `GET /v1/api-keys` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    /// Keys, oldest first.
    pub api_keys: Vec<ApiKeyView>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// Create a scoped key (admin). The response carries the key; it is never shown again.
#[utoipa::path(
    request_body = CreateApiKey,
    responses((status = 201, body = ApiKeyView), (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "api-keys"
)]
#[post("/api-keys")]
async fn create_key(
    state: web::Data<ApiState>,
    principal: Principal,
    body: super::json_body::JsonBody<CreateApiKey>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    if body.scopes.is_empty() || body.scopes.len() > MAX_SCOPES {
        return Err(ApiError::bad_request(
            "invalid_scope",
            format!("scopes must list 1 to {MAX_SCOPES} scopes"),
        ));
    }
    if body.name.as_deref().is_some_and(|n| !valid_name(n)) {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!("name must be at most {MAX_NAME_CHARS} characters, no control characters"),
        ));
    }
    formats::check_opt::<DisplayName>(body.name.as_deref(), "name", "invalid_name")?;
    let scopes = body
        .scopes
        .iter()
        .map(|s| Scope::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let (record, key) = state
        .store
        .create_api_key(body.name.as_deref(), &scopes, now_ms())
        .await?;
    let mut view = ApiKeyView::from(record);
    view.key = Some(key.to_string());
    Ok(HttpResponse::Created().json(view))
}

/// List keys, oldest first, a page at a time (admin).
#[utoipa::path(
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Page size, 1 to 1000 (default 100)"),
        ("after" = Option<ApiKeyCursor>, Query, description = "The `next` of the previous page; absent for the first page")
    ),
    responses((status = 200, body = ApiKeyList), (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "api-keys"
)]
#[get("/api-keys")]
async fn list_keys(
    state: web::Data<ApiState>,
    principal: Principal,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let limit = query.limit()?;
    let after = Keyset::decode_opt::<ApiKeyCursor>(query.after.as_deref())?;
    let rows = state
        .store
        .list_api_keys_page(after.as_ref().map(|k| (k.at, k.id.as_str())), limit + 1)
        .await?;
    let (keys, next) = paging::cut(rows, limit, |k| {
        Keyset {
            at: k.created_at,
            id: k.id.clone(),
        }
        .encode()
    });
    let api_keys = keys.into_iter().map(ApiKeyView::from).collect();
    Ok(HttpResponse::Ok().json(ApiKeyList { api_keys, next }))
}

/// One key (admin).
#[utoipa::path(
    params(("id" = ApiKeyId, Path, description = "Key id")),
    responses((status = 200, body = ApiKeyView), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "api-keys"
)]
#[get("/api-keys/{id}")]
async fn get_key(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let id = ApiKeyId::check(&path, "id", "invalid_id")?;
    let record = state
        .store
        .get_api_key(id)
        .await?
        .ok_or(ApiError::NotFound("api key"))?;
    Ok(HttpResponse::Ok().json(ApiKeyView::from(record)))
}

/// Revoke a key (admin).
#[utoipa::path(
    params(("id" = ApiKeyId, Path, description = "Key id")),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "api-keys"
)]
#[delete("/api-keys/{id}")]
async fn delete_key(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let id = ApiKeyId::check(&path, "id", "invalid_id")?;
    if state.store.delete_api_key(id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("api key"))
    }
}
