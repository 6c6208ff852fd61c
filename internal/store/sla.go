package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// UnfetchedDeliveries lists delivered, unfetched messages delivered before
// or at `before`, oldest first (the SLA monitor filters per service).
func (s *Store) UnfetchedDeliveries(ctx context.Context, before time.Time, limit int) ([]routing.Unfetched, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.submission_id, s.service, d.reader_key, d.transport_id, d.delivered_at,
		d.sla_alerted_at IS NOT NULL
		FROM deliveries d JOIN submissions s ON s.id = d.submission_id
		WHERE d.state = 'delivered' AND d.fetched_at IS NULL AND d.delivered_at <= ?
		ORDER BY d.delivered_at LIMIT ?`, micros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("store: unfetched deliveries: %w", err)
	}
	defer rows.Close()
	var out []routing.Unfetched
	for rows.Next() {
		var u routing.Unfetched
		var at int64
		if err := rows.Scan(&u.SubmissionID, &u.Service, &u.ReaderKey, &u.TransportID, &at, &u.Alerted); err != nil {
			return nil, err
		}
		u.DeliveredAt = fromMicros(at)
		out = append(out, u)
	}
	return out, rows.Err()
}

// MarkSLABreach records the alert for an unfetched message with its event.
// It returns false if the breach was already recorded.
func (s *Store) MarkSLABreach(ctx context.Context, submissionID string, ev routing.StatusEvent) (bool, error) {
	marked := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockSubmission(ctx, tx, submissionID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET sla_alerted_at = ?
			WHERE submission_id = ? AND sla_alerted_at IS NULL AND fetched_at IS NULL`, micros(ev.Time), submissionID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		marked = true
		return s.insertEvent(ctx, tx, submissionID, ev)
	})
	if err != nil {
		return false, fmt.Errorf("store: mark SLA breach: %w", err)
	}
	return marked, nil
}

// ExpireDelivery withdraws an unfetched message from the mailbox and ends the
// submission as expired. It returns false if the message was fetched meanwhile.
func (s *Store) ExpireDelivery(ctx context.Context, submissionID string, ev routing.StatusEvent) (bool, error) {
	expired := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockSubmission(ctx, tx, submissionID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = 'expired'
			WHERE submission_id = ? AND state = 'delivered' AND fetched_at IS NULL`, submissionID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		expired = true
		return s.insertEvent(ctx, tx, submissionID, ev)
	})
	if err != nil {
		return false, fmt.Errorf("store: expire delivery: %w", err)
	}
	return expired, nil
}
