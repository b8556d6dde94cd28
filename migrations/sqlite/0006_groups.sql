-- Closed groups (issue 10; groups.md, design.md §10). A group's swarm state is shared by its
-- local members (the accounts of this gateway that are in it): the keys messages, the config
-- messages and the poll cursors are kept once per group, each account's membership (role,
-- state, its sealed grant) once per account. The same change as the other backend's 0006
-- but for types (BLOB here is BYTEA there).

CREATE TABLE groups (
    -- The 03… ID.
    id          TEXT PRIMARY KEY,
    -- From the newest merged info config (ns 13); the name an invite carried until then.
    name        TEXT NOT NULL,
    description TEXT,
    -- The info config's : an admin destroyed the group.
    destroyed   INTEGER NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Keys messages (ns 12) as the swarm holds them: each key in one is encrypted for the members
-- and admins, so they are kept as they are and replayed into the key state (groups.md §2.3).
CREATE TABLE group_keys (
    group_id   TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    data       BLOB NOT NULL,
    timestamp  BIGINT NOT NULL,
    PRIMARY KEY (group_id, hash)
);

-- Config messages (13 info, 14 members) after decryption and signature check, sealed under the
-- master key (the info may carry an avatar key); the heads the next merge starts from.
CREATE TABLE group_configs (
    group_id     TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    namespace    INTEGER NOT NULL,
    hash         TEXT NOT NULL,
    seqno        BIGINT NOT NULL,
    data_sealed  BLOB NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (group_id, namespace, hash)
);

-- One row per local account in a group. role: admin | member; state: invited | joined |
-- declined | left | kicked. secret_sealed: an admin's group seed, or a member's 100-byte
-- memberAuthData (its grant to the group swarm, groups.md §4.2).
CREATE TABLE group_members (
    account        TEXT NOT NULL REFERENCES accounts (session_id) ON DELETE CASCADE,
    group_id       TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    role           TEXT NOT NULL,
    state          TEXT NOT NULL,
    secret_sealed  BLOB NOT NULL,
    inviter        TEXT,
    invited_at     BIGINT,
    joined_at      BIGINT,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (account, group_id)
);
CREATE INDEX group_members_group ON group_members (group_id, state, account);

-- The last hash read per group namespace (poll_cursors is per account).
CREATE TABLE group_cursors (
    group_id   TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    namespace  INTEGER NOT NULL,
    last_hash  TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, namespace)
);

-- hold | auto_accept: what an invitation to a group does (issue 10).
ALTER TABLE accounts ADD COLUMN group_invites TEXT NOT NULL DEFAULT 'hold';
