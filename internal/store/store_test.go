package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func newSub(id string) routing.NewSubmission {
	return routing.NewSubmission{Submission: routing.Submission{
		ID: id, PortalID: "p1", Tenant: "05315000", Service: "universeller-antrag", Reference: "ref-" + id,
		Applicant: routing.Applicant{Name: "Erika Mustermann", Mailbox: "mb-1"},
		Form:      []byte(`{"a":1}`), ReceivedAt: t0,
		Attachments: []routing.Attachment{{ID: id + "-a1", Filename: "plan.pdf", ContentType: "application/pdf",
			Size: 3, SHA256: "abc", BlobKey: "abc"}},
	}}
}

func TestMigrateTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	for i := 0; i < 2; i++ {
		s, err := OpenSQLite(context.Background(), path, Options{Synchronous: "normal"})
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.SchemaVersion(context.Background())
		if want := latestMigration(t); err != nil || v != want {
			t.Fatalf("version = %d, %v; want %d", v, err, want)
		}
		s.Close()
	}
	if _, err := OpenSQLite(context.Background(), path, Options{Synchronous: "off"}); err == nil {
		t.Fatal("synchronous=off accepted")
	}
}

// TestMigrateConcurrently: processes starting at once on one database all
// come up at the latest version (SQLite's write lock, PostgreSQL's advisory
// lock), and a reopen applies nothing twice.
func TestMigrateConcurrently(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		const n = 4
		stores := make([]*Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { stores[i], errs[i] = db.openErr() })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("store %d: %v", i, errs[i])
			}
			defer stores[i].Close()
			v, err := stores[i].SchemaVersion(context.Background())
			if want := latestMigration(t); err != nil || v != want {
				t.Fatalf("store %d: version = %d, %v; want %d", i, v, err, want)
			}
		}
		var rows int
		// One row per migration file (numbers are assigned per branch, so
		// there may be gaps).
		files, _ := fs.Glob(migrations, "migrations/*.sql")
		if err := stores[0].db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != len(files) {
			t.Fatalf("schema_migrations rows = %d, %v; want %d", rows, err, len(files))
		}
	})
}

// TestPostgresMigrationsMirrorSQLite: every SQLite migration has its
// PostgreSQL twin under the same number and name.
func TestPostgresMigrationsMirrorSQLite(t *testing.T) {
	lite, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := fs.Glob(migrationsPG, "migrations_pg/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, p := range pg {
		have[strings.TrimPrefix(p, "migrations_pg/")] = true
	}
	for _, l := range lite {
		if base := strings.TrimPrefix(l, "migrations/"); !have[base] {
			t.Errorf("SQLite migration %s has no PostgreSQL twin migrations_pg/%s", base, base)
		}
	}
	if len(pg) != len(lite) {
		t.Errorf("%d PostgreSQL migrations for %d SQLite ones", len(pg), len(lite))
	}
}

func TestCreateSubmissionIdempotency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		ns := newSub("s1")
		ns.IdempotencyKey, ns.BodyHash = "k1", "h1"
		sub, created, err := s.CreateSubmission(ctx, ns)
		if err != nil || !created || sub.Status != routing.StatusReceived {
			t.Fatalf("create = %+v %v %v", sub, created, err)
		}
		// Replay: same key and hash → the original, not a new one.
		replay := newSub("s2")
		replay.IdempotencyKey, replay.BodyHash = "k1", "h1"
		got, created, err := s.CreateSubmission(ctx, replay)
		if err != nil || created || got.ID != "s1" {
			t.Fatalf("replay = %s %v %v", got.ID, created, err)
		}
		// Conflict: same key, other body.
		conflict := newSub("s3")
		conflict.IdempotencyKey, conflict.BodyHash = "k1", "other"
		if _, _, err := s.CreateSubmission(ctx, conflict); !errors.Is(err, routing.ErrIdempotencyConflict) {
			t.Fatalf("conflict err = %v", err)
		}
		// The same key from another portal is independent.
		other := newSub("s4")
		other.PortalID, other.IdempotencyKey, other.BodyHash = "p2", "k1", "other"
		if _, created, err := s.CreateSubmission(ctx, other); err != nil || !created {
			t.Fatalf("other portal: %v %v", created, err)
		}
		if _, err := s.GetSubmission(ctx, "s2"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("replayed submission was stored: %v", err)
		}
		full, err := s.GetSubmission(ctx, "s1")
		if err != nil || len(full.Attachments) != 1 || full.Applicant.Name != "Erika Mustermann" || string(full.Form) != `{"a":1}` {
			t.Fatalf("get = %+v, %v", full, err)
		}
		evs, _ := s.Events(ctx, "s1")
		if len(evs) != 1 || evs[0].Status != routing.StatusReceived {
			t.Fatalf("events = %+v", evs)
		}
		if ref, _ := s.BlobReferenced(ctx, "abc"); !ref {
			t.Fatal("blob not referenced")
		}
	})
}

func TestClaimLeaseExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		for i := range 3 {
			if _, _, err := s.CreateSubmission(ctx, newSub(fmt.Sprint("s", i))); err != nil {
				t.Fatal(err)
			}
		}
		a, err := s.ClaimJobs(ctx, "A", t0, time.Minute, 2)
		if err != nil || len(a) != 2 {
			t.Fatalf("A claimed %v, %v", a, err)
		}
		b, _ := s.ClaimJobs(ctx, "B", t0, time.Minute, 10)
		if len(b) != 1 {
			t.Fatalf("B claimed %v while A holds leases", b)
		}
		// A "crashes": after the lease, its jobs are claimable again.
		c, _ := s.ClaimJobs(ctx, "C", t0.Add(30*time.Second), time.Minute, 10)
		if len(c) != 0 {
			t.Fatalf("C claimed %v before the leases ran out", c)
		}
		c, _ = s.ClaimJobs(ctx, "C", t0.Add(61*time.Second), time.Minute, 10)
		if len(c) != 3 {
			t.Fatalf("C claimed %v after the leases ran out, want all 3", c)
		}
		// Release with a later due time.
		if err := s.ReleaseJob(ctx, c[0], "C", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		next, _ := s.NextJobAt(ctx)
		if !next.Equal(t0.Add(121 * time.Second)) {
			t.Fatalf("next = %v", next)
		}
	})
}

func deliverToMailbox(t testing.TB, s *Store, id string) routing.Delivery {
	t.Helper()
	ctx := context.Background()
	msg := routing.Message{SubmissionID: id, UUID: "uuid-" + id, Standard: "XBau-Kernmodul", Version: "1.3.0", TypeCode: "1200",
		RootElement: "universellerAntrag.antrag.1200", Namespace: "ns", Service: "urn:s", XML: []byte("<x/>")}
	ev := routing.StatusEvent{Status: routing.StatusValidated, Time: t0, Source: routing.SourceHub}
	if err := s.SaveMapped(ctx, msg, ev); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveMapped(ctx, msg, ev); err != nil { // a re-run after a crash is harmless
		t.Fatal(err)
	}
	d := routing.Delivery{SubmissionID: id, MessageUUID: msg.UUID, TransportID: "urn:de:xta:messageid:dxhub:" + id,
		Route:         routing.Route{ReaderKey: "ags:05315000", ServiceURI: "urn:s", Transport: routing.TransportXTAMailbox},
		NextAttemptAt: t0, CreatedAt: t0}
	if err := s.SaveRoute(ctx, d, routing.StatusEvent{Status: routing.StatusRouted, Time: t0, Source: routing.SourceHub}); err != nil {
		t.Fatal(err)
	}
	d, err := s.GetDelivery(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ev = routing.StatusEvent{Status: routing.StatusDelivered, Time: t0, Source: routing.SourceHub}
	if err := s.RecordAttempt(ctx, routing.AttemptResult{Delivery: d, Number: 1, Started: t0, Finished: t0,
		Outcome: routing.Outcome{Kind: routing.Delivered}, Done: true, Event: &ev}); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMailboxCycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		s.CreateSubmission(ctx, newSub("s1"))
		s.CreateSubmission(ctx, newSub("s2"))
		d1 := deliverToMailbox(t, s, "s1")
		deliverToMailbox(t, s, "s2")

		items, total, err := s.MailboxList(ctx, "ags:05315000", 1)
		if err != nil || total != 2 || len(items) != 1 || items[0].SubmissionID != "s1" {
			t.Fatalf("list = %+v %d %v", items, total, err)
		}
		if items, total, _ := s.MailboxList(ctx, "ags:05314000", 10); total != 0 || len(items) != 0 {
			t.Fatal("another reader sees the mailbox")
		}
		it, err := s.MailboxGet(ctx, "ags:05315000", d1.TransportID)
		if err != nil || string(it.Message.XML) != "<x/>" || len(it.Attachments) != 1 {
			t.Fatalf("get = %+v %v", it, err)
		}
		if _, err := s.MailboxGet(ctx, "ags:05314000", d1.TransportID); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("foreign get err = %v", err)
		}
		closed, err := s.MailboxClose(ctx, "ags:05315000", d1.TransportID, t0.Add(time.Minute))
		if err != nil || !closed {
			t.Fatalf("close = %v %v", closed, err)
		}
		closed, err = s.MailboxClose(ctx, "ags:05315000", d1.TransportID, t0.Add(2*time.Minute))
		if err != nil || closed {
			t.Fatalf("second close = %v %v", closed, err)
		}
		if _, err := s.MailboxClose(ctx, "ags:05315000", "urn:unknown", t0); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("close unknown err = %v", err)
		}
		sub, _ := s.GetSubmission(ctx, "s1")
		if sub.Status != routing.StatusFetched {
			t.Fatalf("status = %s", sub.Status)
		}
		evs, _ := s.Events(ctx, "s1")
		var fetched int
		for _, e := range evs {
			if e.Status == routing.StatusFetched {
				fetched++
			}
		}
		if fetched != 1 {
			t.Fatalf("fetched events = %d", fetched)
		}
		if _, total, _ := s.MailboxList(ctx, "ags:05315000", 10); total != 1 {
			t.Fatalf("pending after close = %d", total)
		}
	})
}

