//! [`DirectTransport`]: a 1:1 conversation's messages leave sealed to the recipient
//! (`messages.md` §2.1, §3.1), stored on the recipient's swarm (namespace 0, the builder's TTL,
//! §3.5), then the own-swarm copy the builder asks for (`syncTarget` = recipient) is stored and
//! its hash kept; an unsend first deletes our own copy of its target. A `user_config_push` row
//! (the account's own configs, `chat::groups::user_groups`) is stored as it is on our own
//! swarm instead.
//!
//! Encryption is the deterministic variant and the `proSig` decoy is drawn from a generator
//! seeded by the message id, so a message re-sent after a crash is byte-identical: it has the
//! same swarm hash, the node de-duplicates it and the recipient never sees it twice.

use rand::rngs::StdRng;
use rand::SeedableRng as _;
use sha2::{Digest as _, Sha256};

use super::{outgoing_of, Stored, Transport};
use crate::actors::inbox::DM_NAMESPACE;
use crate::actors::keys::AccountKeys;
use crate::actors::{ActorError, Deps};
use crate::ids::SessionIdText;
use crate::protocol::chat::{self, Outgoing};
use crate::protocol::dm;
use crate::protocol::envelope::ProSig;
use crate::protocol::groups::control;
use crate::protocol::groups::subaccount::MemberAuthData;
use crate::protocol::keys::SessionId;
use crate::protocol::storage::limits::TTL_MIN_MS;
use crate::protocol::storage::SubaccountFlags;
use crate::protocol::storage::{AccountId, MessageHash, Signer};
use crate::store::chat::ControlBody;
use crate::store::send_queue::QueuedMessage;

/// Sends to one peer's swarm, with the sync copy on the account's own.
#[derive(Clone, Debug)]
pub struct DirectTransport {
    peer: SessionIdText,
}

impl DirectTransport {
    /// The transport of the direct conversation with `peer`.
    pub fn new(peer: SessionIdText) -> Self {
        Self { peer }
    }
}

impl Transport for DirectTransport {
    /// Sends `message` (and its own-swarm copy, for the kinds clients sync) and returns the
    /// hashes.
    async fn send(
        &self,
        deps: &Deps,
        keys: &AccountKeys,
        message: &QueuedMessage,
    ) -> Result<Stored, ActorError> {
        let peer = self.peer.as_str();
        let recipient: SessionId = peer.parse().map_err(|_| ActorError::BadRecipient)?;
        let recipient_account = AccountId::from_hex(peer).map_err(|_| ActorError::BadRecipient)?;
        if let Some(ControlBody::UserConfigPush { payloads }) = &message.control {
            // Our own configs go to our own swarm only, signed as the account.
            if peer != keys.session_id {
                return Err(ActorError::BadRecipient);
            }
            let signer = Signer::Account(keys.identity.signing_key());
            return super::group::push(deps, &keys.account, &signer, payloads).await;
        }
        let built = match &message.control {
            Some(ControlBody::GroupInvite { group }) => {
                Some(group_invite(deps, keys, group, &recipient, message.timestamp).await?)
            }
            Some(ControlBody::GroupPromote { group }) => {
                Some(group_promote(deps, keys, group, message.timestamp).await?)
            }
            _ => outgoing_of(deps, keys, message).await?,
        };
        let Some(outgoing) = built else {
            return Ok(Stored {
                hash: None,
                own_hash: None,
            });
        };
        let own = keys.identity.session_id();
        let to_self = peer == keys.session_id;
        if let Some(ControlBody::Unsend {
            target_ts,
            own_hash,
        }) = &message.control
        {
            // The copy's hash is known once the target was sent, which may be after the unsend
            // was queued: look it up now.
            let hash = match own_hash {
                Some(hash) => Some(hash.clone()),
                None => {
                    deps.store
                        .own_hash_of(&keys.session_id, peer, *target_ts)
                        .await?
                }
            };
            if let Some(hash) = hash {
                delete_own_copy(deps, keys, &hash).await;
            }
        }
        // A short "after send" timer would ask for less than the storage server's minimum TTL
        // (10 s), which nodes refuse; the message still disappears locally on time.
        let ttl = outgoing.ttl_ms().max(TTL_MIN_MS);
        let own_copy = outgoing.own_swarm_copy(&recipient);
        // A note to self is one copy on the own swarm, marked as a sync copy of itself.
        let first = match (&own_copy, to_self) {
            (Some(copy), true) => copy.clone(),
            _ => outgoing,
        };
        let payload = seal(keys, &recipient, first, &message.id, to_self)?;
        let stored = deps
            .network
            .store_for(
                &keys.account,
                &recipient_account,
                DM_NAMESPACE,
                &payload,
                ttl,
                None,
            )
            .await?;
        let hash = stored.hash.as_str().to_owned();
        let mut own_hash = to_self.then(|| hash.clone());
        if to_self {
            deps.own_copies.remember(&hash);
        }
        if let (Some(copy), false) = (own_copy, to_self) {
            let sync = seal(keys, &own, copy, &message.id, true)?;
            // The recipient has the message: a lost sync copy only costs the account's other
            // devices their copy, so it is logged, not retried.
            match deps
                .network
                .store(&keys.account, DM_NAMESPACE, &sync, ttl, None)
                .await
            {
                Ok(stored) => {
                    deps.own_copies.remember(stored.hash.as_str());
                    own_hash = Some(stored.hash.as_str().to_owned());
                }
                Err(error) => {
                    tracing::info!(account = keys.short(), %error, "sync copy not stored");
                }
            }
        }
        Ok(Stored {
            hash: Some(hash),
            own_hash,
        })
    }
}

