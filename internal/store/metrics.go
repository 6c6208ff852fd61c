package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SubmissionCount is the number of submissions of one tenant and service in
// one status.
type SubmissionCount struct {
	Tenant, Service, Status string
	N                       int
}

// SubmissionCounts counts submissions by tenant, service and status (the
// dxhub_submissions gauge).
func (s *Store) SubmissionCounts(ctx context.Context) ([]SubmissionCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT tenant, service, status, count(*) FROM submissions GROUP BY tenant, service, status`)
	if err != nil {
		return nil, fmt.Errorf("store: submission counts: %w", err)
	}
	defer rows.Close()
	var out []SubmissionCount
	for rows.Next() {
		var c SubmissionCount
		if err := rows.Scan(&c.Tenant, &c.Service, &c.Status, &c.N); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// QueueStats returns how many jobs are pending and how old the oldest is.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (int, time.Duration, error) {
	var n int
	var oldest sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*), min(created_at) FROM jobs`).Scan(&n, &oldest); err != nil {
		return 0, 0, fmt.Errorf("store: queue stats: %w", err)
	}
	if !oldest.Valid {
		return n, 0, nil
	}
	return n, max(now.Sub(fromMicros(oldest.Int64)), 0), nil
}
