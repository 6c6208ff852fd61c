-- The Postfach dispatcher asks for unnotified events of the statuses it has
-- texts for; events of other statuses stay unnotified for ever. Seeking by
-- status keeps each poll proportional to the work, not to the history.
CREATE INDEX status_events_notify ON status_events (status, id) WHERE notified_at IS NULL;
