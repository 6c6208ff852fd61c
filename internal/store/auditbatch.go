package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AppendAudits adds entries at the end of the chain in one transaction, in
// the order given: the same chain AppendAudit builds one entry at a time.
func (s *Store) AppendAudits(ctx context.Context, entries []AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error { return s.appendAuditsTx(ctx, tx, entries) })
}

// appendAuditsTx adds entries at the end of the chain inside tx: one
// chain-tail read, then the inserts. A caller that also writes other rows in
// tx (MailboxCloseAudited) makes the entries and those rows one commit.
func (s *Store) appendAuditsTx(ctx context.Context, tx *sql.Tx, entries []AuditEntry) error {
	if s.pg() {
		// the lock AppendAudit takes: one appender at a time across processes
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7265120)`); err != nil {
			return fmt.Errorf("store: audit lock: %w", err)
		}
	}
	var lastID sql.NullInt64
	var lastHash sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1`).Scan(&lastID, &lastHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: audit tail: %w", err)
	}
	id, prev := lastID.Int64, genesisHash
	if lastHash.Valid {
		prev = lastHash.String
	}
	for _, e := range entries {
		id++
		e.ID, e.PrevHash = id, prev
		e.At = e.At.UTC().Truncate(time.Microsecond)
		e.Detail = truncate(e.Detail, 2000)
		e.Hash = auditHash(e)
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (id, at, actor, action, submission_id, detail, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, micros(e.At), e.Actor, e.Action, e.SubmissionID, e.Detail,
			e.PrevHash, e.Hash); err != nil {
			return fmt.Errorf("store: append audit: %w", err)
		}
		prev = e.Hash
	}
	return nil
}

// AuditQuery filters AuditList. Empty fields match everything.
type AuditQuery struct {
	Actor        string // exact actor, or a prefix ending in "*" ("portal *")
	Action       string // exact action, or a prefix ending in "*" ("submission.*")
	SubmissionID string
	Limit        int // at most this many (the newest ones), 0: all
}

// AuditList lists the entries matching q, oldest first.
func (s *Store) AuditList(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	var (
		where []string
		args  []any
	)
	match := func(col, v string) {
		if v == "" {
			return
		}
		if p, ok := strings.CutSuffix(v, "*"); ok {
			// prefix match without LIKE's wildcards: substr compare
			where = append(where, "substr("+col+", 1, ?) = ?")
			args = append(args, len(p), p)
			return
		}
		where = append(where, col+" = ?")
		args = append(args, v)
	}
	match("actor", q.Actor)
	match("action", q.Action)
	if q.SubmissionID != "" {
		where = append(where, "submission_id = ?")
		args = append(args, q.SubmissionID)
	}
	sqlq := `SELECT ` + auditColumns + ` FROM audit_log`
	if len(where) > 0 {
		sqlq += " WHERE " + strings.Join(where, " AND ")
	}
	sqlq += " ORDER BY id DESC"
	if q.Limit > 0 {
		sqlq += " LIMIT " + strconv.Itoa(q.Limit)
	}
	out, err := s.queryAudit(ctx, sqlq, args...)
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// AuditRecorder appends data-access entries for many concurrent callers:
// whatever entries are waiting when it is free go into one transaction (one
// chain-tail read, one commit; on PostgreSQL one advisory lock) instead of
// one each. Record returns only after its entry is committed, so a caller
// that serves data after Record succeeded never serves it unaudited.
type AuditRecorder struct {
	s        *Store
	reqs     chan auditReq
	maxBatch int

	mu     sync.RWMutex
	closed bool
	once   sync.Once
	quit   chan struct{}
	done   chan struct{}
}

type auditReq struct {
	e    AuditEntry
	done chan error
}

// NewAuditRecorder starts a recorder committing at most maxBatch entries
// together (0: 128). Close it before closing the store.
func (s *Store) NewAuditRecorder(maxBatch int) *AuditRecorder {
	if maxBatch <= 0 {
		maxBatch = 128
	}
	r := &AuditRecorder{s: s, reqs: make(chan auditReq, maxBatch), maxBatch: maxBatch,
		quit: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r
}

// Record appends e and waits until it is committed. Once handed over the
// entry is committed even if ctx ends, so Record then still waits.
func (r *AuditRecorder) Record(ctx context.Context, e AuditEntry) error {
	q := auditReq{e: e, done: make(chan error, 1)}
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		return ErrClosed
	}
	select {
	case r.reqs <- q:
		r.mu.RUnlock()
	case <-ctx.Done():
		r.mu.RUnlock()
		return ctx.Err()
	}
	return <-q.done
}

// Close commits what was handed over and stops the recorder; later Records
// get ErrClosed.
func (r *AuditRecorder) Close() {
	r.once.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		close(r.quit)
		<-r.done
	})
}

func (r *AuditRecorder) loop() {
	defer close(r.done)
	for {
		var first auditReq
		select {
		case first = <-r.reqs:
		case <-r.quit:
			for {
				select {
				case q := <-r.reqs:
					r.commit([]auditReq{q})
				default:
					return
				}
			}
		}
		batch := []auditReq{first}
	fill:
		for len(batch) < r.maxBatch {
			select {
			case q := <-r.reqs:
				batch = append(batch, q)
			default:
				break fill
			}
		}
		r.commit(batch)
	}
}

func (r *AuditRecorder) commit(batch []auditReq) {
	entries := make([]AuditEntry, len(batch))
	for i, q := range batch {
		entries[i] = q.e
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := r.s.AppendAudits(ctx, entries)
	cancel()
	for _, q := range batch {
		q.done <- err
	}
}
