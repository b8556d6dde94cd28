//! The account's UserGroups config (groups.md §1, §3.3) kept in step with its groups, so the
//! same account restored in a Session client (same recovery phrase) sees them: the client
//! finds each group's `g` entry in namespace 5 of the account's own swarm.
//!
//! The config is shared with the account's other devices, which push to it too, so it is
//! never overwritten: [`sync`] merges the stored heads (§1.2; the own-swarm poll stores every
//! head it reads), writes what our groups say into the merged data and, when that changes the
//! data or the merge itself has to be published, pushes one new message at the next seqno:
//!
//! | our membership | entry |
//! |---|---|
//! | admin | `K` = group seed |
//! | member, invited | `s` = memberAuthData, `n` = name, `i` = 1 |
//! | member, joined | `s`, `n`, `i` cleared, `j` = joined at (unix s; kept when set) |
//! | kicked (`r` = 1) / destroyed (`r` = 2) | kept, marked |
//! | declined, left | erased (as clients do, §6.5) |
//!
//! Everything else in the entry (`@`, `!`, `+`, keys this gateway does not know) and every
//! entry we do not manage (other groups, communities `o`, legacy groups `C`) stay exactly as
//! merged. A grant we lack is never taken from an entry (a `K` another device holds stays).
//! A group the merged config lists and the account has no membership of (an imported
//! account's groups, or one another device joined) is adopted: as admin with `K`, as member
//! with `s` (invited while `i` is set), so the account polls it; no event is emitted. What
//! another device did to a group we know is taken over, not reverted: an invitation it
//! accepted is joined here (`group.joined`), a `K` it holds makes us admin, and an entry it
//! erased (declined, left) is declined or left here. Two gateways running one account thus
//! converge instead of undoing each other's changes.
//!
//! The message is sealed with the account's seed (§1.5), kept locally as the new head and
//! queued as one `user_config_push` row in the conversation with ourselves, which the direct
//! transport stores on our own swarm (TTL 30 days): persisted first, retried, byte-identical.
//! It is emitted raw, not in the legacy protobuf wrapper (§1.6): libsession reads both (it
//! falls back to raw data when a message does not unwrap), and the wrapper only adds a second
//! encryption that readers must strip.

use std::collections::HashSet;

use base64::Engine as _;
use zeroize::Zeroizing;

use super::state::{group_key, seal_stored};
use super::{secret_of, Queued};
use crate::chat::{append, ChatError};
use crate::clock::now_ms;
use crate::events::{EventData, EventType};
use crate::ids::{ConversationId, SessionIdText};
use crate::protocol::groups::config::transport::ConfigKind;
use crate::protocol::groups::config::user_groups::{
    erase_user_group, set_user_group, user_group, user_groups_from_data, RemovedStatus,
    UserGroupEntry,
};
use crate::protocol::groups::config::{
    merge, ConfigDict, ConfigMessage, MergeOutcome, MutableConfigMessage, DEFAULT_LAG,
};
use crate::protocol::groups::group_id;
use crate::protocol::groups::subaccount::MemberAuthData;
use crate::protocol::keys::{Ed25519PublicKey, Identity};
use crate::protocol::storage::{AccountId, SubaccountFlags};
use crate::store::chat::ControlBody;
use crate::store::groups::{GroupListing, StoredConfig};
use crate::store::modes::{GroupRole, GroupState};
use crate::store::{LeaseToken, Store, StoreTx};

/// The namespace of the UserGroups config on the account's own swarm.
pub const USER_GROUPS_NAMESPACE: i16 = 5;

/// Where a merge of the stored heads leaves the config.
struct Start {
    /// The next message, to edit.
    next: MutableConfigMessage,
    /// The merge combined several heads: publish it even without a change of ours.
    merged: bool,
    /// Heads the next message supersedes (every head read).
    read: Vec<String>,
    /// Heads already superseded by another head (forgotten without a push).
    redundant: Vec<String>,
}

