-- dxhub schema, version 8 (PostgreSQL twin of migrations/0008): the
-- application reference an outbound message carries (XBau
-- referenzAntragsservice), stored lower-case, '' for none; replies such as
-- an XBau 1121 find their submission by it.
ALTER TABLE messages ADD COLUMN application_reference TEXT NOT NULL DEFAULT '';
CREATE INDEX messages_application_reference ON messages (application_reference)
    WHERE application_reference <> '';

-- Backfill of messages mapped before this migration (see the SQLite twin).
UPDATE messages SET application_reference = lower(trim(s.reference))
    FROM submissions s
    WHERE s.id = messages.submission_id AND messages.direction = 'out' AND messages.application_reference = ''
      AND messages.root_element IN ('universellerAntrag.antrag.1200', 'baugenehmigung.antrag.0200')
      AND lower(trim(s.reference)) ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
