//! [`GroupSwarm`]: a closed group's swarm (groups.md §7), polled once per replica set for all
//! of the group's local members by the Identity actor of its *lead* (the smallest joined local
//! Session ID, [`crate::store::Store::lead_groups`]), with the lead's authority (group key or
//! subaccount grant).
//!
//! One signed `batch` retrieves the messages (11), info (13), members (14) and keys (12)
//! namespaces. [`Source::retrieve`] applies keys first, then the configs (each stored, and the
//! group's name and member list updated from the merge, with `group.updated` and
//! `group.member_added` for every joined local member), and returns the messages batch;
//! [`Source::open`] decrypts and verifies each message once and delivers it to every joined
//! local member. The keys and config cursors (one per swarm member) advance in their own
//! transaction, after what they read is stored; what a member with no cursor of its own
//! re-serves is stored as nothing (keys and configs by hash, messages as duplicates by hash).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use prost::Message as _;

use super::{
    load_group_cursor, stored_cursors, Accepted, Batch, CursorKey, Delivery, Source, Verdict,
};
use crate::actors::keys::AccountKeys;
use crate::actors::transports::group::{Authority, GROUP_CONFIG_TTL_MS};
use crate::actors::{ActorError, Deps};
use crate::chat::groups::admin;
use crate::chat::groups::state::{
    self, INFO_NAMESPACE, KEYS_NAMESPACE, KICKED_NAMESPACE, MEMBERS_NAMESPACE, MESSAGES_NAMESPACE,
};
use crate::clock::now_ms;
use crate::events::{EventData, EventType};
use crate::network::{
    cursors_after, ItemData, MemberPage, NamespaceCursor, NetworkError, RetrievedItem, SendError,
};
use crate::protocol::chat::{self, ChatEvent};
use crate::protocol::groups::config::info::GroupInfo;
use crate::protocol::groups::config::members::GroupMember;
use crate::protocol::groups::config::{open_config, ConfigKind, ConfigMessage, DEFAULT_LAG};
use crate::protocol::groups::control::verify_delete_member_content;
use crate::protocol::groups::envelope::open_group_content;
use crate::protocol::groups::keys::{GroupEncKey, GroupKeys};
use crate::protocol::groups::kicked::read_kicked_notice;
use crate::protocol::keys::Ed25519PublicKey;
use crate::protocol::protos::GroupUpdateDeleteMemberContentMessage;
use crate::protocol::storage::{AccountId, ExpireMode, MessageHash, Namespace};
use crate::store::events::NewEvent;
use crate::store::groups::{StoredConfig, StoredKeys};
use crate::store::modes::GroupRole;
use crate::store::replays::content_digest;

/// How often a group's keys and configs have their TTLs extended: daily, in network time.
pub const TTL_EXTEND_EVERY_MS: u64 = 24 * 60 * 60 * 1000;

/// One group's swarm, read by its lead for every joined local member.
pub struct GroupSwarm {
    group: String,
    group_key: Ed25519PublicKey,
    lead: Arc<AccountKeys>,
    authority: Authority,
    /// The joined local members (Session IDs), the recipients of every message. Read by
    /// `retrieve` once the swarm has answered, so a member who joined while the request was
    /// on its way receives every message sent after the join (a list read before the request
    /// left would have consumed them for the others only).
    members: Mutex<Vec<String>>,
    /// The decryption keys, loaded by `retrieve` before any message is opened.
    keys: Mutex<Vec<GroupEncKey>>,
}

impl GroupSwarm {
    /// The swarm of `group`, read by `lead` (a joined local member) for the group's joined
    /// local members.
    pub async fn new(deps: &Deps, group: &str, lead: Arc<AccountKeys>) -> Result<Self, ActorError> {
        let authority = Authority::load(deps, &lead, group).await?;
        Ok(Self {
            group: group.to_owned(),
            group_key: state::group_key(group)?,
            lead,
            authority,
            members: Mutex::new(Vec::new()),
            keys: Mutex::new(Vec::new()),
        })
    }

