//! Group administration (groups.md §6.3–§6.6), as an admin in Session Desktop does it: edit
//! the info (name, description, disappearing timer), destroy the group, remove members (with
//! or without their messages), promote a member, and delete any message.
//!
//! Like the rest of `chat::groups`, each operation changes the configs and keys locally and
//! queues what goes out in one transaction: the config push (`group_push`), the admin's
//! notices and swarm-side steps (`group_admin`: kicked notice, revoked tokens, signed
//! INFO_CHANGE / MEMBER_CHANGE / DELETE_CONTENT messages) and, for a promotion, the seed 1:1
//! (`group_promote`). The local members of the group get their events at once (they share
//! this store, so their next poll sees nothing new).

use super::state::{self, build_config_push, build_push, keep_push, INFO_NAMESPACE};
use super::{admin_secret, check_info, conversation, prefixed, queue_push, session_id};
use crate::chat::{ChatError, Queued};
use crate::clock::now_ms;
use crate::events::{EventData, EventType};
use crate::ids::{GroupId, SessionIdText};
use crate::protocol::groups::config::info::ProfilePic;
use crate::protocol::groups::config::members::{erase_member, set_member, SendStatus};
use crate::protocol::groups::keys::KeysReader;
use crate::protocol::keys::SessionId;
use crate::store::chat::{ControlBody, GroupAdminStep};
use crate::store::events::NewEvent;
use crate::store::modes::{GroupRole, GroupState};
use crate::store::{Store, StoreTx};

/// An edit of a group's info; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct InfoEdit {
    /// The new name.
    pub name: Option<String>,
    /// The new description (empty clears it).
    pub description: Option<String>,
    /// The disappearing-messages timer, seconds (0 turns it off).
    pub disappearing_seconds: Option<u32>,
    /// The group's picture, already encrypted and uploaded (`Some(None)` removes it).
    pub avatar: Option<Option<ProfilePic>>,
}

/// Admin: edits the group's info (§6.6): a new info config for the swarm, the INFO_CHANGE
/// notice for a new name or timer (clients show it), and `group.updated` for local members.
/// An edit that changes nothing queues nothing.
pub async fn edit_info(
    store: &Store,
    account: &SessionIdText,
    group: &GroupId,
    edit: InfoEdit,
) -> Result<Vec<Queued>, ChatError> {
    let gid = group.as_str();
    let secret = admin_secret(store, account, gid).await?;
    let before = state::current_info(store, gid).await?;
    if before.destroyed {
        return Err(ChatError::GroupDestroyed);
    }
    let mut info = before.clone();
    let mut changed = Vec::new();
    if let Some(name) = edit.name.filter(|n| Some(n) != before.name.as_ref()) {
        info.name = Some(name);
        changed.push("name".to_owned());
    }
    if let Some(description) = edit.description {
        let description = Some(description).filter(|d| !d.is_empty());
        if description != before.description {
            info.description = description;
            changed.push("description".to_owned());
        }
    }
    if let Some(seconds) = edit.disappearing_seconds {
        let timer = Some(i64::from(seconds)).filter(|s| *s > 0);
        if timer != before.expiry_timer {
            info.expiry_timer = timer;
            changed.push("disappearing".to_owned());
        }
    }
    if let Some(avatar) = edit.avatar {
        if avatar != before.profile_pic {
            info.profile_pic = avatar;
            changed.push("avatar".to_owned());
        }
    }
    let name = info.name.clone().unwrap_or_default();
    check_info(&name, info.description.as_deref())?;
    if changed.is_empty() {
        return Ok(Vec::new());
    }
    let mut config = state::next_config(store, gid, INFO_NAMESPACE).await?;
    info.write_to(config.data_mut());
    let keys = state::load_keys(store, gid, KeysReader::Admin(&secret)).await?;
    let push = build_config_push(&secret, &keys, Some(config), None)?;
    let now = now_ms();
    let notice = GroupAdminStep::InfoChanged {
        name: changed.iter().any(|c| c == "name").then(|| name.clone()),
        disappearing_seconds: changed
            .iter()
            .any(|c| c == "disappearing")
            .then(|| edit.disappearing_seconds.unwrap_or(0)),
        avatar: changed.iter().any(|c| c == "avatar"),
    };
    let mut tx = store.begin().await?;
    keep_push(&mut tx, store, gid, &push, now).await?;
    tx.set_group_info(gid, &name, info.description.as_deref(), false, now)
        .await?;
    let mut queued = vec![queue_push(&mut tx, account, gid, &push, now).await?];
    // A description alone is not announced (clients have no notice for it).
    if changed.iter().any(|c| c != "description") {
        queued.push(queue_step(&mut tx, account, gid, notice, now).await?);
    }
    let data = EventData::group_updated(gid, &info, changed);
    tell_members(&mut tx, gid, &data, now).await?;
    tx.commit().await?;
    Ok(queued)
}

