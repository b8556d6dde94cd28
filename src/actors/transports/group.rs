//! [`GroupTransport`]: a closed group's messages leave encrypted with the group's current key
//! and signed by their author (groups.md §5), stored on the group swarm (namespace 11) with the
//! account's authority there: the group key for an admin, its subaccount grant for a member
//! (§4.4). An admin's queued push (keys and configs, §6.2 step 3) is stored the same way.
//!
//! Retries store the same bytes: the nonce and the `proSig` decoy come from a generator seeded
//! by the message id, so a message re-sent after a lost confirmation has the same hash and is
//! de-duplicated by the swarm and by the members.

use base64::Engine as _;
use rand::rngs::StdRng;
use rand::SeedableRng as _;
use sha2::{Digest as _, Sha256};

use super::{outgoing_of, Stored, Transport};
use crate::actors::keys::AccountKeys;
use crate::actors::{ActorError, Deps};
use crate::chat::groups::state::{self, KICKED_NAMESPACE, MESSAGES_NAMESPACE};
use crate::ids::GroupId;
use crate::protocol::chat;
use crate::protocol::groups::control;
use crate::protocol::groups::control::MemberChangeType;
use crate::protocol::groups::envelope::seal_group_content;
use crate::protocol::groups::keys::KeysReader;
use crate::protocol::groups::kicked::kicked_notice;
use crate::protocol::groups::subaccount::subaccount_token;
use crate::protocol::groups::subaccount::{MemberAuthData, MemberSubaccount};
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::SessionId;
use crate::protocol::protos::{Content, GroupUpdateMessage};
use crate::protocol::storage::{AccountId, MessageHash, Namespace, Signer, SubaccountFlags};
use crate::store::chat::{ControlBody, GroupAdminStep};
use crate::store::modes::GroupRole;
use crate::store::send_queue::QueuedMessage;

/// TTL of group keys and config messages: 30 days (groups.md §6).
pub const GROUP_CONFIG_TTL_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// Sends to one group's swarm.
#[derive(Clone, Debug)]
pub struct GroupTransport {
    group: GroupId,
}

impl GroupTransport {
    /// The transport of `group`'s conversation.
    pub fn new(group: GroupId) -> Self {
        Self { group }
    }
}

/// An account's authority in a group: the group key (admin) or its grant (member).
pub enum Authority {
    /// The group secret.
    Admin(GroupSecret),
    /// The member's subaccount.
    Member(MemberSubaccount),
}

impl Authority {
    /// The authority of `keys`' account in `group`, from its stored grant.
    pub async fn load(deps: &Deps, keys: &AccountKeys, group: &str) -> Result<Self, ActorError> {
        let membership = deps
            .store
            .membership(&keys.session_id, group)
            .await?
            .ok_or(ActorError::BadRecipient)?;
        let secret = deps
            .store
            .group_secret(&keys.session_id, group)
            .await?
            .ok_or(ActorError::BadRecipient)?;
        Ok(match membership.role {
            GroupRole::Admin => Self::Admin(crate::chat::groups::secret_of(&secret)?),
            GroupRole::Member => {
                let auth = MemberAuthData::try_from(secret.as_slice())
                    .map_err(|e| ActorError::Group(e.to_string()))?;
                Self::Member(
                    MemberSubaccount::new(&keys.identity, &auth)
                        .map_err(|e| ActorError::Group(e.to_string()))?,
                )
            }
        })
    }

    /// What signs swarm requests.
    pub fn signer(&self) -> Signer<'_> {
        match self {
            Self::Admin(secret) => Signer::Account(secret.as_identity().signing_key()),
            Self::Member(sub) => Signer::GroupMember(sub),
        }
    }

    /// What reads the keys messages.
    pub fn reader<'a>(&'a self, keys: &'a AccountKeys) -> KeysReader<'a> {
        match self {
            Self::Admin(secret) => KeysReader::Admin(secret),
            Self::Member(_) => KeysReader::Member(&keys.identity),
        }
    }
}

