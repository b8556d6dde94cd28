-- The webhook worker's scan (src/store/events/deliveries.rs, `heads`) hops from one
-- conversation's pending queue to the next through this index, which holds pending deliveries
-- only: a scan costs a few index seeks per conversation, however many deliveries wait (a
-- receiver that was down for minutes left thousands, and the old scan read every one of them
-- after every attempt). It replaces the index over every delivery of every status, whose
-- order (order key before status) let a seek for the next pending order key land among
-- delivered rows. `status` comes second, so that SQLite's planner, which has no statistics,
-- prefers it to webhook_deliveries_pending (webhook_id, status, event_cursor) for these seeks.
-- Identical in migrations/sqlite/0016_webhook_queues.sql.
DROP INDEX webhook_deliveries_heads;
CREATE INDEX webhook_deliveries_queues ON webhook_deliveries (webhook_id, status, order_key, event_cursor)
    WHERE status = 'pending';