/// Admin: destroys the group for everyone (the info's destroyed flag, §6.5): members see
/// `group.destroyed`, and nobody can post any more.
pub async fn destroy_group(
    store: &Store,
    account: &SessionIdText,
    group: &GroupId,
) -> Result<Vec<Queued>, ChatError> {
    let gid = group.as_str();
    let secret = admin_secret(store, account, gid).await?;
    let mut info = state::current_info(store, gid).await?;
    if info.destroyed {
        return Err(ChatError::GroupDestroyed);
    }
    info.destroyed = true;
    let mut config = state::next_config(store, gid, INFO_NAMESPACE).await?;
    info.write_to(config.data_mut());
    let keys = state::load_keys(store, gid, KeysReader::Admin(&secret)).await?;
    let push = build_config_push(&secret, &keys, Some(config), None)?;
    let now = now_ms();
    let name = info.name.clone().unwrap_or_default();
    let mut tx = store.begin().await?;
    keep_push(&mut tx, store, gid, &push, now).await?;
    tx.set_group_info(gid, &name, info.description.as_deref(), true, now)
        .await?;
    let queued = vec![queue_push(&mut tx, account, gid, &push, now).await?];
    let data = EventData::group(
        EventType::GroupDestroyed,
        gid,
        &name,
        info.description.as_deref(),
        None,
    );
    tell_members(&mut tx, gid, &data, now).await?;
    tx.commit().await?;
    Ok(queued)
}

/// Admin: removes `members` (§6.3): the members config without them and a new key generation
/// they do not get, then the kicked notice, their tokens revoked and the REMOVED notice. With `delete_messages`, members are asked to delete their messages, and the
/// local copies are deleted at once.
pub async fn remove_members(
    store: &Store,
    account: &SessionIdText,
    group: &GroupId,
    members: &[SessionIdText],
    delete_messages: bool,
) -> Result<Vec<Queued>, ChatError> {
    let gid = group.as_str();
    let secret = admin_secret(store, account, gid).await?;
    ensure_alive(store, gid).await?;
    let own = session_id(account.as_str())?;
    let current = state::merged_members(store, gid).await?;
    let mut removed: Vec<SessionId> = Vec::new();
    for member in members {
        let id = session_id(member.as_str())?;
        if id == own {
            return Err(ChatError::InvalidGroup(
                "an admin leaves a group with POST …/leave, not by removing itself".into(),
            ));
        }
        if !current.iter().any(|m| m.id == prefixed(&id)) {
            return Err(ChatError::NotFound("member"));
        }
        if !removed.contains(&id) {
            removed.push(id);
        }
    }
    if removed.is_empty() {
        return Ok(Vec::new());
    }
    let mut keys = state::load_keys(store, gid, KeysReader::Admin(&secret)).await?;
    let generation = keys
        .keys()
        .iter()
        .map(|k| k.generation)
        .max()
        .unwrap_or_default();
    let info = state::next_config(store, gid, INFO_NAMESPACE).await?;
    let mut members_config = state::next_config(store, gid, state::MEMBERS_NAMESPACE).await?;
    for id in &removed {
        erase_member(members_config.data_mut(), &prefixed(id));
    }
    let everyone: Vec<SessionId> = current
        .iter()
        .filter(|m| m.removal.is_none())
        .filter_map(|m| m.id.to_string().parse().ok())
        .filter(|id| !removed.contains(id))
        .collect();
    let now = now_ms();
    let push = build_push(&secret, &mut keys, info, members_config, &everyone, now)?;
    let removed_text: Vec<String> = removed.iter().map(ToString::to_string).collect();
    let mut tx = store.begin().await?;
    let mut hashes = Vec::new();
    if delete_messages {
        let found = tx
            .group_messages_matching(account.as_str(), gid, &removed_text, &[])
            .await?;
        hashes.extend(found.into_iter().filter_map(|m| m.hash));
    }
    let step = GroupAdminStep::Remove {
        members: removed_text.clone(),
        generation: u64::try_from(generation).unwrap_or(0),
        delete_messages,
        hashes,
    };
    keep_push(&mut tx, store, gid, &push, now).await?;
    // The new key on the swarm first: the removal's notices are sealed with it, and a notice
    // under a key members cannot fetch yet would be unreadable to them. The removed members
    // cannot open the new keys message, and the kicked notice names the generation they held.
    let mut queued = vec![queue_push(&mut tx, account, gid, &push, now).await?];
    queued.push(queue_step(&mut tx, account, gid, step, now).await?);
    let by = delete_messages.then_some(account.as_str());
    apply_removal(&mut tx, gid, &removed_text, by, now).await?;
    tx.commit().await?;
    Ok(queued)
}

