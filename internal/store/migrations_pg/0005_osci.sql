-- PostgreSQL twin of migrations/0005_osci.sql: the same tables, columns, constraints
-- and indexes (BIGINT for integers and µs times, BYTEA for blobs).
-- dxhub schema, version 5: OSCI-Transport 1.2.
-- osci_out: one row per delivery through an OSCI intermediary. The MessageId
-- the intermediary issued (getMessageId) is persisted before the first
-- storeDelivery and reused for every retry; the intermediary URL and its
-- cipher certificate are kept so the Laufzettel poll needs no directory.
CREATE TABLE osci_out (
    transport_id      TEXT PRIMARY KEY,        -- deliveries.transport_id
    submission_id     TEXT NOT NULL,
    message_id        TEXT NOT NULL UNIQUE,    -- the OSCI MessageId (base64)
    intermediary      TEXT NOT NULL,           -- intermediary URL
    intermediary_cert TEXT NOT NULL,           -- its cipher certificate (PEM)
    state             TEXT NOT NULL CHECK (state IN ('created', 'sent', 'fetched')),
    sends             BIGINT NOT NULL DEFAULT 0, -- storeDelivery attempts
    process_card      TEXT NOT NULL DEFAULT '',   -- last Laufzettel (JSON)
    detail            TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX osci_out_open ON osci_out (state, updated_at);

-- osci_inbox: deliveries fetched from the hub's own OSCI mailbox. The fetch is
-- the acknowledgement, so the opened message is stored first (keyed by its
-- MessageId: a second fetch of the same message changes nothing) and handed to
-- the back-channel afterwards; handled_at is set once that committed.
CREATE TABLE osci_inbox (
    message_id   TEXT PRIMARY KEY,
    intermediary TEXT NOT NULL,
    fetched_at   BIGINT NOT NULL,
    body         BYTEA NOT NULL,               -- the decrypted OSCI MIME document
    handled_at   BIGINT,
    note         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX osci_inbox_open ON osci_inbox (handled_at);
