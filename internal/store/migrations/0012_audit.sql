-- Audit log of administrative and data-access actions: append-only and
-- hash-chained (hash = SHA-256 over the previous hash and this row's
-- fields), so `dxhub audit verify` detects a changed or removed row.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    submission_id TEXT NOT NULL DEFAULT '',
    detail        TEXT NOT NULL DEFAULT '',
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);
