//! Bearer-key authentication and scopes (design.md §4).
//!
//! Keys look like `sgk_<id>_<secret>`: `id` (32 hex digits) finds the row, and SHA-256 of the
//! whole key is compared in constant time with the stored hash. The admin key from configuration
//! is compared the same way (hash both, then constant-time equality), so response time does not
//! leak how much of a guess was right.

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};
use subtle::ConstantTimeEq as _;

use super::{ApiError, ApiState};
use crate::ids::SessionIdText;

pub use crate::store::api_keys::{generate_key, hash_key, Scope, ScopeError};

impl From<ScopeError> for ApiError {
    fn from(error: ScopeError) -> Self {
        ApiError::bad_request("invalid_scope", error.to_string())
    }
}

/// Who is calling, as proven by the bearer key.
#[derive(Clone, Debug)]
pub enum Principal {
    /// The configured admin key, or a key with the `admin` scope.
    Admin,
    /// A key with per-account scopes.
    Scoped(Vec<Scope>),
}

impl Principal {
    /// Requires the admin scope.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self {
            Self::Admin => Ok(()),
            Self::Scoped(_) => Err(ApiError::Forbidden("the admin scope".into())),
        }
    }

    /// Whether the key may read `account`.
    pub fn can_read(&self, account: &SessionIdText) -> bool {
        match self {
            Self::Admin => true,
            Self::Scoped(scopes) => scopes
                .iter()
                .any(|s| matches!(s, Scope::Read(id) if id == account)),
        }
    }

    /// Requires read access to `account`.
    pub fn require_read(&self, account: &SessionIdText) -> Result<(), ApiError> {
        if self.can_read(account) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "read access to account {account}"
            )))
        }
    }

    /// Requires send access for `account`.
    pub fn require_send(&self, account: &SessionIdText) -> Result<(), ApiError> {
        let allowed = match self {
            Self::Admin => true,
            Self::Scoped(scopes) => scopes
                .iter()
                .any(|s| matches!(s, Scope::Send(id) if id == account)),
        };
        if allowed {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "send access for account {account}"
            )))
        }
    }
}

fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized)?;
    let text = header.to_str().map_err(|_| ApiError::Unauthorized)?;
    let (scheme, key) = text.split_once(' ').ok_or(ApiError::Unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") || key.trim().is_empty() {
        return Err(ApiError::Unauthorized);
    }
    Ok(key.trim().to_owned())
}

/// Authenticates `key` and applies the rate limits (see [`super::rate_limit`]): a refused
/// address is turned away before its key is looked at; a failure takes a cell from its
/// address's bucket; an API key takes one from its own.
async fn limited(
    state: web::Data<ApiState>,
    key: Result<String, ApiError>,
    ip: Option<std::net::IpAddr>,
) -> Result<Principal, ApiError> {
    state.limits.check_ip_before_auth(ip)?;
    match authenticate(&state, key?).await {
        Ok((principal, Some(key_id))) => {
            state.limits.check_key(&key_id)?;
            Ok(principal)
        }
        Ok((principal, None)) => Ok(principal),
        Err(ApiError::Unauthorized) => {
            state.limits.failed_auth(ip)?;
            Err(ApiError::Unauthorized)
        }
        Err(other) => Err(other),
    }
}

/// Authenticates an admin `key` (the configured admin key or a key with the `admin` scope)
/// under the same rate limits as a bearer key, for the status page's login. Returns the key's
/// id, `None` for the configured admin key; 403 for a key without the admin scope.
pub(crate) async fn admin_key_id(
    state: &ApiState,
    key: String,
    ip: Option<std::net::IpAddr>,
) -> Result<Option<String>, ApiError> {
    state.limits.check_ip_before_auth(ip)?;
    match authenticate(state, key).await {
        Ok((Principal::Admin, id)) => {
            if let Some(id) = &id {
                state.limits.check_key(id)?;
            }
            Ok(id)
        }
        Ok((Principal::Scoped(_), _)) => Err(ApiError::Forbidden("the admin scope".into())),
        Err(ApiError::Unauthorized) => {
            state.limits.failed_auth(ip)?;
            Err(ApiError::Unauthorized)
        }
        Err(other) => Err(other),
    }
}

/// The bearer key of a request, if it carries an `Authorization` header.
pub(crate) fn bearer_key(req: &HttpRequest) -> Option<Result<String, ApiError>> {
    req.headers()
        .contains_key(actix_web::http::header::AUTHORIZATION)
        .then(|| bearer(req))
}

/// The principal, and the API key's id (`None` for the configured admin key).
async fn authenticate(
    state: &ApiState,
    key: String,
) -> Result<(Principal, Option<String>), ApiError> {
    let presented = hash_key(&key);
    if bool::from(presented.ct_eq(&state.admin_key_hash)) {
        return Ok((Principal::Admin, None));
    }
    let id = key
        .strip_prefix("sgk_")
        .and_then(|rest| rest.split_once('_'))
        .map(|(id, _)| id)
        .ok_or(ApiError::Unauthorized)?;
    let record = state
        .store
        .get_api_key(id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if !bool::from(presented.as_slice().ct_eq(record.key_hash.as_slice())) {
        return Err(ApiError::Unauthorized);
    }
    let scopes = record
        .scopes
        .iter()
        .map(|s| Scope::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ApiError::Internal("stored scope does not parse".into()))?;
    let principal = if scopes.contains(&Scope::Admin) {
        Principal::Admin
    } else {
        Principal::Scoped(scopes)
    };
    Ok((principal, Some(record.id)))
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<ApiState>>().cloned();
        let key = bearer(req);
        let ip = req.peer_addr().map(|addr| addr.ip());
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("state missing".into()))?;
            limited(state, key, ip).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";

    #[test]
    fn scoped_principals_are_confined() {
        let mine = SessionIdText::parse(ID).unwrap();
        let other = SessionIdText::parse(&format!("05{}", "1".repeat(64))).unwrap();
        let p = Principal::Scoped(vec![Scope::Read(mine.clone())]);
        assert!(p.require_read(&mine).is_ok());
        assert!(p.require_read(&other).is_err());
        assert!(p.require_send(&mine).is_err());
        assert!(p.require_admin().is_err());
    }
}
