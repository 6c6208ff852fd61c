-- PostgreSQL twin of migrations/0015: portal API keys (only their SHA-256).
CREATE TABLE portal_keys (
    id             TEXT PRIMARY KEY,
    portal_id      TEXT NOT NULL,
    prefix         TEXT NOT NULL,
    hash           TEXT NOT NULL,
    tenants        TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    created_by     TEXT NOT NULL DEFAULT '',
    expires_at     BIGINT,
    revoked_at     BIGINT,
    revoked_reason TEXT NOT NULL DEFAULT '',
    replaced_by    TEXT NOT NULL DEFAULT '',
    last_used_at   BIGINT
);
CREATE INDEX portal_keys_portal ON portal_keys (portal_id, created_at);
