package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dxhub/dxhub/connectors/xtabox"
	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

// The pipeline's cost per submission in write transactions (each one a
// turn of the single group-commit writer, an fsync when alone) and reads
// (each one re-reads pages after a commit on SQLite). These tests pin the
// counts for one submission through the real pipeline and store, so a
// change that adds a commit or a read back to the critical path shows up.

// stepsClock stands still, so two runs record the same times.
type stepsClock struct{}

func (stepsClock) Now() time.Time { return time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC) }

type stepsMapper struct{}

func (stepsMapper) Map(_ context.Context, in routing.MapInput) (routing.Message, error) {
	return routing.Message{UUID: "uuid-" + in.Submission.ID, Standard: "XBau-Kernmodul", Version: "1.3.0", TypeCode: "1200",
		RootElement: "universellerAntrag.antrag.1200", Namespace: "urn:test", XML: []byte("<antrag reader='" + in.ReaderKey + "'/>")}, nil
}

// remoteTransport stands for a remote XTA/OSCI transport: it records
// whether the delivery it was handed was committed, exactly as handed (the
// transport ID durable before the send, the same times on every attempt).
type remoteTransport struct {
	st      *store.Store
	durable bool
	seenID  int64
}

func (r *remoteTransport) Deliver(ctx context.Context, d routing.Delivery, _ routing.Message, _ routing.Submission) routing.Outcome {
	got, err := r.st.GetDelivery(ctx, d.SubmissionID)
	// The delivery as committed; the route carries what the resolver
	// returned besides (certificates, when resolved), which is not stored.
	stored := d
	stored.Route = routing.Route{ReaderKey: d.Route.ReaderKey, ServiceURI: d.Route.ServiceURI, Transport: d.Route.Transport,
		Endpoint: d.Route.Endpoint, Source: d.Route.Source}
	r.durable = err == nil && got == stored
	r.seenID = d.ID
	return routing.Outcome{Kind: routing.Delivered, Status: routing.StatusSent, Evidence: "report-1"}
}

// countingStore counts the pipeline's reads. withSteps false hides the
// store's StepCommitter (the step-by-step path of a store without it).
type countingStore struct {
	*store.Store
	reads atomic.Int64
}

func (c *countingStore) GetSubmission(ctx context.Context, id string) (routing.Submission, error) {
	c.reads.Add(1)
	return c.Store.GetSubmission(ctx, id)
}

func (c *countingStore) GetSubmissionHead(ctx context.Context, id string) (routing.Submission, error) {
	c.reads.Add(1)
	return c.Store.GetSubmissionHead(ctx, id)
}

func (c *countingStore) OutboundMessage(ctx context.Context, id string) (routing.Message, error) {
	c.reads.Add(1)
	return c.Store.OutboundMessage(ctx, id)
}

func (c *countingStore) GetDelivery(ctx context.Context, id string) (routing.Delivery, error) {
	c.reads.Add(1)
	return c.Store.GetDelivery(ctx, id)
}

// stepByStep is a routing.Store without StepCommitter.
type stepByStep struct{ routing.Store }

func (s stepByStep) GetSubmissionHead(ctx context.Context, id string) (routing.Submission, error) {
	return s.Store.(*countingStore).GetSubmissionHead(ctx, id)
}

type stepsEnv struct {
	st     *store.Store
	counts *countingStore
	p      *routing.Pipeline
	remote *remoteTransport
}

func newStepsEnv(t *testing.T, transport routing.TransportKind, withSteps bool) *stepsEnv {
	return newStepsEnvTB(t, transport, withSteps)
}

