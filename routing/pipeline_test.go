package routing_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fakeMapper struct{ err error }

func (m fakeMapper) Map(_ context.Context, in routing.MapInput) (routing.Message, error) {
	if m.err != nil {
		return routing.Message{}, m.err
	}
	return routing.Message{UUID: "uuid-" + in.Submission.ID, Standard: "XBau-Kernmodul", Version: "1.3.0", TypeCode: "1200",
		RootElement: "universellerAntrag.antrag.1200", Namespace: "urn:test", Service: "urn:svc",
		XML: []byte("<antrag reader='" + in.ReaderKey + "'/>")}, nil
}

// scriptedTransport returns the queued outcomes in order, then Delivered.
type scriptedTransport struct {
	mu       sync.Mutex
	outcomes []routing.Outcome
	ids      []string
}

func (s *scriptedTransport) Deliver(_ context.Context, d routing.Delivery, _ routing.Message, _ routing.Submission) routing.Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, d.TransportID)
	if len(s.outcomes) == 0 {
		return routing.Outcome{Kind: routing.Delivered, Status: routing.StatusDelivered}
	}
	o := s.outcomes[0]
	s.outcomes = s.outcomes[1:]
	return o
}

type env struct {
	store     *store.Store
	clock     *fakeClock
	transport *scriptedTransport
	pipeline  *routing.Pipeline
}

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, mapper routing.Mapper, entries []dvdv.Entry) *env {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "hub.db"), store.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if entries == nil {
		entries = []dvdv.Entry{{ReaderKey: "ags:05315000", ServiceURI: "urn:svc", Transport: "xta-mailbox"}}
	}
	dir, err := dvdv.NewFileDirectory("test", entries)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: st, clock: &fakeClock{t: t0}, transport: &scriptedTransport{}}
	e.pipeline, err = routing.NewPipeline(routing.PipelineConfig{
		Store: st, Mapper: mapper, Resolver: dir,
		Transports: map[routing.TransportKind]routing.Transport{routing.TransportXTAMailbox: e.transport},
		Tenants:    map[string]routing.Tenant{"05315000": {AGS: "05315000", Name: "Stadt Köln", DVDVKey: "ags:05315000"}},
		Services:   map[string]routing.Service{"universeller-antrag": {ID: "universeller-antrag", ServiceURI: "urn:svc"}},
		AuthorKey:  "kop:0500000001",
		Retry: routing.RetryPolicy{Initial: time.Minute, Max: time.Hour, Multiplier: 2, Jitter: 0, MaxAttempts: 4,
			MaxAge: 24 * time.Hour},
		Clock: e.clock, Lease: time.Minute, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) submit(t *testing.T, id string) {
	t.Helper()
	e.submitTo(t, id, "05315000")
}

func (e *env) submitTo(t *testing.T, id, tenant string) {
	t.Helper()
	_, _, err := e.store.CreateSubmission(context.Background(), routing.NewSubmission{Submission: routing.Submission{
		ID: id, PortalID: "p", Tenant: tenant, Service: "universeller-antrag", Reference: "r",
		Applicant: routing.Applicant{Name: "A"}, Form: []byte(`{}`), ReceivedAt: e.clock.Now(),
	}})
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) statuses(t *testing.T, id string) []routing.Status {
	t.Helper()
	evs, err := e.store.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]routing.Status, len(evs))
	for i, ev := range evs {
		out[i] = ev.Status
	}
	return out
}

