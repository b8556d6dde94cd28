-- Replays (issue 13, attack 3): what each account received, keyed on what the sender signed
-- (sender, signed timestamp, a BLAKE2b-256 digest of the signed content), not on the swarm
-- hash. A node can re-wrap the same sealed content (the WebSocketMessage/Envelope is outside
-- the signature) and store it under a new hash; such a copy finds its row here and is
-- dropped, as clients drop a message they already hold. Rows go with the account.
CREATE TABLE received_signed (
    account     TEXT NOT NULL REFERENCES accounts (session_id) ON DELETE CASCADE,
    sender      TEXT NOT NULL,
    sent_at     BIGINT NOT NULL,
    digest      BYTEA NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (account, sender, sent_at, digest)
);

-- What stays after deletion (issue 13, attack 8): the message an event carries the content
-- of (message.received/sent/failed/read: the message; attachment.*: its message), so an
-- unsent, expired or deleted message's events are redacted with it. Existing rows are filled
-- from their JSON.
ALTER TABLE events ADD COLUMN message_id TEXT;
UPDATE events SET message_id = (data::jsonb)->>'id'
    WHERE type IN ('message.received', 'message.sent', 'message.failed', 'message.read');
UPDATE events SET message_id = (data::jsonb)->>'message_id'
    WHERE type IN ('attachment.available', 'attachment.failed');
CREATE INDEX events_message ON events (message_id);

-- Attachment bytes at rest are sealed under the master key (issue 13, attack 8), like
-- private keys; rows written before keep their plaintext (0) until they are deleted.
ALTER TABLE attachments ADD COLUMN data_sealed BIGINT NOT NULL DEFAULT 0;
