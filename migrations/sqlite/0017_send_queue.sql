-- The send queue (src/store/send_queue.rs): each conversation's conversation actor asks for its
-- oldest queued outgoing message before every send (`next_queued`), and an account's owner asks
-- which conversations have any (`queued_peers`). The only index they could use was
-- messages_queued (status, created_at), which holds every account's queued messages: each ask
-- read the whole backlog of the gateway and sorted it (a backlog of 1,000 queued messages made
-- each send read 1,000 rows). This index holds queued outgoing rows only, by conversation and
-- accept order, so either ask is one seek. Identical in migrations/postgres/0017_send_queue.sql.
CREATE INDEX messages_send_queue ON messages (account, peer, created_at, id)
    WHERE status = 'queued' AND direction = 'outgoing';
