package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// AuditEntry is one administrative or data-access action: who did what,
// when, to which submission.
type AuditEntry struct {
	ID           int64     `json:"id"`
	At           time.Time `json:"at"`
	Actor        string    `json:"actor"`  // "operator alice", "portal demo-portal"
	Action       string    `json:"action"` // "deadletter.retry", "submission.read", …
	SubmissionID string    `json:"submissionId,omitempty"`
	Detail       string    `json:"detail,omitempty"`
	PrevHash     string    `json:"prevHash"`
	Hash         string    `json:"hash"`
}

// genesisHash is the prev_hash of the first entry.
const genesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// auditHash chains an entry to its predecessor. Every field is length-
// prefixed, so no two different entries hash alike by moving separators.
func auditHash(e AuditEntry) string {
	h := sha256.New()
	for _, f := range []string{e.PrevHash, strconv.FormatInt(e.ID, 10), strconv.FormatInt(e.At.UnixMicro(), 10),
		e.Actor, e.Action, e.SubmissionID, e.Detail} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AppendAudit adds an entry at the end of the chain (AppendAudits with one
// entry: the detail is truncated before it is hashed, so the stored entry
// verifies).
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) error {
	return s.AppendAudits(ctx, []AuditEntry{e})
}

// AuditEntries lists the log, oldest first (limit <= 0: all).
func (s *Store) AuditEntries(ctx context.Context, limit int) ([]AuditEntry, error) {
	q := `SELECT ` + auditColumns + ` FROM audit_log ORDER BY id`
	if limit > 0 {
		q += " LIMIT " + strconv.Itoa(limit)
	}
	return s.queryAudit(ctx, q)
}

// auditColumns are what queryAudit scans, in order.
const auditColumns = `id, at, actor, action, submission_id, detail, prev_hash, hash`

// queryAudit runs q, which selects auditColumns, and scans its rows.
func (s *Store) queryAudit(ctx context.Context, q string, args ...any) ([]AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.SubmissionID, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditTamperError names the first entry where the chain does not hold.
type AuditTamperError struct {
	ID     int64
	Reason string
}

func (e *AuditTamperError) Error() string {
	return fmt.Sprintf("audit log entry %d: %s", e.ID, e.Reason)
}

// VerifyAudit recomputes the chain and returns how many entries hold, or an
// *AuditTamperError at the first changed, inserted or removed entry.
func (s *Store) VerifyAudit(ctx context.Context) (int, error) {
	entries, err := s.AuditEntries(ctx, 0)
	if err != nil {
		return 0, err
	}
	prev, wantID := genesisHash, int64(1)
	for _, e := range entries {
		switch {
		case e.ID != wantID:
			return 0, &AuditTamperError{ID: e.ID, Reason: fmt.Sprintf("expected entry %d here: entries are missing", wantID)}
		case e.PrevHash != prev:
			return 0, &AuditTamperError{ID: e.ID, Reason: "does not chain to the entry before it"}
		case auditHash(e) != e.Hash:
			return 0, &AuditTamperError{ID: e.ID, Reason: "its content does not match its hash (modified)"}
		}
		prev, wantID = e.Hash, wantID+1
	}
	return len(entries), nil
}
