-- Retention: the payloads of a finished submission (form data, attachment
-- blobs, XÖV message bodies, inbound message bodies) are deleted after the
-- service's retention period; its metadata, status history and the audit
-- trail stay. One row per purged submission.
CREATE TABLE payload_purges (
    submission_id TEXT PRIMARY KEY REFERENCES submissions (id),
    purged_at     INTEGER NOT NULL,
    attachments   INTEGER NOT NULL,          -- attachments (own and inbound) whose bytes went
    bytes         INTEGER NOT NULL,          -- payload bytes removed (form, messages, inbound bodies, attachments)
    reason        TEXT NOT NULL DEFAULT ''   -- "retention 2160h", "before 2026-01-01"
);
-- Blob files to delete once the purge that released them has committed
-- (deleted and removed from here by the purge; a crash in between leaves
-- them for the next run).
CREATE TABLE purge_blobs (
    blob_key  TEXT PRIMARY KEY,
    size      INTEGER NOT NULL,
    queued_at INTEGER NOT NULL
);
CREATE INDEX submissions_retention ON submissions (status, updated_at);
