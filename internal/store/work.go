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

// ClaimJobs leases up to limit due jobs to owner until now+lease. A job whose
// lease ran out (its worker crashed) is due again and is claimed by the next
// caller, so no accepted submission is left behind.
func (s *Store) ClaimJobs(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]string, error) {
	var ids []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q := `UPDATE jobs SET lease_owner = ?, lease_until = ?
			WHERE submission_id IN (
				SELECT submission_id FROM jobs
				WHERE next_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
				ORDER BY next_at LIMIT ?)
			RETURNING submission_id`
		if s.pg() {
			// Concurrent claimers (other processes) skip the rows another
			// one has locked instead of waiting for it and claiming nothing;
			// the lease keeps a job with a crashed owner claimable later.
			q = `UPDATE jobs SET lease_owner = ?, lease_until = ?
			WHERE submission_id IN (
				SELECT submission_id FROM jobs
				WHERE next_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
				ORDER BY next_at LIMIT ?
				FOR UPDATE SKIP LOCKED)
			RETURNING submission_id`
		}
		rows, err := tx.QueryContext(ctx, q, owner, micros(now.Add(lease)), micros(now), micros(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim jobs: %w", err)
	}
	return ids, nil
}

// NextJobAt returns the earliest time a job becomes due (zero if none), so the
// worker can sleep exactly that long.
func (s *Store) NextJobAt(ctx context.Context) (time.Time, error) {
	// Two index lookups instead of a scan of the whole queue: the earliest
	// unleased job (jobs_due), and among the few leased ones (jobs_leased)
	// the earliest to become due again.
	q := `SELECT min(t) FROM (
		SELECT min(next_at) AS t FROM jobs WHERE lease_until IS NULL
		UNION ALL
		SELECT min(max(next_at, lease_until)) FROM jobs WHERE lease_until IS NOT NULL)`
	if s.pg() { // scalar max is GREATEST; a subquery needs an alias
		q = `SELECT min(t) FROM (
		SELECT min(next_at) AS t FROM jobs WHERE lease_until IS NULL
		UNION ALL
		SELECT min(GREATEST(next_at, lease_until)) FROM jobs WHERE lease_until IS NOT NULL) AS due`
	}
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, q).Scan(&v)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: next job: %w", err)
	}
	return nullMicros(v), nil
}

// ReleaseJob gives up the lease and sets when the job is due next.
func (s *Store) ReleaseJob(ctx context.Context, submissionID, owner string, next time.Time) error {
	_, err := s.exec(ctx, `UPDATE jobs SET next_at = ?, lease_owner = NULL, lease_until = NULL
		WHERE submission_id = ? AND lease_owner = ?`, micros(next), submissionID, owner)
	if err != nil {
		return fmt.Errorf("store: release job: %w", err)
	}
	return nil
}

// RenewLease extends owner's lease on a job; false means the lease is no
// longer owner's (it ran out and another worker claimed the job).
func (s *Store) RenewLease(ctx context.Context, submissionID, owner string, until time.Time) (bool, error) {
	res, err := s.exec(ctx, `UPDATE jobs SET lease_until = ? WHERE submission_id = ? AND lease_owner = ?`,
		micros(until), submissionID, owner)
	if err != nil {
		return false, fmt.Errorf("store: renew lease: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FinishJob removes a submission's job (nothing left to do for the pipeline).
func (s *Store) FinishJob(ctx context.Context, submissionID string) error {
	if _, err := s.exec(ctx, `DELETE FROM jobs WHERE submission_id = ?`, submissionID); err != nil {
		return fmt.Errorf("store: finish job: %w", err)
	}
	return nil
}

// SaveMapped stores the outbound XÖV message and moves the submission to
// validated, in one transaction. Saving the same message again (a crash between
// commit and the worker's next step) is a no-op.
func (s *Store) SaveMapped(ctx context.Context, msg routing.Message, ev routing.StatusEvent) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.saveMapped(ctx, tx, msg, ev) })
}

// saveMapped stores an outbound message and its event in tx, once: a second
// save of the same nachrichtenUUID does nothing.
func (s *Store) saveMapped(ctx context.Context, tx *sql.Tx, msg routing.Message, ev routing.StatusEvent) error {
	_, err := s.insertMapped(ctx, tx, msg, ev)
	return err
}

