//! The server side of X-SOGS authentication (communities.md §2.4), every row in PYSOGS's order:
//! header parsing (rows 1-8, [`SogsAuth::parse`]), the ±24 h window (9), the global ban
//! (10, which also creates the user row), the nonce table (11: the nonce is stored before the
//! signature is checked, so a bad signature still burns it), then the signature (12).

use super::request::{SogsRequest, SogsResponse};
use super::state::{Tables, UserKey};
use crate::protocol::community::{
    SogsAuth, HEADER_NONCE, HEADER_PUBKEY, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use crate::protocol::keys::X25519PublicKey;

/// PYSOGS's `REQUIRE_BLIND_KEYS` (on by default, and always on here).
pub const REQUIRE_BLINDED: bool = true;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The `15…` ID they signed with (lower-case hex).
    pub id: String,
    /// Their user key.
    pub key: UserKey,
}

/// Runs §2.4 on the request's headers: `Ok(None)` for an anonymous request (no headers).
pub fn authenticate(
    tables: &mut Tables,
    server: &X25519PublicKey,
    req: &SogsRequest,
    now_s: f64,
) -> Result<Option<Caller>, SogsResponse> {
    let header = |name: &str| req.header(&name.to_ascii_lowercase());
    let parsed = SogsAuth::parse(
        header(HEADER_PUBKEY),
        header(HEADER_NONCE),
        header(HEADER_TIMESTAMP),
        header(HEADER_SIGNATURE),
        REQUIRE_BLINDED,
    );
    let refuse =
        |e: crate::protocol::community::AuthError| SogsResponse::error(e.status(), &e.to_string());
    let Some(auth) = parsed.map_err(refuse)? else {
        return Ok(None);
    };
    // The devnet clock is never negative; whole seconds as PYSOGS compares them.
    auth.check_time(now_s.max(0.0) as u64).map_err(refuse)?;
    let id = auth.pubkey().to_string();
    let Some(key) = UserKey::of(auth.pubkey(), server) else {
        // Unreachable: parsing admits only `15` IDs while blinding is required.
        return Err(SogsResponse::error(400, "Invalid authentication"));
    };
    let user = tables.user_row(key, &id);
    if user.banned {
        return Err(SogsResponse::forbidden("Banned"));
    }
    if tables.nonces.contains_key(auth.nonce().as_bytes()) {
        return Err(SogsResponse::error(
            425,
            "Invalid authentication: X-SOGS-Nonce cannot be reused",
        ));
    }
    tables.nonces.insert(*auth.nonce().as_bytes(), now_s);
    auth.verify(server, &req.method, &req.endpoint, &req.body)
        .map_err(refuse)?;
    let user = tables.user_row(key, &id);
    // The row shows the ID its owner really uses from now on (it may have been created from a
    // moderator naming their `05` ID).
    user.session_id.clone_from(&id);
    user.seen = true;
    Ok(Some(Caller { id, key }))
}
