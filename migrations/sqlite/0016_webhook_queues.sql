-- The webhook worker's scan (src/store/events/deliveries.rs, `HEADS`) hops from one
-- conversation's pending queue to the next through this index, which holds pending deliveries
-- only: a scan costs a few index seeks per conversation, however many deliveries wait (a
-- receiver that was down for minutes left thousands, and the old scan read every one of them
-- after every attempt). It replaces the index over every delivery of every status.
-- Identical in migrations/postgres/0016_webhook_queues.sql.
DROP INDEX webhook_deliveries_heads;
CREATE INDEX webhook_deliveries_queues ON webhook_deliveries (webhook_id, order_key, event_cursor, status)
    WHERE status = 'pending';
