//! A group's protocol state as the store keeps it: the key state replayed from the stored keys
//! messages (groups.md §2.3), the current info and members configs merged from the stored heads
//! (§1.2), and what an admin pushes after a change (a rekey plus both configs, §6.2 step 3).
//! Everything here is computation over stored rows; nothing talks to the network.

use rand::rngs::OsRng;

use crate::chat::ChatError;
use crate::protocol::groups::config::info::GroupInfo;
use crate::protocol::groups::config::members::{members_from_data, GroupMember};
use crate::protocol::groups::config::transport::{seal_config, ConfigKind};
use crate::protocol::groups::config::{
    merge, ConfigMessage, MergeOutcome, MutableConfigMessage, DEFAULT_LAG,
};
use crate::protocol::groups::keys::{GroupKeys, KeysReader};
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::{Ed25519PublicKey, SessionId};
use crate::protocol::storage::{message_hash, AccountId, Namespace};
use crate::store::groups::{StoredConfig, StoredKeys};
use crate::store::{Store, StoreTx};

/// Namespace of group keys messages.
pub const KEYS_NAMESPACE: i16 = 12;
/// Namespace of the group info config.
pub const INFO_NAMESPACE: i16 = 13;
/// Namespace of the group members config.
pub const MEMBERS_NAMESPACE: i16 = 14;
/// Namespace of group chat messages.
pub const MESSAGES_NAMESPACE: i16 = 11;
/// Namespace of the kicked notices (read even when revoked).
pub const KICKED_NAMESPACE: i16 = -11;

/// The group's Ed25519 key of a `03` ID.
pub fn group_key(group: &str) -> Result<Ed25519PublicKey, ChatError> {
    crate::protocol::groups::control::parse_group_id(group)
        .map_err(|_| ChatError::NotFound("group"))
}

/// The key state from the stored keys messages, read by `reader` (an admin with the group
/// seed, or a member with its own keys); messages it cannot open
/// are skipped (they are for other members, or for generations before we joined).
pub async fn load_keys(
    store: &Store,
    group: &str,
    reader: KeysReader<'_>,
) -> Result<GroupKeys, ChatError> {
    let mut keys = GroupKeys::new(group_key(group)?);
    for stored in store.group_keys(group).await? {
        // A message that does not open for us changes nothing.
        let _ = keys.load(&stored.hash, &stored.data, stored.timestamp, reader);
    }
    Ok(keys)
}

/// The current config of `namespace` merged from the stored heads (§1.2), as a message; `None`
/// before any arrived. Several conflicting heads are not merged here: the highest one is the
/// state (as a member's libsession keeps it) until an admin publishes their merge; an admin's
/// next change starts from the merge ([`next_config`]).
pub async fn current_config(
    store: &Store,
    group: &str,
    namespace: i16,
) -> Result<Option<ConfigMessage>, ChatError> {
    let heads = store.group_configs(group, i64::from(namespace)).await?;
    let raw: Vec<&[u8]> = heads.iter().map(|h| h.data.as_slice()).collect();
    if raw.is_empty() {
        return Ok(None);
    }
    let verifier = group_key(group)?;
    Ok(match merge(&raw, Some(&verifier), false) {
        Ok(MergeOutcome::Adopted { message, .. }) => Some(message),
        // An unsigned merge is never pushed; its data is the state.
        Ok(MergeOutcome::Merged(merged)) => Some(merged.finish(None)),
        Err(_) => None,
    })
}

/// The swarm hashes of the current config messages of `namespace` (those of the highest
/// seqno: every head still in use, several when admins pushed at once), for TTL extension.
pub async fn current_config_hashes(
    store: &Store,
    group: &str,
    namespace: i16,
) -> Result<Vec<String>, ChatError> {
    let heads = store.group_configs(group, i64::from(namespace)).await?;
    let top = heads.iter().map(|h| h.seqno).max();
    Ok(heads
        .into_iter()
        .filter(|h| Some(h.seqno) == top)
        .map(|h| h.hash)
        .collect())
}

/// The info of the current info config (empty before one arrived).
pub async fn current_info(store: &Store, group: &str) -> Result<GroupInfo, ChatError> {
    Ok(current_config(store, group, INFO_NAMESPACE)
        .await?
        .map(|m| GroupInfo::from_data(m.data()))
        .unwrap_or_else(|| GroupInfo::from_data(&Default::default())))
}

/// The members of the current members config.
pub async fn current_members(store: &Store, group: &str) -> Result<Vec<GroupMember>, ChatError> {
    Ok(current_config(store, group, MEMBERS_NAMESPACE)
        .await?
        .map(|m| members_from_data(m.data()))
        .unwrap_or_default())
}

/// The next version of a config, as an admin writes it: the merge of the current heads when
/// admins pushed concurrently (§1.2, already at `max seqno + 1`), else the current one
/// incremented, or a new one at seqno 0.
pub async fn next_config(
    store: &Store,
    group: &str,
    namespace: i16,
) -> Result<MutableConfigMessage, ChatError> {
    let heads = store.group_configs(group, i64::from(namespace)).await?;
    let raw: Vec<&[u8]> = heads.iter().map(|h| h.data.as_slice()).collect();
    if raw.is_empty() {
        return Ok(MutableConfigMessage::new(0, DEFAULT_LAG));
    }
    Ok(match merge(&raw, Some(&group_key(group)?), true) {
        Ok(MergeOutcome::Merged(merged)) => merged,
        Ok(MergeOutcome::Adopted { message, .. }) => message.increment(),
        Err(_) => MutableConfigMessage::new(0, DEFAULT_LAG),
    })
}

