//! Who may see the status page: an admin key, as a bearer header or through the login form's
//! session cookie.
//!
//! The cookie (`sg_status`, `HttpOnly; SameSite=Strict; Path=/`, 12 hours) never holds the key.
//! It holds `v1.<kid>.<expires_ms>.<mac>`: `kid` is `admin` for the configured admin key or an
//! API key's id, and `mac` is HMAC-SHA256 over `kid` and the expiry, keyed with the SHA-256 of
//! that key (the hash the gateway already keeps). Any replica can check it without shared
//! session state; revoking the API key (or changing the admin key) ends its sessions, and so
//! does losing the admin scope.

use actix_web::HttpRequest;
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::api::auth::{admin_key_id, bearer_key, Scope};
use crate::api::{ApiError, ApiState};

/// The cookie's name.
pub(super) const COOKIE: &str = "sg_status";
/// How long a login lasts.
const LIFETIME_MS: i64 = 12 * 3600 * 1000;
/// `kid` of the configured admin key.
const ADMIN_KID: &str = "admin";

/// How a request proved it may see the page.
pub(super) enum Access {
    /// A bearer admin key (`None`: the configured one); a cookie is issued for the page's own
    /// refreshes.
    Bearer(Option<String>),
    /// A valid session cookie.
    Cookie,
    /// Neither: show the login form.
    Anonymous,
}

/// Checks the request's bearer key or cookie. A bearer key that is wrong or lacks the admin
/// scope is an error (401/403/429), as on the API; a missing or stale cookie is `Anonymous`.
pub(super) async fn access(req: &HttpRequest, state: &ApiState) -> Result<Access, ApiError> {
    let ip = req.peer_addr().map(|a| a.ip());
    if let Some(key) = bearer_key(req) {
        return Ok(Access::Bearer(admin_key_id(state, key?, ip).await?));
    }
    match cookie(req) {
        Some(token) if valid(state, &token, crate::clock::now_ms()).await? => Ok(Access::Cookie),
        _ => Ok(Access::Anonymous),
    }
}

/// The `Set-Cookie` value of a new session for key `kid` (`None`: the configured admin key).
pub(super) async fn issue(
    req: &HttpRequest,
    state: &ApiState,
    kid: Option<&str>,
) -> Result<String, ApiError> {
    let kid = kid.unwrap_or(ADMIN_KID);
    let expires = crate::clock::now_ms() + LIFETIME_MS;
    let key = mac_key(state, kid)
        .await?
        .ok_or_else(|| ApiError::Internal("the key just used is gone".into()))?;
    let token = format!("v1.{kid}.{expires}.{}", mac(&key, kid, expires));
    Ok(format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        LIFETIME_MS / 1000,
        secure(req)
    ))
}

/// The `Set-Cookie` value that ends a session.
pub(super) fn clear(req: &HttpRequest) -> String {
    format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        secure(req)
    )
}

/// `; Secure` when the page is served over HTTPS (by a TLS proxy that says so).
fn secure(req: &HttpRequest) -> &'static str {
    if req.connection_info().scheme() == "https" {
        "; Secure"
    } else {
        ""
    }
}

/// The session cookie's value, if the request carries one.
fn cookie(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            pair.trim()
                .strip_prefix(COOKIE)?
                .strip_prefix('=')
                .map(str::to_owned)
        })
}

/// Whether `token` is a session of a key that still has the admin scope, unexpired at `now`.
async fn valid(state: &ApiState, token: &str, now: i64) -> Result<bool, ApiError> {
    let mut parts = token.split('.');
    let (Some("v1"), Some(kid), Some(expires), Some(given), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Ok(false);
    };
    let Ok(expires) = expires.parse::<i64>() else {
        return Ok(false);
    };
    if expires <= now || kid.len() > 64 {
        return Ok(false);
    }
    let Some(key) = mac_key(state, kid).await? else {
        return Ok(false);
    };
    let expected = mac(&key, kid, expires);
    Ok(!expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes())))
}

/// The MAC key of `kid`: the hash of the configured admin key, or of an API key that still
/// has the admin scope.
async fn mac_key(state: &ApiState, kid: &str) -> Result<Option<Vec<u8>>, ApiError> {
    if kid == ADMIN_KID {
        return Ok(Some(state.admin_key_hash.to_vec()));
    }
    let Some(record) = state.store.get_api_key(kid).await? else {
        return Ok(None);
    };
    let admin = record
        .scopes
        .iter()
        .any(|s| Scope::parse(s).is_ok_and(|s| s == Scope::Admin));
    Ok(admin.then_some(record.key_hash))
}

fn mac(key: &[u8], kid: &str, expires: i64) -> String {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(format!("session-gateway status v1\n{kid}\n{expires}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mac_binds_the_key_the_id_and_the_expiry() {
        let a = mac(&[1; 32], "admin", 10);
        assert_eq!(a, mac(&[1; 32], "admin", 10));
        assert_ne!(a, mac(&[2; 32], "admin", 10));
        assert_ne!(a, mac(&[1; 32], "other", 10));
        assert_ne!(a, mac(&[1; 32], "admin", 11));
        assert!(
            !a.contains('.'),
            "the token's separator never appears in a MAC"
        );
    }
}