func TestStatusDoesNotMoveBackwards(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		s.CreateSubmission(ctx, newSub("s1"))
		for _, st := range []routing.Status{routing.StatusInProgress, routing.StatusAcknowledged, routing.StatusDecided, routing.StatusRejected} {
			if err := s.AppendEvent(ctx, "s1", routing.StatusEvent{Status: st, Time: t0, Source: routing.SourceXOEV}); err != nil {
				t.Fatal(err)
			}
		}
		sub, _ := s.GetSubmission(ctx, "s1")
		if sub.Status != routing.StatusDecided {
			t.Fatalf("status = %s, want decided", sub.Status)
		}
		evs, _ := s.Events(ctx, "s1")
		if len(evs) != 5 {
			t.Fatalf("history has %d events, want 5 (late events are kept)", len(evs))
		}
		if err := s.AppendEvent(ctx, "s1", routing.StatusEvent{Status: "bogus", Time: t0}); err == nil {
			t.Fatal("invalid status accepted")
		}
	})
}

func TestInboundDedupeAndPostfach(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		s.CreateSubmission(ctx, newSub("s1"))
		deliverToMailbox(t, s, "s1")
		if id, err := s.SubmissionByMessageUUID(ctx, "UUID-S1"); err != nil || id != "s1" {
			t.Fatalf("correlate = %q %v", id, err)
		}
		rec := routing.InboundRecord{TransportID: "urn:in:1", Transport: routing.TransportXTAMailbox, ReceivedAt: t0,
			SubmissionID: "s1", Payload: []byte("<r/>")}
		ev := []routing.StatusEvent{{Status: routing.StatusAcknowledged, Time: t0, Source: routing.SourceXOEV}}
		if err := s.ReceiveInbound(ctx, rec, ev); err != nil {
			t.Fatal(err)
		}
		if err := s.ReceiveInbound(ctx, rec, ev); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("duplicate err = %v", err)
		}
		evs, _ := s.Events(ctx, "s1")
		if n := countStatus(evs, routing.StatusAcknowledged); n != 1 {
			t.Fatalf("acknowledged events = %d", n)
		}

		pending, err := s.PendingNotifications(ctx, []routing.Status{routing.StatusReceived, routing.StatusAcknowledged}, 10)
		if err != nil || len(pending) != 2 || pending[0].Submission.Applicant.Mailbox != "mb-1" {
			t.Fatalf("pending = %+v %v", pending, err)
		}
		for i := 0; i < 2; i++ { // delivering twice stores once
			if err := s.PostfachDeliver(ctx, PostfachMessage{Handle: "mb-1", EventID: pending[0].Event.ID, SubmissionID: "s1",
				Status: routing.StatusReceived, Title: "t", Body: "b", Created: t0}); err != nil {
				t.Fatal(err)
			}
		}
		msgs, _ := s.PostfachMessages(ctx, "mb-1", "p1")
		if other, _ := s.PostfachMessages(ctx, "mb-1", "p2"); len(other) != 0 {
			t.Fatalf("portal p2 sees p1's postfach messages: %+v", other)
		}
		if len(msgs) != 1 {
			t.Fatalf("postfach = %+v", msgs)
		}
		pending, _ = s.PendingNotifications(ctx, []routing.Status{routing.StatusReceived, routing.StatusAcknowledged}, 10)
		if len(pending) != 1 || pending[0].Event.Status != routing.StatusAcknowledged {
			t.Fatalf("pending after delivery = %+v", pending)
		}
	})
}

