-- Per-account health (issue 15): what the replica running an account last saw of its polls,
-- flushed every few seconds by that replica (src/actors/health.rs), so any replica can answer
-- `GET /v1/accounts/{id}` and `?health=stale`. Identical in migrations/postgres/0015_account_health.sql.
CREATE TABLE account_health (
    account           TEXT PRIMARY KEY REFERENCES accounts (session_id) ON DELETE CASCADE,
    last_poll_at      BIGINT,
    poll_interval_ms  BIGINT NOT NULL DEFAULT 0,
    last_error        TEXT,
    last_error_at     BIGINT,
    swarm             TEXT NOT NULL DEFAULT '[]',
    updated_at        BIGINT NOT NULL
);
