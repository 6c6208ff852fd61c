package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// XTARemote is the state of one delivery to a remote XTA server (the hub as
// Autor): the message ID used on the wire and the last transport report.
type XTARemote struct {
	TransportID  string
	SubmissionID string
	RemoteID     string
	Endpoint     string
	Tenant       string
	State        string // created, sent, final
	ReportStatus int    // -1: no report yet
	ReportDetail string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// XTARemoteGet returns the remote state of a delivery, routing.ErrNotFound if none.
func (s *Store) XTARemoteGet(ctx context.Context, transportID string) (XTARemote, error) {
	rows, err := s.xtaRemote(ctx, `WHERE transport_id = ?`, transportID)
	if err != nil {
		return XTARemote{}, err
	}
	if len(rows) == 0 {
		return XTARemote{}, fmt.Errorf("xta remote %s: %w", transportID, routing.ErrNotFound)
	}
	return rows[0], nil
}

// XTARemoteOpen lists deliveries that were sent and await a final transport
// report, least recently polled first.
func (s *Store) XTARemoteOpen(ctx context.Context, limit int) ([]XTARemote, error) {
	return s.xtaRemote(ctx, `WHERE state = 'sent' ORDER BY updated_at LIMIT ?`, limit)
}

func (s *Store) xtaRemote(ctx context.Context, where string, args ...any) ([]XTARemote, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT transport_id, submission_id, remote_id, endpoint, tenant, state,
		report_status, report_detail, created_at, updated_at FROM xta_remote `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: xta remote: %w", err)
	}
	defer rows.Close()
	var out []XTARemote
	for rows.Next() {
		var r XTARemote
		var st sql.NullInt64
		var created, updated int64
		if err := rows.Scan(&r.TransportID, &r.SubmissionID, &r.RemoteID, &r.Endpoint, &r.Tenant, &r.State,
			&st, &r.ReportDetail, &created, &updated); err != nil {
			return nil, err
		}
		r.ReportStatus = -1
		if st.Valid {
			r.ReportStatus = int(st.Int64)
		}
		r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
		out = append(out, r)
	}
	return out, rows.Err()
}

// XTARemoteCreate records the message ID issued for a delivery. An existing
// record wins (the ID is fixed once persisted) and is returned.
func (s *Store) XTARemoteCreate(ctx context.Context, r XTARemote) (XTARemote, error) {
	_, err := s.exec(ctx, `INSERT INTO xta_remote (transport_id, submission_id, remote_id, endpoint, tenant, state,
		created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'created', ?, ?) ON CONFLICT (transport_id) DO NOTHING`,
		r.TransportID, r.SubmissionID, r.RemoteID, r.Endpoint, r.Tenant, micros(r.CreatedAt), micros(r.CreatedAt))
	if err != nil {
		return r, fmt.Errorf("store: xta remote create: %w", err)
	}
	return s.XTARemoteGet(ctx, r.TransportID)
}

// XTARemoteUpdate sets state and report of a delivery. An event, when not
// nil, is committed with it (outbox), for the delivery's submission.
func (s *Store) XTARemoteUpdate(ctx context.Context, transportID, state string, reportStatus int, detail string, at time.Time, ev *routing.StatusEvent) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var st any
		if reportStatus >= 0 {
			st = reportStatus
		}
		if err := s.lockSubmissionOf(ctx, tx, `SELECT submission_id FROM xta_remote WHERE transport_id = ?`, transportID); err != nil {
			return fmt.Errorf("store: xta remote update: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE xta_remote SET state = ?, report_status = coalesce(?, report_status),
			report_detail = ?, updated_at = ? WHERE transport_id = ?`, state, st, truncate(detail, 2000), micros(at), transportID)
		if err != nil {
			return fmt.Errorf("store: xta remote update: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("xta remote %s: %w", transportID, routing.ErrNotFound)
		}
		if ev == nil {
			return nil
		}
		var sub string
		if err := tx.QueryRowContext(ctx, `SELECT submission_id FROM xta_remote WHERE transport_id = ?`, transportID).Scan(&sub); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("xta remote %s: %w", transportID, routing.ErrNotFound)
			}
			return err
		}
		return s.insertEvent(ctx, tx, sub, *ev)
	})
}