func TestRecordAttemptRetryAndDead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		s.CreateSubmission(ctx, newSub("s1"))
		msg := routing.Message{SubmissionID: "s1", UUID: "u1", Standard: "x", Version: "1", TypeCode: "1", RootElement: "r", Namespace: "n", Service: "s", XML: []byte("<x/>")}
		s.SaveMapped(ctx, msg, routing.StatusEvent{Status: routing.StatusValidated, Time: t0, Source: routing.SourceHub})
		s.SaveRoute(ctx, routing.Delivery{SubmissionID: "s1", MessageUUID: "u1", TransportID: "t1",
			Route: routing.Route{ReaderKey: "ags:1", ServiceURI: "s", Transport: routing.TransportXTA, Endpoint: "http://x"}},
			routing.StatusEvent{Status: routing.StatusRouted, Time: t0, Source: routing.SourceHub})
		d, _ := s.GetDelivery(ctx, "s1")
		next := t0.Add(time.Minute)
		if err := s.RecordAttempt(ctx, routing.AttemptResult{Delivery: d, Number: 1, Started: t0, Finished: t0,
			Outcome: routing.Outcome{Kind: routing.Retry, Reason: "503"}, NextAttemptAt: next}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.NextJobAt(ctx); !got.Equal(next) {
			t.Fatalf("job due %v, want %v", got, next)
		}
		d, _ = s.GetDelivery(ctx, "s1")
		ev := routing.StatusEvent{Status: routing.StatusFailed, Time: next, Source: routing.SourceHub, Detail: "gave up"}
		if err := s.RecordAttempt(ctx, routing.AttemptResult{Delivery: d, Number: 2, Started: next, Finished: next,
			Outcome: routing.Outcome{Kind: routing.Permanent, Reason: "9050"}, Dead: true, Event: &ev}); err != nil {
			t.Fatal(err)
		}
		atts, _ := s.Attempts(ctx, "s1")
		if len(atts) != 2 || atts[0].Outcome != "retry" || atts[1].Outcome != "permanent" {
			t.Fatalf("attempts = %+v", atts)
		}
		if got, _ := s.NextJobAt(ctx); !got.IsZero() {
			t.Fatalf("job still queued at %v", got)
		}
		sub, _ := s.GetSubmission(ctx, "s1")
		if sub.Status != routing.StatusFailed {
			t.Fatalf("status = %s", sub.Status)
		}
	})
}

func countStatus(evs []routing.StatusEvent, st routing.Status) int {
	n := 0
	for _, e := range evs {
		if e.Status == st {
			n++
		}
	}
	return n
}

func TestDeadLetterRetryAndDrop(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		for _, id := range []string{"s1", "s2"} {
			s.CreateSubmission(ctx, newSub(id))
			msg := routing.Message{SubmissionID: id, UUID: "u-" + id, Standard: "x", Version: "1", TypeCode: "1", RootElement: "r", Namespace: "n", Service: "s", XML: []byte("<x/>")}
			s.SaveMapped(ctx, msg, routing.StatusEvent{Status: routing.StatusValidated, Time: t0, Source: routing.SourceHub})
			s.SaveRoute(ctx, routing.Delivery{SubmissionID: id, MessageUUID: msg.UUID, TransportID: "t-" + id,
				Route: routing.Route{ReaderKey: "ags:1", ServiceURI: "s", Transport: routing.TransportXTA, Endpoint: "http://x"}},
				routing.StatusEvent{Status: routing.StatusRouted, Time: t0, Source: routing.SourceHub})
			d, _ := s.GetDelivery(ctx, id)
			ev := routing.StatusEvent{Status: routing.StatusFailed, Time: t0, Source: routing.SourceHub}
			if err := s.RecordAttempt(ctx, routing.AttemptResult{Delivery: d, Number: 1, Started: t0, Finished: t0,
				Outcome: routing.Outcome{Kind: routing.Permanent, Reason: "9012 account missing"}, Dead: true, Event: &ev}); err != nil {
				t.Fatal(err)
			}
		}
		dls, err := s.DeadLetters(ctx, false)
		if err != nil || len(dls) != 2 || dls[0].Reason != "9012 account missing" || dls[0].TransportID != "t-s1" {
			t.Fatalf("dead letters = %+v %v", dls, err)
		}
		later := t0.Add(time.Hour)
		resume, err := s.RetryDeadLetter(ctx, "s1", "ops", later)
		if err != nil || resume != routing.StatusRouted {
			t.Fatalf("retry = %s %v", resume, err)
		}
		if _, err := s.RetryDeadLetter(ctx, "s1", "ops", later); !errors.Is(err, ErrNotDeadLetter) {
			t.Fatalf("second retry err = %v", err)
		}
		sub, _ := s.GetSubmission(ctx, "s1")
		d, _ := s.GetDelivery(ctx, "s1")
		if sub.Status != routing.StatusRouted || !sub.RetryBase.Equal(later) || d.Attempts != 0 || d.TransportID != "t-s1" {
			t.Fatalf("after retry: %+v %+v", sub, d)
		}
		if ids, _ := s.ClaimJobs(ctx, "w", later, time.Minute, 10); len(ids) != 1 || ids[0] != "s1" {
			t.Fatalf("job not requeued: %v", ids)
		}
		if err := s.DropDeadLetter(ctx, "s2", "ops", "authority merged", later); err != nil {
			t.Fatal(err)
		}
		if err := s.DropDeadLetter(ctx, "nope", "ops", "x", later); !errors.Is(err, ErrNotDeadLetter) {
			t.Fatalf("drop unknown err = %v", err)
		}
		if open, _ := s.DeadLetters(ctx, false); len(open) != 0 {
			t.Fatalf("open dead letters = %+v", open)
		}
		all, _ := s.DeadLetters(ctx, true)
		if len(all) != 2 || all[1].Resolution != "dropped: authority merged" {
			t.Fatalf("all = %+v", all)
		}
		tr, err := s.Trace(ctx, "s1")
		if err != nil || len(tr.Messages) != 1 || tr.Delivery == nil || len(tr.Attempts) != 1 || tr.DeadLetter == nil {
			t.Fatalf("trace = %+v %v", tr, err)
		}
	})
}

