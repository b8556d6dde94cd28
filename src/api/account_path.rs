//! The one handler prologue for `/v1/accounts/{session_id}/…` routes: parse the Session ID in
//! the path (400 `invalid_session_id`), authorise the caller for it (403 `forbidden`) and, where
//! the handler needs it, require the account to exist (404 `not_found`, "account not found").
//! It is a pair of calls rather than an extractor so each handler keeps its order of checks
//! (body and query validation before the existence check), and so its statuses stay as they were.

use super::{session_id, ApiError, ApiState, Principal};
use crate::ids::SessionIdText;

/// What the caller wants to do with the account in the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `accounts:<id>:read` (or admin).
    Read,
    /// `accounts:<id>:send` (or admin).
    Send,
    /// The admin scope.
    Admin,
}

impl Principal {
    /// Requires `access` to `account`.
    pub fn require(&self, access: Access, account: &SessionIdText) -> Result<(), ApiError> {
        match access {
            Access::Read => self.require_read(account),
            Access::Send => self.require_send(account),
            Access::Admin => self.require_admin(),
        }
    }
}

/// The Session ID of the account a path names, parsed but not yet authorised.
#[derive(Debug)]
pub struct AccountPath(SessionIdText);

impl AccountPath {
    /// Parses the `{session_id}` path segment.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        session_id(text, "session_id").map(Self)
    }

    /// The account, once `principal` has `access` to it. Handlers whose own lookup answers
    /// 404 use this and skip [`AuthorisedAccount::existing`].
    pub fn authorise(
        self,
        principal: &Principal,
        access: Access,
    ) -> Result<AuthorisedAccount, ApiError> {
        principal.require(access, &self.0)?;
        Ok(AuthorisedAccount(self.0))
    }
}

/// An account the caller may act on; it may not exist yet (see [`Self::existing`]).
#[derive(Debug)]
pub struct AuthorisedAccount(SessionIdText);

impl AuthorisedAccount {
    /// The Session ID, without checking the account exists.
    pub fn id(self) -> SessionIdText {
        self.0
    }

    /// The Session ID, once the account exists (404 `not_found` "account" otherwise).
    pub async fn existing(self, state: &ApiState) -> Result<SessionIdText, ApiError> {
        require_account(state, &self.0).await?;
        Ok(self.0)
    }
}

/// The whole prologue in one call: parse, authorise, require the account to exist.
pub async fn account_in_path(
    state: &ApiState,
    principal: &Principal,
    access: Access,
    text: &str,
) -> Result<SessionIdText, ApiError> {
    AccountPath::parse(text)?
        .authorise(principal, access)?
        .existing(state)
        .await
}

/// Requires the account `id` to exist (404 `not_found` "account" otherwise).
pub(crate) async fn require_account(state: &ApiState, id: &SessionIdText) -> Result<(), ApiError> {
    state
        .store
        .get_account(id)
        .await?
        .map(|_| ())
        .ok_or(ApiError::NotFound("account"))
}
