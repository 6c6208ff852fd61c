-- dxhub schema, version 6: replays (dxhub replay). An operator re-drives a
-- stored submission through a mapping profile; the new outbound message gets
-- a new nachrichtenUUID and transport ID and is linked to the one it
-- supersedes. Times are Unix microseconds (UTC).
CREATE TABLE replays (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id         TEXT NOT NULL REFERENCES submissions (id),
    seq                   INTEGER NOT NULL,           -- 1, 2, … per submission
    message_uuid          TEXT NOT NULL REFERENCES messages (uuid),
    previous_message_uuid TEXT NOT NULL DEFAULT '',   -- '' if the submission had no outbound message
    previous_transport_id TEXT NOT NULL DEFAULT '',   -- '' if it was never routed
    previous_status       TEXT NOT NULL,
    profile_version       TEXT NOT NULL DEFAULT '',
    reason                TEXT NOT NULL,
    operator              TEXT NOT NULL,
    event_id              INTEGER NOT NULL REFERENCES status_events (id),
    created_at            INTEGER NOT NULL,
    UNIQUE (submission_id, seq)
);

-- The delivery a replay superseded, as it was, and its attempts: the live
-- deliveries/attempts rows always describe the current outbound message.
CREATE TABLE superseded_deliveries (
    replay_id       INTEGER NOT NULL REFERENCES replays (id),
    delivery_id     INTEGER NOT NULL,
    submission_id   TEXT NOT NULL,
    message_uuid    TEXT NOT NULL,
    transport_id    TEXT NOT NULL,
    reader_key      TEXT NOT NULL,
    service_uri     TEXT NOT NULL,
    transport       TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    fetched_at      INTEGER,
    PRIMARY KEY (replay_id)
);
CREATE INDEX superseded_deliveries_transport ON superseded_deliveries (transport_id);

CREATE TABLE superseded_attempts (
    replay_id   INTEGER NOT NULL REFERENCES replays (id),
    number      INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX superseded_attempts_replay ON superseded_attempts (replay_id);

-- Attachments of inbound back-channel messages (e.g. a Bescheid PDF), kept in
-- the blob store; forwarded to the citizen's Postfach with the status event
-- their message caused.
CREATE TABLE inbound_attachments (
    transport_id  TEXT NOT NULL REFERENCES inbound_messages (transport_id),
    seq           INTEGER NOT NULL,
    submission_id TEXT,
    message_uuid  TEXT NOT NULL DEFAULT '',
    content_id    TEXT NOT NULL DEFAULT '',
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    blob_key      TEXT NOT NULL,
    PRIMARY KEY (transport_id, seq)
);
CREATE INDEX inbound_attachments_message ON inbound_attachments (submission_id, message_uuid);

-- Attachments of messages in the local Postfach (references into the blob store).
CREATE TABLE postfach_attachments (
    event_id     INTEGER NOT NULL REFERENCES status_events (id),
    seq          INTEGER NOT NULL,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    blob_key     TEXT NOT NULL,
    PRIMARY KEY (event_id, seq)
);
