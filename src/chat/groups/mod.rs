//! Closed groups (groups.md §6): what creating a group, inviting members, answering an
//! invitation and leaving do to an account's state. Each operation records the new state and
//! queues what has to go out — the admin's push of keys and configs to the group swarm, the 1:1
//! invitations, our answer or leaving notice to the group — in one transaction; the actors send
//! the queued rows (`actors::transports`), so everything is persisted first and retried.
//!
//! Receiving an invitation ([`receive_invite`]) is applied by `chat::incoming` in the poll's
//! transaction; the group's own traffic by the group source (`actors::sources::group_swarm`).

pub mod admin;
pub mod state;
pub mod user_groups;

use base64::Engine as _;
use zeroize::Zeroizing;

use super::{append, ChatError, Queued};
use crate::clock::now_ms;
use crate::events::{EventData, EventType};
use crate::ids::{ConversationId, GroupId, SessionIdText};
use crate::protocol::groups::config::info::GroupInfo;
use crate::protocol::groups::config::members::{set_member, GroupMember, SendStatus};
use crate::protocol::groups::config::{MutableConfigMessage, DEFAULT_LAG};
use crate::protocol::groups::keys::KeysReader;
use crate::protocol::groups::GroupSecret;
use crate::protocol::keys::{IdPrefix, PrefixedId, Seed, SessionId};
use crate::store::chat::ControlBody;
use crate::store::groups::{GroupListing, Membership};
use crate::store::modes::{GroupInvites, GroupRole, GroupState};
use crate::store::{Store, StoreTx};
use state::{build_push, keep_push};

/// Most members a group created or grown through the API may have (Session clients' limit).
pub const MAX_MEMBERS: usize = 100;
/// Longest group name, in bytes (libsession `NAME_MAX_LENGTH`).
pub const MAX_NAME_BYTES: usize = 100;
/// Longest description, in bytes (libsession `DESCRIPTION_MAX_LENGTH`).
pub const MAX_DESCRIPTION_BYTES: usize = 2000;

/// A group to create.
#[derive(Clone, Debug)]
pub struct NewGroup {
    /// Its name (1 to [`MAX_NAME_BYTES`] bytes).
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Who to invite (not the creator).
    pub members: Vec<SessionIdText>,
}

/// A member as the group's members config lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberView {
    /// Session ID.
    pub session_id: String,
    /// `admin` or `member`.
    pub role: GroupRole,
    /// `joined`, `invited` (invitation sent, not yet accepted), `invite_failed` or `removed`.
    pub status: &'static str,
}

/// A group as one account sees it.
#[derive(Clone, Debug)]
pub struct GroupView {
    /// The account's membership (role, state, inviter, times).
    pub membership: Membership,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// An admin destroyed it.
    pub destroyed: bool,
    /// Members (empty until the members config arrived).
    pub members: Vec<MemberView>,
}

/// A created group and what was queued for it.
#[derive(Clone, Debug)]
pub struct Created {
    /// The group.
    pub group: GroupView,
    /// The queued rows (the push, then one invitation per member): wake their senders.
    pub queued: Vec<Queued>,
}

/// Checks a name and description.
fn check_info(name: &str, description: Option<&str>) -> Result<(), ChatError> {
    if name.trim().is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(ChatError::InvalidGroup(format!(
            "name must be 1 to {MAX_NAME_BYTES} bytes"
        )));
    }
    if description.is_some_and(|d| d.len() > MAX_DESCRIPTION_BYTES) {
        return Err(ChatError::InvalidGroup(format!(
            "description must be at most {MAX_DESCRIPTION_BYTES} bytes"
        )));
    }
    Ok(())
}

fn session_id(id: &str) -> Result<SessionId, ChatError> {
    id.parse()
        .map_err(|_| ChatError::InvalidGroup(format!("{id} is not a 05 Session ID")))
}

fn prefixed(id: &SessionId) -> PrefixedId {
    PrefixedId::new(IdPrefix::Standard, *id.x25519().as_bytes())
}

