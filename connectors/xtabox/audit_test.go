package xtabox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dxhub/dxhub/connectors/xtabox"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xta"
)

// refusingAuditStore is the real store whose audited close fails as if the
// audit insert had failed (the store test proves the rollback itself).
type refusingAuditStore struct{ *store.Store }

var errAuditDown = errors.New("audit log unavailable")

func (s refusingAuditStore) MailboxCloseAudited(context.Context, string, string, time.Time, func(string) store.AuditEntry) (bool, error) {
	return false, errAuditDown
}

// plainStore hides MailboxCloseAudited and MailboxSubmissionID: a store
// that can do neither.
type plainStore struct{ xtabox.Store }

// TestCloseAudit: a close is audited with its submission, in the close's own
// transaction when AuditEntry is set, through AuditAccess otherwise; a close
// whose audit cannot be written is answered with fault 9030.
func TestCloseAudit(t *testing.T) {
	ctx := context.Background()
	xml, _ := sample1200(t)
	entry := func(a xtabox.Access) store.AuditEntry {
		return store.AuditEntry{At: t0, Actor: "fachverfahren " + a.Reader, Action: a.Action, SubmissionID: a.SubmissionID,
			Detail: a.MessageID}
	}
	for _, tc := range []struct {
		name     string
		inTx     bool
		wrap     func(*store.Store) xtabox.Store
		wantSubs string // submission of the close entry
	}{
		{"in the close's transaction", true, func(s *store.Store) xtabox.Store { return s }, "s1"},
		{"through AuditAccess", false, func(s *store.Store) xtabox.Store { return s }, "s1"},
		{"through AuditAccess, store without lookup", false, func(s *store.Store) xtabox.Store { return plainStore{s} }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			d := e.route("s1", "11111111-1111-4111-8111-111111111111", koeln, xml)
			e.attempt(d, 1, routing.Outcome{Kind: routing.Delivered})
			var recorded []xtabox.Access
			e.box.Store = tc.wrap(e.st)
			e.box.AuditAccess = func(ctx context.Context, a xtabox.Access) error {
				recorded = append(recorded, a)
				return e.st.AppendAudit(ctx, entry(a))
			}
			if tc.inTx {
				e.box.AuditEntry = entry
			}
			if err := e.client(koeln).Close(ctx, "", d.TransportID); err != nil {
				t.Fatal(err)
			}
			if tc.inTx != (len(recorded) == 0) {
				t.Fatalf("AuditAccess calls = %+v (in tx: %v)", recorded, tc.inTx)
			}
			entries, err := e.st.AuditList(ctx, store.AuditQuery{Action: "xta.close"})
			if err != nil || len(entries) != 1 || entries[0].SubmissionID != tc.wantSubs || entries[0].Detail != d.TransportID ||
				entries[0].Actor != "fachverfahren "+koeln {
				t.Fatalf("close entries = %+v %v", entries, err)
			}
			if n, err := e.st.VerifyAudit(ctx); err != nil || n != 1 {
				t.Fatalf("verify = %d %v", n, err)
			}
		})
	}

	t.Run("refused audit", func(t *testing.T) {
		for _, inTx := range []bool{true, false} {
			e := newEnv(t)
			d := e.route("s1", "11111111-1111-4111-8111-111111111111", koeln, xml)
			e.attempt(d, 1, routing.Outcome{Kind: routing.Delivered})
			e.box.Store = refusingAuditStore{e.st}
			e.box.AuditAccess = func(context.Context, xtabox.Access) error { return errAuditDown }
			if inTx {
				e.box.AuditEntry = entry
			}
			err := e.client(koeln).Close(ctx, "", d.TransportID)
			var f *xta.Fault
			if !errors.As(err, &f) || f.Code != xta.CodeInternalError {
				t.Fatalf("in tx %v: close with the audit log down = %v, want fault 9030", inTx, err)
			}
			if n, err := e.st.VerifyAudit(ctx); err != nil || n != 0 {
				t.Fatalf("verify = %d %v", n, err)
			}
		}
	})
}
