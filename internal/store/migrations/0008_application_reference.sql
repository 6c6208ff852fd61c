-- dxhub schema, version 8: the application reference an outbound message
-- carries (XBau referenzAntragsservice). Replies that name no message of
-- ours, such as an XBau 1121 Aktenzeichenmitteilung, quote only this
-- reference in bezug/referenz; the back-channel finds their submission by it.
-- Stored lower-case; '' for messages without one.
ALTER TABLE messages ADD COLUMN application_reference TEXT NOT NULL DEFAULT '';
CREATE INDEX messages_application_reference ON messages (application_reference)
    WHERE application_reference <> '';

-- Backfill: messages mapped before this migration. The XBau profiles and the
-- built-in 1200 mapping write the portal's reference as referenzAntragsservice
-- when it is a UUID (else a UUID derived from the submission ID, which SQL
-- cannot compute: those stay '' until a replay re-maps them).
UPDATE messages SET application_reference = (
        SELECT lower(trim(s.reference)) FROM submissions s WHERE s.id = messages.submission_id)
    WHERE direction = 'out' AND application_reference = ''
      AND root_element IN ('universellerAntrag.antrag.1200', 'baugenehmigung.antrag.0200')
      AND (SELECT lower(trim(s.reference)) FROM submissions s WHERE s.id = messages.submission_id)
          GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]';