func newStepsEnvTB(t testing.TB, transport routing.TransportKind, withSteps bool) *stepsEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir, err := dvdv.NewFileDirectory("test", []dvdv.Entry{{ReaderKey: "ags:05315000", ServiceURI: "urn:svc",
		Transport: string(transport), URL: map[bool]string{true: "", false: "https://fv.example/xta"}[transport == routing.TransportXTAMailbox]}})
	if err != nil {
		t.Fatal(err)
	}
	clock := stepsClock{}
	e := &stepsEnv{st: st, counts: &countingStore{Store: st}, remote: &remoteTransport{st: st}}
	var ps routing.Store = e.counts
	if !withSteps {
		ps = stepByStep{e.counts}
	}
	mailbox := &xtabox.Mailbox{Store: st, Accounts: []string{"ags:05315000"}, AuthorKey: "kop:0500000001", Clock: clock}
	e.p, err = routing.NewPipeline(routing.PipelineConfig{
		Store: ps, Mapper: stepsMapper{}, Resolver: dir,
		Transports: map[routing.TransportKind]routing.Transport{routing.TransportXTAMailbox: mailbox, routing.TransportXTA: e.remote},
		Tenants:    map[string]routing.Tenant{"05315000": {AGS: "05315000", Name: "Stadt Köln", DVDVKey: "ags:05315000"}},
		Services:   map[string]routing.Service{"universeller-antrag": {ID: "universeller-antrag", ServiceURI: "urn:svc"}},
		AuthorKey:  "kop:0500000001", Clock: clock, Lease: time.Minute, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// process submits one submission, claims it and runs Process on it; it
// returns the write transactions and reads Process cost.
func (e *stepsEnv) process(t *testing.T, id string) (writes, reads int64) {
	t.Helper()
	ctx := context.Background()
	e.submitAndClaim(t, id)
	w0, _ := e.st.WriteStats()
	e.counts.reads.Store(0)
	if err := e.p.Process(ctx, id, "w"); err != nil {
		t.Fatal(err)
	}
	w1, _ := e.st.WriteStats()
	return w1 - w0, e.counts.reads.Load()
}

// submitAndClaim creates a submission and claims its job for owner "w".
func (e *stepsEnv) submitAndClaim(t testing.TB, id string) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := e.st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{
		ID: id, PortalID: "p", Tenant: "05315000", Service: "universeller-antrag", Reference: "r",
		Applicant: routing.Applicant{Name: "A"}, Form: []byte(`{"a":1}`), ReceivedAt: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
	}}); err != nil {
		t.Fatal(err)
	}
	ids, err := e.st.ClaimJobs(ctx, "w", time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), time.Hour, 1)
	if err != nil || len(ids) != 1 {
		t.Fatalf("claim = %v, %v", ids, err)
	}
}

func (e *stepsEnv) history(t *testing.T, id string) string {
	t.Helper()
	evs, err := e.st.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	s := ""
	for _, ev := range evs {
		s += fmt.Sprintf("%s|%s|%s|%s\n", ev.Status, ev.Source, ev.Detail, ev.Evidence)
	}
	return s
}

func TestPipelineWritesPerSubmission(t *testing.T) {
	for _, tc := range []struct {
		name       string
		transport  routing.TransportKind
		withSteps  bool
		writes     int64
		reads      int64
		lastStatus routing.Status
	}{
		// Before the steps were committed together (the step-by-step rows):
		// 3 write transactions (SaveMapped, SaveRoute, RecordAttempt) and 6
		// reads (9 queries): the submission after every commit, the message
		// twice, the delivery.
		{"mailbox", routing.TransportXTAMailbox, true, 1, 1, routing.StatusDelivered},
		{"remote XTA", routing.TransportXTA, true, 2, 1, routing.StatusSent},
		{"mailbox step by step", routing.TransportXTAMailbox, false, 3, 6, routing.StatusDelivered},
		{"remote XTA step by step", routing.TransportXTA, false, 3, 6, routing.StatusSent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newStepsEnv(t, tc.transport, tc.withSteps)
			writes, reads := e.process(t, "s1")
			if writes != tc.writes || reads != tc.reads {
				t.Errorf("Process cost %d write transactions and %d reads; want %d and %d", writes, reads, tc.writes, tc.reads)
			}
			sub, err := e.st.GetSubmission(context.Background(), "s1")
			if err != nil || sub.Status != tc.lastStatus {
				t.Fatalf("status = %q, %v; want %s", sub.Status, err, tc.lastStatus)
			}
			if st, err := e.st.JobState(context.Background(), "s1"); err != nil || st.Exists {
				t.Fatalf("job after delivery = %+v, %v; want none", st, err)
			}
			if tc.transport == routing.TransportXTA {
				if !e.remote.durable || e.remote.seenID == 0 {
					t.Fatalf("remote delivery ran with a transport ID that was not committed (durable %v, id %d)", e.remote.durable, e.remote.seenID)
				}
			}
		})
	}
}

