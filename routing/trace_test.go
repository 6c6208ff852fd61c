package routing_test

import (
	"context"
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

type recordedSpan struct {
	stage       routing.Stage
	sub         string
	traceParent string
	attrs       map[string]any
	failed      string
	ended       bool
}

// fakeTracer records the stage spans the pipeline reports (routing knows
// no tracing library; this is all it sees of one).
type fakeTracer struct {
	mu    sync.Mutex
	spans []*recordedSpan
}

type ctxKey struct{}

func (f *fakeTracer) StartStage(ctx context.Context, stage routing.Stage, sub routing.Submission) (context.Context, routing.Span) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &recordedSpan{stage: stage, sub: sub.ID, traceParent: sub.TraceParent, attrs: map[string]any{}}
	f.spans = append(f.spans, s)
	return context.WithValue(ctx, ctxKey{}, s), fakeSpan{f, s}
}

type fakeSpan struct {
	f *fakeTracer
	s *recordedSpan
}

func (s fakeSpan) SetAttribute(k string, v any) { s.f.mu.Lock(); s.s.attrs[k] = v; s.f.mu.Unlock() }
func (s fakeSpan) Fail(reason string)           { s.f.mu.Lock(); s.s.failed = reason; s.f.mu.Unlock() }
func (s fakeSpan) End()                         { s.f.mu.Lock(); s.s.ended = true; s.f.mu.Unlock() }

// ctxTransport checks that delivery runs inside the delivery span.
type ctxTransport struct {
	scriptedTransport
	mu      sync.Mutex
	inSpans []routing.Stage
}

func (c *ctxTransport) Deliver(ctx context.Context, d routing.Delivery, m routing.Message, s routing.Submission) routing.Outcome {
	c.mu.Lock()
	if sp, ok := ctx.Value(ctxKey{}).(*recordedSpan); ok {
		c.inSpans = append(c.inSpans, sp.stage)
	}
	c.mu.Unlock()
	return c.scriptedTransport.Deliver(ctx, d, m, s)
}

