-- Inbound replies name the outbound message by its nachrichtenUUID in any
-- letter case; correlation compares lower(uuid), which the primary key
-- cannot serve (a full scan of messages, XML included, per reply).
CREATE INDEX messages_uuid_lower ON messages (lower(uuid));
