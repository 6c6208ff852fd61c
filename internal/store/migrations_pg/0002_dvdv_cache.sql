-- PostgreSQL twin of migrations/0002_dvdv_cache.sql: the same tables, columns, constraints
-- and indexes (BIGINT for integers and µs times, BYTEA for blobs).
-- DVDV answers cached across restarts (dvdv.Resolver). Times are Unix microseconds (UTC).
CREATE TABLE dvdv_cache (
    kind       TEXT NOT NULL,             -- lookup kind: service, authority, categories, verify, certificate
    key        TEXT NOT NULL,             -- normalised query of that kind
    value      BYTEA,                      -- the raw DVDV JSON answer; NULL for a negative entry
    negative   BIGINT NOT NULL DEFAULT 0 CHECK (negative IN (0, 1)),
    detail     TEXT NOT NULL DEFAULT '',  -- negative entries: the dvdv-warning-msg text, if any
    server     TEXT NOT NULL DEFAULT '',  -- the DVDV server that answered
    fetched_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX dvdv_cache_expires ON dvdv_cache (expires_at);
