package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// KafkaEvent is a status event waiting to be published to the Kafka status
// topic, with the submission fields the published record carries.
type KafkaEvent struct {
	Event     routing.StatusEvent
	PortalID  string
	Tenant    string
	Service   string
	Reference string
	// TraceParent is the submission's trace context (tracing).
	TraceParent string
}

// PendingKafkaEvents returns up to limit unpublished status events, oldest
// (lowest ID) first. Events of one submission are committed in ID order, so
// publishing in this order keeps every submission's events in order.
func (s *Store) PendingKafkaEvents(ctx context.Context, limit int) ([]KafkaEvent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT e.id, e.submission_id, e.status, e.time, e.source, e.detail, e.evidence,
		s.portal_id, s.tenant, s.service, s.reference, s.trace_parent
		FROM status_events e JOIN submissions s ON s.id = e.submission_id
		WHERE e.kafka_at IS NULL
		ORDER BY e.id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending kafka events: %w", err)
	}
	defer rows.Close()
	var out []KafkaEvent
	for rows.Next() {
		var k KafkaEvent
		var status, source string
		var t int64
		if err := rows.Scan(&k.Event.ID, &k.Event.SubmissionID, &status, &t, &source, &k.Event.Detail, &k.Event.Evidence,
			&k.PortalID, &k.Tenant, &k.Service, &k.Reference, &k.TraceParent); err != nil {
			return nil, fmt.Errorf("store: pending kafka events: %w", err)
		}
		k.Event.Status, k.Event.Source, k.Event.Time = routing.Status(status), routing.Source(source), fromMicros(t)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: pending kafka events: %w", err)
	}
	return out, nil
}

// KafkaPublished marks events as acknowledged by the brokers.
func (s *Store) KafkaPublished(ctx context.Context, eventIDs []int64, at time.Time) error {
	if len(eventIDs) == 0 {
		return nil
	}
	ids := slices.Clone(eventIDs)
	slices.Sort(ids)
	args := make([]any, 0, len(ids)+1)
	args = append(args, micros(at))
	for _, id := range ids {
		args = append(args, id)
	}
	in := `(?` + strings.Repeat(",?", len(ids)-1) + `)`
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if s.pg() {
			// Several processes mark overlapping events (webhook, Postfach and
			// Kafka marks of the same status events): every multi-row mark
			// takes its row locks in ascending event ID, or two of them can
			// deadlock (seen in the cluster bench: SQLSTATE 40P01). A plain
			// UPDATE … IN locks in scan order; SELECT … ORDER BY … FOR UPDATE
			// locks in the sorted order.
			rows, err := tx.QueryContext(ctx, `SELECT id FROM status_events WHERE id IN `+in+` ORDER BY id`+s.forUpdate(), args[1:]...)
			if err != nil {
				return err
			}
			rows.Close()
		}
		_, err := tx.ExecContext(ctx, `UPDATE status_events SET kafka_at = ? WHERE id IN `+in, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: kafka published: %w", err)
	}
	return nil
}
