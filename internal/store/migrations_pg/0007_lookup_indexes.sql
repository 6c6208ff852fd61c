-- PostgreSQL twin of migrations/0007_lookup_indexes.sql: the same tables, columns, constraints
-- and indexes (BIGINT for integers and µs times, BYTEA for blobs).
-- Inbound replies name the outbound message by its nachrichtenUUID in any
-- letter case; correlation compares lower(uuid), which the primary key
-- cannot serve (a full scan of messages, XML included, per reply).
CREATE INDEX messages_uuid_lower ON messages (lower(uuid));

-- The workers' "when is the next job due" asks for the earliest unleased job
-- and the earliest lease to run out: both by index, not by scanning a queue
-- of thousands of accepted submissions.
CREATE INDEX jobs_unleased ON jobs (next_at) WHERE lease_until IS NULL;
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE lease_until IS NOT NULL;
