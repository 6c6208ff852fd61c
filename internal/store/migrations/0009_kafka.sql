-- Kafka status topic outbox (connectors/kafka): kafka_at is set once the
-- event is acknowledged by the brokers. Events stay unmarked while Kafka is
-- disabled and are published, in order, when it is enabled.
ALTER TABLE status_events ADD COLUMN kafka_at INTEGER;
CREATE INDEX status_events_kafka ON status_events (id) WHERE kafka_at IS NULL;
