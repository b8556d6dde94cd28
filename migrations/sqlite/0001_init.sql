-- session-gateway schema (SQLite). Times are integer milliseconds since the Unix epoch; JSON is
-- stored as TEXT; secrets are sealed BLOBs (src/store/secrets.rs). Kept portable: the
-- PostgreSQL set differs only in BIGSERIAL/BYTEA.

-- Key/value facts about this database (the master key check value).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE accounts (
    session_id   TEXT PRIMARY KEY,
    display_name TEXT,
    seed_sealed  BLOB NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    key_hash    BLOB NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    events          TEXT,
    accounts        TEXT,
    secrets_sealed  BLOB NOT NULL,
    enabled         INTEGER NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- The outbox. `cursor` is the monotonic event number clients resume from.
CREATE TABLE events (
    cursor        INTEGER PRIMARY KEY AUTOINCREMENT,
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
    attempts         INTEGER NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    first_attempt_at BIGINT,
    last_attempt_at  BIGINT,
    last_status      INTEGER,
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
    namespace  INTEGER NOT NULL,
    last_hash  TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account, namespace)
);
