-- When the account's UserGroups config (namespace 5 of its own swarm) last had its TTL
-- extended (network time, ms; 0 = never): at most once a day, like a group's configs.
ALTER TABLE accounts ADD COLUMN user_config_extended_at BIGINT NOT NULL DEFAULT 0;
