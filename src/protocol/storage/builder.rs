//! Signed request builders: the JSON Session Desktop sends for each method (§4.4, §4.6; SD
//! `snode_api/SnodeRequestTypes.ts`, `signature/snodeSignatures.ts`).
//!
//! Every builder takes the (network-adjusted) time as an argument and signs with a [`Signer`].
//! Signatures go out as padded standard base64 (88 chars), as Desktop's `fromUInt8ArrayToBase64`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey};

use super::limits::{BATCH_REQUEST_MAX, MAX_STORE_DATA_BYTES, MAX_SUBACCOUNT_TOKENS};
use super::request::*;
use super::signing::{self, ExpireMode};
use super::{AccountId, MessageHash, Namespace, NamespaceSelector, SubaccountToken};
use crate::protocol::groups::subaccount::MemberSubaccount;

/// Who signs a request.
pub enum Signer<'a> {
    /// The account's own Ed25519 key. For a `05` Session ID the verifying key is sent as
    /// `pubkey_ed25519`; for a `03` group it *is* the account key and is not sent.
    Account(&'a SigningKey),
    /// A subaccount key, with its token and the account owner's signature over the token.
    Subaccount {
        /// The subaccount's key (the token's bytes 4..36 verify it).
        key: &'a SigningKey,
        /// The grant.
        token: SubaccountToken,
        /// The owner's signature over the 36 token bytes.
        token_signature: Signature,
    },
    /// A groups-v2 member, signing with its blinded subaccount scalar (groups.md §4.4).
    GroupMember(&'a MemberSubaccount),
}

/// Why a request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// `store` data longer than 76,800 bytes.
    #[error("message data is {0} bytes, more than 76800")]
    DataTooLarge(usize),
    /// A method needing a list of hashes or tokens got none.
    #[error("{0} needs at least one item")]
    Empty(&'static str),
    /// More than 50 subaccount tokens.
    #[error("at most 50 subaccount tokens per request")]
    TooManyTokens,
    /// A batch outside 1..=20 subrequests.
    #[error("a batch holds 1 to 20 subrequests, not {0}")]
    BatchSize(usize),
    /// `batch`/`sequence` inside a batch.
    #[error("batch and sequence may not be nested")]
    NestedBatch,
    /// `revoke_subaccount`/`unrevoke_subaccount` signed by a subaccount.
    #[error("subaccounts may not sign {0}")]
    SubaccountNotAllowed(&'static str),
    /// `shorten` and `extend` together, or an expiry list of the wrong length.
    #[error("invalid expire arguments")]
    InvalidExpire,
}

/// Signs `message` and fills in the auth fields, with `uppercase_ed_key` for the two methods
/// where Desktop upper-cases `pubkey_ed25519` (`delete_all`, `get_expiries`).
fn auth(
    account: &AccountId,
    signer: &Signer<'_>,
    message: &[u8],
    uppercase_ed_key: bool,
) -> AuthParams {
    match signer {
        Signer::Account(key) => {
            let pubkey_ed25519 = (account.prefix() == 0x05).then(|| {
                let text = hex::encode(key.verifying_key().as_bytes());
                if uppercase_ed_key {
                    text.to_uppercase()
                } else {
                    text
                }
            });
            AuthParams {
                signature: Some(STANDARD.encode(key.sign(message).to_bytes())),
                pubkey_ed25519,
                subaccount: None,
                subaccount_sig: None,
            }
        }
        Signer::Subaccount {
            key,
            token,
            token_signature,
        } => AuthParams {
            signature: Some(STANDARD.encode(key.sign(message).to_bytes())),
            pubkey_ed25519: None,
            subaccount: Some(*token),
            subaccount_sig: Some(STANDARD.encode(token_signature.to_bytes())),
        },
        Signer::GroupMember(member) => AuthParams {
            signature: Some(STANDARD.encode(member.sign(message))),
            pubkey_ed25519: None,
            subaccount: Some(*member.token()),
            subaccount_sig: Some(STANDARD.encode(member.token_signature().to_bytes())),
        },
    }
}

fn non_empty<T>(items: &[T], what: &'static str) -> Result<(), RequestError> {
    if items.is_empty() {
        Err(RequestError::Empty(what))
    } else {
        Ok(())
    }
}

impl StorageRequest {
    /// `store` of `data` with `ttl_ms`, created at `now_ms`.
    ///
    /// Public-inbox namespaces (0 for DMs) go unsigned whatever `signer` says, as Desktop does;
    /// other namespaces need a signer (else [`RequestError::Empty`]) and sign
    /// `"store" NS now_ms`, with `timestamp` = the signature timestamp.
    pub fn store(
        account: &AccountId,
        ns: Namespace,
        data: &[u8],
        ttl_ms: u64,
        now_ms: u64,
        signer: Option<&Signer<'_>>,
    ) -> Result<Self, RequestError> {
        if data.len() > MAX_STORE_DATA_BYTES {
            return Err(RequestError::DataTooLarge(data.len()));
        }
        let auth = if ns.is_public_inbox() {
            AuthParams::default()
        } else {
            let signer = signer.ok_or(RequestError::Empty("store signer"))?;
            auth(account, signer, &signing::store_message(ns, now_ms), false)
        };
        Ok(Self::Store(StoreParams {
            pubkey: *account,
            timestamp: now_ms,
            ttl: Some(ttl_ms),
            expiry: None,
            namespace: ns,
            data: STANDARD.encode(data),
            sig_timestamp: None,
            auth,
        }))
    }

    /// `retrieve` after `last_hash`, signed at `now_ms` (namespace 0 is signed too).
    pub fn retrieve(
        account: &AccountId,
        ns: Namespace,
        last_hash: Option<MessageHash>,
        max_size: Option<i64>,
        now_ms: u64,
        signer: &Signer<'_>,
    ) -> Self {
        Self::Retrieve(RetrieveParams {
            last_hash,
            max_size,
            ..retrieve_signed(account, ns, now_ms, signer)
        })
    }

    /// `info`: `{"method":"info","params":{}}`.
    pub fn info() -> Self {
        Self::Info(InfoParams {})
    }

    /// `delete` of `hashes`.
    pub fn delete(
        account: &AccountId,
        hashes: Vec<MessageHash>,
        signer: &Signer<'_>,
    ) -> Result<Self, RequestError> {
        non_empty(&hashes, "delete")?;
        let auth = auth(account, signer, &signing::delete_message(&hashes), false);
        Ok(Self::Delete(DeleteParams {
            pubkey: *account,
            messages: hashes,
            required: None,
            auth,
        }))
    }

    /// `delete_all` of one namespace or `"all"`, signed at `now_ms`.
    pub fn delete_all(
        account: &AccountId,
        ns: NamespaceSelector,
        now_ms: u64,
        signer: &Signer<'_>,
    ) -> Self {
        let auth = auth(
            account,
            signer,
            &signing::delete_all_message(ns, now_ms),
            true,
        );
        Self::DeleteAll(DeleteAllParams {
            pubkey: *account,
            namespace: ns,
            timestamp: now_ms,
            auth,
        })
    }

    /// `delete_before` `before_ms`.
    pub fn delete_before(
        account: &AccountId,
        ns: NamespaceSelector,
        before_ms: u64,
        signer: &Signer<'_>,
    ) -> Self {
        let auth = auth(
            account,
            signer,
            &signing::delete_before_message(ns, before_ms),
            false,
        );
        Self::DeleteBefore(DeleteBeforeParams {
            pubkey: *account,
            namespace: ns,
            before: before_ms,
            auth,
        })
    }

    /// `expire_all` to `expiry_ms`.
    pub fn expire_all(
        account: &AccountId,
        ns: NamespaceSelector,
        expiry_ms: u64,
        signer: &Signer<'_>,
    ) -> Self {
        let auth = auth(
            account,
            signer,
            &signing::expire_all_message(ns, expiry_ms),
            false,
        );
        Self::ExpireAll(ExpireAllParams {
            pubkey: *account,
            namespace: ns,
            expiry: expiry_ms,
            auth,
        })
    }

    /// `expire` of `hashes` to `expiry` (one value, or one per hash).
    ///
    /// Desktop's group variant sends `extends: true` (a typo the node ignores, so its extend is
    /// silently a plain expire); we always send the real `extend` / `shorten` keys.
    pub fn expire(
        account: &AccountId,
        hashes: Vec<MessageHash>,
        expiry: Expiries,
        mode: ExpireMode,
        signer: &Signer<'_>,
    ) -> Result<Self, RequestError> {
        non_empty(&hashes, "expire")?;
        if let Expiries::Many(values) = &expiry {
            if values.len() != hashes.len() {
                return Err(RequestError::InvalidExpire);
            }
        }
        let message = signing::expire_message(mode, expiry.as_slice(), &hashes);
        Ok(Self::Expire(ExpireParams {
            pubkey: *account,
            messages: hashes,
            expiry,
            shorten: mode == ExpireMode::Shorten,
            extend: mode == ExpireMode::Extend,
            auth: auth(account, signer, &message, false),
        }))
    }

    /// `get_expiries` of `hashes`, signed at `now_ms`.
    pub fn get_expiries(
        account: &AccountId,
        hashes: Vec<MessageHash>,
        now_ms: u64,
        signer: &Signer<'_>,
    ) -> Result<Self, RequestError> {
        non_empty(&hashes, "get_expiries")?;
        let auth = auth(
            account,
            signer,
            &signing::get_expiries_message(now_ms, &hashes),
            true,
        );
        Ok(Self::GetExpiries(GetExpiriesParams {
            pubkey: *account,
            messages: hashes,
            timestamp: now_ms,
            auth,
        }))
    }

    /// `get_swarm` for `account`, with the ignored inner `params` Desktop sends.
    pub fn get_swarm(account: &AccountId) -> Self {
        Self::GetSwarm(GetSwarmParams {
            pubkey: *account,
            params: Some(desktop_node_fields()),
        })
    }

    /// `oxend_request` → `get_service_nodes` with the fields Desktop asks for (§2.2).
    pub fn get_service_nodes() -> Self {
        Self::OxendRequest(OxendRequestParams {
            endpoint: "get_service_nodes".to_owned(),
            params: Some(desktop_node_fields()),
        })
    }

    /// `revoke_subaccount` of `tokens`, signed by the account key at `now_ms`.
    pub fn revoke_subaccount(
        account: &AccountId,
        tokens: Vec<SubaccountToken>,
        now_ms: u64,
        signer: &Signer<'_>,
    ) -> Result<Self, RequestError> {
        check_tokens(&tokens, signer, "revoke_subaccount")?;
        let auth = auth(
            account,
            signer,
            &signing::revoke_subaccount_message(now_ms, &tokens),
            false,
        );
        Ok(Self::RevokeSubaccount(RevokeSubaccountParams {
            pubkey: *account,
            revoke: tokens,
            timestamp: now_ms,
            auth,
        }))
    }

    /// `unrevoke_subaccount` of `tokens`, signed by the account key at `now_ms`.
    pub fn unrevoke_subaccount(
        account: &AccountId,
        tokens: Vec<SubaccountToken>,
        now_ms: u64,
        signer: &Signer<'_>,
    ) -> Result<Self, RequestError> {
        check_tokens(&tokens, signer, "unrevoke_subaccount")?;
        let auth = auth(
            account,
            signer,
            &signing::unrevoke_subaccount_message(now_ms, &tokens),
            false,
        );
        Ok(Self::UnrevokeSubaccount(UnrevokeSubaccountParams {
            pubkey: *account,
            unrevoke: tokens,
            timestamp: now_ms,
            auth,
        }))
    }

    /// `batch` of 1..=20 non-meta subrequests.
    pub fn batch(requests: Vec<StorageRequest>) -> Result<Self, RequestError> {
        check_batch(&requests).map(|()| Self::Batch(BatchParams { requests }))
    }

    /// `sequence` of 1..=20 non-meta subrequests.
    pub fn sequence(requests: Vec<StorageRequest>) -> Result<Self, RequestError> {
        check_batch(&requests).map(|()| Self::Sequence(BatchParams { requests }))
    }
}

/// The parameters of a `retrieve` of `ns` signed at `now_ms`, from its start (no last hash, no
/// size budget). A retrieve's signature covers only its namespace and time
/// ([`signing::retrieve_message`]) and Ed25519 signatures are deterministic, so one signed set
/// serves every swarm member asked at `now_ms`, each with its own `last_hash`: the bytes are
/// those a signature per member would give, for one signing instead of one per member.
pub fn retrieve_signed(
    account: &AccountId,
    ns: Namespace,
    now_ms: u64,
    signer: &Signer<'_>,
) -> RetrieveParams {
    RetrieveParams {
        pubkey: *account,
        namespace: ns,
        last_hash: None,
        max_count: None,
        max_size: None,
        timestamp: Some(now_ms),
        auth: auth(
            account,
            signer,
            &signing::retrieve_message(ns, now_ms),
            false,
        ),
    }
}

/// The count rule of `batch`/`sequence`: 1..=20 subrequests.
pub fn check_batch_len(count: usize) -> Result<(), RequestError> {
    if count == 0 || count > BATCH_REQUEST_MAX {
        return Err(RequestError::BatchSize(count));
    }
    Ok(())
}

/// The subrequest rules of `batch`/`sequence` (count 1..=20, no nesting), for clients and nodes.
pub fn check_batch(requests: &[StorageRequest]) -> Result<(), RequestError> {
    check_batch_len(requests.len())?;
    if requests.iter().any(StorageRequest::is_meta) {
        return Err(RequestError::NestedBatch);
    }
    Ok(())
}

fn check_tokens(
    tokens: &[SubaccountToken],
    signer: &Signer<'_>,
    method: &'static str,
) -> Result<(), RequestError> {
    non_empty(tokens, method)?;
    if tokens.len() > MAX_SUBACCOUNT_TOKENS {
        return Err(RequestError::TooManyTokens);
    }
    if matches!(signer, Signer::Subaccount { .. } | Signer::GroupMember(_)) {
        return Err(RequestError::SubaccountNotAllowed(method));
    }
    Ok(())
}

/// The inner params Desktop sends with `get_swarm` and `get_service_nodes`.
fn desktop_node_fields() -> serde_json::Value {
    serde_json::json!({
        "active_only": true,
        "fields": {
            "public_ip": true,
            "storage_port": true,
            "pubkey_x25519": true,
            "pubkey_ed25519": true
        }
    })
}

#[cfg(test)]
#[path = "builder_tests.rs"]
mod tests;