/// The invitation to `group` for `invitee` (groups.md §6.2 step 4): its grant
/// (`memberAuthData`, read and write) and the admin signature over the sent time, made from
/// the sealed group seed now (the queued row holds no secret).
async fn group_invite(
    deps: &Deps,
    keys: &AccountKeys,
    group: &str,
    invitee: &SessionId,
    sent: i64,
) -> Result<Outgoing, ActorError> {
    let account =
        SessionIdText::parse_any(&keys.session_id).map_err(|_| ActorError::BadRecipient)?;
    let secret = crate::chat::groups::admin_secret(&deps.store, &account, group).await?;
    // The invitee polls the group as soon as it joins: the keys it needs (a rekey naming it,
    // or a supplement) must be on the swarm first, or what it reads first is undecryptable.
    if deps
        .store
        .group_push_pending(&keys.session_id, group)
        .await?
    {
        return Err(ActorError::GroupPushPending);
    }
    let auth = MemberAuthData::new(
        &secret,
        invitee,
        SubaccountFlags::READ | SubaccountFlags::WRITE,
    )
    .map_err(|e| ActorError::Group(e.to_string()))?;
    let name = deps.store.group_name(group).await?.unwrap_or_default();
    let sent = u64::try_from(sent).unwrap_or(0);
    let update = control::invite(&secret, &name, invitee, &auth, sent);
    Ok(chat::group_control(update, sent))
}

/// A promotion to admin of `group` (§6.4): the group seed and name, made at send time from
/// the sealed seed (the row holds no secret).
async fn group_promote(
    deps: &Deps,
    keys: &AccountKeys,
    group: &str,
    sent: i64,
) -> Result<Outgoing, ActorError> {
    let account =
        SessionIdText::parse_any(&keys.session_id).map_err(|_| ActorError::BadRecipient)?;
    let secret = crate::chat::groups::admin_secret(&deps.store, &account, group).await?;
    let name = deps.store.group_name(group).await?.unwrap_or_default();
    let sent = u64::try_from(sent).unwrap_or(0);
    Ok(chat::group_control(control::promote(&secret, &name), sent))
}

/// Seals `outgoing` from `sender` to `to` (the recipient, or ourselves for the own-swarm copy)
/// as a namespace-0 payload (`messages.md` §2.1, §3.1). Deterministic per message id and copy.
pub fn seal(
    sender: &AccountKeys,
    to: &SessionId,
    outgoing: Outgoing,
    message_id: &str,
    own_copy: bool,
) -> Result<Vec<u8>, ActorError> {
    let mut seed = Sha256::new();
    seed.update(b"session-gateway proSig decoy v1\0");
    seed.update(message_id.as_bytes());
    seed.update([u8::from(own_copy)]);
    let mut rng = StdRng::from_seed(seed.finalize().into());
    let pro_sig = ProSig::decoy(&mut rng);
    outgoing
        .into_content()
        .seal(&pro_sig, |padded| {
            dm::encrypt_for_recipient_deterministic(&sender.identity, to.x25519(), padded)
        })
        .map_err(ActorError::from)
}

/// Deletes our own swarm's copy of an unsent message (signed `delete`); a failure is logged:
/// the copy expires with its TTL anyway.
async fn delete_own_copy(deps: &Deps, keys: &AccountKeys, hash: &str) {
    let Ok(hash) = MessageHash::parse(hash) else {
        return;
    };
    let signer = Signer::Account(keys.identity.signing_key());
    if let Err(error) = deps
        .network
        .delete(&keys.account, &signer, vec![hash])
        .await
    {
        tracing::info!(account = keys.short(), %error, "own copy not deleted");
    }
}
