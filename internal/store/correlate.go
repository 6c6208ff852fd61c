package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dxhub/dxhub/routing"
)

// CorrelateMessageUUID finds the submission an outbound nachrichtenUUID
// (case-insensitive) belongs to, with what the back-channel needs of it: ID,
// portal, tenant, service, reference, status and trace context (no form, no
// applicant, no attachments). It is SubmissionByMessageUUID and
// GetSubmissionHead in one read instead of three statements on whichever
// reader connections are free. routing.ErrNotFound if no outbound message
// has that UUID.
func (s *Store) CorrelateMessageUUID(ctx context.Context, uuid string) (routing.Submission, error) {
	var sub routing.Submission
	var status string
	var received, updated int64
	err := s.db.QueryRowContext(ctx, `SELECT s.id, s.portal_id, s.tenant, s.service, s.reference, s.status,
		s.received_at, s.updated_at, s.trace_parent
		FROM messages m JOIN submissions s ON s.id = m.submission_id
		WHERE lower(m.uuid) = lower(?) AND m.direction = 'out'`, uuid).Scan(
		&sub.ID, &sub.PortalID, &sub.Tenant, &sub.Service, &sub.Reference, &status, &received, &updated, &sub.TraceParent)
	if errors.Is(err, sql.ErrNoRows) {
		return sub, fmt.Errorf("message %s: %w", uuid, routing.ErrNotFound)
	}
	if err != nil {
		return sub, fmt.Errorf("store: correlate: %w", err)
	}
	sub.Status = routing.Status(status)
	sub.ReceivedAt, sub.UpdatedAt = fromMicros(received), fromMicros(updated)
	return sub, nil
}

var _ routing.MessageCorrelator = (*Store)(nil)
