package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// DeadLetter is a submission the pipeline gave up on.
type DeadLetter struct {
	SubmissionID string    `json:"submissionId"`
	Tenant       string    `json:"tenant"`
	Service      string    `json:"service"`
	Reference    string    `json:"reference"`
	PortalID     string    `json:"portal"`
	Reason       string    `json:"reason"`
	Since        time.Time `json:"since"`
	TransportID  string    `json:"transportId,omitempty"`
	ReaderKey    string    `json:"reader,omitempty"`
	Endpoint     string    `json:"endpoint,omitempty"`
	Attempts     int       `json:"attempts"`
	ResolvedAt   time.Time `json:"resolvedAt,omitzero"`
	Resolution   string    `json:"resolution,omitempty"`
}

const deadLetterSelect = `SELECT dl.submission_id, s.tenant, s.service, s.reference, s.portal_id, dl.reason, dl.created_at,
	coalesce(d.transport_id, ''), coalesce(d.reader_key, ''), coalesce(d.endpoint, ''), coalesce(d.attempts, 0),
	dl.resolved_at, dl.resolution
	FROM dead_letters dl JOIN submissions s ON s.id = dl.submission_id
	LEFT JOIN deliveries d ON d.submission_id = dl.submission_id`

func scanDeadLetter(sc interface{ Scan(...any) error }) (DeadLetter, error) {
	var dl DeadLetter
	var since int64
	var resolved sql.NullInt64
	err := sc.Scan(&dl.SubmissionID, &dl.Tenant, &dl.Service, &dl.Reference, &dl.PortalID, &dl.Reason, &since,
		&dl.TransportID, &dl.ReaderKey, &dl.Endpoint, &dl.Attempts, &resolved, &dl.Resolution)
	dl.Since, dl.ResolvedAt = fromMicros(since), nullMicros(resolved)
	return dl, err
}

// DeadLetters lists dead letters, oldest first; resolved ones only if all.
func (s *Store) DeadLetters(ctx context.Context, all bool) ([]DeadLetter, error) {
	q := deadLetterSelect
	if !all {
		q += ` WHERE dl.resolved_at IS NULL`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY dl.created_at, dl.submission_id`)
	if err != nil {
		return nil, fmt.Errorf("store: dead letters: %w", err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		dl, err := scanDeadLetter(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, dl)
	}
	return out, rows.Err()
}

// DeadLetter returns one dead letter (resolved or not).
func (s *Store) DeadLetter(ctx context.Context, submissionID string) (DeadLetter, error) {
	dl, err := scanDeadLetter(s.db.QueryRowContext(ctx, deadLetterSelect+` WHERE dl.submission_id = ?`, submissionID))
	if errors.Is(err, sql.ErrNoRows) {
		return dl, fmt.Errorf("dead letter %s: %w", submissionID, routing.ErrNotFound)
	}
	if err != nil {
		return dl, fmt.Errorf("store: dead letter: %w", err)
	}
	return dl, nil
}

// ErrNotDeadLetter is returned when retrying or dropping a submission that is
// not an open dead letter.
var ErrNotDeadLetter = errors.New("not an open dead letter")

// RetryDeadLetter puts an open dead letter back into the pipeline at the stage
// it failed in: delivery again under the SAME transport message ID (the
// receiver de-duplicates), or routing, or mapping. The retry budget starts anew.
func (s *Store) RetryDeadLetter(ctx context.Context, submissionID, operator string, now time.Time) (routing.Status, error) {
	var resume routing.Status
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := openDeadLetter(ctx, tx, submissionID); err != nil {
			return err
		}
		var hasDelivery, hasMessage int
		tx.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE submission_id = ?`, submissionID).Scan(&hasDelivery)
		tx.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE submission_id = ? AND direction = 'out'`, submissionID).Scan(&hasMessage)
		switch {
		case hasDelivery > 0:
			resume = routing.StatusRouted
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?
				WHERE submission_id = ?`, micros(now), submissionID); err != nil {
				return err
			}
		case hasMessage > 0:
			resume = routing.StatusValidated
		default:
			resume = routing.StatusReceived
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dead_letters SET resolved_at = ?, resolution = 'retried' WHERE submission_id = ?`,
			micros(now), submissionID); err != nil {
			return err
		}
		// A terminal status never advances by itself; the operator's retry
		// deliberately sets it back to the stage to resume from.
		if _, err := tx.ExecContext(ctx, `UPDATE submissions SET status = ?, updated_at = ?, retry_base_at = ? WHERE id = ?`,
			string(resume), micros(now), micros(now), submissionID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO status_events (submission_id, status, time, source, detail, evidence)
			VALUES (?, ?, ?, 'hub', ?, '')`, submissionID, string(resume), micros(now),
			"dead letter retried by "+operator); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO jobs (submission_id, next_at, created_at) VALUES (?, ?, ?)
			ON CONFLICT (submission_id) DO UPDATE SET next_at = excluded.next_at, lease_owner = NULL, lease_until = NULL`,
			submissionID, micros(now), micros(now))
		return err
	})
	if err != nil && !errors.Is(err, ErrNotDeadLetter) && !errors.Is(err, routing.ErrNotFound) {
		err = fmt.Errorf("store: retry dead letter: %w", err)
	}
	return resume, err
}

// DropDeadLetter closes an open dead letter without another attempt; the
// submission stays failed and the history records who dropped it and why.
func (s *Store) DropDeadLetter(ctx context.Context, submissionID, operator, why string, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := openDeadLetter(ctx, tx, submissionID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dead_letters SET resolved_at = ?, resolution = ? WHERE submission_id = ?`,
			micros(now), truncate("dropped: "+why, 2000), submissionID); err != nil {
			return err
		}
		return insertEvent(ctx, tx, submissionID, routing.StatusEvent{Status: routing.StatusFailed, Time: now,
			Source: routing.SourceHub, Detail: "dead letter dropped by " + operator + ": " + why})
	})
	if err != nil && !errors.Is(err, ErrNotDeadLetter) && !errors.Is(err, routing.ErrNotFound) {
		err = fmt.Errorf("store: drop dead letter: %w", err)
	}
	return err
}

