-- The account's own config messages (issue 10, groups.md §1, §3.3): today the UserGroups config
-- (namespace 5) of its own swarm, which Session clients restored from the same recovery phrase
-- read to find the account's groups, and push to as well. The heads the next merge (§1.2)
-- starts from, after decryption with the account's seed, sealed under the master key (they
-- carry group seeds and grants). The poll cursor lives in poll_cursors (account, namespace).
-- The same change as the other backend's 0008 but for types (BLOB here).

CREATE TABLE user_configs (
    account      TEXT NOT NULL REFERENCES accounts (session_id) ON DELETE CASCADE,
    namespace    INTEGER NOT NULL,
    hash         TEXT NOT NULL,
    seqno        BIGINT NOT NULL,
    data_sealed  BLOB NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (account, namespace, hash)
);
