-- messages_target (account, timestamp), from 0003, is a prefix of messages_history
-- (account, timestamp, id): every lookup that seeks the one (a reply's, reaction's or unsend's
-- target by its timestamp) seeks the other the same way. Each message stored or pruned wrote
-- both; now one index page fewer per message (issue 16). Identical in
-- migrations/sqlite/0018_messages_target.sql.
DROP INDEX messages_target;
