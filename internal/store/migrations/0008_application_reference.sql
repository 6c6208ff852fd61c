-- dxhub schema, version 8: the application reference an outbound message
-- carries (XBau referenzAntragsservice). Replies that name no message of
-- ours, such as an XBau 1121 Aktenzeichenmitteilung, quote only this
-- reference in bezug/referenz; the back-channel finds their submission by it.
-- Stored lower-case; '' for messages without one (and for messages mapped
-- before this migration).
ALTER TABLE messages ADD COLUMN application_reference TEXT NOT NULL DEFAULT '';
CREATE INDEX messages_application_reference ON messages (application_reference)
    WHERE application_reference <> '';
