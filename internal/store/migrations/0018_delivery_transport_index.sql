-- XTA close and the access audit find a mailbox message by its transport ID
-- in any letter case (lower(transport_id) = lower(?)). The mailbox index
-- only narrows that to the reader's delivered messages, fetched ones
-- included, so every close scanned the reader's whole history — inside the
-- single group-commit writer. Seek by the lowered transport ID instead; the
-- mailbox columns follow it so that the planner (which has no statistics)
-- prefers this index whenever the transport ID is given.
CREATE INDEX deliveries_transport_lower ON deliveries (lower(transport_id), reader_key, transport, state);
