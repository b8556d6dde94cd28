-- session-gateway schema (PostgreSQL): the same tables, columns and names as
-- migrations/sqlite/0001_init.sql, in PostgreSQL types. Times are BIGINT milliseconds since the
-- Unix epoch; JSON stays TEXT (the code reads and writes it as text through sqlx's `Any` driver,
-- which has no JSON type); sealed secrets are BYTEA; every integer is BIGINT so the one `i64`
-- the code binds and reads fits every column without casts.

-- Key/value facts about this database (the master key check value).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE accounts (
    session_id   TEXT PRIMARY KEY,
    display_name TEXT,
    seed_sealed  BYTEA NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    key_hash    BYTEA NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    events          TEXT,
    accounts        TEXT,
    secrets_sealed  BYTEA NOT NULL,
    enabled         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- The outbox. `cursor` is the monotonic event number clients resume from. A sequence alone
-- can commit out of order (a reader would skip an event that commits later with a lower
-- cursor), so writers take a transaction-level advisory lock before drawing from it
-- (src/store/events.rs): cursors then become visible in cursor order.
CREATE TABLE events (
    cursor        BIGSERIAL PRIMARY KEY,
    type          TEXT NOT NULL,
    account       TEXT,
    conversation  TEXT,
    timestamp     BIGINT NOT NULL,
    data          TEXT NOT NULL
);
CREATE INDEX events_account ON events (account, cursor);

CREATE TABLE webhook_deliveries (
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_cursor     BIGINT NOT NULL REFERENCES events (cursor),
    order_key        TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    first_attempt_at BIGINT,
    last_attempt_at  BIGINT,
    last_status      BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (webhook_id, event_cursor)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, status, event_cursor);
CREATE INDEX webhook_deliveries_heads ON webhook_deliveries (webhook_id, order_key, status, event_cursor);

CREATE TABLE conversations (
    account          TEXT NOT NULL REFERENCES accounts (session_id) ON DELETE CASCADE,
    peer             TEXT NOT NULL,
    last_message_id  TEXT,
    last_message_at  BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (account, peer)
);

CREATE TABLE messages (
    id               TEXT PRIMARY KEY,
    account          TEXT NOT NULL REFERENCES accounts (session_id) ON DELETE CASCADE,
    peer             TEXT NOT NULL,
    direction        TEXT NOT NULL,
    status           TEXT NOT NULL,
    hash             TEXT,
    text             TEXT NOT NULL,
    timestamp        BIGINT NOT NULL,
    idempotency_key  TEXT,
    failure_reason   TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (account, idempotency_key),
    UNIQUE (account, hash)
);
CREATE INDEX messages_history ON messages (account, timestamp, id);
CREATE INDEX messages_peer ON messages (account, peer, timestamp, id);
CREATE INDEX messages_queued ON messages (status, created_at);

CREATE TABLE poll_cursors (
    account    TEXT NOT NULL REFERENCES accounts (session_id) ON DELETE CASCADE,
    namespace  BIGINT NOT NULL,
    last_hash  TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account, namespace)
);