// insertMapped is saveMapped reporting whether it saved the message (false:
// it was saved before, nothing written).
func (s *Store) insertMapped(ctx context.Context, tx *sql.Tx, msg routing.Message, ev routing.StatusEvent) (bool, error) {
	atts, err := json.Marshal(msg.Attachments)
	if err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO messages
		(uuid, submission_id, direction, standard, version, type_code, root_element, namespace, service, xml, attachments,
		application_reference, created_at)
		VALUES (?, ?, 'out', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uuid) DO NOTHING`,
		msg.UUID, msg.SubmissionID, msg.Standard, msg.Version, msg.TypeCode, msg.RootElement, msg.Namespace,
		msg.Service, msg.XML, string(atts), normalizeReference(msg.ApplicationReference), micros(ev.Time))
	if err != nil {
		return false, fmt.Errorf("store: save message: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	return true, s.insertEvent(ctx, tx, msg.SubmissionID, ev)
}

// OutboundMessage returns the mapped message of a submission; after a replay
// (dxhub replay) the newest one.
func (s *Store) OutboundMessage(ctx context.Context, submissionID string) (routing.Message, error) {
	return s.message(ctx, `WHERE submission_id = ? AND direction = 'out'`, submissionID)
}

// MessageByUUID returns any stored message by its nachrichtenUUID.
func (s *Store) MessageByUUID(ctx context.Context, uuid string) (routing.Message, error) {
	return s.message(ctx, `WHERE uuid = ?`, uuid)
}

func (s *Store) message(ctx context.Context, where string, arg any) (routing.Message, error) {
	var m routing.Message
	var sub sql.NullString
	var atts string
	err := s.db.QueryRowContext(ctx, `SELECT uuid, submission_id, standard, version, type_code, root_element, namespace, service, xml,
		attachments, application_reference FROM messages `+where+` ORDER BY created_at DESC, rowid DESC LIMIT 1`, arg).Scan(&m.UUID, &sub,
		&m.Standard, &m.Version, &m.TypeCode, &m.RootElement, &m.Namespace, &m.Service, &m.XML, &atts, &m.ApplicationReference)
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("message: %w", routing.ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("store: message: %w", err)
	}
	m.SubmissionID = sub.String
	if err := json.Unmarshal([]byte(atts), &m.Attachments); err != nil {
		return m, fmt.Errorf("store: message %s attachments: %w", m.UUID, err)
	}
	return m, nil
}

// Terminate ends a submission's pipeline work with a terminal event (rejected
// when mapping or validation failed, failed when no route could be found in
// time) and removes its job. A non-empty deadLetter reason also files it as a
// dead letter for the operator.
func (s *Store) Terminate(ctx context.Context, submissionID string, ev routing.StatusEvent, deadLetter string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.insertEvent(ctx, tx, submissionID, ev); err != nil {
			return err
		}
		if deadLetter != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO dead_letters (submission_id, reason, created_at) VALUES (?, ?, ?)
				ON CONFLICT (submission_id) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at`,
				submissionID, truncate(deadLetter, 2000), micros(ev.Time)); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE submission_id = ?`, submissionID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			// Another worker has already ended this submission's pipeline work.
			return fmt.Errorf("store: terminate %s: %w", submissionID, routing.ErrStale)
		}
		return nil
	})
}

// SaveRoute creates the delivery with its fixed transport ID and moves the
// submission to routed.
func (s *Store) SaveRoute(ctx context.Context, d routing.Delivery, ev routing.StatusEvent) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := s.saveRoute(ctx, tx, d, ev)
		return err
	})
}

// saveRoute is SaveRoute inside tx and returns the new delivery's ID; 0 if
// the submission has a delivery already (nothing written).
func (s *Store) saveRoute(ctx context.Context, tx *sql.Tx, d routing.Delivery, ev routing.StatusEvent) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO deliveries
		(submission_id, message_uuid, transport_id, reader_key, service_uri, transport, endpoint, route_source,
		 state, attempts, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (submission_id) DO NOTHING RETURNING id`,
		d.SubmissionID, d.MessageUUID, d.TransportID, d.Route.ReaderKey, d.Route.ServiceURI, string(d.Route.Transport),
		d.Route.Endpoint, d.Route.Source, micros(d.NextAttemptAt), micros(d.CreatedAt)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: save route: %w", err)
	}
	return id, s.insertEvent(ctx, tx, d.SubmissionID, ev)
}