/// Merges the stored heads (§1.2). Heads that do not parse are superseded by whatever comes
/// next; with none left a new config starts at seqno 1 (after the highest seqno seen).
fn start(heads: &[StoredConfig]) -> Start {
    let read: Vec<String> = heads.iter().map(|h| h.hash.clone()).collect();
    let raw: Vec<&[u8]> = heads.iter().map(|h| h.data.as_slice()).collect();
    match merge(&raw, None, true) {
        Ok(MergeOutcome::Adopted { index, message }) => Start {
            next: message.increment(),
            merged: false,
            redundant: read
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != index)
                .map(|(_, h)| h.clone())
                .collect(),
            read,
        },
        Ok(MergeOutcome::Merged(next)) => Start {
            next,
            merged: true,
            redundant: Vec::new(),
            read,
        },
        Err(_) => {
            let seqno = heads.iter().map(|h| h.seqno).max().unwrap_or(0);
            Start {
                next: MutableConfigMessage::new(seqno.saturating_add(1).max(1), DEFAULT_LAG),
                merged: false,
                redundant: read.clone(),
                read,
            }
        }
    }
}

/// One group as our membership says its entry should be; `None`: no entry (declined, left).
/// `existing` is the merged entry, whose other fields are kept.
fn desired(
    listing: &GroupListing,
    grant: &Zeroizing<Vec<u8>>,
    group: &Ed25519PublicKey,
    existing: Option<UserGroupEntry>,
) -> Result<Option<UserGroupEntry>, ChatError> {
    let membership = &listing.membership;
    if matches!(membership.state, GroupState::Declined | GroupState::Left) {
        return Ok(None);
    }
    let mut entry = existing.unwrap_or_else(|| UserGroupEntry::new(group));
    match membership.role {
        GroupRole::Admin => entry.secret = Some(secret_of(grant)?),
        GroupRole::Member => {
            if let Ok(auth) = MemberAuthData::try_from(grant.as_slice()) {
                entry.auth = Some(auth);
            }
        }
    }
    if !listing.name.is_empty() {
        entry.name.clone_from(&listing.name);
    }
    entry.invited = membership.state == GroupState::Invited;
    if entry.joined_at == 0 && membership.state != GroupState::Invited {
        let joined = membership.joined_at.or(membership.invited_at).unwrap_or(0);
        entry.joined_at = joined / 1000;
    }
    if membership.state == GroupState::Kicked {
        entry.removed = RemovedStatus::Kicked;
    } else if listing.destroyed {
        entry.removed = RemovedStatus::Destroyed;
    } else if membership.state == GroupState::Invited {
        // A new invitation (after a kick, say) is not a removal.
        entry.removed = RemovedStatus::NotRemoved;
    }
    Ok(Some(entry))
}

/// The groups any of `heads` lists (heads that do not parse list none).
fn listed_in(heads: &[StoredConfig]) -> HashSet<String> {
    heads
        .iter()
        .filter_map(|h| ConfigMessage::parse(&h.data, None).ok())
        .flat_map(|m| user_groups_from_data(m.data()))
        .map(|entry| entry.id.to_string())
        .collect()
}

/// Writes what `groups` (each with its stored grant) say into `next`'s data.
fn apply(
    next: &mut MutableConfigMessage,
    groups: &[(GroupListing, Zeroizing<Vec<u8>>)],
) -> Result<(), ChatError> {
    for (listing, grant) in groups {
        let group = group_key(&listing.membership.group)?;
        let id = group_id(&group);
        let existing = user_group(next.data(), &id);
        match desired(listing, grant, &group, existing)? {
            Some(entry) => set_user_group(next.data_mut(), &entry),
            None => {
                erase_user_group(next.data_mut(), &id);
            }
        }
    }
    Ok(())
}

/// A group the merged config lists that the account has no membership of (another device,
/// or the account before it was imported here, joined it): taken on as it is listed.
struct Adopted {
    id: String,
    name: String,
    role: GroupRole,
    state: GroupState,
    /// The seed (admin, from `K`) or the memberAuthData (member, from `s`).
    grant: Zeroizing<Vec<u8>>,
}