/// Admin: promotes `member` to admin (§6.4): the members config marks the promotion sent, the
/// group seed goes to the member 1:1, and the PROMOTED notice to the group.
pub async fn promote_member(
    store: &Store,
    account: &SessionIdText,
    group: &GroupId,
    member: &SessionIdText,
) -> Result<Vec<Queued>, ChatError> {
    let gid = group.as_str();
    let secret = admin_secret(store, account, gid).await?;
    ensure_alive(store, gid).await?;
    let id = session_id(member.as_str())?;
    let current = state::merged_members(store, gid).await?;
    let mut entry = current
        .into_iter()
        .find(|m| m.id == prefixed(&id) && m.removal.is_none())
        .ok_or(ChatError::NotFound("member"))?;
    if entry.admin && entry.promotion.is_none() {
        return Ok(Vec::new());
    }
    entry.admin = true;
    entry.promotion = Some(SendStatus::Sent);
    entry.invite = None;
    let mut members_config = state::next_config(store, gid, state::MEMBERS_NAMESPACE).await?;
    set_member(members_config.data_mut(), &entry);
    let keys = state::load_keys(store, gid, KeysReader::Admin(&secret)).await?;
    let push = build_config_push(&secret, &keys, None, Some(members_config))?;
    let now = now_ms();
    let peer = id.to_string();
    let mut tx = store.begin().await?;
    keep_push(&mut tx, store, gid, &push, now).await?;
    let mut queued = vec![queue_push(&mut tx, account, gid, &push, now).await?];
    let promote = ControlBody::GroupPromote {
        group: gid.to_owned(),
    };
    let row = tx
        .enqueue_control(account.as_str(), &peer, &promote, now)
        .await?;
    queued.push(Queued {
        id: row,
        conversation: conversation(&peer),
    });
    let step = GroupAdminStep::Promoted {
        members: vec![peer.clone()],
    };
    queued.push(queue_step(&mut tx, account, gid, step, now).await?);
    // A local member gets the seed now, as if the promotion had arrived.
    if tx
        .membership(&peer, gid)
        .await?
        .is_some_and(|m| m.state == GroupState::Joined)
    {
        let seed = secret.seed().expose_secret();
        tx.set_membership_role(store, &peer, gid, GroupRole::Admin, seed, now)
            .await?;
    }
    let data = EventData::group_member_event(EventType::GroupMemberPromoted, gid, &peer);
    tell_members(&mut tx, gid, &data, now).await?;
    tx.commit().await?;
    Ok(queued)
}

/// Admin: deletes another member's message `hash` for everyone (DeleteMemberContent, signed,
/// and the message deleted from the swarm).
pub async fn delete_for_everyone(
    tx: &mut StoreTx,
    account: &SessionIdText,
    group: &str,
    hash: &str,
    now: i64,
) -> Result<Queued, ChatError> {
    let step = GroupAdminStep::DeleteContent {
        hashes: vec![hash.to_owned()],
    };
    queue_step(tx, account, group, step, now).await
}

/// Admin: what [`GroupAdminStep::SyncConfigs`] pushes, built from the configs held now: the
/// merged info and members configs when their heads conflict, with `joined` members' invite
/// and promotion status cleared (they answered; a promoted admin answers for itself); `None` when nothing needs pushing. The caller keeps it (with
/// [`keep_synced`]) once the swarm has it, so that a failed attempt is computed again.
pub async fn sync_configs(
    store: &Store,
    secret: &crate::protocol::groups::GroupSecret,
    joined: &[String],
) -> Result<Option<state::Push>, ChatError> {
    let gid = secret.id().to_string();
    let info = if state::needs_merge(store, &gid, INFO_NAMESPACE).await? {
        Some(state::next_config(store, &gid, INFO_NAMESPACE).await?)
    } else {
        None
    };
    let current = state::merged_members(store, &gid).await?;
    let answered: Vec<_> = current
        .into_iter()
        .filter(|m| m.invite.is_some() || m.promotion.is_some())
        .filter(|m| joined.contains(&m.id.to_string()))
        .collect();
    let members = if !answered.is_empty()
        || state::needs_merge(store, &gid, state::MEMBERS_NAMESPACE).await?
    {
        let mut config = state::next_config(store, &gid, state::MEMBERS_NAMESPACE).await?;
        for mut member in answered {
            member.invite = None;
            member.promotion = None;
            set_member(config.data_mut(), &member);
        }
        Some(config)
    } else {
        None
    };
    if info.is_none() && members.is_none() {
        return Ok(None);
    }
    let keys = state::load_keys(store, &gid, KeysReader::Admin(secret)).await?;
    Ok(Some(build_config_push(secret, &keys, info, members)?))
}

