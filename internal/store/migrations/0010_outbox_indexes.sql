-- The Postfach dispatcher asks for unnotified events of the statuses it has
-- texts for; events of other statuses stay unnotified for ever. Seeking by
-- status keeps each poll proportional to the work, not to the history.
CREATE INDEX status_events_notify ON status_events (status, id) WHERE notified_at IS NULL;
-- The older index of all unnotified events (which includes every event of a
-- status without a text, for ever) would otherwise still be chosen.
DROP INDEX status_events_outbox;

-- The webhook dispatcher walks unsent events in id order; without this the
-- planner scans the whole table in rowid order to avoid a sort.
CREATE INDEX status_events_webhook_pending ON status_events (id) WHERE webhook_at IS NULL;
