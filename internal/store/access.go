package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dxhub/dxhub/routing"
)

// MailboxSubmissionID returns the submission of a message in reader's
// built-in XTA mailbox (open or fetched), for the audit log of data access;
// routing.ErrNotFound (wrapped) if reader has no such message.
func (s *Store) MailboxSubmissionID(ctx context.Context, reader, transportID string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT d.submission_id FROM deliveries d WHERE `+mailboxWhere+
		` AND lower(d.transport_id) = lower(?)`, reader, transportID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("mailbox message %s for %s: %w", transportID, reader, routing.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: mailbox message %s: %w", transportID, err)
	}
	return id, nil
}
