package store

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// TestMailboxCloseAudited: the close and its access-audit entry are one
// transaction on every backend. The entry names the submission the close
// resolved, repeated closes are audited, unknown messages are not, the chain
// interleaves with AppendAudits and verifies; when the audit insert fails the
// close is rolled back with it.
func TestMailboxCloseAudited(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		const reader = "ags:05315000"
		for _, id := range []string{"s1", "s2"} {
			if _, _, err := s.CreateSubmission(ctx, newSub(id)); err != nil {
				t.Fatal(err)
			}
			deliverToMailbox(t, s, id)
		}
		entry := func(tid string) func(string) AuditEntry {
			return func(sub string) AuditEntry {
				return AuditEntry{At: t0, Actor: "fachverfahren " + reader, Action: "xta.close", SubmissionID: sub, Detail: "message " + tid}
			}
		}
		tid1, tid2 := "urn:de:xta:messageid:dxhub:s1", "urn:de:xta:messageid:dxhub:s2"

		if err := s.AppendAudit(ctx, AuditEntry{At: t0, Actor: "operator alice", Action: "login"}); err != nil {
			t.Fatal(err)
		}
		closed, err := s.MailboxCloseAudited(ctx, reader, strings.ToUpper(tid1), t0.Add(time.Minute), entry(tid1))
		if err != nil || !closed {
			t.Fatalf("close = %v %v", closed, err)
		}
		if closed, err := s.MailboxCloseAudited(ctx, reader, tid1, t0.Add(2*time.Minute), entry(tid1)); err != nil || closed {
			t.Fatalf("second close = %v %v", closed, err)
		}
		if _, err := s.MailboxCloseAudited(ctx, reader, "urn:unknown", t0, entry("urn:unknown")); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("unknown close: %v", err)
		}
		if _, err := s.MailboxCloseAudited(ctx, "ags:other", tid2, t0, entry(tid2)); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("another reader's close: %v", err)
		}
		entries, err := s.AuditList(ctx, AuditQuery{Action: "xta.close"})
		if err != nil || len(entries) != 2 {
			t.Fatalf("close entries = %+v %v", entries, err)
		}
		for _, e := range entries {
			if e.SubmissionID != "s1" || e.Detail != "message "+tid1 {
				t.Fatalf("entry = %+v", e)
			}
		}
		if n, err := s.VerifyAudit(ctx); err != nil || n != 3 {
			t.Fatalf("verify = %d %v", n, err)
		}
		if sub, err := s.GetSubmission(ctx, "s1"); err != nil || sub.Status != routing.StatusFetched {
			t.Fatalf("s1 = %s %v", sub.Status, err)
		}

		// The audit log refuses the entry: the close must not commit.
		refuse := map[Dialect][]string{
			DialectSQLite: {`CREATE TRIGGER audit_refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END`},
			DialectPostgres: {`CREATE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$`,
				`CREATE TRIGGER audit_refuse BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_refuse()`},
		}[s.Dialect()]
		if len(refuse) == 0 {
			t.Fatalf("no trigger for dialect %s", s.Dialect())
		}
		for _, q := range refuse {
			if _, err := s.exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.MailboxCloseAudited(ctx, reader, tid2, t0.Add(time.Minute), entry(tid2)); err == nil ||
			!strings.Contains(err.Error(), "audit refused") {
			t.Fatalf("close with a failing audit: %v", err)
		}
		unfetched := false
		items, _, err := s.MailboxQuery(ctx, reader, MailboxQuery{Fetched: &unfetched, Limit: 10})
		if err != nil || len(items) != 1 || items[0].TransportID != tid2 {
			t.Fatalf("s2 must stay unfetched: %+v %v", items, err)
		}
		if sub, err := s.GetSubmission(ctx, "s2"); err != nil || sub.Status != routing.StatusDelivered {
			t.Fatalf("s2 = %s %v", sub.Status, err)
		}
	})
}

// TestMailboxQuerySizesOnly: a status-list page without the attachment rows
// carries the same attachment total as one with them, on every backend.
func TestMailboxQuerySizesOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		for _, id := range []string{"s1", "s2"} {
			ns := newSub(id)
			if id == "s2" {
				ns.Attachments = append(ns.Attachments, routing.Attachment{ID: id + "-a2", Filename: `Bauvorlage "Süd"\1.pdf`,
					ContentType: "application/pdf", Size: 40, SHA256: "def", BlobKey: "def"})
			}
			if _, _, err := s.CreateSubmission(ctx, ns); err != nil {
				t.Fatal(err)
			}
			deliverToMailbox(t, s, id)
		}
		full, _, err := s.MailboxQuery(ctx, "ags:05315000", MailboxQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		sizes, rest, err := s.MailboxQuery(ctx, "ags:05315000", MailboxQuery{Limit: 10, SizesOnly: true})
		if err != nil || len(sizes) != 2 || len(full) != 2 || rest != 0 {
			t.Fatalf("pages = %d / %d, rest %d, %v", len(full), len(sizes), rest, err)
		}
		for i, want := range []int64{3, 43} {
			var sum int64
			for _, a := range full[i].Attachments {
				sum += a.Size
			}
			if sum != want || full[i].AttachmentBytes != want || sizes[i].AttachmentBytes != want || sizes[i].Attachments != nil {
				t.Fatalf("item %d: full %d/%d, sizes only %d %+v; want %d", i, sum, full[i].AttachmentBytes,
					sizes[i].AttachmentBytes, sizes[i].Attachments, want)
			}
		}
		// MailboxGet brings the same attachment rows, in order, in one statement
		for i, want := range full {
			it, err := s.MailboxGet(ctx, "ags:05315000", want.TransportID)
			if err != nil || it.AttachmentBytes != want.AttachmentBytes || !reflect.DeepEqual(it.Attachments, want.Attachments) {
				t.Fatalf("get %d = %+v (%d) %v, want %+v", i, it.Attachments, it.AttachmentBytes, err, want.Attachments)
			}
		}
		if it, err := s.MailboxGet(ctx, "ags:05315000", full[1].TransportID); err != nil || len(it.Attachments) != 2 ||
			it.Attachments[1].Filename != `Bauvorlage "Süd"\1.pdf` || it.Attachments[1].Size != 40 {
			t.Fatalf("get = %+v %v", it.Attachments, err)
		}
	})
}
