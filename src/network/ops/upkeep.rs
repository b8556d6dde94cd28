//! Keeping a swarm's contents in shape (`network.md` §4.6, groups.md §6.3, §7): `expire`
//! (a group's config and keys messages are extended on each poll so the group never expires)
//! and `revoke_subaccount` / `unrevoke_subaccount` (a removed member's token is refused by the
//! swarm). Each goes to one swarm member, which applies it to the whole swarm and answers with
//! every member's signed entry; an answer counts only when some entry's signature verifies.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{invalid, signed_by, signed_entries};
use crate::network::client::SessionNetwork;
use crate::network::error::NetworkError;
use crate::network::node::ServiceNode;
use crate::network::transport::SnodeAnswer;
use crate::protocol::onion::SnodeEd25519;
use crate::protocol::storage::response::{ExpireResponse, RevokeResponse};
use crate::protocol::storage::signing::{expire_response_message, revoke_response_message};
use crate::protocol::storage::{
    AccountId, ExpireMode, Expiries, MessageHash, Signer, StorageRequest, SubaccountToken,
};

/// An `expire` the swarm confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpireOutcome {
    /// Hashes some member reported updated (with a valid signature).
    pub updated: Vec<MessageHash>,
    /// Members whose entry verified.
    pub confirmed_by: Vec<SnodeEd25519>,
}

impl SessionNetwork {
    /// Sets the expiry of `hashes` to `expiry_ms` under `mode` (signed `expire`). With a
    /// subaccount signer the node only ever extends, as clients rely on.
    #[tracing::instrument(name = "network.expire", skip_all)]
    pub async fn expire(
        &self,
        account: &AccountId,
        signer: &Signer<'_>,
        hashes: Vec<MessageHash>,
        expiry_ms: u64,
        mode: ExpireMode,
    ) -> Result<ExpireOutcome, NetworkError> {
        let build = || {
            StorageRequest::expire(
                account,
                hashes.clone(),
                Expiries::One(expiry_ms),
                mode,
                signer,
            )
        };
        build()?;
        let accept = |node: &ServiceNode, members: &[ServiceNode], answer: SnodeAnswer| {
            let resp: ExpireResponse =
                serde_json::from_value(answer.body).map_err(|_| invalid(node, "expire"))?;
            let (entries, _) = signed_entries(&resp.swarm, members);
            let mut updated = Vec::new();
            let mut confirmed_by = Vec::new();
            let empty = BTreeMap::new();
            for (ed, e) in entries {
                let unchanged = e.unchanged.as_ref().unwrap_or(&empty);
                let message = expire_response_message(
                    account,
                    e.expiry.as_slice(),
                    &hashes,
                    &e.updated,
                    unchanged,
                );
                if signed_by(&ed, &message, &e.signature) {
                    confirmed_by.push(ed);
                    updated.extend(e.updated.iter().cloned());
                }
            }
            if confirmed_by.is_empty() {
                return Err(invalid(node, "expire"));
            }
            updated.sort();
            updated.dedup();
            Ok(ExpireOutcome {
                updated,
                confirmed_by,
            })
        };
        let (outcome, _) = self.inner.swarm_call(account, |_| build(), accept).await?;
        Ok(outcome)
    }

    /// Revokes (`revoke = true`) or un-revokes subaccount `tokens` on the account's swarm
    /// (groups.md §6.2 step 4, §6.3); only the account's own key may sign it. Returns the
    /// members that confirmed.
    #[tracing::instrument(name = "network.revoke", skip_all)]
    pub async fn revoke_subaccounts(
        &self,
        account: &AccountId,
        signer: &Signer<'_>,
        tokens: Vec<SubaccountToken>,
        revoke: bool,
    ) -> Result<Vec<SnodeEd25519>, NetworkError> {
        // The nodes sign the request's timestamp: remember the one of the attempt in flight.
        let sent_at = AtomicU64::new(0);
        let build = |now| {
            sent_at.store(now, Ordering::Relaxed);
            if revoke {
                StorageRequest::revoke_subaccount(account, tokens.clone(), now, signer)
            } else {
                StorageRequest::unrevoke_subaccount(account, tokens.clone(), now, signer)
            }
        };
        build(0)?;
        let (confirmed, _) = self
            .inner
            .swarm_call(account, build, |node, members, answer| {
                let timestamp = sent_at.load(Ordering::Relaxed);
                let resp: RevokeResponse = serde_json::from_value(answer.body)
                    .map_err(|_| invalid(node, "revoke_subaccount"))?;
                let (entries, _) = signed_entries(&resp.swarm, members);
                let confirmed: Vec<SnodeEd25519> = entries
                    .into_iter()
                    .filter(|(ed, e)| {
                        let message = revoke_response_message(account, timestamp, &tokens);
                        signed_by(ed, &message, &e.signature)
                    })
                    .map(|(ed, _)| ed)
                    .collect();
                if confirmed.is_empty() {
                    return Err(invalid(node, "revoke_subaccount"));
                }
                Ok(confirmed)
            })
            .await?;
        Ok(confirmed)
    }
}