/// The members as an admin's next members config starts from: the merge of the stored heads
/// ([`next_config`]), so that a change never drops a member another head added.
pub async fn merged_members(store: &Store, group: &str) -> Result<Vec<GroupMember>, ChatError> {
    Ok(members_from_data(
        next_config(store, group, MEMBERS_NAMESPACE).await?.data(),
    ))
}

/// Whether the stored heads of `namespace` conflict (admins pushed at once), so that an admin
/// must push their merge for members to converge (§1.2).
pub async fn needs_merge(store: &Store, group: &str, namespace: i16) -> Result<bool, ChatError> {
    let heads = store.group_configs(group, i64::from(namespace)).await?;
    let raw: Vec<&[u8]> = heads.iter().map(|h| h.data.as_slice()).collect();
    Ok(raw.len() > 1
        && matches!(
            merge(&raw, Some(&group_key(group)?), true),
            Ok(MergeOutcome::Merged(_))
        ))
}

/// What an admin stores on the group swarm after a change, and keeps locally.
pub struct Push {
    /// `(namespace, payload)` in store order: keys (when rekeyed), info, members.
    pub payloads: Vec<(i16, Vec<u8>)>,
    /// The keys message of a rekey, as stored locally.
    pub keys: Option<StoredKeys>,
    /// The configs, as stored locally: `(namespace, config)`.
    pub configs: Vec<(i16, StoredConfig)>,
}

/// A full rekey for `members` (§2.1) and both configs signed and encrypted with its key
/// (§6.2 steps 2–3, §6.3 step 3), with the swarm hashes of each payload.
pub fn build_push(
    secret: &GroupSecret,
    keys: &mut GroupKeys,
    info: MutableConfigMessage,
    members_config: MutableConfigMessage,
    members: &[SessionId],
    now: i64,
) -> Result<Push, ChatError> {
    let keys_message = keys.rekey(secret, members).map_err(protocol)?;
    let push = build_config_push(secret, keys, Some(info), Some(members_config))?;
    with_keys(secret, push, keys_message, now)
}

/// `push` with a keys message (a rekey, or a supplement for members who share history, §2.2)
/// stored first.
pub fn with_keys(
    secret: &GroupSecret,
    mut push: Push,
    keys_message: Vec<u8>,
    now: i64,
) -> Result<Push, ChatError> {
    let hash = swarm_hash(secret, KEYS_NAMESPACE, &keys_message)?;
    push.payloads
        .insert(0, (KEYS_NAMESPACE, keys_message.clone()));
    push.keys = Some(StoredKeys {
        hash,
        data: keys_message,
        timestamp: now,
    });
    Ok(push)
}

/// The changed configs alone (no rekey: an info edit, a promotion), signed and encrypted with
/// the current key (§6.6).
pub fn build_config_push(
    secret: &GroupSecret,
    keys: &GroupKeys,
    info: Option<MutableConfigMessage>,
    members_config: Option<MutableConfigMessage>,
) -> Result<Push, ChatError> {
    let key = *keys
        .encryption_key()
        .ok_or_else(|| protocol("no key"))?
        .expose_secret();
    let group = AccountId::from_hex(&secret.id().to_string()).map_err(protocol)?;
    let mut payloads = Vec::new();
    let mut configs = Vec::new();
    for (kind, config) in [
        (ConfigKind::GroupInfo, info),
        (ConfigKind::GroupMembers, members_config),
    ] {
        let Some(config) = config else { continue };
        let (stored, sealed) = seal_stored(&group, kind, config.finish(Some(secret)), &key)?;
        configs.push((kind.namespace(), stored));
        payloads.push((kind.namespace(), sealed));
    }
    Ok(Push {
        payloads,
        keys: None,
        configs,
    })
}

/// The swarm hash of `data` stored in the group's `ns`.
fn swarm_hash(secret: &GroupSecret, ns: i16, data: &[u8]) -> Result<String, ChatError> {
    let group = AccountId::from_hex(&secret.id().to_string()).map_err(protocol)?;
    Ok(message_hash(&group, Namespace(ns), data)
        .as_str()
        .to_owned())
}

/// A finished config message of `kind` sealed for `swarm` with `key` (§1.3): the payload to
/// store there, and the message as it is kept locally under the payload's swarm hash. Used for
/// the group configs and for the account's own (UserGroups, `chat::user_groups`).
pub fn seal_stored(
    swarm: &AccountId,
    kind: ConfigKind,
    message: ConfigMessage,
    key: &[u8; 32],
) -> Result<(StoredConfig, Vec<u8>), ChatError> {
    let sealed = seal_config(&message, key, kind).map_err(protocol)?;
    let stored = StoredConfig {
        hash: message_hash(swarm, Namespace(kind.namespace()), &sealed)
            .as_str()
            .to_owned(),
        seqno: message.seqno(),
        data: message.as_bytes().to_vec().into(),
    };
    Ok((stored, sealed))
}

/// Keeps `push` locally (the keys message and the configs, replacing the heads they supersede).
pub async fn keep_push(
    tx: &mut StoreTx,
    store: &Store,
    group: &str,
    push: &Push,
    now: i64,
) -> Result<(), ChatError> {
    if let Some(keys) = &push.keys {
        tx.add_group_keys(group, keys).await?;
    }
    for (ns, config) in &push.configs {
        tx.add_group_config(store, group, i64::from(*ns), config, now)
            .await?;
        // Only heads it supersedes (lower seqno) go: one written here at the same moment
        // from the same state (a send-time sync and an API change) stays, and the two merge.
        tx.prune_group_configs_below(group, i64::from(*ns), config.seqno)
            .await?;
    }
    Ok(())
}

/// A new group secret.
pub fn new_secret() -> GroupSecret {
    GroupSecret::generate(&mut OsRng)
}

fn protocol(error: impl std::fmt::Display) -> ChatError {
    ChatError::GroupProtocol(error.to_string())
}