func (e *env) run(t *testing.T) int {
	t.Helper()
	n, err := e.pipeline.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPipelineHappyPath(t *testing.T) {
	e := newEnv(t, fakeMapper{}, nil)
	e.submit(t, "s1")
	if n := e.run(t); n != 1 {
		t.Fatalf("processed %d jobs", n)
	}
	want := fmt.Sprint([]routing.Status{"received", "validated", "routed", "delivered"})
	if got := fmt.Sprint(e.statuses(t, "s1")); got != want {
		t.Fatalf("history = %s, want %s", got, want)
	}
	if n := e.run(t); n != 0 {
		t.Fatalf("a delivered submission was processed again (%d)", n)
	}
	d, _ := e.store.GetDelivery(context.Background(), "s1")
	if d.TransportID != "urn:de:xta:messageid:dxhub:uuid-s1" {
		t.Fatalf("transport id = %s", d.TransportID)
	}
}

func TestPipelineMappingRejected(t *testing.T) {
	e := newEnv(t, fakeMapper{err: routing.PermanentError(errors.New("/form/flurstueck: required"))}, nil)
	e.submit(t, "s1")
	e.run(t)
	got := e.statuses(t, "s1")
	if fmt.Sprint(got) != "[received rejected]" {
		t.Fatalf("history = %v", got)
	}
	evs, _ := e.store.Events(context.Background(), "s1")
	if want := "mapping failed: /form/flurstueck: required"; evs[1].Detail != want {
		t.Fatalf("detail = %q, want %q", evs[1].Detail, want)
	}
}

func TestPipelineRetryThenDelivered(t *testing.T) {
	e := newEnv(t, fakeMapper{}, nil)
	e.transport.outcomes = []routing.Outcome{
		{Kind: routing.Retry, Reason: "connection refused"},
		{Kind: routing.Ambiguous, Reason: "timeout after send", RetryAfter: 5 * time.Minute},
	}
	e.submit(t, "s1")
	e.run(t) // attempt 1: retry in 1 minute
	if n := e.run(t); n != 0 {
		t.Fatalf("retried before its time (%d)", n)
	}
	e.clock.Advance(time.Minute)
	e.run(t) // attempt 2: ambiguous; backoff 2 min but Retry-After 5 min wins
	e.clock.Advance(4 * time.Minute)
	if n := e.run(t); n != 0 {
		t.Fatal("Retry-After not honoured")
	}
	e.clock.Advance(time.Minute)
	e.run(t) // attempt 3: delivered
	atts, _ := e.store.Attempts(context.Background(), "s1")
	if len(atts) != 3 || atts[0].Outcome != "retry" || atts[1].Outcome != "ambiguous" || atts[2].Outcome != "delivered" {
		t.Fatalf("attempts = %+v", atts)
	}
	for _, id := range e.transport.ids {
		if id != e.transport.ids[0] {
			t.Fatalf("transport IDs differ between attempts: %v", e.transport.ids)
		}
	}
	if got := e.statuses(t, "s1"); got[len(got)-1] != routing.StatusDelivered {
		t.Fatalf("history = %v", got)
	}
}

func TestPipelineRetriesExhausted(t *testing.T) {
	e := newEnv(t, fakeMapper{}, nil)
	for range 10 {
		e.transport.outcomes = append(e.transport.outcomes, routing.Outcome{Kind: routing.Retry, Reason: "503"})
	}
	e.submit(t, "s1")
	for range 4 {
		e.run(t)
		e.clock.Advance(time.Hour)
	}
	got := e.statuses(t, "s1")
	if got[len(got)-1] != routing.StatusFailed {
		t.Fatalf("history = %v", got)
	}
	if atts, _ := e.store.Attempts(context.Background(), "s1"); len(atts) != 4 {
		t.Fatalf("attempts = %d, want MaxAttempts=4", len(atts))
	}
}

func TestPipelinePermanentDeliveryFailure(t *testing.T) {
	e := newEnv(t, fakeMapper{}, nil)
	e.transport.outcomes = []routing.Outcome{{Kind: routing.Permanent, Reason: "9050 schema violation"}}
	e.submit(t, "s1")
	e.run(t)
	evs, _ := e.store.Events(context.Background(), "s1")
	last := evs[len(evs)-1]
	if last.Status != routing.StatusFailed || last.Detail != "delivery failed permanently: 9050 schema violation" {
		t.Fatalf("last event = %+v", last)
	}
}

func TestPipelineNoRouteThenGiveUp(t *testing.T) {
	e := newEnv(t, fakeMapper{}, []dvdv.Entry{{ReaderKey: "ags:1", ServiceURI: "urn:other", Transport: "xta-mailbox"}})
	e.submit(t, "s1")
	e.run(t)
	if got := fmt.Sprint(e.statuses(t, "s1")); got != "[received validated]" {
		t.Fatalf("history = %s", got)
	}
	e.clock.Advance(25 * time.Hour)
	e.run(t)
	evs, _ := e.store.Events(context.Background(), "s1")
	last := evs[len(evs)-1]
	if last.Status != routing.StatusFailed {
		t.Fatalf("last = %+v", last)
	}
}

func TestPipelineResumesAfterCrashedWorker(t *testing.T) {
	e := newEnv(t, fakeMapper{}, nil)
	e.submit(t, "s1")
	// A worker claims the job and dies without doing anything.
	ids, err := e.store.ClaimJobs(context.Background(), "crashed", e.clock.Now(), time.Minute, 10)
	if err != nil || len(ids) != 1 {
		t.Fatalf("claim = %v %v", ids, err)
	}
	if n := e.run(t); n != 0 {
		t.Fatal("job taken while the lease holds")
	}
	e.clock.Advance(time.Minute)
	e.run(t)
	if got := fmt.Sprint(e.statuses(t, "s1")); got != "[received validated routed delivered]" {
		t.Fatalf("history = %s", got)
	}
	if len(e.transport.ids) != 1 {
		t.Fatalf("delivered %d times", len(e.transport.ids))
	}
}

func TestRetryPolicyDelay(t *testing.T) {
	p := routing.RetryPolicy{Initial: time.Second, Max: 10 * time.Second, Multiplier: 2, Jitter: 0.5, Rand: func() float64 { return 1 }}
	tests := []struct {
		attempt int
		hint    time.Duration
		want    time.Duration
	}{
		{1, 0, 1500 * time.Millisecond},
		{2, 0, 3 * time.Second},
		{3, 0, 6 * time.Second},
		{5, 0, 10 * time.Second},              // capped
		{1, 7 * time.Second, 7 * time.Second}, // Retry-After wins
		{1, time.Hour, 10 * time.Second},      // but never beyond Max
	}
	for _, tt := range tests {
		if got := p.Delay(tt.attempt, tt.hint); got != tt.want {
			t.Errorf("Delay(%d, %v) = %v, want %v", tt.attempt, tt.hint, got, tt.want)
		}
	}
	p.Rand = func() float64 { return 0 }
	if got := p.Delay(1, 0); got != 500*time.Millisecond {
		t.Errorf("low jitter = %v", got)
	}
}

func TestStatusAdvances(t *testing.T) {
	tests := []struct {
		from, to routing.Status
		want     bool
	}{
		{routing.StatusReceived, routing.StatusValidated, true},
		{routing.StatusFetched, routing.StatusDelivered, false},
		{routing.StatusInProgress, routing.StatusAcknowledged, false},
		{routing.StatusAcknowledged, routing.StatusRejected, true},
		{routing.StatusDecided, routing.StatusRejected, false},
		{routing.StatusFailed, routing.StatusDelivered, false},
	}
	for _, tt := range tests {
		if got := tt.from.Advances(tt.to); got != tt.want {
			t.Errorf("%s → %s = %v", tt.from, tt.to, got)
		}
	}
}

// cachingResolver records route invalidations, like the DVDV cache.
type cachingResolver struct {
	routing.Resolver
	mu          sync.Mutex
	invalidated []string
}

func (c *cachingResolver) InvalidateRoute(_ context.Context, readerKey, serviceURI string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.invalidated = append(c.invalidated, readerKey+" "+serviceURI)
	return nil
}

// A certificate or decryption failure drops the cached route so that the
// retry asks the directory again; an ordinary failure keeps it.
func TestPipelineInvalidatesStaleRoute(t *testing.T) {
	for _, tc := range []struct {
		name    string
		outcome routing.Outcome
		want    int
	}{
		{"certificate rejected", routing.Outcome{Kind: routing.Retry, Reason: "x509: unknown authority", RouteStale: true}, 1},
		{"plain 503", routing.Outcome{Kind: routing.Retry, Reason: "HTTP 503"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, fakeMapper{}, nil)
			dir, _ := dvdv.NewFileDirectory("test", []dvdv.Entry{{ReaderKey: "ags:05315000", ServiceURI: "urn:svc", Transport: "xta-mailbox"}})
			res := &cachingResolver{Resolver: dir}
			p, err := routing.NewPipeline(routing.PipelineConfig{
				Store: e.store, Mapper: fakeMapper{}, Resolver: res,
				Transports: map[routing.TransportKind]routing.Transport{routing.TransportXTAMailbox: e.transport},
				Tenants:    map[string]routing.Tenant{"05315000": {AGS: "05315000", DVDVKey: "ags:05315000"}},
				Services:   map[string]routing.Service{"universeller-antrag": {ID: "universeller-antrag", ServiceURI: "urn:svc"}},
				Retry:      routing.RetryPolicy{Initial: time.Minute, Max: time.Hour, Multiplier: 2, MaxAttempts: 4, MaxAge: 24 * time.Hour},
				Clock:      e.clock, Lease: time.Minute, Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			e.transport.outcomes = []routing.Outcome{tc.outcome}
			e.submit(t, "s1")
			if _, err := p.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(res.invalidated) != tc.want {
				t.Fatalf("invalidated %v, want %d call(s)", res.invalidated, tc.want)
			}
			if tc.want == 1 && res.invalidated[0] != "ags:05315000 urn:svc" {
				t.Fatalf("invalidated %q", res.invalidated[0])
			}
		})
	}
}
