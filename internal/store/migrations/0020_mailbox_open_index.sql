-- XTA getStatusList lists a reader's open (unfetched) mailbox messages in
-- mailbox order (delivered_at, then lower(transport_id)). The mailbox index
-- finds them but not in that order, so every poll sorted all of them in a
-- temporary B-tree (and counted them through a window) to return one page.
-- This partial index holds only open mailbox messages, in mailbox order: a
-- page reads just its rows, and the remaining count is a scan of the
-- reader's open entries in the index alone. Fetched messages leave it.
CREATE INDEX deliveries_mailbox_open ON deliveries (reader_key, delivered_at, lower(transport_id))
    WHERE transport = 'xta-mailbox' AND state = 'delivered' AND fetched_at IS NULL;
