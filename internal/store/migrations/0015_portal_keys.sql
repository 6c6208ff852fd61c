-- Portal API keys managed with `dxhub portal key create|rotate|revoke|list`.
-- Only the SHA-256 of a key is stored (the key is 256 random bits, so a fast
-- hash is as good as a slow one: there is nothing to guess); id is the public
-- key ID that the key itself carries, so a lookup is one primary-key read.
-- tenants is a comma-separated list of AGS the key is limited to ('' = every
-- tenant of its portal). Times are µs since the epoch; NULL = never / not yet.
CREATE TABLE portal_keys (
    id             TEXT PRIMARY KEY,
    portal_id      TEXT NOT NULL,
    prefix         TEXT NOT NULL,
    hash           TEXT NOT NULL,
    tenants        TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    created_by     TEXT NOT NULL DEFAULT '',
    expires_at     INTEGER,
    revoked_at     INTEGER,
    revoked_reason TEXT NOT NULL DEFAULT '',
    replaced_by    TEXT NOT NULL DEFAULT '',
    last_used_at   INTEGER
);
CREATE INDEX portal_keys_portal ON portal_keys (portal_id, created_at);
