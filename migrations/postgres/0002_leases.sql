-- Several replicas (design.md §6): a heartbeat row per running replica, one lease row per
-- account, and the lease epoch (fencing token) recorded with every fenced state change.
-- Identical in migrations/sqlite/0002_leases.sql.

-- A replica is live while `expires_at` (its last heartbeat plus the lease duration) is ahead.
CREATE TABLE replicas (
    id           TEXT PRIMARY KEY,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

-- `owner` runs the account until `expires_at`; `epoch` grows with every acquisition, so a
-- writer holding an older epoch is fenced off (src/store/leases.rs).
CREATE TABLE account_leases (
    account     TEXT PRIMARY KEY REFERENCES accounts (session_id) ON DELETE CASCADE,
    owner       TEXT NOT NULL,
    epoch       BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX account_leases_owner ON account_leases (owner, expires_at);
CREATE INDEX account_leases_expiry ON account_leases (expires_at);

-- The epoch of the lease under which a row was last written (0 = written unfenced).
ALTER TABLE poll_cursors ADD COLUMN fence_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN fence_epoch BIGINT NOT NULL DEFAULT 0;
