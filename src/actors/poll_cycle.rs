//! One poll cycle of an account ([`cycle`]): its own swarm, then what the database says it
//! leads besides (groups, community servers) and its community inboxes, then its UserGroups
//! upkeep. The [`Identity`](super::Identity) actor runs one cycle at a time and acts on its
//! [`CycleOutcome`].

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::inbox::{poll, PollOutcome};
use super::keys::AccountKeys;
use super::sources::{community, load_group_cursor, GroupSwarm, OwnSwarm};
use super::{ActorError, Deps};
use crate::chat::groups::state::MESSAGES_NAMESPACE;
use crate::network::NamespaceCursor;
use crate::protocol::storage::MessageHash;
use crate::store::poll_plan::PollPlan;
use crate::store::LeaseToken;

/// Polls the groups `keys`' account leads (design.md §10: one poller per group per replica
/// set, the group's smallest joined local account), each through [`GroupSwarm`] for all of its
/// joined local members. A group that fails is logged and polled again next cycle; only a lost
/// lease stops the cycle.
async fn poll_groups(
    deps: Deps,
    keys: Arc<AccountKeys>,
    groups: Vec<String>,
    skip: HashSet<String>,
    lease: Option<LeaseToken>,
) -> Result<Vec<PollOutcome>, ActorError> {
    let mut outcomes = Vec::with_capacity(groups.len());
    for group in groups {
        let polled = async {
            let source = GroupSwarm::new(&deps, &group, keys.clone()).await?;
            let cursor = load_group_cursor(&deps, &group, MESSAGES_NAMESPACE).await?;
            poll(deps.clone(), source, cursor, skip.clone(), lease.clone()).await
        }
        .await;
        match polled {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) if error.is_lease_lost() => return Err(error),
            Err(error) => {
                deps.metrics.polls.with_label_values(&["error"]).inc();
                tracing::debug!(group = &group[..10], %error, "group poll failed");
            }
        }
    }
    Ok(outcomes)
}

/// Brings the account's UserGroups config in step with its groups after a poll cycle read
/// it (`chat::groups::user_groups`): a push it queues is announced on commit and woken through
/// [`Requeue`]. Skipped when the account holds neither heads nor groups (`merge` false): the
/// merge would find nothing to do. A failure is logged and retried next cycle; only a lost
/// lease stops the cycle.
async fn sync_user_groups(
    deps: &Deps,
    keys: &AccountKeys,
    extended_at: i64,
    merge: bool,
    lease: Option<&LeaseToken>,
) -> Result<(), ActorError> {
    // Upkeep must never cost a poll: a failed extension is tried again next cycle.
    if let Err(error) = super::sources::user_config::extend(deps, keys, extended_at).await {
        tracing::debug!(account = keys.short(), %error, "user groups TTL not extended");
    }
    if !merge {
        return Ok(());
    }
    match crate::chat::groups::user_groups::sync(&deps.store, &keys.identity, lease).await {
        Ok(_) => Ok(()),
        Err(error) => {
            let error = ActorError::from(error);
            if error.is_lease_lost() {
                return Err(error);
            }
            tracing::debug!(account = keys.short(), %error, "user groups config not synced");
            Ok(())
        }
    }
}

/// What one poll cycle did: the own swarm's poll (with the rooms' and inboxes' counts folded
/// in) or why it failed, each group's poll, and where the next cycle's UserGroups retrieve
/// starts (read with the poll plan, after this cycle's commits).
pub(super) struct CycleOutcome {
    pub(super) own: Result<PollOutcome, ActorError>,
    pub(super) groups: Vec<PollOutcome>,
    pub(super) user_groups_cursor: Option<MessageHash>,
}

/// One poll cycle of an account: its own swarm (namespaces 0 and 5 in one request), the
/// groups and community servers it leads, its community inboxes, then its UserGroups upkeep.
/// What to poll besides its own swarm comes from the database in one read after the own
/// swarm's poll ([`Store::poll_plan`](crate::store::Store::poll_plan)); the own swarm's
/// namespace-0 cursor is the actor's. A failed own poll does not keep the groups and rooms
/// the account leads from being polled (their swarms and servers are elsewhere); only a lost
/// lease or a failing database ends the cycle. `user_groups_cursor`: the previous cycle's
/// [`CycleOutcome::user_groups_cursor`], when there was one (else it is read here).
pub(super) async fn cycle(
    deps: Deps,
    keys: Arc<AccountKeys>,
    cursor: NamespaceCursor,
    user_groups_cursor: Option<Option<MessageHash>>,
    skip: HashSet<String>,
    lease: Option<LeaseToken>,
) -> Result<CycleOutcome, ActorError> {
    let own_swarm = OwnSwarm::new(keys.clone(), deps.own_copies.clone(), user_groups_cursor);
    let took_user_groups = own_swarm.took_user_groups();
    let own = match poll(deps.clone(), own_swarm, cursor, skip.clone(), lease.clone()).await {
        Err(error) if error.is_lease_lost() => return Err(error),
        own => own,
    };
    // Read after the own swarm's poll, right before the groups and rooms are polled, so a lead
    // that changed meanwhile is seen.
    let PollPlan {
        lead_groups,
        lead_servers,
        inboxes,
        user_config_extended_at,
        has_user_groups_state,
        user_groups_cursor,
    } = Box::pin(deps.store.poll_plan(&keys.session_id)).await?;
    let user_groups_cursor = super::sources::user_config::parse_cursor(user_groups_cursor);
    // Each step after the own swarm's poll is boxed: most cycles have nothing to do there, and
    // inline their states would make every cycle in flight (one per polling account) carry
    // the largest of them (issue 16: memory per poll; 6.5 KiB a cycle before).
    let groups = poll_groups(deps.clone(), keys.clone(), lead_groups, skip, lease.clone());
    let groups = Box::pin(groups).await?;
    let rooms = community::poll_servers(deps.clone(), keys.clone(), lead_servers, lease.clone());
    let rooms = Box::pin(rooms).await?;
    let dms = community::poll_inboxes(deps.clone(), keys.clone(), inboxes, lease.clone());
    let dms = Box::pin(dms).await?;
    let own = own.map(|mut own| {
        own.stored += rooms.stored + dms;
        own.keeps_active = rooms.servers > 0;
        own
    });
    if own.is_ok() {
        // The merge reads what the own poll took: after a failed one, it waits a cycle.
        let merge = has_user_groups_state || took_user_groups.load(Ordering::Relaxed);
        let extended_at = user_config_extended_at;
        Box::pin(sync_user_groups(
            &deps,
            &keys,
            extended_at,
            merge,
            lease.as_ref(),
        ))
        .await?;
    }
    Ok(CycleOutcome {
        own,
        groups,
        user_groups_cursor,
    })
}

#[cfg(test)]
mod tests {
    /// The size of the future an async fn of six arguments returns.
    fn future_size<A, B, C, D, E, G, F>(_: fn(A, B, C, D, E, G) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// Every polling account has a cycle in flight for as long as its poll waits on the network:
    /// the steps an idle cycle skips stay boxed, out of that state (6.5 KiB a cycle before, in
    /// a debug build; about 2.3 KiB after).
    #[test]
    fn a_cycle_in_flight_stays_small() {
        let size = future_size(super::cycle);
        assert!(size <= 3 * 1024, "a poll cycle's future is {size} bytes");
    }
}
