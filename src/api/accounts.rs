//! `/v1/accounts`: create (fresh or from a phrase), list, get, patch, delete, export the phrase.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::account_path::{Access, AccountPath};
use super::formats::{self, AccountCursor, DisplayName};
use super::paging::{self, Keyset};
use super::{double_option, optional_json, page_limit, ApiError, ApiState, Principal};
use crate::clock::now_ms;
use crate::identities::IdentityError;
use crate::store::accounts::{Account, AccountPatch, AccountStatus};
use crate::store::modes::{GroupInvites, MessageRequests, ReadReceipts};

pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_account)
        .service(list_accounts)
        .service(get_account)
        .service(patch_account)
        .service(delete_account)
        .service(export_phrase);
}

/// `POST /v1/accounts` body. Both fields optional; an empty body creates a fresh account.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// Name shown to contacts.
    #[schema(value_type = Option<DisplayName>)]
    pub display_name: Option<String>,
    /// A 13-word recovery phrase to import instead of creating fresh keys.
    #[schema(value_type = Option<formats::RecoveryPhrase>)]
    pub phrase: Option<String>,
}

/// An account as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    /// The account's Session ID.
    pub session_id: String,
    /// Name shown to contacts.
    pub display_name: Option<String>,
    /// `active` or `paused`.
    pub status: AccountStatus,
    /// Creation time, ms since the Unix epoch.
    pub created_at: i64,
    /// The recovery phrase: only in the response that created fresh keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phrase: Option<String>,
    /// `manual` or `auto` (shown on one account's GET and PATCH).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_receipts: Option<ReadReceipts>,
    /// `auto_accept` or `hold` (shown on one account's GET and PATCH).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_requests: Option<MessageRequests>,
    /// `hold` or `auto_accept` (shown on one account's GET and PATCH).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_invites: Option<GroupInvites>,
    /// How its polling goes (shown on one account's GET).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthView>,
}

/// An account's polling health, as the replica running it last wrote it (every few seconds).
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    /// When its last poll cycle finished, ms (`null`: not yet).
    pub last_poll_at: Option<i64>,
    /// How long ago that was, ms (`null`: never polled).
    pub poll_lag_ms: Option<i64>,
    /// The interval it polls at, ms.
    pub poll_interval_ms: i64,
    /// Not polled within three intervals (an active account only).
    pub stale: bool,
    /// The last poll error (kept after later successes; see `last_error_at`).
    pub last_error: Option<String>,
    /// When it happened, ms.
    pub last_error_at: Option<i64>,
    /// The replica holding its lease (`null` when none does).
    pub replica: Option<String>,
    /// The swarm it polls (service nodes' Ed25519 keys), as last known.
    pub swarm: Vec<String>,
}

/// `GET /v1/accounts` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccountsQuery {
    /// `stale`: only active accounts not polled within three of their intervals.
    #[param(value_type = Option<HealthFilter>, nullable = false)]
    pub health: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[param(nullable = false, minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// The `next` of the previous page; absent for the first page.
    #[param(value_type = Option<AccountCursor>, nullable = false)]
    pub after: Option<String>,
}

/// `?health=` values.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthFilter {
    /// Active accounts not polled within three of their intervals.
    Stale,
}

/// The view of one account with its chat settings.
async fn full_view(state: &ApiState, account: Account) -> Result<AccountView, ApiError> {
    let settings = state
        .store
        .chat_settings(account.session_id.as_str())
        .await?;
    let health = state
        .store
        .account_health(account.session_id.as_str())
        .await?;
    let now = crate::clock::now_ms();
    let slack = i64::try_from(crate::actors::health::FLUSH_MS).unwrap_or(0);
    let stale = account.status == AccountStatus::Active
        && health.poll.is_stale(account.created_at, now, slack);
    let health = HealthView {
        last_poll_at: health.poll.last_poll_at,
        poll_lag_ms: health.poll.last_poll_at.map(|at| (now - at).max(0)),
        poll_interval_ms: health.poll.poll_interval_ms,
        stale,
        last_error: health.poll.last_error,
        last_error_at: health.poll.last_error_at,
        replica: health.replica,
        swarm: health.poll.swarm.to_vec(),
    };
    let mut view = AccountView::from(account);
    view.health = Some(health);
    if let Some(settings) = settings {
        view.read_receipts = Some(settings.read_receipts);
        view.message_requests = Some(settings.message_requests);
        view.group_invites = Some(settings.group_invites);
    }
    Ok(view)
}