/// Keeps a [`sync_configs`] push locally once the swarm stored it.
pub async fn keep_synced(store: &Store, group: &str, push: &state::Push) -> Result<(), ChatError> {
    let mut tx = store.begin().await?;
    keep_push(&mut tx, store, group, push, now_ms()).await?;
    tx.commit().await?;
    Ok(())
}

/// Queues, for `admin` (a local joined admin of `group`), the republishing of the group's
/// configs after a poll ([`GroupAdminStep::SyncConfigs`]).
pub async fn queue_sync(
    tx: &mut StoreTx,
    admin: &str,
    group: &str,
    joined: Vec<String>,
    now: i64,
) -> Result<(), ChatError> {
    let body = ControlBody::GroupAdmin {
        step: GroupAdminStep::SyncConfigs { joined },
    };
    tx.enqueue_control(admin, group, &body, now).await?;
    Ok(())
}

/// The local side of a removal (ours or another admin's): removed local members are kicked
/// (`group.kicked`), the others get `group.member_removed`, and with `delete_messages` (the
/// admin who asked) the removed members' messages are deleted for every local member
/// (`message.deleted`).
pub async fn apply_removal(
    tx: &mut StoreTx,
    group: &str,
    removed: &[String],
    delete_messages: Option<&str>,
    now: i64,
) -> Result<(), ChatError> {
    let name = tx.group_name(group).await?.unwrap_or_default();
    for member in removed {
        let held = tx.membership(member, group).await?;
        if held.is_some_and(|m| matches!(m.state, GroupState::Joined | GroupState::Invited)) {
            tx.set_membership_state(member, group, GroupState::Kicked, now)
                .await?;
            let data = EventData::group(EventType::GroupKicked, group, &name, None, None);
            append_for(tx, member, group, data, now).await?;
        }
    }
    for member in removed {
        let data = EventData::group_member_event(EventType::GroupMemberRemoved, group, member);
        tell_members(tx, group, &data, now).await?;
    }
    if let Some(by) = delete_messages {
        delete_content(tx, group, removed, &[], by, now).await?;
    }
    Ok(())
}

/// Deletes, for every local member of `group`, the messages written by `authors` or stored
/// under `hashes`, each with `message.deleted` (scope `everyone`, `by` the admin).
pub async fn delete_content(
    tx: &mut StoreTx,
    group: &str,
    authors: &[String],
    hashes: &[String],
    by: &str,
    now: i64,
) -> Result<usize, ChatError> {
    let mut deleted = 0;
    for member in tx.joined_members(group).await? {
        let found = tx
            .group_messages_matching(&member.account, group, authors, hashes)
            .await?;
        for message in found {
            if tx.mark_deleted(&message.id, now).await? {
                deleted += 1;
                let data = EventData::message_deleted(group, &message.id, "everyone", by);
                append_for(tx, &member.account, group, data, now).await?;
            }
        }
    }
    Ok(deleted)
}

/// Appends `data` for every joined local member of `group`.
pub async fn tell_members(
    tx: &mut StoreTx,
    group: &str,
    data: &EventData,
    now: i64,
) -> Result<(), ChatError> {
    for member in tx.joined_members(group).await? {
        append_for(tx, &member.account, group, data.clone(), now).await?;
    }
    Ok(())
}

async fn append_for(
    tx: &mut StoreTx,
    account: &str,
    group: &str,
    data: EventData,
    now: i64,
) -> Result<(), ChatError> {
    tx.append_event(&NewEvent {
        account: Some(account.to_owned()),
        conversation: Some(group.to_owned()),
        timestamp: now,
        data,
    })
    .await?;
    Ok(())
}

/// Refuses changes to a destroyed group.
async fn ensure_alive(store: &Store, group: &str) -> Result<(), ChatError> {
    if state::current_info(store, group).await?.destroyed {
        return Err(ChatError::GroupDestroyed);
    }
    Ok(())
}

async fn queue_step(
    tx: &mut StoreTx,
    account: &SessionIdText,
    group: &str,
    step: GroupAdminStep,
    now: i64,
) -> Result<Queued, ChatError> {
    let id = tx
        .enqueue_control(
            account.as_str(),
            group,
            &ControlBody::GroupAdmin { step },
            now,
        )
        .await?;
    Ok(Queued {
        id,
        conversation: conversation(group),
    })
}