/// Creates a group with `account` as its admin and invites `new.members` (§6.2): the group
/// key, the info and members configs and the first keys generation are kept and queued for the
/// group swarm, and one invitation is queued to each member.
pub async fn create_group(
    store: &Store,
    account: &SessionIdText,
    new: NewGroup,
) -> Result<Created, ChatError> {
    check_info(&new.name, new.description.as_deref())?;
    let own = session_id(account.as_str())?;
    let mut invitees: Vec<SessionId> = Vec::new();
    for member in &new.members {
        let id = session_id(member.as_str())?;
        if id != own && !invitees.contains(&id) {
            invitees.push(id);
        }
    }
    if invitees.len() + 1 > MAX_MEMBERS {
        return Err(ChatError::InvalidGroup(format!(
            "a group has at most {MAX_MEMBERS} members"
        )));
    }
    let now = now_ms();
    let secret = state::new_secret();
    let group = secret.id().to_string();
    let own_name = store.own_profile(account.as_str()).await?.display_name;
    let mut info = MutableConfigMessage::new(0, DEFAULT_LAG);
    GroupInfo {
        name: Some(new.name.clone()),
        description: new.description.clone().filter(|d| !d.is_empty()),
        created: Some(now / 1000),
        ..GroupInfo::from_data(&Default::default())
    }
    .write_to(info.data_mut());
    let mut members = MutableConfigMessage::new(0, DEFAULT_LAG);
    let mut me = GroupMember::new(prefixed(&own));
    me.admin = true;
    me.name = own_name.unwrap_or_default();
    set_member(members.data_mut(), &me);
    for invitee in &invitees {
        let mut member = GroupMember::new(prefixed(invitee));
        member.invite = Some(SendStatus::Sent);
        set_member(members.data_mut(), &member);
    }
    let mut everyone = vec![own];
    everyone.extend(invitees.iter().copied());
    let mut keys = crate::protocol::groups::keys::GroupKeys::new(secret.public());
    let push = build_push(&secret, &mut keys, info, members, &everyone, now)?;

    let mut tx = store.begin().await?;
    tx.insert_group(&group, &new.name, now).await?;
    tx.set_group_info(&group, &new.name, new.description.as_deref(), false, now)
        .await?;
    tx.put_membership(
        store,
        account.as_str(),
        &group,
        GroupRole::Admin,
        GroupState::Joined,
        secret.seed().expose_secret(),
        None,
        now,
    )
    .await?;
    keep_push(&mut tx, store, &group, &push, now).await?;
    let mut queued = vec![queue_push(&mut tx, account, &group, &push, now).await?];
    for invitee in &invitees {
        queued.push(queue_invite(&mut tx, account, &group, invitee, now).await?);
    }
    let data = EventData::group(
        EventType::GroupJoined,
        &group,
        &new.name,
        new.description.as_deref(),
        None,
    );
    append(&mut tx, account, &group, data, now).await?;
    tx.commit().await?;
    let group = view(store, account, &group).await?;
    Ok(Created { group, queued })
}

/// Admin: invites more members (§6.2 step 4): they are added to the members config and an
/// invitation is queued to each. Without `share_history` a new key generation is made for
/// everyone (a full rekey: new members do not read older messages); with it, a supplemental
/// keys message gives them the keys held (§2.2), so they read the history still on the swarm.
pub async fn invite_members(
    store: &Store,
    account: &SessionIdText,
    group: &GroupId,
    new_members: &[SessionIdText],
    share_history: bool,
) -> Result<Vec<Queued>, ChatError> {
    let gid = group.as_str();
    let secret = admin_secret(store, account, gid).await?;
    let current = state::merged_members(store, gid).await?;
    let mut added: Vec<SessionId> = Vec::new();
    for member in new_members {
        let id = session_id(member.as_str())?;
        let known = current.iter().any(|m| m.id == prefixed(&id));
        if !known && !added.contains(&id) {
            added.push(id);
        }
    }
    if added.is_empty() {
        return Ok(Vec::new());
    }
    if current.len() + added.len() > MAX_MEMBERS {
        return Err(ChatError::InvalidGroup(format!(
            "a group has at most {MAX_MEMBERS} members"
        )));
    }
    let now = now_ms();
    let mut members = state::next_config(store, gid, state::MEMBERS_NAMESPACE).await?;
    for id in &added {
        let mut member = GroupMember::new(prefixed(id));
        member.invite = Some(SendStatus::Sent);
        member.supplement = share_history;
        set_member(members.data_mut(), &member);
    }
    let mut keys = state::load_keys(store, gid, KeysReader::Admin(&secret)).await?;
    let push = if share_history {
        let configs = state::build_config_push(&secret, &keys, None, Some(members))?;
        match keys.supplement(&secret, &added) {
            Ok(supplement) => state::with_keys(&secret, configs, supplement, now)?,
            // No new member has a usable X25519 key (a low-order point such as 05 and 64
            // zeros): nobody could open a supplement, so none is sent, as a rekey skips such
            // recipients; their invitations fail to send like any message to them.
            Err(crate::protocol::groups::keys::KeysError::NothingToSupplement) => configs,
            Err(e) => return Err(ChatError::GroupProtocol(e.to_string())),
        }
    } else {
        let info = state::next_config(store, gid, state::INFO_NAMESPACE).await?;
        let mut everyone: Vec<SessionId> = current
            .iter()
            .filter(|m| m.removal.is_none())
            .filter_map(|m| m.id.to_string().parse().ok())
            .collect();
        everyone.extend(added.iter().copied());
        build_push(&secret, &mut keys, info, members, &everyone, now)?
    };
    let mut tx = store.begin().await?;
    keep_push(&mut tx, store, gid, &push, now).await?;
    let mut queued = vec![queue_push(&mut tx, account, gid, &push, now).await?];
    for id in &added {
        queued.push(queue_invite(&mut tx, account, gid, id, now).await?);
        let data = EventData::group_member(true, gid, &id.to_string());
        append(&mut tx, account, gid, data, now).await?;
    }
    tx.commit().await?;
    Ok(queued)
}