/// The entries of `data` to adopt: not known to the account, not removed, with a grant (a
/// `K` whose key is the group's, else an `s` the group signed for `own` key, as an invitation's
/// grant is checked, §6.1). A member entry still pending (`i`) is an invitation to answer; any
/// other is joined.
fn to_adopt(data: &ConfigDict, known: &HashSet<String>, own: &Ed25519PublicKey) -> Vec<Adopted> {
    user_groups_from_data(data)
        .into_iter()
        .filter_map(|entry| {
            let id = entry.id.to_string();
            if known.contains(&id) || entry.removed != RemovedStatus::NotRemoved {
                return None;
            }
            let group = group_key(&id).ok()?;
            let granted =
                |auth: &MemberAuthData| auth.verify(&group, own, SubaccountFlags::READ).is_ok();
            let (role, grant) = match (&entry.secret, entry.auth.as_ref().filter(|a| granted(a))) {
                (Some(secret), _) => (
                    GroupRole::Admin,
                    Zeroizing::new(secret.seed().expose_secret().to_vec()),
                ),
                (None, Some(auth)) => (GroupRole::Member, Zeroizing::new(auth.as_bytes().to_vec())),
                (None, None) => return None,
            };
            let state = if entry.invited && role == GroupRole::Member {
                GroupState::Invited
            } else {
                GroupState::Joined
            };
            Some(Adopted {
                id,
                name: entry.name,
                role,
                state,
                grant,
            })
        })
        .collect()
}

/// A membership changed to what the merged config says.
struct Taken {
    /// The membership as it now is.
    listing: GroupListing,
    /// Its grant (the seed when it became admin).
    grant: Zeroizing<Vec<u8>>,
    /// Its state when read: the change is written only if it is still that.
    was: GroupState,
}

/// Records the adopted groups and the memberships taken from the config in `tx`, each only if
/// the membership is still as read (an API call may have changed it meanwhile), with
/// `group.joined` for an invitation accepted elsewhere. Returns whether anything was written.
async fn record(
    tx: &mut StoreTx,
    store: &Store,
    account: &str,
    adopted: &[Adopted],
    taken: &[Taken],
    now: i64,
) -> Result<bool, ChatError> {
    let mut wrote = false;
    for group in adopted {
        if tx.membership(account, &group.id).await?.is_some() {
            continue;
        }
        tx.insert_group(&group.id, &group.name, now).await?;
        tx.put_membership(
            store,
            account,
            &group.id,
            group.role,
            group.state,
            &group.grant,
            None,
            now,
        )
        .await?;
        wrote = true;
    }
    let account_id =
        SessionIdText::parse_any(account).map_err(|_| ChatError::NotFound("account"))?;
    for Taken {
        listing,
        grant,
        was,
    } in taken
    {
        let membership = &listing.membership;
        let held = tx.membership(account, &membership.group).await?;
        if held.map(|m| m.state) != Some(*was) {
            continue;
        }
        tx.put_membership(
            store,
            account,
            &membership.group,
            membership.role,
            membership.state,
            grant,
            membership.inviter.as_deref(),
            now,
        )
        .await?;
        wrote = true;
        if *was == GroupState::Invited && membership.state == GroupState::Joined {
            let data = EventData::group(
                EventType::GroupJoined,
                &membership.group,
                &listing.name,
                None,
                None,
            );
            append(tx, &account_id, &membership.group, data, now).await?;
        }
    }
    Ok(wrote)
}