// TestPipelineStepsSameHistory: committing the steps together leaves
// exactly the history, delivery and mailbox state of one commit per step.
func TestPipelineStepsSameHistory(t *testing.T) {
	for _, tr := range []routing.TransportKind{routing.TransportXTAMailbox, routing.TransportXTA} {
		t.Run(string(tr), func(t *testing.T) {
			together, alone := newStepsEnv(t, tr, true), newStepsEnv(t, tr, false)
			together.process(t, "s1")
			alone.process(t, "s1")
			if a, b := together.history(t, "s1"), alone.history(t, "s1"); a != b {
				t.Fatalf("history committed together:\n%s\nstep by step:\n%s", a, b)
			}
			ctx := context.Background()
			da, err1 := together.st.GetDelivery(ctx, "s1")
			db, err2 := alone.st.GetDelivery(ctx, "s1")
			if err1 != nil || err2 != nil || da != db {
				t.Fatalf("delivery together %+v (%v), step by step %+v (%v)", da, err1, db, err2)
			}
			aa, _ := together.st.Attempts(ctx, "s1")
			ab, _ := alone.st.Attempts(ctx, "s1")
			if fmt.Sprint(aa) != fmt.Sprint(ab) || len(aa) != 1 {
				t.Fatalf("attempts together %+v, step by step %+v", aa, ab)
			}
			if tr == routing.TransportXTAMailbox {
				ia, err1 := together.st.MailboxGet(ctx, "ags:05315000", da.TransportID)
				ib, err2 := alone.st.MailboxGet(ctx, "ags:05315000", db.TransportID)
				if err1 != nil || err2 != nil || ia.TransportID != ib.TransportID {
					t.Fatalf("mailbox together %+v (%v), step by step %+v (%v)", ia, err1, ib, err2)
				}
			}
		})
	}
}

// BenchmarkPipelineProcess: one submission through Process (mapping,
// routing, delivery into the built-in mailbox) on SQLite with
// synchronous=FULL, with the steps committed together and, for
// comparison, step by step (a store without StepCommitter).
func BenchmarkPipelineProcess(b *testing.B) {
	for _, tc := range []struct {
		name      string
		transport routing.TransportKind
		withSteps bool
	}{
		{"mailbox/together", routing.TransportXTAMailbox, true},
		{"mailbox/step-by-step", routing.TransportXTAMailbox, false},
		{"remote/together", routing.TransportXTA, true},
		{"remote/step-by-step", routing.TransportXTA, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newStepsEnvTB(b, tc.transport, tc.withSteps)
			var writes, reads int64
			n := 0
			for b.Loop() {
				b.StopTimer()
				id := fmt.Sprintf("b%d", n)
				n++
				e.submitAndClaim(b, id)
				w0, _ := e.st.WriteStats()
				r0 := e.counts.reads.Load()
				b.StartTimer()
				if err := e.p.Process(context.Background(), id, "w"); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				w1, _ := e.st.WriteStats()
				writes += w1 - w0
				reads += e.counts.reads.Load() - r0
				b.StartTimer()
			}
			b.ReportMetric(float64(writes)/float64(n), "writes/op")
			b.ReportMetric(float64(reads)/float64(n), "reads/op")
		})
	}
}
