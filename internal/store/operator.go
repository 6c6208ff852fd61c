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
	return s.queryDeadLetters(ctx, q+` ORDER BY dl.created_at, dl.submission_id`)
}

// queryDeadLetters runs q, a deadLetterSelect with its conditions, and scans
// the rows.
func (s *Store) queryDeadLetters(ctx context.Context, q string, args ...any) ([]DeadLetter, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
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
		if err := s.openDeadLetter(ctx, tx, submissionID); err != nil {
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
		if err := s.openDeadLetter(ctx, tx, submissionID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dead_letters SET resolved_at = ?, resolution = ? WHERE submission_id = ?`,
			micros(now), truncate("dropped: "+why, 2000), submissionID); err != nil {
			return err
		}
		return s.insertEvent(ctx, tx, submissionID, routing.StatusEvent{Status: routing.StatusFailed, Time: now,
			Source: routing.SourceHub, Detail: "dead letter dropped by " + operator + ": " + why})
	})
	if err != nil && !errors.Is(err, ErrNotDeadLetter) && !errors.Is(err, routing.ErrNotFound) {
		err = fmt.Errorf("store: drop dead letter: %w", err)
	}
	return err
}

func (s *Store) openDeadLetter(ctx context.Context, tx *sql.Tx, submissionID string) error {
	if err := s.lockSubmission(ctx, tx, submissionID); err != nil {
		return err
	}
	var resolved sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT resolved_at FROM dead_letters WHERE submission_id = ?`+s.forUpdate(), submissionID).Scan(&resolved)
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
	Replays    []Replay              `json:"replays,omitempty"`
	// Remote are the IDs other servers gave the delivery: the MessageID a
	// remote XTA server issued (createMessageId) or the OSCI MessageId from
	// the intermediary, with their state and Laufzettel/report detail.
	Remote []TraceRemote `json:"remote,omitempty"`
	// PayloadPurge is set once retention purged the payloads (retention.go).
	PayloadPurge *PayloadPurge `json:"payloadPurge,omitempty"`
}

// TraceRemote is a delivery's identity at a remote XTA server or OSCI
// intermediary.
type TraceRemote struct {
	Transport string    `json:"transport"` // xta or osci
	ID        string    `json:"id"`
	Endpoint  string    `json:"endpoint"`
	State     string    `json:"state"`
	Detail    string    `json:"detail,omitempty"`
	Updated   time.Time `json:"updated"`
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
	if tr.PayloadPurge, err = s.PayloadPurgeOf(ctx, submissionID); err != nil {
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
	if tr.Replays, err = s.Replays(ctx, submissionID); err != nil {
		return tr, err
	}
	rows, err = s.db.QueryContext(ctx, `SELECT 'xta', remote_id, endpoint, state, report_detail, updated_at FROM xta_remote
		WHERE submission_id = ?
		UNION ALL SELECT 'osci', message_id, intermediary, state, detail, updated_at FROM osci_out WHERE submission_id = ?
		ORDER BY 6`, submissionID, submissionID)
	if err != nil {
		return tr, err
	}
	defer rows.Close()
	for rows.Next() {
		var r TraceRemote
		var at int64
		if err := rows.Scan(&r.Transport, &r.ID, &r.Endpoint, &r.State, &r.Detail, &at); err != nil {
			return tr, err
		}
		r.Updated = fromMicros(at)
		tr.Remote = append(tr.Remote, r)
	}
	return tr, rows.Err()
}

// ErrNotReplayable is returned for a submission a replay cannot act on.
var ErrNotReplayable = errors.New("not replayable")

// ErrBusy is returned when a pipeline worker holds the submission right now.
var ErrBusy = errors.New("a worker is processing the submission right now; try again")

// ReplayRequest files a new outbound message for a stored submission
// (dxhub replay). Message carries a new nachrichtenUUID; Seq is the replay's
// number (NextReplaySeq), which also derives that UUID.
type ReplayRequest struct {
	SubmissionID   string
	Seq            int
	Message        routing.Message
	ProfileVersion string
	Reason         string
	Operator       string
	Now            time.Time
}

// Replay is one recorded replay.
type Replay struct {
	Seq                 int            `json:"seq"`
	MessageUUID         string         `json:"nachrichtenUUID"`
	PreviousMessageUUID string         `json:"previousNachrichtenUUID,omitempty"`
	PreviousTransportID string         `json:"previousTransportId,omitempty"`
	PreviousStatus      routing.Status `json:"previousStatus"`
	ProfileVersion      string         `json:"profileVersion,omitempty"`
	Reason              string         `json:"reason"`
	Operator            string         `json:"operator"`
	EventID             int64          `json:"eventId"`
	Created             time.Time      `json:"created"`
	// Superseded is the delivery the replay replaced (nil if there was none).
	Superseded *SupersededDelivery `json:"superseded,omitempty"`
}

// SupersededDelivery is a delivery as it was when a replay replaced it.
type SupersededDelivery struct {
	TransportID string    `json:"transportId"`
	ReaderKey   string    `json:"reader"`
	Transport   string    `json:"transport"`
	Endpoint    string    `json:"endpoint,omitempty"`
	State       string    `json:"state"`
	Attempts    []Attempt `json:"attempts"`
	DeliveredAt time.Time `json:"deliveredAt,omitzero"`
	FetchedAt   time.Time `json:"fetchedAt,omitzero"`
}

// CurrentOutbound returns the submission's current outbound message: the one
// its delivery carries, else the newest mapped one.
func (s *Store) CurrentOutbound(ctx context.Context, submissionID string) (routing.Message, error) {
	if d, err := s.GetDelivery(ctx, submissionID); err == nil {
		return s.MessageByUUID(ctx, d.MessageUUID)
	} else if !errors.Is(err, routing.ErrNotFound) {
		return routing.Message{}, err
	}
	return s.OutboundMessage(ctx, submissionID)
}

// NextReplaySeq returns the number the next replay of a submission gets.
func (s *Store) NextReplaySeq(ctx context.Context, submissionID string) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) + 1 FROM replays WHERE submission_id = ?`,
		submissionID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: next replay: %w", err)
	}
	return n, nil
}

// Replay commits a replay in one transaction: the new outbound message, the
// superseded delivery and its attempts moved to the superseded_* tables (the
// old message leaves the built-in mailbox; a remote XTA transport report
// for it is no longer polled), an open dead letter resolved as replayed, the
// submission set back to validated with a status event naming the reason
// and the previous message, and its job due now: the pipeline then routes
// the new message under a new transport ID and delivers it.
func (s *Store) Replay(ctx context.Context, r ReplayRequest) (Replay, error) {
	rp := Replay{Seq: r.Seq, MessageUUID: r.Message.UUID, ProfileVersion: r.ProfileVersion, Reason: r.Reason,
		Operator: r.Operator, Created: r.Now}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM submissions WHERE id = ?`+s.forUpdate(), r.SubmissionID).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("submission %s: %w", r.SubmissionID, routing.ErrNotFound)
		}
		if err != nil {
			return err
		}
		rp.PreviousStatus = routing.Status(status)
		if rp.PreviousStatus == routing.StatusReceived {
			return fmt.Errorf("%s is not mapped yet (the pipeline maps it with the current profile): %w", r.SubmissionID, ErrNotReplayable)
		}
		var leaseUntil sql.NullInt64
		err = tx.QueryRowContext(ctx, `SELECT lease_until FROM jobs WHERE submission_id = ?`, r.SubmissionID).Scan(&leaseUntil)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if leaseUntil.Valid && leaseUntil.Int64 > micros(r.Now) {
			return fmt.Errorf("%s: %w", r.SubmissionID, ErrBusy)
		}
		var next int
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) + 1 FROM replays WHERE submission_id = ?`,
			r.SubmissionID).Scan(&next); err != nil {
			return err
		}
		if next != r.Seq {
			return fmt.Errorf("replay %d of %s was filed meanwhile (next is %d): %w", r.Seq, r.SubmissionID, next, routing.ErrStale)
		}
		// The previous message: the delivered one, else the newest mapped one.
		var deliveryID sql.NullInt64
		err = tx.QueryRowContext(ctx, `SELECT id, message_uuid, transport_id FROM deliveries WHERE submission_id = ?`,
			r.SubmissionID).Scan(&deliveryID, &rp.PreviousMessageUUID, &rp.PreviousTransportID)
		if errors.Is(err, sql.ErrNoRows) {
			err = tx.QueryRowContext(ctx, `SELECT uuid FROM messages WHERE submission_id = ? AND direction = 'out'
				ORDER BY created_at DESC, rowid DESC LIMIT 1`, r.SubmissionID).Scan(&rp.PreviousMessageUUID)
			if errors.Is(err, sql.ErrNoRows) {
				err = nil
			}
		}
		if err != nil {
			return err
		}
		atts, err := json.Marshal(r.Message.Attachments)
		if err != nil {
			return err
		}
		m := r.Message
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages
			(uuid, submission_id, direction, standard, version, type_code, root_element, namespace, service, xml, attachments,
			application_reference, created_at)
			VALUES (?, ?, 'out', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.UUID, r.SubmissionID, m.Standard, m.Version, m.TypeCode, m.RootElement, m.Namespace, m.Service, m.XML,
			string(atts), normalizeReference(m.ApplicationReference), micros(r.Now)); err != nil {
			return fmt.Errorf("save message %s: %w", m.UUID, err)
		}
		detail := fmt.Sprintf("replay %d by %s: %s; new message %s", r.Seq, r.Operator, r.Reason, m.UUID)
		if r.ProfileVersion != "" {
			detail += " (profile version " + r.ProfileVersion + ")"
		}
		if rp.PreviousMessageUUID != "" {
			detail += " supersedes " + rp.PreviousMessageUUID
			if rp.PreviousTransportID != "" {
				detail += " (" + rp.PreviousTransportID + ")"
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE submissions SET status = ?, updated_at = ?, retry_base_at = ? WHERE id = ?`,
			string(routing.StatusValidated), micros(r.Now), micros(r.Now), r.SubmissionID); err != nil {
			return err
		}
		if err := s.insertEvent(ctx, tx, r.SubmissionID, routing.StatusEvent{Status: routing.StatusValidated, Time: r.Now,
			Source: routing.SourceHub, Detail: detail, Evidence: m.UUID}); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT max(id) FROM status_events WHERE submission_id = ?`, r.SubmissionID).Scan(&rp.EventID); err != nil {
			return err
		}
		insert := `INSERT INTO replays (submission_id, seq, message_uuid, previous_message_uuid,
			previous_transport_id, previous_status, profile_version, reason, operator, event_id, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		args := []any{r.SubmissionID, r.Seq, m.UUID, rp.PreviousMessageUUID,
			rp.PreviousTransportID, status, r.ProfileVersion, truncate(r.Reason, 2000), r.Operator, rp.EventID, micros(r.Now)}
		var replayID int64
		if s.pg() { // pgx has no LastInsertId
			err = tx.QueryRowContext(ctx, insert+` RETURNING id`, args...).Scan(&replayID)
		} else {
			var res sql.Result
			if res, err = tx.ExecContext(ctx, insert, args...); err == nil {
				replayID, err = res.LastInsertId()
			}
		}
		if err != nil {
			return fmt.Errorf("insert replay: %w", err)
		}
		if deliveryID.Valid {
			// The replay ID is a bare parameter in a select list: PostgreSQL
			// needs its type spelt out (SQLite takes the value as it is).
			replayParam := "?"
			if s.pg() {
				replayParam = "CAST(? AS BIGINT)"
			}
			for _, q := range []string{
				`INSERT INTO superseded_deliveries (replay_id, delivery_id, submission_id, message_uuid, transport_id, reader_key,
					service_uri, transport, endpoint, state, attempts, last_error, created_at, delivered_at, fetched_at)
					SELECT ` + replayParam + `, id, submission_id, message_uuid, transport_id, reader_key, service_uri, transport, endpoint, state,
					attempts, last_error, created_at, delivered_at, fetched_at FROM deliveries WHERE id = ?`,
				`INSERT INTO superseded_attempts (replay_id, number, started_at, finished_at, outcome, reason)
					SELECT ` + replayParam + `, number, started_at, finished_at, outcome, reason FROM attempts WHERE delivery_id = ? ORDER BY id`,
			} {
				if _, err := tx.ExecContext(ctx, q, replayID, deliveryID.Int64); err != nil {
					return fmt.Errorf("archive superseded delivery: %w", err)
				}
			}
			for _, q := range []string{`DELETE FROM attempts WHERE delivery_id = ?`, `DELETE FROM deliveries WHERE id = ?`} {
				if _, err := tx.ExecContext(ctx, q, deliveryID.Int64); err != nil {
					return fmt.Errorf("remove superseded delivery: %w", err)
				}
			}
			// A remote XTA server's transport report for the old message no
			// longer decides this submission's status.
			if _, err := tx.ExecContext(ctx, `UPDATE xta_remote SET state = 'final', report_detail = ?, updated_at = ?
				WHERE transport_id = ? AND state <> 'final'`, "superseded by replay "+m.UUID, micros(r.Now),
				rp.PreviousTransportID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dead_letters SET resolved_at = ?, resolution = ?
			WHERE submission_id = ? AND resolved_at IS NULL`, micros(r.Now), "replayed as "+m.UUID, r.SubmissionID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO jobs (submission_id, next_at, created_at) VALUES (?, ?, ?)
			ON CONFLICT (submission_id) DO UPDATE SET next_at = excluded.next_at, lease_owner = NULL, lease_until = NULL`,
			r.SubmissionID, micros(r.Now), micros(r.Now))
		return err
	})
	if err != nil && !errors.Is(err, routing.ErrNotFound) && !errors.Is(err, ErrNotReplayable) && !errors.Is(err, ErrBusy) &&
		!errors.Is(err, routing.ErrStale) {
		err = fmt.Errorf("store: replay: %w", err)
	}
	return rp, err
}

