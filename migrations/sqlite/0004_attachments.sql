-- Attachments and avatars (issue 5; messages.md §4, §5). Identical in
-- migrations/postgres/0004_attachments.sql except BLOB → BYTEA.

-- One row per attachment of a message, either way. Outgoing rows hold the plaintext from the
-- API until the send pipeline uploads it (status `uploaded`: url, key and digest kept so a
-- retried send does not upload again). Incoming rows start `queued` with the pointer's url, key
-- and digest; the background fetch moves them to `available` (bytes stored) or `failed`
-- (`retryable` when the network, not the blob, was at fault).
CREATE TABLE attachments (
    id              TEXT PRIMARY KEY,
    account         TEXT NOT NULL REFERENCES accounts (session_id) ON DELETE CASCADE,
    message_id      TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position        BIGINT NOT NULL,
    direction       TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    file_name       TEXT,
    size            BIGINT NOT NULL,
    status          TEXT NOT NULL,
    failure_reason  TEXT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    -- 1 when `failed` for network reasons: a download request queues it again.
    retryable       BIGINT NOT NULL DEFAULT 0,
    remote_url      TEXT,
    digest          BLOB,
    -- The pointer key (64 B legacy, 32 B 'S'), sealed with the master key.
    key_sealed      BLOB,
    -- The plaintext: outgoing until sent (kept for downloads), incoming once available.
    data            BLOB,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX attachments_message ON attachments (message_id, position);
CREATE INDEX attachments_pending ON attachments (account, direction, status);

-- Our own avatar: where it is and the profile key that opens it (sealed).
ALTER TABLE accounts ADD COLUMN avatar_url TEXT;
ALTER TABLE accounts ADD COLUMN avatar_key_sealed BLOB;
ALTER TABLE accounts ADD COLUMN avatar_updated_at BIGINT;

-- A contact's decrypted avatar image, cached. The profile itself (display name, avatar URL and
-- sealed key) is the conversation's (0003); `url` names the avatar the image was fetched from,
-- so a profile that names another URL misses the cache.
CREATE TABLE contact_avatar_images (
    account         TEXT NOT NULL REFERENCES accounts (session_id) ON DELETE CASCADE,
    peer            TEXT NOT NULL,
    url             TEXT NOT NULL,
    image           BLOB NOT NULL,
    PRIMARY KEY (account, peer)
);
