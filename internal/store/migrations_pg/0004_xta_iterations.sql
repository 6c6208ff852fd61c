-- PostgreSQL twin of migrations/0004_xta_iterations.sql: the same tables, columns, constraints
-- and indexes (BIGINT for integers and µs times, BYTEA for blobs).
-- dxhub schema, version 4: MsgBoxRequestID state of the built-in XTA server.
-- getStatusList/getMessage start an iteration; getNextStatusList and
-- getNextMessage continue it, in this process, another one sharing the
-- database, or after a restart. Rows expire (expires_at) and are purged
-- when new iterations are stored.
CREATE TABLE xta_iterations (
    request_id   TEXT PRIMARY KEY,          -- the MsgBoxRequestID handed to the reader
    reader       TEXT NOT NULL,             -- the reader's organisation key, lower case
    selection    TEXT NOT NULL,             -- selector, list form and page size (JSON, xtabox)
    cursor_time  BIGINT,                   -- last item seen: delivery time (µs) …
    cursor_id    TEXT NOT NULL DEFAULT '',  -- … and message ID; NULL/'' = from the start
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX xta_iterations_expiry ON xta_iterations (expires_at);
CREATE INDEX xta_iterations_reader ON xta_iterations (reader, expires_at);
