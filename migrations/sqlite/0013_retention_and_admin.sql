-- Retention by age (issue 15, src/store/prune.rs) and the admin CLI. Identical in both
-- dialects.

-- The pruning job reads the oldest rows of each kind once a minute; these indexes let it find
-- them without scanning the tables. Attachments whose bytes were dropped (`data` NULL,
-- status `expired`) leave the partial index, so rounds do not revisit them.
CREATE INDEX events_age ON events (timestamp);
CREATE INDEX messages_age ON messages (created_at);
CREATE INDEX webhook_deliveries_age ON webhook_deliveries (status, last_attempt_at);
CREATE INDEX attachments_bytes_age ON attachments (created_at) WHERE data IS NOT NULL;
-- A pruned (or unsent, or expired) message's quoted text is dropped from the replies quoting
-- it (src/store/retention.rs); without this index each of those looked through every message.
CREATE INDEX messages_quote ON messages (quote_id);

-- An operator's label for an API key (`session-gateway api-keys create --name`, or `name` in
-- `POST /v1/api-keys`).
ALTER TABLE api_keys ADD COLUMN name TEXT;