// One span per stage, in the submission's stored trace; one delivery span
// per attempt with transport, endpoint and outcome; a failed attempt and a
// rejected mapping are failed spans.
func TestPipelineStageSpans(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"), store.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir, err := dvdv.NewFileDirectory("test", []dvdv.Entry{{ReaderKey: "ags:05315000", ServiceURI: "urn:svc", Transport: "xta-mailbox"}})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: t0}
	tr := &fakeTracer{}
	transport := &ctxTransport{scriptedTransport: scriptedTransport{outcomes: []routing.Outcome{{Kind: routing.Retry, Reason: "HTTP 503"}}}}
	newPipeline := func(m routing.Mapper) *routing.Pipeline {
		p, err := routing.NewPipeline(routing.PipelineConfig{
			Store: st, Mapper: m, Resolver: dir,
			Transports: map[routing.TransportKind]routing.Transport{routing.TransportXTAMailbox: transport},
			Tenants:    map[string]routing.Tenant{"05315000": {AGS: "05315000", Name: "Stadt Köln", DVDVKey: "ags:05315000"}},
			Services:   map[string]routing.Service{"universeller-antrag": {ID: "universeller-antrag", ServiceURI: "urn:svc"}},
			Retry:      routing.RetryPolicy{Initial: time.Minute, Max: time.Hour, Multiplier: 2, MaxAttempts: 4, MaxAge: 24 * time.Hour},
			Clock:      clock, Lease: time.Minute, Logger: slog.New(slog.DiscardHandler), Tracer: tr,
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	submit := func(id string) {
		if _, _, err := st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{
			ID: id, PortalID: "p", Tenant: "05315000", Service: "universeller-antrag", Reference: "r",
			Applicant: routing.Applicant{Name: "A"}, Form: []byte(`{}`), ReceivedAt: clock.Now(), TraceParent: tp,
		}}); err != nil {
			t.Fatal(err)
		}
	}
	submit("s1")
	p := newPipeline(fakeMapper{})
	if _, err := p.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	if _, err := p.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range tr.spans {
		if s.sub != "s1" || s.traceParent != tp || !s.ended {
			t.Errorf("span %+v: not of s1's trace or not ended", s)
		}
		got = append(got, fmt.Sprintf("%s attempt=%v outcome=%v failed=%q", s.stage, s.attrs["delivery.attempt"], s.attrs["delivery.outcome"], s.failed))
	}
	want := []string{
		`mapping attempt=<nil> outcome=<nil> failed=""`,
		`routing attempt=<nil> outcome=<nil> failed=""`,
		`delivery attempt=1 outcome=retry failed="retry: HTTP 503"`,
		`delivery attempt=2 outcome=delivered failed=""`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("spans:\n%q\nwant\n%q", got, want)
	}
	if m := tr.spans[0].attrs; m["xoev.root"] != "universellerAntrag.antrag.1200" || m["xoev.nachrichten_uuid"] != "uuid-s1" {
		t.Errorf("mapping attributes %v", m)
	}
	if r := tr.spans[1].attrs; r["route.transport"] != "xta-mailbox" || r["dvdv.reader"] != "ags:05315000" {
		t.Errorf("routing attributes %v", r)
	}
	if d := tr.spans[3].attrs; d["delivery.transport"] != "xta-mailbox" || d["delivery.endpoint"] != "ags:05315000" ||
		d["delivery.transport_id"] != "urn:de:xta:messageid:dxhub:uuid-s1" {
		t.Errorf("delivery attributes %v", d)
	}
	if fmt.Sprint(transport.inSpans) != "[delivery delivery]" {
		t.Errorf("transport called in spans %v, want inside each delivery span", transport.inSpans)
	}

	// A permanent mapping failure is a failed mapping span, and nothing follows.
	tr.spans = nil
	submit("s2")
	if _, err := newPipeline(fakeMapper{err: routing.PermanentError(fmt.Errorf("field x missing"))}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if len(tr.spans) != 1 || tr.spans[0].stage != routing.StageMapping || tr.spans[0].failed != "rejected: field x missing" {
		t.Fatalf("spans of a rejected submission: %+v", tr.spans)
	}
}

// The back-channel opens a span only for a message correlated to a
// submission; a duplicate ends as a failed span.
func TestBackChannelSpans(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, fakeMapper{}, nil)
	e.submit(t, "s1")
	e.run(t)
	tr := &fakeTracer{}
	bc := &routing.BackChannel{Store: e.store, Clock: e.clock, Tracer: tr,
		Tenants: map[string]routing.Tenant{"05315000": {AGS: "05315000", DVDVKey: "ags:05315000"}},
		Parser: mapParser{
			"1120":   {MessageUUID: "r1", TypeCode: "1120", RootElement: "eingangsbestaetigung", ReferencedUUID: "uuid-s1", Status: routing.StatusAcknowledged},
			"orphan": {MessageUUID: "r3", TypeCode: "1120", ReferencedUUID: "no-such-uuid", Status: routing.StatusAcknowledged},
		}}
	for _, in := range []routing.Inbound{
		{TransportID: "urn:in:1", Transport: routing.TransportXTAMailbox, AuthorKey: "ags:05315000", Payload: []byte("1120")},
		{TransportID: "urn:in:2", Transport: routing.TransportXTAMailbox, AuthorKey: "ags:05315000", Payload: []byte("orphan")},
		{TransportID: "urn:in:1", Transport: routing.TransportXTAMailbox, AuthorKey: "ags:05315000", Payload: []byte("1120")},
	} {
		bc.Receive(ctx, in)
	}
	if len(tr.spans) != 2 {
		t.Fatalf("%d spans, want 2 (the orphan has no submission): %+v", len(tr.spans), tr.spans)
	}
	first, dup := tr.spans[0], tr.spans[1]
	if first.stage != routing.StageBackChannel || first.sub != "s1" || first.failed != "" || !first.ended ||
		first.attrs["inbound.type_code"] != "1120" || first.attrs["inbound.status"] != "acknowledged" {
		t.Fatalf("back-channel span %+v", first)
	}
	if dup.failed == "" || !dup.ended {
		t.Fatalf("duplicate span %+v, want failed", dup)
	}
}
