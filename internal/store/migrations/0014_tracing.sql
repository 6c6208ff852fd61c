-- Tracing (issue 9). submissions.trace_parent is the W3C traceparent of the
-- intake span: every later stage (another worker, another process, after a
-- restart) continues that trace. trace_spans keeps finished spans of
-- submissions for `dxhub trace` (bounded: per submission on insert, in total
-- by PruneSpans).
ALTER TABLE submissions ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';

CREATE TABLE trace_spans (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id  TEXT NOT NULL,
    trace_id       TEXT NOT NULL,
    span_id        TEXT NOT NULL,
    parent_span_id TEXT NOT NULL DEFAULT '',
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL DEFAULT '',
    start_at       INTEGER NOT NULL,          -- Unix microseconds
    end_at         INTEGER NOT NULL,
    status_code    TEXT NOT NULL DEFAULT '',  -- '', ok, error
    status_message TEXT NOT NULL DEFAULT '',
    attributes     TEXT NOT NULL DEFAULT '{}' -- JSON object
);
CREATE INDEX trace_spans_submission ON trace_spans (submission_id, start_at);
