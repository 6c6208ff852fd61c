-- PostgreSQL twin of migrations/0018_delivery_transport_index.sql.
-- XTA close and the access audit find a mailbox message by its transport ID
-- in any letter case (lower(transport_id) = lower(?)); seek by index instead
-- of walking the reader's whole delivery history.
CREATE INDEX deliveries_transport_lower ON deliveries (lower(transport_id), reader_key, transport, state);