// Replays lists a submission's replays, oldest first, each with the delivery
// it superseded.
func (s *Store) Replays(ctx context.Context, submissionID string) ([]Replay, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT r.id, r.seq, r.message_uuid, r.previous_message_uuid, r.previous_transport_id,
		r.previous_status, r.profile_version, r.reason, r.operator, r.event_id, r.created_at,
		d.transport_id, d.reader_key, d.transport, d.endpoint, d.state, d.delivered_at, d.fetched_at
		FROM replays r LEFT JOIN superseded_deliveries d ON d.replay_id = r.id
		WHERE r.submission_id = ? ORDER BY r.seq`, submissionID)
	if err != nil {
		return nil, fmt.Errorf("store: replays: %w", err)
	}
	var out []Replay
	var ids []int64
	for rows.Next() {
		var (
			rp                         Replay
			id, created                int64
			status                     string
			tid, reader, tr, ep, state sql.NullString
			deliveredAt, fetchedAt     sql.NullInt64
		)
		if err := rows.Scan(&id, &rp.Seq, &rp.MessageUUID, &rp.PreviousMessageUUID, &rp.PreviousTransportID, &status,
			&rp.ProfileVersion, &rp.Reason, &rp.Operator, &rp.EventID, &created, &tid, &reader, &tr, &ep, &state,
			&deliveredAt, &fetchedAt); err != nil {
			rows.Close()
			return nil, err
		}
		rp.PreviousStatus, rp.Created = routing.Status(status), fromMicros(created)
		if tid.Valid {
			rp.Superseded = &SupersededDelivery{TransportID: tid.String, ReaderKey: reader.String, Transport: tr.String,
				Endpoint: ep.String, State: state.String, DeliveredAt: nullMicros(deliveredAt), FetchedAt: nullMicros(fetchedAt),
				Attempts: []Attempt{}}
		}
		out = append(out, rp)
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, err
	}
	rows.Close()
	for i, rp := range out {
		if rp.Superseded == nil {
			continue
		}
		arows, err := s.db.QueryContext(ctx, `SELECT number, started_at, finished_at, outcome, reason FROM superseded_attempts
			WHERE replay_id = ? ORDER BY rowid`, ids[i])
		if err != nil {
			return nil, fmt.Errorf("store: superseded attempts: %w", err)
		}
		for arows.Next() {
			var a Attempt
			var st, fin int64
			if err := arows.Scan(&a.Number, &st, &fin, &a.Outcome, &a.Reason); err != nil {
				arows.Close()
				return nil, err
			}
			a.Started, a.Finished = fromMicros(st), fromMicros(fin)
			rp.Superseded.Attempts = append(rp.Superseded.Attempts, a)
		}
		arows.Close()
	}
	return out, nil
}
