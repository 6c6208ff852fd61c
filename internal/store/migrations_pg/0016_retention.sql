-- PostgreSQL twin of migrations/0016: payload purges and the blob queue.
CREATE TABLE payload_purges (
    submission_id TEXT PRIMARY KEY REFERENCES submissions (id),
    purged_at     BIGINT NOT NULL,
    attachments   BIGINT NOT NULL,
    bytes         BIGINT NOT NULL,
    reason        TEXT NOT NULL DEFAULT ''
);
CREATE TABLE purge_blobs (
    blob_key  TEXT PRIMARY KEY,
    size      BIGINT NOT NULL,
    queued_at BIGINT NOT NULL
);
CREATE INDEX submissions_retention ON submissions (status, updated_at);
