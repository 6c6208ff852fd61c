package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// WebhookEvent is a status event waiting to be POSTed to its portal.
type WebhookEvent struct {
	Event     routing.StatusEvent
	PortalID  string
	Reference string
	Attempts  int
	// TraceParent is the submission's trace context (tracing), read with
	// the event so the dispatcher needs no lookup per call.
	TraceParent string
}

// PendingWebhooks returns, for the given portals, the oldest undelivered event
// of each submission that is due at now — never a later event of a submission
// whose earlier event is still unacknowledged, so order per submission holds.
func (s *Store) PendingWebhooks(ctx context.Context, portals []string, now time.Time, limit int) ([]WebhookEvent, error) {
	if len(portals) == 0 {
		return nil, nil
	}
	args := []any{}
	for _, p := range portals {
		args = append(args, p)
	}
	args = append(args, micros(now), limit)
	rows, err := s.db.QueryContext(ctx, `SELECT e.id, e.submission_id, e.status, e.time, e.source, e.detail, e.evidence,
		e.webhook_attempts, s.portal_id, s.reference, s.trace_parent
		FROM status_events e JOIN submissions s ON s.id = e.submission_id
		WHERE e.webhook_at IS NULL AND s.portal_id IN (?`+strings.Repeat(",?", len(portals)-1)+`)
		  AND e.id = (SELECT min(e2.id) FROM status_events e2 WHERE e2.submission_id = e.submission_id AND e2.webhook_at IS NULL)
		  AND e.webhook_next_at <= ?
		ORDER BY e.id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: pending webhooks: %w", err)
	}
	defer rows.Close()
	var out []WebhookEvent
	for rows.Next() {
		var w WebhookEvent
		var status, source string
		var t int64
		if err := rows.Scan(&w.Event.ID, &w.Event.SubmissionID, &status, &t, &source, &w.Event.Detail, &w.Event.Evidence,
			&w.Attempts, &w.PortalID, &w.Reference, &w.TraceParent); err != nil {
			return nil, err
		}
		w.Event.Status, w.Event.Source, w.Event.Time = routing.Status(status), routing.Source(source), fromMicros(t)
		out = append(out, w)
	}
	return out, rows.Err()
}

// WebhookDelivered records the portal's 2xx for an event.
func (s *Store) WebhookDelivered(ctx context.Context, eventID int64, attempts int, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE status_events SET webhook_at = ?, webhook_attempts = ?, webhook_error = ''
		WHERE id = ?`, micros(at), attempts, eventID)
	if err != nil {
		return fmt.Errorf("store: webhook delivered: %w", err)
	}
	return nil
}

// WebhookMark is one portal 2xx to record (WebhooksDelivered).
type WebhookMark struct {
	EventID  int64
	Attempts int
	At       time.Time
}

// WebhooksDelivered records several portals' 2xx in one write transaction
// (the dispatcher marks a page of calls at once instead of one commit per
// event).
func (s *Store) WebhooksDelivered(ctx context.Context, marks []WebhookMark) error {
	if len(marks) == 0 {
		return nil
	}
	// In ascending event ID, as every multi-row mark of status events (see
	// KafkaPublished), so that two processes' marks cannot deadlock.
	marks = slices.Clone(marks)
	slices.SortFunc(marks, func(a, b WebhookMark) int { return cmp.Compare(a.EventID, b.EventID) })
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, m := range marks {
			if _, err := tx.ExecContext(ctx, `UPDATE status_events SET webhook_at = ?, webhook_attempts = ?, webhook_error = ''
				WHERE id = ?`, micros(m.At), m.Attempts, m.EventID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: webhooks delivered: %w", err)
	}
	return nil
}

// WebhookFailed records a failed attempt and when to try again.
func (s *Store) WebhookFailed(ctx context.Context, eventID int64, attempts int, next time.Time, reason string) error {
	_, err := s.exec(ctx, `UPDATE status_events SET webhook_attempts = ?, webhook_next_at = ?, webhook_error = ?
		WHERE id = ?`, attempts, micros(next), truncate(reason, 1000), eventID)
	if err != nil {
		return fmt.Errorf("store: webhook failed: %w", err)
	}
	return nil
}