impl Transport for GroupTransport {
    async fn send(
        &self,
        deps: &Deps,
        keys: &AccountKeys,
        message: &QueuedMessage,
    ) -> Result<Stored, ActorError> {
        let group = self.group.as_str();
        let account = AccountId::from_hex(group).map_err(|_| ActorError::BadRecipient)?;
        let authority = Authority::load(deps, keys, group).await?;
        let signer = authority.signer();
        if let Some(ControlBody::GroupPush { payloads }) = &message.control {
            return push(deps, &account, &signer, payloads).await;
        }
        let key_state = state::load_keys(&deps.store, group, authority.reader(keys)).await?;
        // No key yet: the first poll of the group has not loaded its keys; try again later.
        let key = key_state
            .encryption_key()
            .cloned()
            .ok_or(ActorError::GroupKeysMissing)?;
        let mut rng = seeded(&message.id);
        let (contents, ttl) = match &message.control {
            Some(ControlBody::GroupAdmin { step }) => {
                let Authority::Admin(secret) = &authority else {
                    return Err(ActorError::Group("only an admin can do this".into()));
                };
                let sent = u64::try_from(message.timestamp).unwrap_or(0);
                let contents = admin_step(deps, &account, secret, step, sent, &mut rng).await?;
                (contents, chat::TTL_CONTENT_MS)
            }
            _ => {
                let Some(outgoing) = outgoing_of(deps, keys, message).await? else {
                    return Ok(Stored {
                        hash: None,
                        own_hash: None,
                    });
                };
                let mut contents = vec![(outgoing.content().clone(), outgoing.sent_ms())];
                if matches!(message.control, Some(ControlBody::GroupLeave)) {
                    // The notification, then MemberLeft one millisecond later (§6.5).
                    let left = chat::group_control(control::member_left(), outgoing.sent_ms() + 1);
                    contents.push((left.content().clone(), left.sent_ms()));
                }
                (contents, outgoing.ttl_ms())
            }
        };
        let group_key = state::group_key(group)?;
        let mut hash = None;
        for (content, sent) in contents {
            let payload =
                seal_group_content(&keys.identity, &group_key, &key, content, sent, &mut rng)
                    .map_err(|e| ActorError::Group(e.to_string()))?;
            let stored = deps
                .network
                .store(
                    &account,
                    Namespace(MESSAGES_NAMESPACE),
                    &payload,
                    ttl,
                    Some(&signer),
                )
                .await?;
            hash = Some(stored.hash.as_str().to_owned());
        }
        Ok(Stored {
            hash,
            own_hash: None,
        })
    }
}

