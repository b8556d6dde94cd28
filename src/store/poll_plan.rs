//! What one poll cycle of an account reads from the database after polling its own swarm: the
//! groups and community servers it leads, its blinded DM inboxes, and the upkeep state of its
//! UserGroups config, with that config's poll cursor for the next cycle. One statement (read
//! after the own swarm's poll, so a lead that changed meanwhile is seen before the rooms and
//! groups are polled), so an idle cycle costs one round trip to the database instead of seven
//! (issue 16: each round trip hands the statement to a connection's thread and back, and those
//! hand-offs were most of an idle account's CPU).
//!
//! The rows are tagged by `kind` and read back into a [`PollPlan`]; the "lead" rules are the
//! ones design.md §10 gives: a group or server is polled by the smallest active local account
//! among its joined members, for all of them.

use sqlx::Row as _;

use super::communities::InboxCursor;
use super::{Store, StoreError};
use crate::protocol::groups::config::ConfigKind;

/// One account's poll cycle, as the database says it should run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollPlan {
    /// The groups it leads: it has joined them, no active local account with a smaller
    /// Session ID has, and no admin destroyed them. By group ID.
    pub lead_groups: Vec<String>,
    /// The community servers it leads: it is the smallest active local account in any room of
    /// the server. By base URL.
    pub lead_servers: Vec<String>,
    /// Its blinded DM inboxes, one per server it has a room on. By server.
    pub inboxes: Vec<InboxCursor>,
    /// When its UserGroups heads' TTL was last extended (network ms; 0: never).
    pub user_config_extended_at: i64,
    /// It holds UserGroups heads or group memberships: the config may need a merge or a push.
    /// Without either, the merge has nothing to do and is skipped.
    pub has_user_groups_state: bool,
    /// The last UserGroups message (namespace 5) its own swarm's polls consumed, as committed
    /// by this cycle's poll: where the next cycle's retrieve of that namespace starts.
    pub user_groups_cursor: Option<String>,
}

/// Every part of the plan, one `kind` each; unused columns are NULL. Branches cast their NULLs
/// so PostgreSQL types the union the same way SQLite does.
const PLAN_SQL: &str = "\
SELECT 'group' AS kind, m.group_id AS name, CAST(NULL AS TEXT) AS key, \
       CAST(NULL AS BIGINT) AS number \
  FROM group_members m WHERE m.account = $1 AND m.state = 'joined' \
   AND NOT EXISTS (SELECT 1 FROM group_members o JOIN accounts a ON a.session_id = o.account \
       WHERE o.group_id = m.group_id AND o.state = 'joined' AND a.status = 'active' \
       AND o.account < m.account) \
   AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = m.group_id AND g.destroyed <> 0) \
UNION ALL \
SELECT DISTINCT 'server', r.server, CAST(NULL AS TEXT), CAST(NULL AS BIGINT) \
  FROM community_members m JOIN community_rooms r ON r.room = m.room WHERE m.account = $1 \
   AND NOT EXISTS (SELECT 1 FROM community_members o \
       JOIN community_rooms ro ON ro.room = o.room \
       JOIN accounts a ON a.session_id = o.account \
       WHERE ro.server = r.server AND a.status = 'active' AND o.account < m.account) \
UNION ALL \
SELECT 'inbox', server, server_key, last_id FROM community_inboxes WHERE account = $1 \
UNION ALL \
SELECT 'extended_at', CAST(NULL AS TEXT), CAST(NULL AS TEXT), user_config_extended_at \
  FROM accounts WHERE session_id = $1 \
UNION ALL \
SELECT 'user_groups_state', CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
       (SELECT COUNT(*) FROM user_configs WHERE account = $1 AND namespace = $2) \
     + (SELECT COUNT(*) FROM group_members WHERE account = $1) \
UNION ALL \
SELECT 'user_groups_cursor', last_hash, CAST(NULL AS TEXT), CAST(NULL AS BIGINT) \
  FROM poll_cursors WHERE account = $1 AND namespace = $2";

impl Store {
    /// `account`'s [`PollPlan`], in one statement.
    pub async fn poll_plan(&self, account: &str) -> Result<PollPlan, StoreError> {
        let rows = sqlx::query(PLAN_SQL)
            .bind(account)
            .bind(i64::from(ConfigKind::UserGroups.namespace()))
            .fetch_all(self.reads())
            .await?;
        let mut plan = PollPlan::default();
        for row in &rows {
            let kind: String = row.try_get("kind")?;
            let name = || -> Result<String, StoreError> { Ok(row.try_get("name")?) };
            let number = || -> Result<i64, StoreError> { Ok(row.try_get("number")?) };
            match kind.as_str() {
                "group" => plan.lead_groups.push(name()?),
                "server" => plan.lead_servers.push(name()?),
                "inbox" => plan.inboxes.push(InboxCursor {
                    server: name()?,
                    server_key: row.try_get("key")?,
                    last_id: number()?,
                }),
                "extended_at" => plan.user_config_extended_at = number()?,
                "user_groups_state" => plan.has_user_groups_state = number()? > 0,
                "user_groups_cursor" => plan.user_groups_cursor = Some(name()?),
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "poll plan row of kind {other}"
                    )))
                }
            }
        }
        plan.lead_groups.sort();
        plan.lead_servers.sort();
        plan.inboxes.sort_by(|a, b| a.server.cmp(&b.server));
        Ok(plan)
    }
}