func openDeadLetter(ctx context.Context, tx *sql.Tx, submissionID string) error {
	var resolved sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT resolved_at FROM dead_letters WHERE submission_id = ?`, submissionID).Scan(&resolved)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", submissionID, ErrNotDeadLetter)
	}
	if err != nil {
		return err
	}
	if resolved.Valid {
		return fmt.Errorf("%s was already resolved: %w", submissionID, ErrNotDeadLetter)
	}
	return nil
}

// Trace is everything the hub knows about one submission across all hops.
type Trace struct {
	Submission routing.Submission    `json:"submission"`
	Messages   []TraceMessage        `json:"messages"`
	Delivery   *routing.Delivery     `json:"delivery,omitempty"`
	Attempts   []Attempt             `json:"attempts"`
	Inbound    []TraceInbound        `json:"inbound"`
	Events     []routing.StatusEvent `json:"events"`
	DeadLetter *DeadLetter           `json:"deadLetter,omitempty"`
}

// TraceMessage is an outbound XÖV message without its XML.
type TraceMessage struct {
	UUID        string    `json:"nachrichtenUUID"`
	RootElement string    `json:"rootElement"`
	Standard    string    `json:"standard"`
	Version     string    `json:"version"`
	Service     string    `json:"service"`
	Created     time.Time `json:"created"`
}

// TraceInbound is a received message that refers to the submission.
type TraceInbound struct {
	TransportID    string    `json:"transportId"`
	MessageUUID    string    `json:"nachrichtenUUID"`
	TypeCode       string    `json:"typeCode"`
	AuthorKey      string    `json:"author"`
	ReceivedAt     time.Time `json:"receivedAt"`
	Classification string    `json:"classification"`
	Note           string    `json:"note,omitempty"`
}

// Trace collects every ID and event of a submission (dxhub trace).
func (s *Store) Trace(ctx context.Context, submissionID string) (Trace, error) {
	var tr Trace
	var err error
	if tr.Submission, err = s.GetSubmission(ctx, submissionID); err != nil {
		return tr, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT uuid, root_element, standard, version, service, created_at FROM messages
		WHERE submission_id = ? AND direction = 'out' ORDER BY created_at`, submissionID)
	if err != nil {
		return tr, err
	}
	for rows.Next() {
		var m TraceMessage
		var created int64
		if err := rows.Scan(&m.UUID, &m.RootElement, &m.Standard, &m.Version, &m.Service, &created); err != nil {
			rows.Close()
			return tr, err
		}
		m.Created = fromMicros(created)
		tr.Messages = append(tr.Messages, m)
	}
	rows.Close()
	if d, err := s.GetDelivery(ctx, submissionID); err == nil {
		tr.Delivery = &d
	} else if !errors.Is(err, routing.ErrNotFound) {
		return tr, err
	}
	if tr.Attempts, err = s.Attempts(ctx, submissionID); err != nil {
		return tr, err
	}
	rows, err = s.db.QueryContext(ctx, `SELECT transport_id, message_uuid, type_code, author_key, received_at, classification, note
		FROM inbound_messages WHERE submission_id = ? ORDER BY received_at`, submissionID)
	if err != nil {
		return tr, err
	}
	for rows.Next() {
		var in TraceInbound
		var at int64
		if err := rows.Scan(&in.TransportID, &in.MessageUUID, &in.TypeCode, &in.AuthorKey, &at, &in.Classification, &in.Note); err != nil {
			rows.Close()
			return tr, err
		}
		in.ReceivedAt = fromMicros(at)
		tr.Inbound = append(tr.Inbound, in)
	}
	rows.Close()
	if tr.Events, err = s.Events(ctx, submissionID); err != nil {
		return tr, err
	}
	if dl, err := s.DeadLetter(ctx, submissionID); err == nil {
		tr.DeadLetter = &dl
	} else if !errors.Is(err, routing.ErrNotFound) {
		return tr, err
	}
	return tr, nil
}
