-- Group upkeep (issue 10/11): when this replica set last extended the TTLs of a group's keys
-- and config messages on its swarm (network time, ms; 0 = never). Extensions run at most once
-- a day per group (groups.md §7), whichever local member polls it.
ALTER TABLE groups ADD COLUMN ttl_extended_at BIGINT NOT NULL DEFAULT 0;
