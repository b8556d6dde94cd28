-- 1:1 chat features (issue 5): per-account chat settings, control messages queued with the
-- text messages (kind + JSON body), replies, reactions, unsend, read state, message requests,
-- disappearing messages and contact profiles. Identical in migrations/sqlite/0003_chat.sql
-- but for types (BYTEA here is BLOB there).

-- `manual` | `auto`: send read receipts only on request, or as messages arrive.
ALTER TABLE accounts ADD COLUMN read_receipts TEXT NOT NULL DEFAULT 'manual';
-- `auto_accept` | `hold`: what happens to the first message of an unknown sender.
ALTER TABLE accounts ADD COLUMN message_requests TEXT NOT NULL DEFAULT 'auto_accept';

-- `text` rows are the visible messages (history); every other kind (`reaction`, `unsend`,
-- `read_receipt`, `typing`, `request_response`, `expiration_update`) is an outgoing control
-- message that only waits in the per-conversation queue, its parameters in `body` (JSON).
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'text';
ALTER TABLE messages ADD COLUMN body TEXT;
-- Swarm hash of the copy on our own swarm (unsend deletes it).
ALTER TABLE messages ADD COLUMN own_hash TEXT;
-- The quoted message (Session names it by sent timestamp + author).
ALTER TABLE messages ADD COLUMN quote_timestamp BIGINT;
ALTER TABLE messages ADD COLUMN quote_author TEXT;
ALTER TABLE messages ADD COLUMN quote_text TEXT;
-- Our local id of the quoted message, when we have it.
ALTER TABLE messages ADD COLUMN quote_id TEXT;
-- Unsent or deleted (text cleared), read (incoming: by us; outgoing: by the peer), receipt sent.
ALTER TABLE messages ADD COLUMN deleted_at BIGINT;
ALTER TABLE messages ADD COLUMN read_at BIGINT;
ALTER TABLE messages ADD COLUMN receipt_sent_at BIGINT;
-- 1 while the message waits in a held message request (not delivered, not in history).
ALTER TABLE messages ADD COLUMN held BIGINT NOT NULL DEFAULT 0;
-- The disappearing setting the message was sent under, and when it expires once known.
ALTER TABLE messages ADD COLUMN expire_mode TEXT NOT NULL DEFAULT 'off';
ALTER TABLE messages ADD COLUMN expire_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN expires_at BIGINT;
CREATE INDEX messages_expiry ON messages (expires_at);
CREATE INDEX messages_target ON messages (account, timestamp);

-- `accepted` | `pending` (held request) | `declined`.
ALTER TABLE conversations ADD COLUMN state TEXT NOT NULL DEFAULT 'accepted';
ALTER TABLE conversations ADD COLUMN disappearing_mode TEXT NOT NULL DEFAULT 'off';
ALTER TABLE conversations ADD COLUMN disappearing_seconds BIGINT NOT NULL DEFAULT 0;
-- The peer's profile as last received; the key is sealed under the master key.
ALTER TABLE conversations ADD COLUMN profile_name TEXT;
ALTER TABLE conversations ADD COLUMN profile_avatar_url TEXT;
ALTER TABLE conversations ADD COLUMN profile_key_sealed BYTEA;
ALTER TABLE conversations ADD COLUMN profile_updated BIGINT;

-- One row per (message, author, emoji).
CREATE TABLE reactions (
    message_id  TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    author      TEXT NOT NULL,
    emoji       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (message_id, author, emoji)
);
