-- dxhub schema, version 1. Times are Unix microseconds (UTC).

CREATE TABLE submissions (
    id              TEXT PRIMARY KEY,
    portal_id       TEXT NOT NULL,
    tenant          TEXT NOT NULL,
    service         TEXT NOT NULL,
    reference       TEXT NOT NULL,
    applicant       TEXT NOT NULL,            -- JSON (routing.Applicant)
    form            TEXT NOT NULL,            -- JSON, as the portal sent it
    status          TEXT NOT NULL,
    received_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    idempotency_key TEXT,
    body_hash       TEXT,
    -- retry_base_at starts the retry budget (retry.maxAge): the receive time,
    -- reset when an operator retries a dead letter.
    retry_base_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX submissions_idempotency ON submissions (portal_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX submissions_status ON submissions (status);

CREATE TABLE attachments (
    id            TEXT PRIMARY KEY,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    seq           INTEGER NOT NULL,
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    blob_key      TEXT NOT NULL,
    UNIQUE (submission_id, seq)
);
CREATE INDEX attachments_blob ON attachments (blob_key);

-- XÖV documents, outbound (mapped from a submission) and inbound (received).
CREATE TABLE messages (
    uuid          TEXT PRIMARY KEY,           -- nachrichtenUUID
    submission_id TEXT REFERENCES submissions (id),
    direction     TEXT NOT NULL CHECK (direction IN ('out', 'in')),
    standard      TEXT NOT NULL,
    version       TEXT NOT NULL,
    type_code     TEXT NOT NULL,
    root_element  TEXT NOT NULL,
    namespace     TEXT NOT NULL,
    service       TEXT NOT NULL,
    xml           BLOB NOT NULL,
    attachments   TEXT NOT NULL DEFAULT '[]', -- JSON []routing.MessageAttachment
    created_at    INTEGER NOT NULL
);
CREATE INDEX messages_submission ON messages (submission_id);

-- Work queue: one row per submission that still needs pipeline work.
CREATE TABLE jobs (
    submission_id TEXT PRIMARY KEY REFERENCES submissions (id),
    next_at       INTEGER NOT NULL,
    lease_owner   TEXT,
    lease_until   INTEGER,
    created_at    INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (next_at);

-- One delivery per outbound message, with its persistent retry state.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id   TEXT NOT NULL UNIQUE REFERENCES submissions (id),
    message_uuid    TEXT NOT NULL REFERENCES messages (uuid),
    transport_id    TEXT NOT NULL UNIQUE,      -- XTA MessageID / OSCI MessageId, fixed before the first send
    reader_key      TEXT NOT NULL,
    service_uri     TEXT NOT NULL,
    transport       TEXT NOT NULL,
    endpoint        TEXT NOT NULL DEFAULT '',
    route_source    TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead', 'expired')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    fetched_at      INTEGER,                   -- the reader's acknowledgement (XTA close)
    sla_alerted_at  INTEGER                    -- when the fetch deadline was reported as breached
);
CREATE INDEX deliveries_mailbox ON deliveries (reader_key, transport, state, fetched_at);

CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    number      INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery ON attempts (delivery_id);

-- Dead letters: submissions the pipeline gave up on. An operator retries or
-- drops them (dxhub deadletter); resolved rows stay for the audit trail.
CREATE TABLE dead_letters (
    submission_id TEXT PRIMARY KEY REFERENCES submissions (id),
    reason        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    resolved_at   INTEGER,
    resolution    TEXT NOT NULL DEFAULT ''   -- 'retried' or 'dropped: <why>'
);

-- Status history and outbox: notified_at is set once the citizen's Postfach has it.
CREATE TABLE status_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    status        TEXT NOT NULL,
    time          INTEGER NOT NULL,
    source        TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '',
    evidence      TEXT NOT NULL DEFAULT '',
    notified_at   INTEGER,                    -- handed to the citizen's Postfach
    -- portal webhook delivery (in order per submission, retried until a 2xx)
    webhook_at       INTEGER,
    webhook_attempts INTEGER NOT NULL DEFAULT 0,
    webhook_next_at  INTEGER NOT NULL DEFAULT 0,
    webhook_error    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX status_events_submission ON status_events (submission_id, id);
CREATE INDEX status_events_outbox ON status_events (notified_at) WHERE notified_at IS NULL;
CREATE INDEX status_events_webhook ON status_events (submission_id, id) WHERE webhook_at IS NULL;

-- Inbound transport messages, de-duplicated by their transport ID.
CREATE TABLE inbound_messages (
    transport_id   TEXT PRIMARY KEY,
    received_at    INTEGER NOT NULL,
    transport      TEXT NOT NULL,
    author_key     TEXT NOT NULL DEFAULT '',
    reader_key     TEXT NOT NULL DEFAULT '',
    message_uuid   TEXT NOT NULL DEFAULT '',
    type_code      TEXT NOT NULL DEFAULT '',
    submission_id  TEXT,
    classification TEXT NOT NULL DEFAULT '',
    note           TEXT NOT NULL DEFAULT '',
    payload        BLOB NOT NULL
);

-- The local Servicekonto Postfach (embedded default sink).
CREATE TABLE postfach_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    handle        TEXT NOT NULL,
    event_id      INTEGER NOT NULL UNIQUE REFERENCES status_events (id),
    submission_id TEXT NOT NULL,
    status        TEXT NOT NULL,
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX postfach_handle ON postfach_messages (handle, id);
