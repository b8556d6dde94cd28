//! The account's UserGroups config (namespace 5 of its own swarm, groups.md §1, §3.3), read in
//! the same signed `batch` as namespace 0 by [`super::OwnSwarm`]: every intact message is
//! unwrapped when it comes in the legacy protobuf wrapper (§1.6, both forms are accepted),
//! decrypted with the account's seed (§1.5), parsed (user configs are unsigned) and kept as a
//! head for the next merge (`chat::groups::user_groups::sync`, run after each poll cycle).
//! The namespace's cursor advances in the same transaction, up to the last intact message:
//! a tampered copy is fetched again from other members next poll.

use crate::actors::keys::AccountKeys;
use crate::actors::{ActorError, Deps};
use crate::chat::groups::user_groups::USER_GROUPS_NAMESPACE;
use crate::clock::now_ms;
use crate::network::{ItemData, RetrievedItem};
use crate::protocol::groups::config::wrap::unwrap_or_raw;
use crate::protocol::groups::config::{open_config, ConfigKind, ConfigMessage};
use crate::protocol::storage::{ExpireMode, MessageHash, Namespace, Signer};
use crate::store::groups::StoredConfig;

/// The UserGroups namespace as the storage RPC takes it.
pub const USER_GROUPS: Namespace = Namespace(USER_GROUPS_NAMESPACE);

/// The cursor of the account's UserGroups namespace.
pub async fn cursor(deps: &Deps, keys: &AccountKeys) -> Result<Option<MessageHash>, ActorError> {
    let stored = (deps.store)
        .poll_cursor(&keys.session_id, i64::from(USER_GROUPS_NAMESPACE))
        .await?;
    Ok(parse_cursor(stored))
}

/// The UserGroups cursor as stored (its last hash), read from the start when there is none or
/// it does not parse (the store writes only hashes that did).
pub fn parse_cursor(stored: Option<String>) -> Option<MessageHash> {
    stored.and_then(|text| MessageHash::parse(&text).ok())
}

/// Opens one retrieved UserGroups message: `None` when it is not a config of ours (another
/// key, junk, a multipart part: libsession's pushes of a UserGroups config fit one message).
/// Public for the fuzz targets: what a swarm member serves from namespace 5 is untrusted.
pub fn open(keys: &AccountKeys, data: &[u8]) -> Option<ConfigMessage> {
    let kind = ConfigKind::UserGroups;
    let ciphertext = unwrap_or_raw(&keys.identity, data, kind);
    let seed = *keys.identity.seed().expose_secret();
    let plain = open_config(&ciphertext, &[seed], kind).ok()?;
    ConfigMessage::parse(&plain, None).ok()
}

/// Keeps the intact UserGroups messages that open as ours and advances the cursor past every
/// intact one read (stopping before a tampered one). Whether any was kept.
pub async fn take(
    deps: &Deps,
    keys: &AccountKeys,
    items: &[RetrievedItem],
) -> Result<bool, ActorError> {
    if items.is_empty() {
        return Ok(false);
    }
    let now = now_ms();
    let ns = i64::from(USER_GROUPS_NAMESPACE);
    let mut tx = deps.store.begin().await?;
    let mut last = None;
    let mut kept = false;
    for item in items {
        let ItemData::Intact(data) = &item.data else {
            break;
        };
        last = Some(item.hash.as_str().to_owned());
        // Not ours or not a config: skipped, the cursor moves on.
        let Some(message) = open(keys, data) else {
            continue;
        };
        let config = StoredConfig {
            hash: item.hash.as_str().to_owned(),
            seqno: message.seqno(),
            data: message.as_bytes().to_vec().into(),
        };
        kept |= tx
            .add_user_config(&deps.store, &keys.session_id, ns, &config, now)
            .await?;
    }
    if let Some(last) = &last {
        tx.set_poll_cursor(&keys.session_id, ns, last, now).await?;
    }
    tx.commit().await?;
    Ok(kept)
}

/// Extends the TTL of the account's UserGroups heads to 30 days from now, at most once a day of
/// network time (like a group's configs: [`super::group_swarm::TTL_EXTEND_EVERY_MS`]), so the
/// config outlives a month without changes and a restored client still finds the groups.
/// `extended_at`: when that was last done (read with the poll plan).
pub async fn extend(deps: &Deps, keys: &AccountKeys, extended_at: i64) -> Result<(), ActorError> {
    let now = deps.network.now_ms();
    let last = u64::try_from(extended_at).unwrap_or(0);
    if now < last.saturating_add(super::group_swarm::TTL_EXTEND_EVERY_MS) {
        return Ok(());
    }
    let heads = deps
        .store
        .user_configs(&keys.session_id, i64::from(USER_GROUPS_NAMESPACE))
        .await?;
    let hashes: Vec<MessageHash> = heads
        .iter()
        .filter_map(|h| MessageHash::parse(&h.hash).ok())
        .collect();
    // Nothing held: checked again tomorrow (a config pushed meanwhile lives 30 days anyway).
    if !hashes.is_empty() {
        let signer = Signer::Account(keys.identity.signing_key());
        let expiry = now.saturating_add(crate::actors::transports::group::GROUP_CONFIG_TTL_MS);
        deps.network
            .expire(&keys.account, &signer, hashes, expiry, ExpireMode::Extend)
            .await?;
    }
    let at = i64::try_from(now).unwrap_or(i64::MAX);
    deps.store
        .set_user_config_extended(&keys.session_id, at)
        .await?;
    Ok(())
}
