package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// Notification is a status event still to be announced to the citizen, with
// what a sink needs to address and phrase it.
type Notification struct {
	Event      routing.StatusEvent
	Submission routing.Submission // without attachments and form
}

// PendingNotifications returns up to limit status events (oldest first) whose
// statuses are in the given set and that were not yet notified.
func (s *Store) PendingNotifications(ctx context.Context, statuses []routing.Status, limit int) ([]Notification, error) {
	if len(statuses) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(statuses)+1)
	in := ""
	for i, st := range statuses {
		if i > 0 {
			in += ","
		}
		in += "?"
		args = append(args, string(st))
	}
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, `SELECT e.id, e.submission_id, e.status, e.time, e.source, e.detail, e.evidence,
		s.portal_id, s.tenant, s.service, s.reference, s.applicant
		FROM status_events e JOIN submissions s ON s.id = e.submission_id
		WHERE e.notified_at IS NULL AND e.status IN (`+in+`) ORDER BY e.id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: pending notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var (
			n                    Notification
			status, source, appl string
			t                    int64
		)
		if err := rows.Scan(&n.Event.ID, &n.Event.SubmissionID, &status, &t, &source, &n.Event.Detail, &n.Event.Evidence,
			&n.Submission.PortalID, &n.Submission.Tenant, &n.Submission.Service, &n.Submission.Reference, &appl); err != nil {
			return nil, err
		}
		n.Event.Status, n.Event.Source, n.Event.Time = routing.Status(status), routing.Source(source), fromMicros(t)
		n.Submission.ID = n.Event.SubmissionID
		if err := json.Unmarshal([]byte(appl), &n.Submission.Applicant); err != nil {
			return nil, fmt.Errorf("store: applicant of %s: %w", n.Submission.ID, err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// MarkNotified records that an event was handed to the citizen's sink.
func (s *Store) MarkNotified(ctx context.Context, eventID int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE status_events SET notified_at = ? WHERE id = ?`, micros(at), eventID)
	if err != nil {
		return fmt.Errorf("store: mark notified: %w", err)
	}
	return nil
}

// PostfachMessage is one message in the local Servicekonto Postfach.
type PostfachMessage struct {
	ID           int64          `json:"id"`
	Handle       string         `json:"-"`
	EventID      int64          `json:"-"`
	SubmissionID string         `json:"submissionId"`
	Status       routing.Status `json:"status"`
	Title        string         `json:"title"`
	Body         string         `json:"body"`
	Created      time.Time      `json:"created"`
}

// PostfachDeliver stores a message in the local Postfach and marks its event as
// notified in one transaction; the same event is never stored twice.
func (s *Store) PostfachDeliver(ctx context.Context, m PostfachMessage) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO postfach_messages (handle, event_id, submission_id, status, title, body, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
			m.Handle, m.EventID, m.SubmissionID, string(m.Status), m.Title, m.Body, micros(m.Created)); err != nil {
			return fmt.Errorf("store: postfach insert: %w", err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE status_events SET notified_at = ? WHERE id = ?`, micros(m.Created), m.EventID)
		return err
	})
}

// PostfachMessages lists a mailbox handle's messages about submissions of the
// given portal (all portals if portalID is ""), oldest first.
func (s *Store) PostfachMessages(ctx context.Context, handle, portalID string) ([]PostfachMessage, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT p.id, p.handle, p.event_id, p.submission_id, p.status, p.title, p.body, p.created_at
		FROM postfach_messages p JOIN submissions s ON s.id = p.submission_id
		WHERE p.handle = ? AND (? = '' OR s.portal_id = ?) ORDER BY p.id`, handle, portalID, portalID)
	if err != nil {
		return nil, fmt.Errorf("store: postfach list: %w", err)
	}
	defer rows.Close()
	var out []PostfachMessage
	for rows.Next() {
		var m PostfachMessage
		var status string
		var created int64
		if err := rows.Scan(&m.ID, &m.Handle, &m.EventID, &m.SubmissionID, &status, &m.Title, &m.Body, &created); err != nil {
			return nil, err
		}
		m.Status, m.Created = routing.Status(status), fromMicros(created)
		out = append(out, m)
	}
	return out, rows.Err()
}
