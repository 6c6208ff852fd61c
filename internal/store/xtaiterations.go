package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// XTAIteration is the stored state behind one MsgBoxRequestID of the
// built-in XTA server. Selection is opaque to the store (the xtabox adapter
// encodes the selector in it).
type XTAIteration struct {
	RequestID  string
	Reader     string
	Selection  []byte
	CursorTime time.Time // zero with CursorID "": from the start
	CursorID   string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// XTAIterationPut stores a new iteration. At most once a minute, in the same
// transaction, it purges every expired iteration (at now) and, with
// maxPerReader > 0, each reader's iterations that expire first beyond that
// many, so a reader that never continues its iterations cannot grow the
// table without bound.
func (s *Store) XTAIterationPut(ctx context.Context, it XTAIteration, now time.Time, maxPerReader int) error {
	reader := strings.ToLower(it.Reader)
	// Purging and trimming scan the table: do them at most once a minute,
	// not with every poll of every Fachverfahren (readers see only live
	// rows anyway, see XTAIterationGet).
	housekeeping := false
	if last := s.iterPurgedAt.Load(); now.UnixMicro()-last >= time.Minute.Microseconds() {
		housekeeping = s.iterPurgedAt.CompareAndSwap(last, now.UnixMicro())
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if housekeeping {
			if _, err := tx.ExecContext(ctx, `DELETE FROM xta_iterations WHERE expires_at < ?`, micros(now)); err != nil {
				return fmt.Errorf("store: purge xta iterations: %w", err)
			}
		}
		var ct any
		if !it.CursorTime.IsZero() {
			ct = micros(it.CursorTime)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO xta_iterations (request_id, reader, selection, cursor_time, cursor_id,
			created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`, it.RequestID, reader, string(it.Selection), ct, it.CursorID,
			micros(now), micros(it.ExpiresAt)); err != nil {
			return fmt.Errorf("store: xta iteration %s: %w", it.RequestID, err)
		}
		if housekeeping && maxPerReader > 0 {
			// Every reader keeps its maxPerReader iterations that expire last.
			q := `DELETE FROM xta_iterations WHERE request_id IN (
				SELECT request_id FROM (SELECT request_id, row_number() OVER (
					PARTITION BY reader ORDER BY expires_at DESC, created_at DESC) AS rank FROM xta_iterations)
				WHERE rank > ?)`
			if s.pg() { // a subquery in FROM needs an alias
				q = `DELETE FROM xta_iterations WHERE request_id IN (
				SELECT request_id FROM (SELECT request_id, row_number() OVER (
					PARTITION BY reader ORDER BY expires_at DESC, created_at DESC) AS rank FROM xta_iterations) AS ranked
				WHERE rank > ?)`
			}
			if _, err := tx.ExecContext(ctx, q, maxPerReader); err != nil {
				return fmt.Errorf("store: trim xta iterations: %w", err)
			}
		}
		return nil
	})
}

// XTAIterationGet returns the iteration requestID of reader (compared
// case-insensitively) that has not expired at now, or routing.ErrNotFound.
func (s *Store) XTAIterationGet(ctx context.Context, requestID, reader string, now time.Time) (XTAIteration, error) {
	var (
		it       XTAIteration
		sel      string
		ct       sql.NullInt64
		cr, expi int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT request_id, reader, selection, cursor_time, cursor_id, created_at, expires_at
		FROM xta_iterations WHERE request_id = ? AND reader = ? AND expires_at >= ?`,
		requestID, strings.ToLower(reader), micros(now)).Scan(&it.RequestID, &it.Reader, &sel, &ct, &it.CursorID, &cr, &expi)
	if errors.Is(err, sql.ErrNoRows) {
		return XTAIteration{}, fmt.Errorf("xta iteration %s: %w", requestID, routing.ErrNotFound)
	}
	if err != nil {
		return XTAIteration{}, fmt.Errorf("store: xta iteration %s: %w", requestID, err)
	}
	it.Selection = []byte(sel)
	it.CursorTime = nullMicros(ct)
	it.CreatedAt, it.ExpiresAt = fromMicros(cr), fromMicros(expi)
	return it, nil
}

// XTAIterationAdvance records the last item the reader has seen and extends
// the iteration's validity. An unknown (purged) request ID is not an error:
// the next getNext* call reports it as invalid.
func (s *Store) XTAIterationAdvance(ctx context.Context, requestID string, cursorTime time.Time, cursorID string, expires time.Time) error {
	var ct any
	if !cursorTime.IsZero() {
		ct = micros(cursorTime)
	}
	if _, err := s.exec(ctx, `UPDATE xta_iterations SET cursor_time = ?, cursor_id = ?, expires_at = ? WHERE request_id = ?`,
		ct, cursorID, micros(expires), requestID); err != nil {
		return fmt.Errorf("store: advance xta iteration %s: %w", requestID, err)
	}
	return nil
}
