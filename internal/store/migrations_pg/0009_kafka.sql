-- PostgreSQL twin of migrations/0009: Kafka status topic outbox marker
-- (microseconds, so BIGINT), set once the brokers acknowledged the event.
ALTER TABLE status_events ADD COLUMN kafka_at BIGINT;
CREATE INDEX status_events_kafka ON status_events (id) WHERE kafka_at IS NULL;
