-- Poll cursors per service node (issue 13, attack 4). Each swarm member is asked for what
-- follows the last hash *it* returned, as Session clients do: one shared cursor let a member
-- that lacked a message (a dropped store, replication lag, or a lie) move the cursor past
-- a message an honest member held. `subject` is the account's Session ID or the group's ID;
-- `node` the member's ed25519 key (hex). The old per-subject cursors (poll_cursors,
-- group_cursors) are no longer advanced: they are the fallback for a member with no row
-- here, so an upgrade does not fetch everything again. Rows of members that left the swarm
-- are pruned to the newest few per subject and namespace when cursors are written.
CREATE TABLE node_cursors (
    subject     TEXT NOT NULL,
    namespace   INTEGER NOT NULL,
    node        TEXT NOT NULL,
    last_hash   TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    fence_epoch BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, namespace, node)
);
CREATE INDEX node_cursors_age ON node_cursors (subject, namespace, updated_at);
