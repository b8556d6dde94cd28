//! Closed groups (migration `0006_groups.sql`): the group row (name, description) its local
//! members share and each local account's membership (role, state, its sealed grant). The
//! group's swarm state (keys and config messages, cursors, TTL upkeep) is in
//! [`super::group_state`].
//!
//! A group is polled once per replica set, by the replica of its *lead*: the smallest Session ID
//! among its active local accounts that have joined ([`Store::lead_groups`]). What is read is
//! delivered to every joined local member.

use sqlx::Row as _;
use zeroize::Zeroizing;

pub use super::group_state::{StoredConfig, StoredKeys};
use super::modes::{GroupInvites, GroupRole, GroupState};
use super::secrets::RecordKind;
use super::{Store, StoreError, StoreTx};

/// One local account's membership of a group.
#[derive(Clone, Debug)]
pub struct Membership {
    /// The local account.
    pub account: String,
    /// The 03… ID.
    pub group: String,
    /// Admin (holds the seed) or member (holds a grant).
    pub role: GroupRole,
    /// Where it stands.
    pub state: GroupState,
    /// Who invited us (`None` for a group we created).
    pub inviter: Option<String>,
    /// When the invitation arrived, ms.
    pub invited_at: Option<i64>,
    /// When we joined, ms.
    pub joined_at: Option<i64>,
}

/// A membership with the group's shared facts, as the API lists it.
#[derive(Clone, Debug)]
pub struct GroupListing {
    /// The membership.
    pub membership: Membership,
    /// The group's name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// An admin destroyed it.
    pub destroyed: bool,
}

fn secret_id(account: &str, group: &str) -> String {
    format!("{account}/{group}")
}

fn membership(row: &sqlx::any::AnyRow) -> Result<Membership, StoreError> {
    Ok(Membership {
        account: row.try_get("account")?,
        group: row.try_get("group_id")?,
        role: GroupRole::from_column("role", &row.try_get::<String, _>("role")?)?,
        state: GroupState::from_column("state", &row.try_get::<String, _>("state")?)?,
        inviter: row.try_get("inviter")?,
        invited_at: row.try_get("invited_at")?,
        joined_at: row.try_get("joined_at")?,
    })
}

const MEMBERSHIP_COLUMNS: &str =
    "m.account, m.group_id, m.role, m.state, m.inviter, m.invited_at, m.joined_at";