    /// The recipients, as `retrieve` read them.
    fn members(&self) -> Vec<String> {
        self.members.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn account(&self) -> Result<AccountId, ActorError> {
        AccountId::from_hex(&self.group).map_err(|_| ActorError::BadRecipient)
    }

    /// Stores the intact keys messages and advances the cursors of the members whose `pages`
    /// they came in over them (up to the first tampered item, fetched again next poll).
    async fn take_keys(
        &self,
        deps: &Deps,
        items: &[RetrievedItem],
        pages: &[MemberPage],
    ) -> Result<(), ActorError> {
        let mut tx = deps.store.begin().await?;
        let mut consumed = HashSet::new();
        for item in items {
            let ItemData::Intact(data) = &item.data else {
                break;
            };
            let keys = StoredKeys {
                hash: item.hash.as_str().to_owned(),
                data: data.clone(),
                timestamp: i64::try_from(item.timestamp).unwrap_or(i64::MAX),
            };
            tx.add_group_keys(&self.group, &keys).await?;
            consumed.insert(item.hash.clone());
        }
        let advanced = stored_cursors(&cursors_after(pages, &consumed));
        tx.set_node_cursors(&self.group, i64::from(KEYS_NAMESPACE), &advanced, now_ms())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Opens, verifies and stores the config messages of one namespace, then applies the
    /// merged state (name, description, members) with its events.
    async fn take_configs(
        &self,
        deps: &Deps,
        namespace: i16,
        (items, pages): (&[RetrievedItem], &[MemberPage]),
        keys: &[[u8; 32]],
    ) -> Result<(), ActorError> {
        if items.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        // The merged state is read outside the transactions: SQLite has one connection.
        let mut removed = Vec::new();
        let mut unacknowledged: Vec<String> = Vec::new();
        let (info, events) = if namespace == INFO_NAMESPACE {
            let before = state::current_info(&deps.store, &self.group).await?;
            self.store_configs(
                deps,
                namespace,
                ConfigKind::GroupInfo,
                (items, pages),
                keys,
                now,
            )
            .await?;
            let info = state::current_info(&deps.store, &self.group).await?;
            let mut events = Vec::new();
            if info.destroyed && !before.destroyed {
                events.push(EventData::group(
                    EventType::GroupDestroyed,
                    &self.group,
                    info.name.as_deref().unwrap_or_default(),
                    info.description.as_deref(),
                    None,
                ));
            }
            let changed = info_changes(&before, &info);
            if !changed.is_empty() {
                events.push(EventData::group_updated(&self.group, &info, changed));
            }
            (Some(info), events.into_iter().map(|e| (e, None)).collect())
        } else {
            let before = state::current_members(&deps.store, &self.group).await?;
            self.store_configs(
                deps,
                namespace,
                ConfigKind::GroupMembers,
                (items, pages),
                keys,
                now,
            )
            .await?;
            let after = state::current_members(&deps.store, &self.group).await?;
            let change = member_changes(&before, &after);
            removed = change.removed;
            // Promotions still pending for a local admin (the seed came before this config):
            // it marks its own promotion accepted.
            unacknowledged = after
                .iter()
                .filter(|m| m.admin && m.promotion.is_some())
                .map(|m| m.id.to_string())
                .collect();
            let events: Vec<(EventData, Option<String>)> = change
                .added
                .iter()
                .map(|id| (EventData::group_member(true, &self.group, id), None))
                .chain(change.promoted.iter().map(|id| {
                    let data = EventData::group_member_event(
                        EventType::GroupMemberPromoted,
                        &self.group,
                        id,
                    );
                    // The promoted member's own event comes with the seed (1:1), when it
                    // can act as an admin.
                    (data, Some(id.clone()))
                }))
                .collect();
            (None, events)
        };
        let conflicting = state::needs_merge(&deps.store, &self.group, namespace).await?;
        let mut tx = deps.store.begin().await?;
        if let Some(info) = info {
            let name = info.name.as_deref().unwrap_or_default();
            tx.set_group_info(
                &self.group,
                name,
                info.description.as_deref(),
                info.destroyed,
                now,
            )
            .await?;
        }
        let members = self.members();
        for (data, except) in events {
            for recipient in members.iter().filter(|m| Some(*m) != except.as_ref()) {
                tx.append_event(&NewEvent {
                    account: Some(recipient.clone()),
                    conversation: Some(self.group.clone()),
                    timestamp: now,
                    data: data.clone(),
                })
                .await?;
            }
        }
        if !removed.is_empty() {
            // Their messages go only on an admin's signed request (DeleteMemberContent).
            admin::apply_removal(&mut tx, &self.group, &removed, None, now).await?;
        }
        for member in tx.joined_members(&self.group).await? {
            if member.role == GroupRole::Admin && unacknowledged.contains(&member.account) {
                let own = vec![member.account.clone()];
                admin::queue_sync(&mut tx, &member.account, &self.group, own, now).await?;
            }
        }
        if conflicting {
            // Admins pushed at once: one of ours publishes the merge (§1.2). Concurrent
            // rekeys are left as they are (every member holds both keys of the generation):
            // two admins answering each other's rekey with another would never settle.
            let admins = tx.joined_members(&self.group).await?;
            if let Some(local) = admins.iter().find(|m| m.role == GroupRole::Admin) {
                admin::queue_sync(&mut tx, &local.account, &self.group, Vec::new(), now).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores the intact config messages of `namespace` that open with `keys` and carry the
    /// group's signature, and advances the cursors of the members whose `pages` they came in
    /// past every intact one read.
    async fn store_configs(
        &self,
        deps: &Deps,
        namespace: i16,
        kind: ConfigKind,
        (items, pages): (&[RetrievedItem], &[MemberPage]),
        keys: &[[u8; 32]],
        now: i64,
    ) -> Result<(), ActorError> {
        let mut tx = deps.store.begin().await?;
        let mut consumed = HashSet::new();
        for item in items {
            let ItemData::Intact(data) = &item.data else {
                break;
            };
            consumed.insert(item.hash.clone());
            // Not ours to read (an older key) or forged: skipped, the cursor moves on.
            let Ok(plain) = open_config(data, keys, kind) else {
                continue;
            };
            let Ok(message) = ConfigMessage::parse(&plain, Some(&self.group_key)) else {
                continue;
            };
            let config = StoredConfig {
                hash: item.hash.as_str().to_owned(),
                seqno: message.seqno(),
                data: plain.into(),
            };
            tx.add_group_config(&deps.store, &self.group, i64::from(namespace), &config, now)
                .await?;
        }
        let advanced = stored_cursors(&cursors_after(pages, &consumed));
        tx.set_node_cursors(&self.group, i64::from(namespace), &advanced, now)
            .await?;
        tx.prune_group_configs_lagging(&self.group, i64::from(namespace), DEFAULT_LAG)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// After the swarm refused the lead's grant: reads the kicked notices (namespace −11, still
    /// readable with a revoked grant) and, when one names the lead at a generation at least the
    /// one it holds, applies the removal (`group.kicked`; another local member leads next).
    async fn kicked(&self, deps: &Deps, account: &AccountId) -> Result<bool, ActorError> {
        if !matches!(self.authority, Authority::Member(_)) {
            return Ok(false);
        }
        let signer = self.authority.signer();
        let cursors = [(Namespace(KICKED_NAMESPACE), None)];
        let pages = deps.network.retrieve(account, &signer, &cursors).await?;
        let held = state::load_keys(&deps.store, &self.group, self.authority.reader(&self.lead))
            .await?
            .keys()
            .iter()
            .map(|k| k.generation)
            .max()
            .unwrap_or_default();
        let named = pages.iter().flat_map(|p| &p.messages).any(|item| {
            let ItemData::Intact(data) = &item.data else {
                return false;
            };
            read_kicked_notice(data, &self.lead.identity, &self.group_key)
                .is_ok_and(|generation| i64::try_from(generation).is_ok_and(|g| g >= held))
        });
        if named {
            let mut tx = deps.store.begin().await?;
            let lead = vec![self.lead.session_id.clone()];
            admin::apply_removal(&mut tx, &self.group, &lead, None, now_ms()).await?;
            tx.commit().await?;
        }
        Ok(named)
    }

    /// Extends the TTLs of the keys messages still in use and of the current configs to 30
    /// days from now (groups.md §7), at most once per [`TTL_EXTEND_EVERY_MS`] of network time
    /// so that the group lives as long as someone here is in it. Desktop does this on every
    /// poll; once a day keeps the same guarantee at a fraction of the requests.
    async fn extend_ttls(&self, deps: &Deps, key_state: &GroupKeys) -> Result<(), ActorError> {
        let now = deps.network.now_ms();
        let last = deps.store.group_ttl_extended(&self.group).await?;
        let last = u64::try_from(last).unwrap_or(0);
        if now < last.saturating_add(TTL_EXTEND_EVERY_MS) {
            return Ok(());
        }
        let mut hashes: Vec<String> = key_state
            .active_hashes()
            .into_iter()
            .map(str::to_owned)
            .collect();
        for ns in [INFO_NAMESPACE, MEMBERS_NAMESPACE] {
            hashes.extend(state::current_config_hashes(&deps.store, &self.group, ns).await?);
        }
        let hashes: Vec<MessageHash> = hashes
            .iter()
            .filter_map(|h| MessageHash::parse(h).ok())
            .collect();
        if hashes.is_empty() {
            return Ok(());
        }
        let expiry = now.saturating_add(GROUP_CONFIG_TTL_MS);
        deps.network
            .expire(
                &self.account()?,
                &self.authority.signer(),
                hashes,
                expiry,
                ExpireMode::Extend,
            )
            .await?;
        let mut tx = deps.store.begin().await?;
        tx.set_group_ttl_extended(&self.group, i64::try_from(now).unwrap_or(i64::MAX))
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Source for GroupSwarm {
    fn cursor_key(&self) -> CursorKey {
        CursorKey {
            subject: self.group.clone(),
            namespace: Namespace(MESSAGES_NAMESPACE),
        }
    }

    fn label(&self) -> &str {
        self.lead.short()
    }

    async fn retrieve(
        &self,
        deps: &Deps,
        cursor: &NamespaceCursor,
    ) -> Result<Option<Batch>, ActorError> {
        let account = self.account()?;
        let mut cursors = vec![cursor.clone()];
        for ns in [INFO_NAMESPACE, MEMBERS_NAMESPACE, KEYS_NAMESPACE] {
            cursors.push(load_group_cursor(deps, &self.group, ns).await?);
        }
        let signer = self.authority.signer();
        let mut answers = match deps
            .network
            .retrieve_from(&account, &signer, &cursors)
            .await
        {
            Ok(answers) => answers,
            // A member's grant refused: revoked if an admin removed us (§6.3).
            Err(error) if is_refused(&error) && self.kicked(deps, &account).await? => {
                return Ok(None);
            }
            Err(error) => return Err(error.into()),
        };
        let members = deps.store.joined_members(&self.group).await?;
        if let Ok(mut held) = self.members.lock() {
            *held = members.into_iter().map(|m| m.account).collect();
        }
        let mut take = |ns: i16| {
            answers
                .iter_mut()
                .find(|a| a.namespace == Namespace(ns))
                .map(|a| {
                    (
                        std::mem::take(&mut a.messages),
                        a.more,
                        std::mem::take(&mut a.pages),
                    )
                })
        };
        // Keys first: the configs and messages of this very batch may need them.
        if let Some((items, _, pages)) = take(KEYS_NAMESPACE) {
            self.take_keys(deps, &items, &pages).await?;
        }
        let key_state =
            state::load_keys(&deps.store, &self.group, self.authority.reader(&self.lead)).await?;
        let keys: Vec<GroupEncKey> = key_state.decryption_keys().cloned().collect();
        let raw: Vec<[u8; 32]> = keys.iter().map(|k| *k.expose_secret()).collect();
        for ns in [INFO_NAMESPACE, MEMBERS_NAMESPACE] {
            if let Some((items, _, pages)) = take(ns) {
                self.take_configs(deps, ns, (&items, &pages), &raw).await?;
            }
        }
        if let Ok(mut held) = self.keys.lock() {
            *held = keys;
        }
        // Upkeep must never cost a poll its messages: a failure is retried next poll.
        if let Err(error) = self.extend_ttls(deps, &key_state).await {
            tracing::debug!(group = &self.group[..10], %error, "TTL extension failed");
        }
        Ok(take(MESSAGES_NAMESPACE).map(|(items, more, pages)| Batch { items, more, pages }))
    }

    fn open(&self, item: &RetrievedItem) -> Vec<Delivery> {
        let verdict = self.classify(item);
        self.members()
            .into_iter()
            .map(|recipient| Delivery {
                recipient,
                verdict: verdict.clone(),
            })
            .collect()
    }
}

impl GroupSwarm {
    /// Decrypts and verifies one message (the author's signature, §5) and reads its Content.
    fn classify(&self, item: &RetrievedItem) -> Verdict {
        let data = match &item.data {
            ItemData::Intact(data) => data,
            ItemData::Tampered(_) => return Verdict::Tampered,
        };
        let opened = {
            let Ok(keys) = self.keys.lock() else {
                return Verdict::Dropped("undecryptable");
            };
            open_group_content(data, &self.group_key, &keys)
        };
        let Ok(envelope) = opened else {
            return Verdict::Dropped("undecryptable");
        };
        let Ok(timestamp) = i64::try_from(envelope.timestamp_ms) else {
            return Verdict::Dropped("invalid_content");
        };
        let sender = envelope.sender;
        // Sync targets mean nothing in a group: classify as seen by someone else.
        let events =
            match chat::classify(&envelope.content, &sender, &sender, envelope.timestamp_ms) {
                Ok(events) => events,
                Err(chat::ChatError::EmptyContent) => return Verdict::Ignored,
                Err(_) => return Verdict::Dropped("invalid_content"),
            };
        let events: Vec<ChatEvent> = events
            .into_iter()
            .filter(|e| match e {
                ChatEvent::Ignored(_)
                | ChatEvent::GroupInvite(_)
                | ChatEvent::GroupPromoted { .. } => false,
                // An admin's request must carry a valid admin signature (§6).
                ChatEvent::GroupDeleteContent {
                    members,
                    hashes,
                    admin_signature: Some(signature),
                } => {
                    let message = GroupUpdateDeleteMemberContentMessage {
                        member_session_ids: members.clone(),
                        message_hashes: hashes.clone(),
                        admin_signature: Some(signature.clone()),
                    };
                    verify_delete_member_content(&message, &self.group_key, envelope.timestamp_ms)
                        .is_ok()
                }
                _ => true,
            })
            .collect();
        if events.is_empty() {
            return Verdict::Ignored;
        }
        Verdict::Accepted(Accepted {
            hash: item.hash.as_str().to_owned(),
            sender: sender.to_string(),
            timestamp,
            events,
            group: Some(self.group.clone()),
            signed_digest: content_digest(&envelope.content.encode_to_vec()),
        })
    }
}

/// What changed between two infos, as `group.updated` names it.
fn info_changes(before: &GroupInfo, after: &GroupInfo) -> Vec<String> {
    let mut changed = Vec::new();
    if after.name != before.name {
        changed.push("name".to_owned());
    }
    if after.description != before.description {
        changed.push("description".to_owned());
    }
    if after.expiry_timer != before.expiry_timer {
        changed.push("disappearing".to_owned());
    }
    if after.profile_pic != before.profile_pic {
        changed.push("avatar".to_owned());
    }
    changed
}

/// How the member list moved between two merged members configs (Session IDs).
#[derive(Debug, Default, PartialEq, Eq)]
struct MemberChanges {
    added: Vec<String>,
    removed: Vec<String>,
    promoted: Vec<String>,
}

/// The members added, removed (gone, or marked removed) and promoted to admin from `before`
/// to `after`. The first members config seen is the group as we found it: no changes.
fn member_changes(before: &[GroupMember], after: &[GroupMember]) -> MemberChanges {
    let mut changes = MemberChanges::default();
    if before.is_empty() {
        return changes;
    }
    let present = |list: &[GroupMember], m: &GroupMember| {
        list.iter()
            .find(|o| o.id == m.id)
            .filter(|o| o.removal.is_none())
            .cloned()
    };
    for m in after.iter().filter(|m| m.removal.is_none()) {
        match present(before, m) {
            None => changes.added.push(m.id.to_string()),
            Some(old) if m.admin && !old.admin => changes.promoted.push(m.id.to_string()),
            Some(_) => {}
        }
    }
    for m in before.iter().filter(|m| m.removal.is_none()) {
        if present(after, m).is_none() {
            changes.removed.push(m.id.to_string());
        }
    }
    changes
}

/// Whether a retrieve failed because the swarm refused our authority (401/403).
fn is_refused(error: &NetworkError) -> bool {
    matches!(
        error,
        NetworkError::Rejected(SendError::Destination {
            status: 401 | 403,
            ..
        })
    )
}