/// Does the swarm side of an admin step and returns the notices to post to the group
/// (namespace 11), each with its sent time.
async fn admin_step(
    deps: &Deps,
    account: &AccountId,
    secret: &GroupSecret,
    step: &GroupAdminStep,
    sent: u64,
    rng: &mut StdRng,
) -> Result<Vec<(Content, u64)>, ActorError> {
    let signer = Signer::Account(secret.as_identity().signing_key());
    let ids = |members: &[String]| -> Result<Vec<SessionId>, ActorError> {
        members
            .iter()
            .map(|m| m.parse().map_err(|_| ActorError::BadRecipient))
            .collect()
    };
    let notice = |update: GroupUpdateMessage, at: u64| {
        let outgoing = chat::group_control(update, at);
        (outgoing.content().clone(), at)
    };
    Ok(match step {
        GroupAdminStep::Remove {
            members,
            generation,
            delete_messages,
            hashes,
        } => {
            let removed = ids(members)?;
            // The kicked notice first: it stays readable to them after the revocation.
            let kicked = kicked_notice(secret, &removed, *generation, rng)
                .map_err(|e| ActorError::Group(e.to_string()))?;
            deps.network
                .store(
                    account,
                    Namespace(KICKED_NAMESPACE),
                    &kicked,
                    GROUP_CONFIG_TTL_MS,
                    Some(&signer),
                )
                .await?;
            let tokens = removed
                .iter()
                .map(|m| {
                    subaccount_token(secret, m, SubaccountFlags::READ | SubaccountFlags::WRITE)
                        .map_err(|e| ActorError::Group(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            deps.network
                .revoke_subaccounts(account, &signer, tokens, true)
                .await?;
            let change =
                control::member_change(secret, MemberChangeType::Removed, &removed, None, sent);
            let mut notices = vec![notice(change, sent)];
            if *delete_messages {
                let delete = control::delete_member_content(Some(secret), &removed, &[], sent + 1);
                notices.push(notice(delete, sent + 1));
                delete_from_swarm(deps, account, &signer, hashes).await?;
            }
            notices
        }
        GroupAdminStep::Promoted { members } => {
            let promoted = ids(members)?;
            let change =
                control::member_change(secret, MemberChangeType::Promoted, &promoted, None, sent);
            vec![notice(change, sent)]
        }
        GroupAdminStep::InfoChanged {
            name,
            disappearing_seconds,
            avatar,
        } => {
            let mut notices = Vec::new();
            if *avatar {
                let at = sent + 2;
                let change = control::InfoChange::Avatar;
                notices.push(notice(control::info_change(secret, &change, at), at));
            }
            if let Some(name) = name {
                let change = control::InfoChange::Name(name.clone());
                notices.push(notice(control::info_change(secret, &change, sent), sent));
            }
            if let Some(seconds) = disappearing_seconds {
                let at = sent + 1;
                let change = control::InfoChange::DisappearingMessages(*seconds);
                notices.push(notice(control::info_change(secret, &change, at), at));
            }
            notices
        }
        GroupAdminStep::SyncConfigs { joined } => {
            let push =
                crate::chat::groups::admin::sync_configs(&deps.store, secret, joined).await?;
            if let Some(push) = push {
                for (namespace, data) in &push.payloads {
                    deps.network
                        .store(
                            account,
                            Namespace(*namespace),
                            data,
                            GROUP_CONFIG_TTL_MS,
                            Some(&signer),
                        )
                        .await?;
                }
                let group = secret.id().to_string();
                crate::chat::groups::admin::keep_synced(&deps.store, &group, &push).await?;
            }
            Vec::new()
        }
        GroupAdminStep::DeleteContent { hashes } => {
            delete_from_swarm(deps, account, &signer, hashes).await?;
            let delete = control::delete_member_content(Some(secret), &[], hashes, sent);
            vec![notice(delete, sent)]
        }
    })
}

/// Deletes `hashes` (namespace 11) from the group swarm as its admin.
async fn delete_from_swarm(
    deps: &Deps,
    account: &AccountId,
    signer: &Signer<'_>,
    hashes: &[String],
) -> Result<(), ActorError> {
    let parsed: Vec<MessageHash> = hashes
        .iter()
        .filter_map(|h| MessageHash::parse(h).ok())
        .collect();
    if !parsed.is_empty() {
        deps.network.delete(account, signer, parsed).await?;
    }
    Ok(())
}

/// Stores ready-made config payloads in order (keys first) with a 30-day TTL: an admin's on
/// the group swarm, and the account's own configs on its own swarm ([`super::direct`]).
pub(super) async fn push(
    deps: &Deps,
    account: &AccountId,
    signer: &Signer<'_>,
    payloads: &[(i16, String)],
) -> Result<Stored, ActorError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut hash = None;
    for (namespace, data) in payloads {
        let data = b64
            .decode(data)
            .map_err(|e| ActorError::Group(format!("stored push payload: {e}")))?;
        let stored = deps
            .network
            .store(
                account,
                Namespace(*namespace),
                &data,
                GROUP_CONFIG_TTL_MS,
                Some(signer),
            )
            .await?;
        hash = Some(stored.hash.as_str().to_owned());
    }
    Ok(Stored {
        hash,
        own_hash: None,
    })
}

/// The generator of a message's nonce and decoy: the same for every attempt of one message.
fn seeded(message_id: &str) -> StdRng {
    let mut seed = Sha256::new();
    seed.update(b"session-gateway group message v1\0");
    seed.update(message_id.as_bytes());
    StdRng::from_seed(seed.finalize().into())
}