impl StoreTx {
    /// Records a group (no change if it exists).
    pub async fn insert_group(
        &mut self,
        group: &str,
        name: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO groups (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(group)
        .bind(name)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Sets the group's name, description and destroyed flag (from its info config).
    pub async fn set_group_info(
        &mut self,
        group: &str,
        name: &str,
        description: Option<&str>,
        destroyed: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE groups SET name = $1, description = $2, destroyed = $3, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(name)
        .bind(description)
        .bind(i64::from(destroyed))
        .bind(now)
        .bind(group)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Creates or replaces `account`'s membership of `group` with its grant `secret` (the group
    /// seed for an admin, memberAuthData for a member), sealed here.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_membership(
        &mut self,
        store: &Store,
        account: &str,
        group: &str,
        role: GroupRole,
        state: GroupState,
        secret: &[u8],
        inviter: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let sealed =
            store
                .master()
                .seal(RecordKind::GroupSecret, &secret_id(account, group), secret);
        let joined = (state == GroupState::Joined).then_some(now);
        let invited = (state == GroupState::Invited).then_some(now);
        sqlx::query(
            "INSERT INTO group_members (account, group_id, role, state, secret_sealed, inviter, \
             invited_at, joined_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (account, group_id) DO UPDATE SET role = excluded.role, \
             state = excluded.state, secret_sealed = excluded.secret_sealed, \
             inviter = excluded.inviter, invited_at = COALESCE(excluded.invited_at, \
             group_members.invited_at), joined_at = COALESCE(excluded.joined_at, \
             group_members.joined_at), updated_at = excluded.updated_at",
        )
        .bind(account)
        .bind(group)
        .bind(role.as_str())
        .bind(state.as_str())
        .bind(sealed)
        .bind(inviter)
        .bind(invited)
        .bind(joined)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Changes a membership's role and its sealed grant (a promotion hands over the group
    /// seed); false when there is none.
    pub async fn set_membership_role(
        &mut self,
        store: &Store,
        account: &str,
        group: &str,
        role: GroupRole,
        secret: &[u8],
        now: i64,
    ) -> Result<bool, StoreError> {
        let sealed =
            store
                .master()
                .seal(RecordKind::GroupSecret, &secret_id(account, group), secret);
        let done = sqlx::query(
            "UPDATE group_members SET role = $1, secret_sealed = $2, updated_at = $3 \
             WHERE account = $4 AND group_id = $5",
        )
        .bind(role.as_str())
        .bind(sealed)
        .bind(now)
        .bind(account)
        .bind(group)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Moves a membership to `state` (joining records the time); false when there is none.
    pub async fn set_membership_state(
        &mut self,
        account: &str,
        group: &str,
        state: GroupState,
        now: i64,
    ) -> Result<bool, StoreError> {
        let joined = (state == GroupState::Joined).then_some(now);
        let done = sqlx::query(
            "UPDATE group_members SET state = $1, joined_at = COALESCE($2, joined_at), \
             updated_at = $3 WHERE account = $4 AND group_id = $5",
        )
        .bind(state.as_str())
        .bind(joined)
        .bind(now)
        .bind(account)
        .bind(group)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// `account`'s membership of `group`.
    pub async fn membership(
        &mut self,
        account: &str,
        group: &str,
    ) -> Result<Option<Membership>, StoreError> {
        fetch_membership(self.conn(), account, group).await
    }

    /// The local accounts that have joined `group` (active accounts only), by Session ID.
    pub async fn joined_members(&mut self, group: &str) -> Result<Vec<Membership>, StoreError> {
        fetch_joined_members(self.conn(), group).await
    }

    /// The group's name (`None`: unknown group).
    pub async fn group_name(&mut self, group: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query("SELECT name FROM groups WHERE id = $1")
            .bind(group)
            .fetch_optional(self.conn())
            .await?
            .map(|row| row.try_get("name"))
            .transpose()?)
    }

    /// Sets the account's group-invitation policy.
    pub async fn set_group_invites(
        &mut self,
        account: &str,
        policy: GroupInvites,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET group_invites = $1 WHERE session_id = $2")
            .bind(policy.as_str())
            .bind(account)
            .execute(self.conn())
            .await?;
        self.chat_settings = None; // read again when asked
        Ok(())
    }

    /// The account's group-invitation policy (`hold` for an unknown account).
    pub async fn group_invites(&mut self, account: &str) -> Result<GroupInvites, StoreError> {
        let row = sqlx::query("SELECT group_invites FROM accounts WHERE session_id = $1")
            .bind(account)
            .fetch_optional(self.conn())
            .await?;
        match row {
            Some(row) => GroupInvites::from_column(
                "group_invites",
                &row.try_get::<String, _>("group_invites")?,
            ),
            None => Ok(GroupInvites::Hold),
        }
    }
}

impl Store {
    /// `account`'s membership of `group`.
    pub async fn membership(
        &self,
        account: &str,
        group: &str,
    ) -> Result<Option<Membership>, StoreError> {
        fetch_membership(self.reads(), account, group).await
    }

    /// The grant of `account` in `group` (the seed for an admin, memberAuthData for a member).
    pub async fn group_secret(
        &self,
        account: &str,
        group: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let row = sqlx::query(
            "SELECT secret_sealed FROM group_members WHERE account = $1 AND group_id = $2",
        )
        .bind(account)
        .bind(group)
        .fetch_optional(self.reads())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let sealed: Vec<u8> = row.try_get("secret_sealed")?;
        self.master()
            .open(RecordKind::GroupSecret, &secret_id(account, group), &sealed)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// The group's name (`None`: unknown group).
    pub async fn group_name(&self, group: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query("SELECT name FROM groups WHERE id = $1")
            .bind(group)
            .fetch_optional(self.reads())
            .await?
            .map(|row| row.try_get("name"))
            .transpose()?)
    }

    /// Whether `account` has a config/keys push for `group` not yet on the swarm: an
    /// invitation waits for it, so the invitee never polls before its keys are there.
    pub async fn group_push_pending(&self, account: &str, group: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "SELECT 1 FROM messages WHERE account = $1 AND peer = $2 AND kind = 'group_push' \
             AND status = 'queued' LIMIT 1",
        )
        .bind(account)
        .bind(group)
        .fetch_optional(self.reads())
        .await?
        .is_some())
    }

    /// The groups of `account` (every state), with their shared facts, by group ID.
    pub async fn groups_of(&self, account: &str) -> Result<Vec<GroupListing>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {MEMBERSHIP_COLUMNS}, g.name, g.description, g.destroyed \
             FROM group_members m JOIN groups g ON g.id = m.group_id \
             WHERE m.account = $1 ORDER BY m.group_id"
        ))
        .bind(account)
        .fetch_all(self.reads())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(GroupListing {
                    membership: membership(row)?,
                    name: row.try_get("name")?,
                    description: row.try_get("description")?,
                    destroyed: row.try_get::<i64, _>("destroyed")? != 0,
                })
            })
            .collect()
    }

    /// The local accounts that have joined `group` (active accounts only), by Session ID.
    pub async fn joined_members(&self, group: &str) -> Result<Vec<Membership>, StoreError> {
        fetch_joined_members(self.reads(), group).await
    }
}

/// `account`'s membership of `group`, read through `executor` (a transaction or a pool).
async fn fetch_membership<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    account: &str,
    group: &str,
) -> Result<Option<Membership>, StoreError> {
    sqlx::query(&format!(
        "SELECT {MEMBERSHIP_COLUMNS} FROM group_members m \
         WHERE m.account = $1 AND m.group_id = $2"
    ))
    .bind(account)
    .bind(group)
    .fetch_optional(executor)
    .await?
    .as_ref()
    .map(membership)
    .transpose()
}

/// The active local accounts that joined `group`, by Session ID, read through `executor`.
async fn fetch_joined_members<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    group: &str,
) -> Result<Vec<Membership>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {MEMBERSHIP_COLUMNS} FROM group_members m \
         JOIN accounts a ON a.session_id = m.account \
         WHERE m.group_id = $1 AND m.state = 'joined' AND a.status = 'active' \
         ORDER BY m.account"
    ))
    .bind(group)
    .fetch_all(executor)
    .await?;
    rows.iter().map(membership).collect()
}
