-- Communities (issue 12; communities.md): the rooms local accounts have joined, each polled
-- once per interval for all of them (design.md §10), and each account's blinded DM inbox per
-- server. Identical in migrations/sqlite/0011_communities.sql.

-- One row per joined room (shared by its local members). `room` is the conversation ID
-- (`base/token`); `seqno` is the poll cursor (the highest `seqno` consumed, §4.6) and
-- `info_updates` the room info counter last seen (§4.1).
CREATE TABLE community_rooms (
    room          TEXT PRIMARY KEY,
    server        TEXT NOT NULL,
    server_key    TEXT NOT NULL,
    token         TEXT NOT NULL,
    name          TEXT NOT NULL,
    description   TEXT,
    info_updates  BIGINT NOT NULL DEFAULT 0,
    seqno         BIGINT NOT NULL DEFAULT 0,
    moderators    TEXT NOT NULL DEFAULT '[]',
    updated_at    BIGINT NOT NULL
);
CREATE INDEX community_rooms_server ON community_rooms (server);

-- A local account in a room, with its blinded ID there (the author of its posts).
CREATE TABLE community_members (
    account     TEXT NOT NULL REFERENCES accounts (session_id) ON DELETE CASCADE,
    room        TEXT NOT NULL REFERENCES community_rooms (room) ON DELETE CASCADE,
    blinded_id  TEXT NOT NULL,
    moderator   BIGINT NOT NULL DEFAULT 0,
    joined_at   BIGINT NOT NULL,
    PRIMARY KEY (account, room)
);
CREATE INDEX community_members_room ON community_members (room);

-- An account's blinded DM inbox on a server it has a room on: the last inbox id consumed.
CREATE TABLE community_inboxes (
    account     TEXT NOT NULL REFERENCES accounts (session_id) ON DELETE CASCADE,
    server      TEXT NOT NULL,
    server_key  TEXT NOT NULL,
    last_id     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account, server)
);

-- Blinded peers (`15…`) an account talks to: the server their DMs go through, and their
-- `05` Session ID once a DM from them revealed it (§6).
CREATE TABLE blinded_peers (
    account     TEXT NOT NULL REFERENCES accounts (session_id) ON DELETE CASCADE,
    blinded_id  TEXT NOT NULL,
    server      TEXT NOT NULL,
    server_key  TEXT NOT NULL,
    session_id  TEXT,
    PRIMARY KEY (account, blinded_id)
);
