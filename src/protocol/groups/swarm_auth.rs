//! How a storage server authenticates requests to a group's swarm (groups.md §4.5; SS
//! `request_handler.cpp`, `crypto/subaccount.cpp`), as a pure function a simulated node calls
//! with its own revocation lookup.
//!
//! A `03` account's key is the group's Ed25519 key. An admin signs with it; a member sends the
//! subaccount triple and signs with the token's key. In order:
//! 1. a revoked token (exact 36 bytes) is refused, unless the method is `retrieve` from an
//!    unrevocable namespace (`-n % 100 == 11`, e.g. −11, where kicked members learn they were
//!    kicked);
//! 2. the token's prefix is `03` or it has `ANY_PREFIX`;
//! 3. it carries the method's required flags;
//! 4. the group key signed the 36 token bytes;
//! 5. the request signature verifies under the token's key.

use ed25519_dalek::Signature;

use crate::protocol::storage::{
    verify_request_signature, AccountId, Namespace, SubaccountCheckError, SubaccountFlags,
    SubaccountToken, VerifyError,
};

/// The storage methods whose authentication §4.5 describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupMethod {
    /// `retrieve`.
    Retrieve,
    /// `get_expiries`.
    GetExpiries,
    /// `store`.
    Store,
    /// `expire`; `shorten` says whether the request asked to shorten.
    Expire {
        /// The request set `shorten`.
        shorten: bool,
    },
    /// `delete`.
    Delete,
    /// `delete_all`.
    DeleteAll,
    /// `delete_before`.
    DeleteBefore,
    /// `expire_all`.
    ExpireAll,
    /// `revoke_subaccount` (group key only).
    RevokeSubaccount,
    /// `unrevoke_subaccount` (group key only).
    UnrevokeSubaccount,
}

/// Why a group request was refused. Every case is a 401 except [`SwarmAuthError::ShortenDenied`]
/// (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SwarmAuthError {
    /// The method takes no subaccount.
    #[error("subaccounts are not permitted for this method")]
    SubaccountNotAllowed,
    /// The token was revoked.
    #[error("subaccount token has been revoked")]
    Revoked,
    /// A subaccount without `DELETE` asked to shorten expiries.
    #[error("subaccount lacks permission to shorten expiries")]
    ShortenDenied,
    /// Checks 2-5 failed.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

/// What a successful check grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupAuthority {
    /// Signed by the group key (an admin).
    Admin,
    /// Signed by a member's subaccount with these flags. For `expire` without `DELETE` the node
    /// must treat the request as extend-only.
    Member(SubaccountFlags),
}

impl GroupMethod {
    /// The flags a subaccount needs, or `None` when the method does not take one.
    pub fn required_flags(self, namespace: Namespace) -> Option<SubaccountFlags> {
        use SubaccountFlags as F;
        Some(match self {
            Self::Retrieve | Self::GetExpiries => F::READ,
            Self::Store if namespace.is_public_outbox() => F::WRITE | F::DELETE,
            Self::Store | Self::Expire { .. } => F::WRITE,
            Self::Delete | Self::DeleteAll | Self::DeleteBefore | Self::ExpireAll => F::DELETE,
            Self::RevokeSubaccount | Self::UnrevokeSubaccount => return None,
        })
    }

    /// Whether the revocation list is skipped: `retrieve` from an unrevocable namespace.
    pub fn skips_revocation(self, namespace: Namespace) -> bool {
        self == Self::Retrieve && namespace.is_unrevocable()
    }
}

/// A group request's authentication fields, decoded.
#[derive(Debug, Clone, Copy)]
pub struct GroupRequestAuth<'a> {
    /// `signature`.
    pub signature: &'a Signature,
    /// `subaccount` and `subaccount_sig`, when a member signs.
    pub subaccount: Option<(&'a SubaccountToken, &'a Signature)>,
}

/// Checks a request to group account `group` (prefix `03`), in SS order. `message` is the
/// method's signature string (§4.7); `is_revoked` looks a token up in the node's revocation
/// table for this account.
pub fn verify_group_request(
    group: &AccountId,
    method: GroupMethod,
    namespace: Namespace,
    auth: GroupRequestAuth<'_>,
    message: &[u8],
    is_revoked: impl FnOnce(&SubaccountToken) -> bool,
) -> Result<GroupAuthority, SwarmAuthError> {
    let Some((token, token_signature)) = auth.subaccount else {
        verify_request_signature(
            group,
            None,
            None,
            SubaccountFlags::NONE,
            message,
            auth.signature,
        )?;
        return Ok(GroupAuthority::Admin);
    };
    let required = method
        .required_flags(namespace)
        .ok_or(SwarmAuthError::SubaccountNotAllowed)?;
    if !method.skips_revocation(namespace) && is_revoked(token) {
        return Err(SwarmAuthError::Revoked);
    }
    verify_request_signature(
        group,
        None,
        Some((token, token_signature)),
        required,
        message,
        auth.signature,
    )?;
    let flags = token.flags();
    if method == (GroupMethod::Expire { shorten: true }) && !flags.contains(SubaccountFlags::DELETE)
    {
        return Err(SwarmAuthError::ShortenDenied);
    }
    Ok(GroupAuthority::Member(flags))
}

/// Maps a token check failure for callers that only hold a [`SubaccountCheckError`].
impl From<SubaccountCheckError> for SwarmAuthError {
    fn from(error: SubaccountCheckError) -> Self {
        Self::Verify(VerifyError::Subaccount(error))
    }
}