/// Accepts an invitation: the account joins (its Identity starts polling the group) and
/// queues its answer to the group (§6.1 step 4).
pub async fn accept_invite(
    store: &Store,
    account: &SessionIdText,
    group: &GroupId,
) -> Result<Queued, ChatError> {
    let now = now_ms();
    let mut tx = store.begin().await?;
    in_state(&mut tx, account, group.as_str(), GroupState::Invited).await?;
    let queued = join(&mut tx, account.as_str(), group.as_str(), now).await?;
    tx.commit().await?;
    Ok(queued)
}

/// Declines an invitation: nothing is sent (as in Session clients); the group is not polled.
pub async fn decline_invite(
    store: &Store,
    account: &SessionIdText,
    group: &GroupId,
) -> Result<(), ChatError> {
    let now = now_ms();
    let mut tx = store.begin().await?;
    in_state(&mut tx, account, group.as_str(), GroupState::Invited).await?;
    tx.set_membership_state(account.as_str(), group.as_str(), GroupState::Declined, now)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Leaves a joined group: the leaving notice is queued to the group (§6.5) and the group is
/// no longer polled for the account.
pub async fn leave_group(
    store: &Store,
    account: &SessionIdText,
    group: &GroupId,
) -> Result<Queued, ChatError> {
    let now = now_ms();
    let mut tx = store.begin().await?;
    in_state(&mut tx, account, group.as_str(), GroupState::Joined).await?;
    let id = tx
        .enqueue_control(
            account.as_str(),
            group.as_str(),
            &ControlBody::GroupLeave,
            now,
        )
        .await?;
    tx.set_membership_state(account.as_str(), group.as_str(), GroupState::Left, now)
        .await?;
    tx.commit().await?;
    Ok(Queued {
        id,
        conversation: conversation(group.as_str()),
    })
}

/// The groups of `account` (every state).
pub async fn list_groups(
    store: &Store,
    account: &SessionIdText,
) -> Result<Vec<GroupListing>, ChatError> {
    Ok(store.groups_of(account.as_str()).await?)
}

/// One group as `account` sees it; not found unless the account was invited to it.
pub async fn view(
    store: &Store,
    account: &SessionIdText,
    group: &str,
) -> Result<GroupView, ChatError> {
    let listing = store
        .groups_of(account.as_str())
        .await?
        .into_iter()
        .find(|g| g.membership.group == group)
        .ok_or(ChatError::NotFound("group"))?;
    let members = state::current_members(store, group)
        .await?
        .into_iter()
        .map(|m| MemberView {
            session_id: m.id.to_string(),
            role: if m.admin {
                GroupRole::Admin
            } else {
                GroupRole::Member
            },
            status: match (m.removal, m.invite) {
                (Some(_), _) => "removed",
                (None, Some(SendStatus::Failed)) => "invite_failed",
                (None, Some(_)) => "invited",
                (None, None) => "joined",
            },
        })
        .collect();
    Ok(GroupView {
        membership: listing.membership,
        name: listing.name,
        description: listing.description,
        destroyed: listing.destroyed,
        members,
    })
}

/// A verified invitation sent at `sent` (ms) arrived for `account` from `inviter` (applied in
/// the poll's transaction): the group and the membership `invited` with its grant,
/// `group.invited`, and under `group_invites: auto_accept` the join at once. A repeat for a
/// group we are in, or were invited to, changes nothing; nor does an invitation sent before
/// the one we answered (a swarm member serving it again must not undo a decline).
pub async fn receive_invite(
    tx: &mut StoreTx,
    store: &Store,
    account: &str,
    inviter: &str,
    invite: &crate::protocol::chat::GroupInvite,
    sent: i64,
    now: i64,
) -> Result<Vec<EventData>, ChatError> {
    let group = invite.group.as_str();
    if let Some(held) = tx.membership(account, group).await? {
        if matches!(held.state, GroupState::Invited | GroupState::Joined) {
            return Ok(Vec::new());
        }
        if held.invited_at.is_some_and(|at| sent <= at) {
            return Ok(Vec::new());
        }
    }
    tx.insert_group(group, &invite.name, now).await?;
    tx.put_membership(
        store,
        account,
        group,
        GroupRole::Member,
        GroupState::Invited,
        &invite.member_auth_data,
        Some(inviter),
        now,
    )
    .await?;
    let mut events = vec![EventData::group(
        EventType::GroupInvited,
        group,
        &invite.name,
        None,
        Some(inviter),
    )];
    if tx.group_invites(account).await? == GroupInvites::AutoAccept {
        let (_, joined) = join_events(tx, account, group, now).await?;
        events.push(joined);
    }
    Ok(events)
}

/// Joins in `tx`: the membership becomes `joined`, the answer is queued, `group.joined`.
async fn join(tx: &mut StoreTx, account: &str, group: &str, now: i64) -> Result<Queued, ChatError> {
    let (queued, data) = join_events(tx, account, group, now).await?;
    let account_id =
        SessionIdText::parse_any(account).map_err(|_| ChatError::NotFound("account"))?;
    append(tx, &account_id, group, data, now).await?;
    Ok(queued)
}

async fn join_events(
    tx: &mut StoreTx,
    account: &str,
    group: &str,
    now: i64,
) -> Result<(Queued, EventData), ChatError> {
    tx.set_membership_state(account, group, GroupState::Joined, now)
        .await?;
    let id = tx
        .enqueue_control(account, group, &ControlBody::GroupInviteResponse, now)
        .await?;
    let name = tx.group_name(group).await?.unwrap_or_default();
    let data = EventData::group(EventType::GroupJoined, group, &name, None, None);
    Ok((
        Queued {
            id,
            conversation: conversation(group),
        },
        data,
    ))
}

/// Checks `account`'s membership of `group` is in `state`: not found without one,
/// [`ChatError::GroupState`] in another state.
async fn in_state(
    tx: &mut StoreTx,
    account: &SessionIdText,
    group: &str,
    state: GroupState,
) -> Result<(), ChatError> {
    let membership = tx
        .membership(account.as_str(), group)
        .await?
        .ok_or(ChatError::NotFound("group"))?;
    if membership.state != state {
        return Err(ChatError::GroupState(membership.state));
    }
    Ok(())
}

/// The group seed of an admin account; not an admin: [`ChatError::NotGroupAdmin`].
pub async fn admin_secret(
    store: &Store,
    account: &SessionIdText,
    group: &str,
) -> Result<GroupSecret, ChatError> {
    let membership = store
        .membership(account.as_str(), group)
        .await?
        .ok_or(ChatError::NotFound("group"))?;
    if membership.role != GroupRole::Admin || membership.state != GroupState::Joined {
        return Err(ChatError::NotGroupAdmin);
    }
    let seed = store
        .group_secret(account.as_str(), group)
        .await?
        .ok_or(ChatError::NotFound("group"))?;
    secret_of(&seed)
}

/// The group secret of a stored seed.
pub fn secret_of(seed: &Zeroizing<Vec<u8>>) -> Result<GroupSecret, ChatError> {
    let bytes: [u8; 32] = seed
        .as_slice()
        .try_into()
        .map_err(|_| ChatError::GroupProtocol("stored group seed is not 32 bytes".into()))?;
    Ok(GroupSecret::from_seed(Seed::from_bytes(bytes)))
}

async fn queue_push(
    tx: &mut StoreTx,
    account: &SessionIdText,
    group: &str,
    push: &state::Push,
    now: i64,
) -> Result<Queued, ChatError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = ControlBody::GroupPush {
        payloads: push
            .payloads
            .iter()
            .map(|(ns, data)| (*ns, b64.encode(data)))
            .collect(),
    };
    let id = tx
        .enqueue_control(account.as_str(), group, &body, now)
        .await?;
    Ok(Queued {
        id,
        conversation: conversation(group),
    })
}

async fn queue_invite(
    tx: &mut StoreTx,
    account: &SessionIdText,
    group: &str,
    invitee: &SessionId,
    now: i64,
) -> Result<Queued, ChatError> {
    let peer = invitee.to_string();
    let body = ControlBody::GroupInvite {
        group: group.to_owned(),
    };
    let id = tx
        .enqueue_control(account.as_str(), &peer, &body, now)
        .await?;
    Ok(Queued {
        id,
        conversation: conversation(&peer),
    })
}

fn conversation(id: &str) -> Option<ConversationId> {
    ConversationId::parse(id).ok()
}