/// What the merged config knows better than our memberships, taken over (and written into
/// `groups`, so the entries are not reverted): an invitation another device of the account
/// accepted (the entry lost its `i`) is joined here too, a `K` for a group we are a member of
/// (another device was promoted, §6.4) makes us its admin, and an entry erased since a head
/// we read (`listed`: the groups any stored head lists) is declined or left here too, without
/// a message (the other device sent it). Returns the changed
/// memberships.
fn take_from_config(
    data: &ConfigDict,
    listed: &HashSet<String>,
    groups: &mut [(GroupListing, Zeroizing<Vec<u8>>)],
) -> Result<Vec<Taken>, ChatError> {
    let mut taken = Vec::new();
    for (listing, grant) in groups.iter_mut() {
        let was = listing.membership.state;
        let membership = &mut listing.membership;
        let active = matches!(membership.state, GroupState::Invited | GroupState::Joined);
        let id = group_id(&group_key(&membership.group)?);
        if !active {
            continue;
        }
        let Some(entry) = user_group(data, &id) else {
            // Listed before and gone from the merge: another device declined or left.
            if listed.contains(&membership.group) {
                membership.state = match membership.state {
                    GroupState::Invited => GroupState::Declined,
                    _ => GroupState::Left,
                };
                taken.push(Taken {
                    listing: listing.clone(),
                    grant: grant.clone(),
                    was,
                });
            }
            continue;
        };
        if entry.removed != RemovedStatus::NotRemoved {
            continue;
        }
        let mut changed = false;
        if let (GroupRole::Member, Some(secret)) = (membership.role, &entry.secret) {
            membership.role = GroupRole::Admin;
            *grant = Zeroizing::new(secret.seed().expose_secret().to_vec());
            changed = true;
        }
        let joined = membership.state == GroupState::Invited && !entry.invited;
        if joined {
            membership.state = GroupState::Joined;
            changed = true;
        }
        if changed {
            taken.push(Taken {
                listing: listing.clone(),
                grant: grant.clone(),
                was,
            });
        }
    }
    Ok(taken)
}

/// Brings the account's UserGroups config in step with its groups (module doc): merges the
/// stored heads, applies our groups and, when something changed or a merge must be
/// published, keeps the new message as the only head and queues its push, in one transaction
/// (fenced under `lease`). Returns the queued push, if any.
pub async fn sync(
    store: &Store,
    identity: &Identity,
    lease: Option<&LeaseToken>,
) -> Result<Option<Queued>, ChatError> {
    let account = identity.session_id().to_string();
    let ns = i64::from(USER_GROUPS_NAMESPACE);
    let heads = store.user_configs(&account, ns).await?;
    let listings = store.groups_of(&account).await?;
    let known: HashSet<String> = listings
        .iter()
        .map(|l| l.membership.group.clone())
        .collect();
    let mut groups = Vec::new();
    for listing in listings {
        if let Some(grant) = store
            .group_secret(&account, &listing.membership.group)
            .await?
        {
            groups.push((listing, grant));
        }
    }
    if heads.is_empty() && groups.is_empty() {
        return Ok(None);
    }
    let Start {
        mut next,
        merged,
        read,
        redundant,
    } = start(&heads);
    let adopted = to_adopt(next.data(), &known, &identity.ed25519_public());
    let listed = listed_in(&heads);
    let taken = take_from_config(next.data(), &listed, &mut groups)?;
    apply(&mut next, &groups)?;
    let now = now_ms();
    let mut tx = match lease {
        Some(lease) => store.begin_fenced(lease).await?,
        None => store.begin().await?,
    };
    let wrote = record(&mut tx, store, &account, &adopted, &taken, now).await?;
    if next.diff().is_empty() && !merged {
        if !redundant.is_empty() || wrote {
            tx.remove_user_configs(&account, ns, &redundant).await?;
            tx.commit().await?;
        }
        return Ok(None);
    }
    let swarm = AccountId::from_hex(&account).map_err(|_| ChatError::NotFound("account"))?;
    let key = identity.seed().expose_secret();
    let (stored, payload) = seal_stored(&swarm, ConfigKind::UserGroups, next.finish(None), key)?;
    tx.add_user_config(store, &account, ns, &stored, now)
        .await?;
    let superseded: Vec<String> = read.into_iter().filter(|h| *h != stored.hash).collect();
    tx.remove_user_configs(&account, ns, &superseded).await?;
    let body = ControlBody::UserConfigPush {
        payloads: vec![(
            USER_GROUPS_NAMESPACE,
            base64::engine::general_purpose::STANDARD.encode(&payload),
        )],
    };
    let id = tx.enqueue_control(&account, &account, &body, now).await?;
    tx.commit().await?;
    Ok(Some(Queued {
        id,
        conversation: ConversationId::parse(&account).ok(),
    }))
}

#[cfg(test)]
mod tests;