impl From<Account> for AccountView {
    fn from(account: Account) -> Self {
        Self {
            session_id: account.session_id.as_str().to_owned(),
            display_name: account.display_name,
            status: account.status,
            created_at: account.created_at,
            phrase: None,
            read_receipts: None,
            message_requests: None,
            group_invites: None,
            health: None,
        }
    }
}

/// `GET /v1/accounts` response.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    /// The accounts the key may read, oldest first.
    pub accounts: Vec<AccountView>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// `PATCH /v1/accounts/{session_id}` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchAccount {
    /// New name; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DisplayName>)]
    pub display_name: Option<Option<String>>,
    /// `active` or `paused`.
    pub status: Option<AccountStatus>,
    /// `manual` (default) or `auto`: send read receipts as messages arrive.
    pub read_receipts: Option<ReadReceipts>,
    /// `auto_accept` (default) or `hold`: hold first messages of unknown senders.
    pub message_requests: Option<MessageRequests>,
    /// `hold` (default) or `auto_accept`: keep group invitations until accepted or declined,
    /// or join at once.
    pub group_invites: Option<GroupInvites>,
    /// New avatar image, standard base64, at most 10,000,000 bytes; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<formats::ImageBase64>)]
    pub avatar_base64: Option<Option<String>>,
}

/// `GET /v1/accounts/{session_id}/phrase` response.
#[derive(Serialize, ToSchema)]
pub struct PhraseView {
    /// The 13-word recovery phrase.
    pub phrase: String,
}

fn check_display_name(name: Option<&str>) -> Result<(), ApiError> {
    formats::check_opt::<DisplayName>(name, "display_name", "invalid_display_name").map(|_| ())
}

fn identity_error(error: IdentityError) -> ApiError {
    match error {
        IdentityError::InvalidPhrase(why) => ApiError::bad_request("invalid_phrase", why),
        IdentityError::BadSeed => ApiError::Internal("stored seed is malformed".into()),
    }
}

/// Create an account from fresh keys, or import one from its recovery phrase (admin).
#[utoipa::path(
    request_body(content = Option<CreateAccount>, content_type = "application/json",
        description = "Optional: no body (or `{}`) creates a fresh account"),
    responses(
        (status = 201, body = AccountView, description = "Created; `phrase` only for fresh keys"),
        (status = 400, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)
    ),
    security(("bearer" = [])), tag = "accounts"
)]
#[post("/accounts")]
async fn create_account(
    state: web::Data<ApiState>,
    principal: Principal,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let body: CreateAccount =
        optional_json(&req, payload, state.settings.api.max_body_bytes).await?;
    check_display_name(body.display_name.as_deref())?;
    formats::check_opt::<formats::RecoveryPhrase>(
        body.phrase.as_deref(),
        "phrase",
        "invalid_phrase",
    )?;
    let (identity, fresh) = match &body.phrase {
        Some(phrase) => (
            state.identities.restore(phrase).map_err(identity_error)?,
            false,
        ),
        None => (state.identities.generate().map_err(identity_error)?, true),
    };
    let account = state
        .store
        .insert_account(
            &identity.session_id,
            body.display_name.as_deref(),
            &identity.seed,
            now_ms(),
        )
        .await?
        .ok_or_else(|| ApiError::Conflict {
            code: "already_exists",
            message: format!("account {} already exists", identity.session_id),
        })?;
    state.actors.account_changed(&identity.session_id);
    let mut view = AccountView::from(account);
    if fresh {
        view.phrase = Some(identity.phrase.to_string());
    }
    Ok(HttpResponse::Created().json(view))
}

/// List the accounts this key may read, oldest first, a page at a time; `?health=stale`:
/// only active accounts not polled within three of their intervals.
#[utoipa::path(params(AccountsQuery),
    responses((status = 200, body = AccountList),
        (status = 400, body = super::error::ErrorBody, description = "`invalid_query`: `health` is not `stale`, or a bad `limit` or `after`")),
    security(("bearer" = [])), tag = "accounts")]
