package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// Span is one finished trace span of a submission as kept in the store
// (migration 0014) for `dxhub trace`: operators without a collector still
// see the trace.
type Span struct {
	SubmissionID  string            `json:"submissionId"`
	TraceID       string            `json:"traceId"`
	SpanID        string            `json:"spanId"`
	ParentSpanID  string            `json:"parentSpanId,omitempty"`
	Name          string            `json:"name"`
	Kind          string            `json:"kind,omitempty"`
	Start         time.Time         `json:"start"`
	End           time.Time         `json:"end"`
	StatusCode    string            `json:"status,omitempty"` // "", "ok" or "error"
	StatusMessage string            `json:"statusMessage,omitempty"`
	Attributes    map[string]string `json:"attributes,omitempty"`
}

// SaveSpans stores finished spans in one transaction. A submission keeps at
// most perSubmission spans (a delivery retried for days must not fill the
// table); spans beyond that are dropped and counted in the result.
func (s *Store) SaveSpans(ctx context.Context, spans []Span, perSubmission int) (dropped int, err error) {
	if len(spans) == 0 {
		return 0, nil
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		dropped = 0
		kept := map[string]int{} // spans per submission, counted once per batch
		for _, sp := range spans {
			n, seen := kept[sp.SubmissionID]
			if !seen {
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM trace_spans WHERE submission_id = ?`,
					sp.SubmissionID).Scan(&n); err != nil {
					return fmt.Errorf("count spans: %w", err)
				}
			}
			if n >= perSubmission {
				kept[sp.SubmissionID] = n
				dropped++
				continue
			}
			attrs, err := encodeAttributes(sp.Attributes)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO trace_spans
				(submission_id, trace_id, span_id, parent_span_id, name, kind, start_at, end_at, status_code, status_message, attributes)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				sp.SubmissionID, sp.TraceID, sp.SpanID, sp.ParentSpanID, truncate(sp.Name, 200), sp.Kind,
				micros(sp.Start), micros(sp.End), sp.StatusCode, truncate(sp.StatusMessage, 2000), attrs); err != nil {
				return fmt.Errorf("insert span: %w", err)
			}
			kept[sp.SubmissionID] = n + 1
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: save spans: %w", err)
	}
	return dropped, nil
}

// Spans returns a submission's kept spans, in order of their start.
func (s *Store) Spans(ctx context.Context, submissionID string) ([]Span, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT trace_id, span_id, parent_span_id, name, kind, start_at, end_at,
		status_code, status_message, attributes FROM trace_spans WHERE submission_id = ? ORDER BY start_at, id`, submissionID)
	if err != nil {
		return nil, fmt.Errorf("store: spans: %w", err)
	}
	defer rows.Close()
	var out []Span
	for rows.Next() {
		sp := Span{SubmissionID: submissionID}
		var start, end int64
		var attrs string
		if err := rows.Scan(&sp.TraceID, &sp.SpanID, &sp.ParentSpanID, &sp.Name, &sp.Kind, &start, &end,
			&sp.StatusCode, &sp.StatusMessage, &attrs); err != nil {
			return nil, err
		}
		sp.Start, sp.End = fromMicros(start), fromMicros(end)
		if sp.Attributes, err = decodeAttributes(attrs); err != nil {
			return nil, fmt.Errorf("store: span %s of %s: %w", sp.SpanID, submissionID, err)
		}
		out = append(out, sp)
	}
	return out, rows.Err()
}

// TraceParent returns the W3C traceparent recorded with a submission at
// intake ("" when it was not traced).
func (s *Store) TraceParent(ctx context.Context, submissionID string) (string, error) {
	var tp string
	err := s.db.QueryRowContext(ctx, `SELECT trace_parent FROM submissions WHERE id = ?`, submissionID).Scan(&tp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("submission %s: %w", submissionID, routing.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: trace parent: %w", err)
	}
	return tp, nil
}

// PruneSpans deletes the oldest kept spans beyond keep rows and returns how
// many it deleted.
func (s *Store) PruneSpans(ctx context.Context, keep int) (int64, error) {
	var cutoff sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT id FROM trace_spans ORDER BY id DESC LIMIT 1 OFFSET ?`, keep).Scan(&cutoff); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return 0, fmt.Errorf("store: prune spans: %w", err)
	}
	res, err := s.exec(ctx, `DELETE FROM trace_spans WHERE id <= ?`, cutoff.Int64)
	if err != nil {
		return 0, fmt.Errorf("store: prune spans: %w", err)
	}
	return res.RowsAffected()
}

func encodeAttributes(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode span attributes: %w", err)
	}
	return string(b), nil
}

func decodeAttributes(s string) (map[string]string, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	return m, nil
}
