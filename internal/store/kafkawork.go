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

// workHeldMicros is jobs.next_at of a job held for the Kafka work topic
// (2^62 µs, far beyond any real due time): ClaimJobs never finds it due and
// NextJobAt never wakes a worker for it, so the database queue's workers
// leave it to the work topic's consumers (routing.OrderedWorker).
const workHeldMicros int64 = 1 << 62

// SetWorkTopic switches the intake to Kafka work distribution: every new
// submission's job is held for the work topic and an outbox row (work_outbox,
// migration 0017) is written in the same transaction, so a submission is
// published only once it is durable. Off (the default), jobs go to the
// database queue.
func (s *Store) SetWorkTopic(on bool) { s.workTopic.Store(on) }

func (s *Store) insertWorkJob(ctx context.Context, tx *sql.Tx, submissionID string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (submission_id, next_at, created_at) VALUES (?, ?, ?)`,
		submissionID, workHeldMicros, micros(at)); err != nil {
		return fmt.Errorf("insert job: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO work_outbox (submission_id, created_at) VALUES (?, ?)`,
		submissionID, micros(at)); err != nil {
		return fmt.Errorf("insert work outbox: %w", err)
	}
	return nil
}

// WorkItem is an accepted submission waiting to be published to the work
// topic, with the intake fields that determine its recipient.
type WorkItem struct {
	ID           int64 // outbox row, in commit order of causally ordered intakes
	SubmissionID string
	Tenant       string
	Service      string
	ReceivedAt   time.Time
}

// PendingWork returns up to limit unpublished work items, lowest outbox ID
// first. A submission accepted after another one's 202 has a higher ID, so
// publishing in this order keeps every recipient's acceptance order.
func (s *Store) PendingWork(ctx context.Context, limit int) ([]WorkItem, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT o.id, o.submission_id, s.tenant, s.service, s.received_at
		FROM work_outbox o JOIN submissions s ON s.id = o.submission_id ORDER BY o.id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending work: %w", err)
	}
	defer rows.Close()
	var out []WorkItem
	for rows.Next() {
		var w WorkItem
		var at int64
		if err := rows.Scan(&w.ID, &w.SubmissionID, &w.Tenant, &w.Service, &at); err != nil {
			return nil, fmt.Errorf("store: pending work: %w", err)
		}
		w.ReceivedAt = fromMicros(at)
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: pending work: %w", err)
	}
	return out, nil
}

// WorkPublished removes outbox rows whose records the brokers acknowledged.
func (s *Store) WorkPublished(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	if _, err := s.exec(ctx, `DELETE FROM work_outbox WHERE id IN (?`+strings.Repeat(",?", len(ids)-1)+`)`, args...); err != nil {
		return fmt.Errorf("store: work published: %w", err)
	}
	return nil
}

// ReleaseWorkTopic hands every job still held for the work topic to the
// database queue (due now) and empties the outbox: for a hub started with
// Kafka work distribution switched off after it was on. It returns how many
// jobs it released.
func (s *Store) ReleaseWorkTopic(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET next_at = ?, lease_owner = NULL, lease_until = NULL WHERE next_at = ?`,
			micros(now), workHeldMicros)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `DELETE FROM work_outbox`)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: release work topic jobs: %w", err)
	}
	return n, nil
}

// ClaimHeldJob leases a job held for the work topic to owner until
// now+lease, unless another owner's lease on it is still running. It
// returns whether owner holds it now and the job's state.
func (s *Store) ClaimHeldJob(ctx context.Context, submissionID, owner string, now time.Time, lease time.Duration) (bool, routing.JobState, error) {
	res, err := s.exec(ctx, `UPDATE jobs SET lease_owner = ?, lease_until = ?
		WHERE submission_id = ? AND next_at = ? AND (lease_until IS NULL OR lease_until <= ? OR lease_owner = ?)`,
		owner, micros(now.Add(lease)), submissionID, workHeldMicros, micros(now), owner)
	if err != nil {
		return false, routing.JobState{}, fmt.Errorf("store: claim held job: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, routing.JobState{}, fmt.Errorf("store: claim held job: %w", err)
	}
	st, err := s.JobState(ctx, submissionID)
	return n == 1 && st.Owner == owner, st, err
}

// JobState returns where a submission's job stands (Exists false: the
// pipeline has finished with the submission).
func (s *Store) JobState(ctx context.Context, submissionID string) (routing.JobState, error) {
	var next int64
	var owner sql.NullString
	var until sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT next_at, lease_owner, lease_until FROM jobs WHERE submission_id = ?`, submissionID).
		Scan(&next, &owner, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return routing.JobState{}, nil
	}
	if err != nil {
		return routing.JobState{}, fmt.Errorf("store: job state: %w", err)
	}
	st := routing.JobState{Exists: true, Held: next == workHeldMicros, Owner: owner.String}
	if !st.Held {
		st.NextAt = fromMicros(next)
	}
	if until.Valid {
		st.LeaseUntil = fromMicros(until.Int64)
	}
	return st, nil
}