// Two workers that both held the job (the first one's lease ran out while it
// delivered) must not both record the attempt: the second commit is stale.
func TestRecordAttemptFencing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		s.CreateSubmission(ctx, newSub("s1"))
		d := deliverToMailbox(t, s, "s1") // attempt 1 recorded, as seen before it
		ev := routing.StatusEvent{Status: routing.StatusDelivered, Time: t0, Source: routing.SourceHub}
		err := s.RecordAttempt(ctx, routing.AttemptResult{Delivery: d, Number: 1, Started: t0, Finished: t0,
			Outcome: routing.Outcome{Kind: routing.Delivered}, Done: true, Event: &ev})
		if !errors.Is(err, routing.ErrStale) {
			t.Fatalf("second record of attempt 1: err = %v, want ErrStale", err)
		}
		evs, _ := s.Events(ctx, "s1")
		if n := countStatus(evs, routing.StatusDelivered); n != 1 {
			t.Fatalf("%d delivered events, want 1", n)
		}
		if atts, _ := s.Attempts(ctx, "s1"); len(atts) != 1 {
			t.Fatalf("attempts = %+v, want 1", atts)
		}
		// Terminating a submission whose job is already gone is stale too.
		err = s.Terminate(ctx, "s1", routing.StatusEvent{Status: routing.StatusFailed, Time: t0, Source: routing.SourceHub}, "x")
		if !errors.Is(err, routing.ErrStale) {
			t.Fatalf("terminate after finish: err = %v, want ErrStale", err)
		}
		if evs2, _ := s.Events(ctx, "s1"); len(evs2) != len(evs) {
			t.Fatalf("terminate added events: %d → %d", len(evs), len(evs2))
		}
	})
}

func TestRenewLease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		s.CreateSubmission(ctx, newSub("s1"))
		if ids, _ := s.ClaimJobs(ctx, "A", t0, time.Second, 10); len(ids) != 1 {
			t.Fatalf("A claimed %v", ids)
		}
		if ok, err := s.RenewLease(ctx, "s1", "A", t0.Add(time.Minute)); !ok || err != nil {
			t.Fatalf("A renews: %v %v", ok, err)
		}
		// The renewed lease holds past the original one.
		if ids, _ := s.ClaimJobs(ctx, "B", t0.Add(2*time.Second), time.Second, 10); len(ids) != 0 {
			t.Fatalf("B claimed %v during A's renewed lease", ids)
		}
		if ids, _ := s.ClaimJobs(ctx, "B", t0.Add(2*time.Minute), time.Second, 10); len(ids) != 1 {
			t.Fatalf("B claimed %v after A's lease ran out", ids)
		}
		if ok, _ := s.RenewLease(ctx, "s1", "A", t0.Add(3*time.Minute)); ok {
			t.Fatal("A renewed a lease B holds")
		}
	})
}