#[get("/accounts")]
async fn list_accounts(
    state: web::Data<ApiState>,
    principal: Principal,
    query: web::Query<AccountsQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.limit, paging::DEFAULT_LIMIT, paging::MAX_LIMIT)?;
    let after = Keyset::decode_opt::<AccountCursor>(query.after.as_deref())?;
    let after = after.as_ref().map(|k| (k.at, k.id.as_str()));
    let stale = match query.health.as_deref() {
        None => None,
        Some("stale") => {
            let slack = i64::try_from(crate::actors::health::FLUSH_MS).unwrap_or(0);
            Some(
                state
                    .store
                    .stale_accounts(crate::clock::now_ms(), slack)
                    .await?,
            )
        }
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("health: {other:?} is not \"stale\""),
            ))
        }
    };
    let rows = if matches!(principal, Principal::Admin) && stale.is_none() {
        state.store.list_accounts_page(after, limit + 1).await?
    } else {
        // A scoped key reads a handful of accounts, and stale ones are few: filter them from
        // the rest, then cut.
        let mut rows = state.store.list_accounts_page(after, i64::MAX).await?;
        rows.retain(|a| {
            principal.can_read(&a.session_id)
                && stale
                    .as_ref()
                    .is_none_or(|s| s.iter().any(|id| id == a.session_id.as_str()))
        });
        rows.truncate(usize::try_from(limit + 1).unwrap_or(usize::MAX));
        rows
    };
    let (rows, next) = paging::cut(rows, limit, |a| {
        Keyset {
            at: a.created_at,
            id: a.session_id.as_str().to_owned(),
        }
        .encode()
    });
    let accounts = rows.into_iter().map(AccountView::from).collect();
    Ok(HttpResponse::Ok().json(AccountList { accounts, next }))
}

/// One account.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account's Session ID")),
    responses((status = 200, body = AccountView), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "accounts"
)]
#[get("/accounts/{session_id}")]
async fn get_account(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = AccountPath::parse(&path)?
        .authorise(&principal, Access::Read)?
        .id();
    let account = state
        .store
        .get_account(&id)
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    Ok(HttpResponse::Ok().json(full_view(&state, account).await?))
}

/// Rename or pause/resume an account (admin). A status change emits `account.status`.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account's Session ID")),
    request_body(content = Option<PatchAccount>, content_type = "application/json",
        description = "Optional: no body changes nothing"),
    responses((status = 200, body = AccountView), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "accounts"
)]
#[patch("/accounts/{session_id}")]
async fn patch_account(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = AccountPath::parse(&path)?
        .authorise(&principal, Access::Admin)?
        .id();
    // Avatar hook (issue 5): the body may carry a 10 MB image in base64.
    let limit = super::attachments::MAX_SEND_BODY_BYTES;
    let body: PatchAccount = optional_json(&req, payload, limit).await?;
    check_display_name(body.display_name.as_ref().and_then(|n| n.as_deref()))?;
    // Avatar hook (issue 5): encrypt + upload first, so a failure changes nothing else.
    if let Some(avatar) = &body.avatar_base64 {
        super::attachments::set_avatar(&state, id.as_str(), avatar.as_deref()).await?;
    }
    let patch = AccountPatch {
        display_name: body.display_name,
        status: body.status,
    };
    if body.read_receipts.is_some()
        || body.message_requests.is_some()
        || body.group_invites.is_some()
    {
        state
            .store
            .set_chat_settings(
                id.as_str(),
                body.read_receipts,
                body.message_requests,
                body.group_invites,
            )
            .await?;
    }
    let after = state
        .store
        .patch_account(&id, &patch, now_ms())
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    state.actors.account_changed(&id);
    Ok(HttpResponse::Ok().json(full_view(&state, after).await?))
}

/// Delete an account with its history (admin). Its events stay in the outbox.
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account's Session ID")),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "accounts"
)]
#[delete("/accounts/{session_id}")]
async fn delete_account(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = AccountPath::parse(&path)?
        .authorise(&principal, Access::Admin)?
        .id();
    if state.store.delete_account(&id).await? {
        state.actors.account_changed(&id);
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("account"))
    }
}

/// Export the recovery phrase (admin only).
#[utoipa::path(
    params(("session_id" = formats::SessionId, Path, description = "The account's Session ID")),
    responses((status = 200, body = PhraseView), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])), tag = "accounts"
)]
#[get("/accounts/{session_id}/phrase")]
async fn export_phrase(
    state: web::Data<ApiState>,
    principal: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = AccountPath::parse(&path)?
        .authorise(&principal, Access::Admin)?
        .id();
    let seed = state
        .store
        .account_seed(&id)
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    let phrase = state
        .identities
        .phrase_for_seed(&seed)
        .map_err(identity_error)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(PhraseView {
            phrase: phrase.to_string(),
        }))
}
