-- PostgreSQL twin of migrations/0003_xta.sql: the same tables, columns, constraints
-- and indexes (BIGINT for integers and µs times, BYTEA for blobs).
-- dxhub schema, version 3: deliveries to remote XTA servers (the hub as Autor).
-- One row per delivery: the message ID the remote server issued
-- (createMessageId), persisted before the first sendMessage and reused for
-- every retry, and the last transport report polled from the server.
CREATE TABLE xta_remote (
    transport_id   TEXT PRIMARY KEY,          -- deliveries.transport_id
    submission_id  TEXT NOT NULL,
    remote_id      TEXT NOT NULL,             -- the MessageID used on the wire
    endpoint       TEXT NOT NULL,             -- management port URL of the remote server
    tenant         TEXT NOT NULL DEFAULT '',
    state          TEXT NOT NULL CHECK (state IN ('created', 'sent', 'final')),
    report_status  BIGINT,                   -- MessageStatus/Status of the last report (0-3)
    report_detail  TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX xta_remote_open ON xta_remote (state, updated_at);
