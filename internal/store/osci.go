package store

import (
	"context"
	"database/sql"

	"fmt"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// OSCIOut is the state of one delivery through an OSCI intermediary.
type OSCIOut struct {
	TransportID      string
	SubmissionID     string
	MessageID        string
	Intermediary     string
	IntermediaryCert string
	State            string // created, sent, fetched
	Sends            int
	ProcessCard      string // JSON of the last Laufzettel
	Detail           string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// OSCI out states.
const (
	OSCICreated = "created"
	OSCISent    = "sent"
	OSCIFetched = "fetched"
)

const osciOutCols = `transport_id, submission_id, message_id, intermediary, intermediary_cert, state, sends,
	process_card, detail, created_at, updated_at`

// OSCIOutGet returns the OSCI state of a delivery, routing.ErrNotFound if none.
func (s *Store) OSCIOutGet(ctx context.Context, transportID string) (OSCIOut, error) {
	rows, err := s.osciOut(ctx, `WHERE transport_id = ?`, transportID)
	if err != nil {
		return OSCIOut{}, err
	}
	if len(rows) == 0 {
		return OSCIOut{}, fmt.Errorf("osci delivery %s: %w", transportID, routing.ErrNotFound)
	}
	return rows[0], nil
}

// OSCIOutOpen lists deliveries stored at an intermediary whose Laufzettel
// shows no Reception yet, least recently polled first.
func (s *Store) OSCIOutOpen(ctx context.Context, limit int) ([]OSCIOut, error) {
	return s.osciOut(ctx, `WHERE state = 'sent' ORDER BY updated_at, transport_id LIMIT ?`, limit)
}

func (s *Store) osciOut(ctx context.Context, where string, args ...any) ([]OSCIOut, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+osciOutCols+` FROM osci_out `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: osci out: %w", err)
	}
	defer rows.Close()
	var out []OSCIOut
	for rows.Next() {
		var r OSCIOut
		var created, updated int64
		if err := rows.Scan(&r.TransportID, &r.SubmissionID, &r.MessageID, &r.Intermediary, &r.IntermediaryCert, &r.State,
			&r.Sends, &r.ProcessCard, &r.Detail, &created, &updated); err != nil {
			return nil, err
		}
		r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
		out = append(out, r)
	}
	return out, rows.Err()
}

// OSCIOutCreate records the MessageId issued for a delivery before it is
// first sent. An existing record wins (the ID is fixed once persisted) and is
// returned.
func (s *Store) OSCIOutCreate(ctx context.Context, r OSCIOut) (OSCIOut, error) {
	_, err := s.exec(ctx, `INSERT INTO osci_out (transport_id, submission_id, message_id, intermediary,
		intermediary_cert, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'created', ?, ?) ON CONFLICT (transport_id) DO NOTHING`,
		r.TransportID, r.SubmissionID, r.MessageID, r.Intermediary, r.IntermediaryCert, micros(r.CreatedAt), micros(r.CreatedAt))
	if err != nil {
		return r, fmt.Errorf("store: osci out create: %w", err)
	}
	return s.OSCIOutGet(ctx, r.TransportID)
}

// OSCIOutAttempt counts a storeDelivery attempt (before it is sent), so a
// later attempt knows an earlier one may have reached the intermediary.
func (s *Store) OSCIOutAttempt(ctx context.Context, transportID string, at time.Time) error {
	res, err := s.exec(ctx, `UPDATE osci_out SET sends = sends + 1, updated_at = ? WHERE transport_id = ?`, micros(at), transportID)
	if err != nil {
		return fmt.Errorf("store: osci out attempt: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("osci delivery %s: %w", transportID, routing.ErrNotFound)
	}
	return nil
}

// OSCIOutUpdate sets state, Laufzettel (when not empty) and detail of a
// delivery; an event, when not nil, is committed with it (outbox) for the
// delivery's submission.
func (s *Store) OSCIOutUpdate(ctx context.Context, transportID, state, card, detail string, at time.Time, ev *routing.StatusEvent) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockSubmissionOf(ctx, tx, `SELECT submission_id FROM osci_out WHERE transport_id = ?`, transportID); err != nil {
			return fmt.Errorf("store: osci out update: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE osci_out SET state = ?, process_card = CASE WHEN ? = '' THEN process_card ELSE ? END,
			detail = ?, updated_at = ? WHERE transport_id = ?`, state, card, card, truncate(detail, 2000), micros(at), transportID)
		if err != nil {
			return fmt.Errorf("store: osci out update: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("osci delivery %s: %w", transportID, routing.ErrNotFound)
		}
		if ev == nil {
			return nil
		}
		var sub string
		if err := tx.QueryRowContext(ctx, `SELECT submission_id FROM osci_out WHERE transport_id = ?`, transportID).Scan(&sub); err != nil {
			return err
		}
		return s.insertEvent(ctx, tx, sub, *ev)
	})
}

// OSCIInboxItem is one delivery fetched from the hub's OSCI mailbox.
type OSCIInboxItem struct {
	MessageID    string
	Intermediary string
	FetchedAt    time.Time
	Body         []byte
	Note         string
}

// OSCIInboxPut stores a fetched delivery; false when its MessageId was
// stored before (nothing changes).
func (s *Store) OSCIInboxPut(ctx context.Context, it OSCIInboxItem) (bool, error) {
	res, err := s.exec(ctx, `INSERT INTO osci_inbox (message_id, intermediary, fetched_at, body) VALUES (?, ?, ?, ?)
		ON CONFLICT (message_id) DO NOTHING`, it.MessageID, it.Intermediary, micros(it.FetchedAt), it.Body)
	if err != nil {
		return false, fmt.Errorf("store: osci inbox put: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// OSCIInboxPending lists stored deliveries not yet handed to the back-channel.
func (s *Store) OSCIInboxPending(ctx context.Context, limit int) ([]OSCIInboxItem, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT message_id, intermediary, fetched_at, body, note FROM osci_inbox
		WHERE handled_at IS NULL ORDER BY fetched_at, message_id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: osci inbox: %w", err)
	}
	defer rows.Close()
	var out []OSCIInboxItem
	for rows.Next() {
		var it OSCIInboxItem
		var at int64
		if err := rows.Scan(&it.MessageID, &it.Intermediary, &at, &it.Body, &it.Note); err != nil {
			return nil, err
		}
		it.FetchedAt = fromMicros(at)
		out = append(out, it)
	}
	return out, rows.Err()
}

// OSCIInboxDone marks a stored delivery handled, with a note (why it had no
// effect, if so).
func (s *Store) OSCIInboxDone(ctx context.Context, messageID, note string, at time.Time) error {
	res, err := s.exec(ctx, `UPDATE osci_inbox SET handled_at = ?, note = ? WHERE message_id = ?`, micros(at), truncate(note, 2000), messageID)
	if err != nil {
		return fmt.Errorf("store: osci inbox done: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("osci inbox %s: %w", messageID, routing.ErrNotFound)
	}
	return nil
}

// OSCIInboxHas reports whether a delivery with this MessageId was stored.
func (s *Store) OSCIInboxHas(ctx context.Context, messageID string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM osci_inbox WHERE message_id = ?`, messageID).Scan(&n); err != nil {
		return false, fmt.Errorf("store: osci inbox: %w", err)
	}
	return n > 0, nil
}