// GetDelivery returns the delivery of a submission.
func (s *Store) GetDelivery(ctx context.Context, submissionID string) (routing.Delivery, error) {
	var (
		d             routing.Delivery
		transport     string
		next, created int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT id, submission_id, message_uuid, transport_id, reader_key, service_uri, transport,
		endpoint, route_source, attempts, next_attempt_at, created_at FROM deliveries WHERE submission_id = ?`, submissionID).Scan(
		&d.ID, &d.SubmissionID, &d.MessageUUID, &d.TransportID, &d.Route.ReaderKey, &d.Route.ServiceURI, &transport,
		&d.Route.Endpoint, &d.Route.Source, &d.Attempts, &next, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("delivery of %s: %w", submissionID, routing.ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("store: get delivery: %w", err)
	}
	d.Route.Transport = routing.TransportKind(transport)
	d.NextAttemptAt, d.CreatedAt = fromMicros(next), fromMicros(created)
	return d, nil
}

// RecordAttempt commits one attempt, its consequence for the delivery and job,
// and the status event, in one transaction.
func (s *Store) RecordAttempt(ctx context.Context, r routing.AttemptResult) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.lockSubmission(ctx, tx, r.Delivery.SubmissionID); err != nil {
			return fmt.Errorf("store: record attempt: %w", err)
		}
		return s.recordAttempt(ctx, tx, r)
	})
}

// recordAttempt is RecordAttempt inside tx, after the submission's lock.
func (s *Store) recordAttempt(ctx context.Context, tx *sql.Tx, r routing.AttemptResult) error {
	d := r.Delivery
	reason := truncate(r.Outcome.Reason, 2000)
	// Fencing: the attempt counts only if the delivery is still where this
	// worker found it (pending, r.Number-1 attempts). A worker whose lease
	// ran out mid-attempt finds the delivery advanced by its successor and
	// must not record it twice. The fence is the WHERE of the one UPDATE
	// that also records the attempt's consequence.
	const fence = ` WHERE id = ? AND state = 'pending' AND attempts = ?`
	var res sql.Result
	var err error
	switch {
	case r.Done:
		res, err = tx.ExecContext(ctx, `UPDATE deliveries SET state = 'delivered', attempts = ?, delivered_at = ?, last_error = ''`+fence,
			r.Number, micros(r.Finished), d.ID, r.Number-1)
	case r.Dead:
		res, err = tx.ExecContext(ctx, `UPDATE deliveries SET state = 'dead', attempts = ?, last_error = ?`+fence,
			r.Number, reason, d.ID, r.Number-1)
	default:
		res, err = tx.ExecContext(ctx, `UPDATE deliveries SET attempts = ?, next_attempt_at = ?, last_error = ?`+fence,
			r.Number, micros(r.NextAttemptAt), reason, d.ID, r.Number-1)
	}
	if err != nil {
		return fmt.Errorf("store: record attempt: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: attempt %d of delivery %s: %w", r.Number, d.TransportID, routing.ErrStale)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO attempts (delivery_id, number, started_at, finished_at, outcome, reason)
		VALUES (?, ?, ?, ?, ?, ?)`, d.ID, r.Number, micros(r.Started), micros(r.Finished), r.Outcome.Kind.String(),
		reason); err != nil {
		return fmt.Errorf("insert attempt: %w", err)
	}
	switch {
	case r.Done:
		_, err = tx.ExecContext(ctx, `DELETE FROM jobs WHERE submission_id = ?`, d.SubmissionID)
	case r.Dead:
		_, err = tx.ExecContext(ctx, `INSERT INTO dead_letters (submission_id, reason, created_at) VALUES (?, ?, ?)
			ON CONFLICT (submission_id) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at`,
			d.SubmissionID, reason, micros(r.Finished))
		if err == nil {
			_, err = tx.ExecContext(ctx, `DELETE FROM jobs WHERE submission_id = ?`, d.SubmissionID)
		}
	default:
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET next_at = ?, lease_owner = NULL, lease_until = NULL WHERE submission_id = ?`,
			micros(r.NextAttemptAt), d.SubmissionID)
	}
	if err != nil {
		return fmt.Errorf("store: record attempt: %w", err)
	}
	if r.Event != nil {
		return s.insertEvent(ctx, tx, d.SubmissionID, *r.Event)
	}
	return nil
}

// Attempt is one recorded transport attempt.
type Attempt struct {
	Number   int
	Started  time.Time
	Finished time.Time
	Outcome  string
	Reason   string
}

// Attempts lists the attempts of a submission's delivery.
func (s *Store) Attempts(ctx context.Context, submissionID string) ([]Attempt, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT a.number, a.started_at, a.finished_at, a.outcome, a.reason
		FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.submission_id = ? ORDER BY a.id`, submissionID)
	if err != nil {
		return nil, fmt.Errorf("store: attempts: %w", err)
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var a Attempt
		var st, fin int64
		if err := rows.Scan(&a.Number, &st, &fin, &a.Outcome, &a.Reason); err != nil {
			return nil, err
		}
		a.Started, a.Finished = fromMicros(st), fromMicros(fin)
		out = append(out, a)
	}
	return out, rows.Err()
}