// HoldJob takes back for the work topic a job the pipeline has just released
// for a later attempt (no lease, next_at = nextAt), leased to owner until
// leaseUntil. False: someone else changed the job first (a database queue
// worker claimed it, an operator acted).
func (s *Store) HoldJob(ctx context.Context, submissionID, owner string, nextAt, leaseUntil time.Time) (bool, error) {
	res, err := s.exec(ctx, `UPDATE jobs SET next_at = ?, lease_owner = ?, lease_until = ?
		WHERE submission_id = ? AND lease_owner IS NULL AND next_at = ?`,
		workHeldMicros, owner, micros(leaseUntil), submissionID, micros(nextAt))
	if err != nil {
		return false, fmt.Errorf("store: hold job: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UnleaseHeldJob gives up owner's lease on a held job (the partition moved
// to another consumer): the job stays held, and the new owner of the
// partition claims it at once instead of waiting for the lease to run out.
func (s *Store) UnleaseHeldJob(ctx context.Context, submissionID, owner string) error {
	if _, err := s.exec(ctx, `UPDATE jobs SET lease_owner = NULL, lease_until = NULL
		WHERE submission_id = ? AND lease_owner = ? AND next_at = ?`, submissionID, owner, workHeldMicros); err != nil {
		return fmt.Errorf("store: unlease held job: %w", err)
	}
	return nil
}

// pgWorkPublisherLock is the advisory lock key of the work outbox publisher
// ("dxwork" in ASCII).
const pgWorkPublisherLock int64 = 0x6478776f726b

// Leadership is this process's turn as the only work outbox publisher.
type Leadership struct {
	conn *sql.Conn // PostgreSQL: the session holding the advisory lock; nil on SQLite
}

// TryLeadWorkPublisher makes this process the work outbox's only publisher
// if no other process is (nil, nil if one is). On PostgreSQL it is a session
// advisory lock on a connection of its own, so it ends with the process or
// the connection; SQLite has a single process and always leads. Several
// publishers would be correct too (consumers skip duplicates), only wasteful.
func (s *Store) TryLeadWorkPublisher(ctx context.Context) (*Leadership, error) {
	if !s.pg() {
		return &Leadership{}, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: work publisher lock: %w", err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(?)`, pgWorkPublisherLock).Scan(&ok); err != nil {
		conn.Close()
		return nil, fmt.Errorf("store: work publisher lock: %w", err)
	}
	if !ok {
		conn.Close()
		return nil, nil
	}
	return &Leadership{conn: conn}, nil
}

// Alive checks that the lock is still held (its connection is up).
func (l *Leadership) Alive(ctx context.Context) error {
	if l.conn == nil {
		return nil
	}
	return l.conn.PingContext(ctx)
}

// Release gives the lead up.
func (l *Leadership) Release() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.conn.ExecContext(ctx, `SELECT pg_advisory_unlock(?)`, pgWorkPublisherLock)
	l.conn.Close()
}
