-- Kafka work distribution (connectors/kafka work topic): an outbox of
-- accepted submissions still to be published to the work topic. A row is
-- written in the intake transaction (only while the store's work topic mode
-- is on) and deleted once the brokers acknowledged its record. The job of
-- such a submission is held for the work topic (jobs.next_at = 2^62 µs), so
-- the database queue's workers leave it to the topic's consumers.
CREATE TABLE work_outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    created_at    INTEGER NOT NULL
);
