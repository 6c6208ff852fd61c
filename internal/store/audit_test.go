package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAuditChain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		if n, err := s.VerifyAudit(ctx); err != nil || n != 0 {
			t.Fatalf("empty log: %d %v", n, err)
		}
		at := time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC)
		for i, e := range []AuditEntry{
			{At: at, Actor: "operator alice", Action: "deadletter.retry", SubmissionID: "s1"},
			{At: at.Add(time.Second), Actor: "portal p1", Action: "submission.read", SubmissionID: "s1"},
			// A detail over the stored 2,000 bytes is cut before it is hashed,
			// so the entry still verifies.
			{At: at.Add(2 * time.Second), Actor: "operator bob", Action: "deadletter.drop", SubmissionID: "s2", Detail: "duplicate " + strings.Repeat("x", 3000)},
		} {
			if err := s.AppendAudit(ctx, e); err != nil {
				t.Fatalf("append %d: %v", i, err)
			}
		}
		entries, err := s.AuditEntries(ctx, 0)
		if err != nil || len(entries) != 3 || entries[0].PrevHash != genesisHash || entries[1].PrevHash != entries[0].Hash {
			t.Fatalf("entries = %+v %v", entries, err)
		}
		if n, err := s.VerifyAudit(ctx); err != nil || n != 3 {
			t.Fatalf("verify: %d %v", n, err)
		}
		for _, tc := range []struct {
			name, sql string
			id        int64
			want      string
		}{
			{"modified", `UPDATE audit_log SET actor = 'operator mallory' WHERE id = 2`, 2, "modified"},
			{"removed", `DELETE FROM audit_log WHERE id = 2`, 3, "entries are missing"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := s.db.ExecContext(ctx, tc.sql); err != nil {
					t.Fatal(err)
				}
				_, err := s.VerifyAudit(ctx)
				var te *AuditTamperError
				if !errors.As(err, &te) || te.ID != tc.id || !strings.Contains(te.Reason, tc.want) {
					t.Fatalf("verify after %s: %v, want entry %d %q", tc.name, err, tc.id, tc.want)
				}
			})
		}
	})
}
