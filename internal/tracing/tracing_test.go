package tracing

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/testpki"
	"github.com/dxhub/dxhub/internal/tracing/otlptest"
	"github.com/dxhub/dxhub/routing"
)

const (
	portalTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	portalSpan  = "00f067aa0ba902b7"
	portalTP    = "00-" + portalTrace + "-" + portalSpan + "-01"
)

// recorder returns a tracer whose finished spans the returned recorder holds.
func recorder(t testing.TB, parents ParentLookup) (*Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return NewTracer(tp, parents, slog.New(slog.DiscardHandler)), rec
}

func ended(rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	for _, s := range rec.Ended() {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	tr, _ := recorder(t, nil)
	ctx, span := tr.StartStage(context.Background(), routing.StageMapping, routing.Submission{ID: "s1", TraceParent: portalTP})
	log.InfoContext(ctx, "with span", "submission", "s1")
	span.End()
	log.InfoContext(context.Background(), "without span")
	log.Info("no context")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	sc := trace.SpanContextFromContext(ctx)
	if first["trace_id"] != portalTrace || first["span_id"] != sc.SpanID().String() || first["component"] != "test" ||
		first["submission"] != "s1" {
		t.Fatalf("line with span = %v", first)
	}
	for _, l := range lines[1:] {
		if strings.Contains(l, "trace_id") || strings.Contains(l, "span_id") {
			t.Fatalf("line without span has trace attributes: %s", l)
		}
	}
	if !NewLogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})).Enabled(ctx, slog.LevelWarn) ||
		NewLogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})).Enabled(ctx, slog.LevelInfo) {
		t.Fatal("Enabled does not follow the wrapped handler")
	}
}

// The intake continues a portal's valid traceparent; anything invalid starts
// a new trace and never fails.
func TestStartIntake(t *testing.T) {
	tr, rec := recorder(t, nil)
	for _, tc := range []struct {
		name, header string
		continues    bool
	}{
		{"valid", portalTP, true},
		{"valid with tracestate", portalTP, true},
		{"absent", "", false},
		{"garbage", "not-a-traceparent", false},
		{"zero trace id", "00-00000000000000000000000000000000-" + portalSpan + "-01", false},
		{"zero span id", "00-" + portalTrace + "-0000000000000000-01", false},
		{"version ff", "ff-" + portalTrace + "-" + portalSpan + "-01", false},
		{"upper case", "00-" + strings.ToUpper(portalTrace) + "-" + portalSpan + "-01", false},
		{"too long", portalTP + "-extra-stuff", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("Traceparent", tc.header)
			}
			if strings.Contains(tc.name, "tracestate") {
				h.Set("Tracestate", "vendor=abc")
			}
			ctx, span := tr.StartIntake(context.Background(), h, "http")
			span.Accepted(routing.Submission{ID: "sub-" + tc.name, PortalID: "p1", Tenant: "05315000"}, true)
			span.End()
			sc := trace.SpanContextFromContext(ctx)
			if !sc.IsValid() || !sc.IsSampled() {
				t.Fatalf("no valid sampled span context: %v", sc)
			}
			got := ended(rec, "intake")
			rec.Reset()
			if got == nil {
				t.Fatal("no intake span")
			}
			if continues := sc.TraceID().String() == portalTrace; continues != tc.continues {
				t.Fatalf("trace %s continues = %v, want %v", sc.TraceID(), continues, tc.continues)
			}
			if tc.continues != (got.Parent().SpanID().String() == portalSpan) || got.Parent().IsRemote() != tc.continues {
				t.Fatalf("parent = %v", got.Parent())
			}
			if tc.continues && strings.Contains(tc.name, "tracestate") && got.SpanContext().TraceState().Get("vendor") != "abc" {
				t.Fatalf("tracestate lost: %v", got.SpanContext().TraceState())
			}
			want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
			if tp := TraceParent(ctx); tp != want {
				t.Fatalf("TraceParent = %q, want %q", tp, want)
			}
			if got.SpanKind() != trace.SpanKindServer {
				t.Fatalf("kind = %v", got.SpanKind())
			}
		})
	}
	// A rejected intake is an error span.
	_, span := tr.StartIntake(context.Background(), http.Header{}, "document")
	span.Rejected(422, "invalid-field", "tenant unknown")
	span.End()
	got := ended(rec, "intake")
	if got.Status().Description != "422 invalid-field: tenant unknown" || got.SpanKind() != trace.SpanKindConsumer {
		t.Fatalf("rejected intake: status %+v kind %v", got.Status(), got.SpanKind())
	}
	// A nil tracer traces nothing and returns the context unchanged.
	var none *Tracer
	ctx, sp := none.StartIntake(context.Background(), http.Header{"Traceparent": {portalTP}}, "http")
	sp.Accepted(routing.Submission{}, true)
	sp.End()
	if trace.SpanContextFromContext(ctx).IsValid() || TraceParent(ctx) != "" {
		t.Fatal("nil tracer produced a span context")
	}
	_, st := none.StartStage(context.Background(), routing.StageMapping, routing.Submission{TraceParent: portalTP})
	st.SetAttribute("k", 1)
	st.Fail("x")
	st.End()
}

type lookup map[string]string

func (l lookup) TraceParent(_ context.Context, id string) (string, error) {
	tp, ok := l[id]
	if !ok {
		return "", routing.ErrNotFound
	}
	return tp, nil
}

// Stage spans are children of the stored intake context, found on the
// submission or looked up by its ID; an unrelated span in ctx is linked.
func TestStartStage(t *testing.T) {
	tr, rec := recorder(t, lookup{"s2": portalTP})
	ctx, sp := tr.StartStage(context.Background(), routing.StageDelivery,
		routing.Submission{ID: "s1", Tenant: "05315000", Service: "bauantrag", TraceParent: portalTP})
	sp.SetAttribute("delivery.attempt", 2)
	sp.SetAttribute("delivery.outcome", routing.Retry)
	sp.SetAttribute("ok", true)
	sp.Fail("retry: HTTP 503")
	sp.End()
	d := ended(rec, "delivery")
	if d == nil || d.SpanContext().TraceID().String() != portalTrace || d.Parent().SpanID().String() != portalSpan ||
		d.SpanKind() != trace.SpanKindClient || d.Status().Description != "retry: HTTP 503" {
		t.Fatalf("delivery span = %+v", d)
	}
	attrs := map[string]string{}
	for _, kv := range d.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if attrs[AttrSubmission] != "s1" || attrs[AttrTenant] != "05315000" || attrs["delivery.attempt"] != "2" ||
		attrs["delivery.outcome"] != "retry" || attrs["ok"] != "true" || attrs[AttrStage] != "delivery" {
		t.Fatalf("attributes = %v", attrs)
	}
	if trace.SpanContextFromContext(ctx).SpanID() != d.SpanContext().SpanID() {
		t.Fatal("returned context does not carry the stage span")
	}

	// Looked up by ID, with a foreign span in ctx (an inbound XTA request).
	other, otherSpan := tr.tr.Start(context.Background(), "xta sendMessage")
	_, sp = tr.StartStage(other, routing.StageBackChannel, routing.Submission{ID: "s2"})
	sp.End()
	otherSpan.End()
	b := ended(rec, "back-channel")
	if b.SpanContext().TraceID().String() != portalTrace || b.Parent().SpanID().String() != portalSpan ||
		len(b.Links()) != 1 || b.Links()[0].SpanContext.TraceID() != otherSpan.SpanContext().TraceID() || b.Status().Code.String() != "Ok" {
		t.Fatalf("back-channel span: trace %s parent %s links %v status %v", b.SpanContext().TraceID(), b.Parent().SpanID(), b.Links(), b.Status())
	}
	// Unknown submission, no context: a new root trace, not an error.
	_, sp = tr.StartStage(context.Background(), routing.StageWebhook, routing.Submission{ID: "unknown"})
	sp.End()
	if w := ended(rec, "status.webhook"); w.Parent().IsValid() || !w.SpanContext().IsValid() {
		t.Fatalf("webhook span parent %v", w.Parent())
	}
	// An unsampled portal trace stays unsampled: nothing recorded, but the
	// trace ID still propagates.
	rec.Reset()
	unsampled := "00-" + portalTrace + "-" + portalSpan + "-00"
	ctx, sp = tr.StartStage(context.Background(), routing.StageMapping, routing.Submission{ID: "s3", TraceParent: unsampled})
	sp.End()
	if len(rec.Ended()) != 0 || trace.SpanContextFromContext(ctx).TraceID().String() != portalTrace {
		t.Fatalf("unsampled: %d spans recorded, trace %s", len(rec.Ended()), trace.SpanContextFromContext(ctx).TraceID())
	}
}

func TestExtractAndTransport(t *testing.T) {
	headers := map[string]string{"traceparent": portalTP, "tracestate": "k=v"}
	ctx := Extract(context.Background(), func(k string) (string, bool) { v, ok := headers[k]; return v, ok })
	sc := trace.SpanContextFromContext(ctx)
	if sc.TraceID().String() != portalTrace || !sc.IsRemote() || sc.TraceState().Get("k") != "v" {
		t.Fatalf("extracted %v", sc)
	}
	if sc := trace.SpanContextFromContext(Extract(context.Background(), func(string) (string, bool) { return "junk", true })); sc.IsValid() {
		t.Fatal("junk extracted as a trace context")
	}

	got := make(chan http.Header, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
	defer srv.Close()
	client := &http.Client{Transport: Transport(nil)}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := <-got; h.Get("Traceparent") != portalTP || h.Get("Tracestate") != "k=v" {
		t.Fatalf("outbound headers: %v", h)
	}
	if req.Header.Get("Traceparent") != "" {
		t.Fatal("the caller's request was modified")
	}
	req, _ = http.NewRequest(http.MethodPost, srv.URL, nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := <-got; h.Get("Traceparent") != "" {
		t.Fatalf("a request without a trace got %q", h.Get("Traceparent"))
	}
}

// The OTLP/HTTP export is real OTLP: a receiver decoding the protobuf
// itself finds the spans, their parents, attributes, the resource and the
// configured headers; over TLS with the configured CA too.
func TestOTLPExport(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		name := "http"
		if useTLS {
			name = "https"
		}
		t.Run(name, func(t *testing.T) {
			rcv := otlptest.NewUnstarted()
			o := OTLPOptions{Headers: map[string]string{"Authorization": "Bearer s3cret"}, Timeout: 5 * time.Second, Compression: "gzip"}
			if useTLS {
				ca := testpki.NewCA(t, "collector CA")
				leaf := ca.Server(t, "collector")
				rcv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.TLS}, MinVersion: tls.VersionTLS12}
				rcv.StartTLS()
				o.CAFile = ca.WriteCA(t)
			} else {
				rcv.Start()
			}
			defer rcv.Close()
			o.Endpoint = rcv.Endpoint()
			p, err := New(context.Background(), Options{ServiceName: "dxhub-test", ServiceVersion: "1.2.3", SampleRatio: 1, OTLP: o,
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, in := p.Tracer().StartIntake(context.Background(), http.Header{"Traceparent": {portalTP}}, "http")
			in.Accepted(routing.Submission{ID: "s1", PortalID: "p1"}, true)
			in.End()
			_, sp := p.Tracer().StartStage(context.Background(), routing.StageMapping, routing.Submission{ID: "s1", TraceParent: TraceParent(ctx)})
			sp.SetAttribute("xoev.root", "universellerAntrag.antrag.1200")
			sp.End()
			if err := p.ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := p.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if pr := rcv.Problems(); len(pr) > 0 {
				t.Fatalf("receiver refused requests: %v", pr)
			}
			spans := map[string]otlptest.Span{}
			for _, s := range rcv.Spans() {
				spans[s.Name] = s
			}
			intake, mapping := spans["intake"], spans["mapping"]
			if intake.TraceID != portalTrace || intake.ParentSpanID != portalSpan || intake.Kind != "SPAN_KIND_SERVER" ||
				intake.Attributes[AttrSubmission] != "s1" || intake.Service != "dxhub-test" || intake.StatusCode != "STATUS_CODE_OK" {
				t.Fatalf("intake = %+v", intake)
			}
			if mapping.TraceID != portalTrace || mapping.ParentSpanID != intake.SpanID ||
				mapping.Attributes["xoev.root"] != "universellerAntrag.antrag.1200" || mapping.Scope != instrumentation {
				t.Fatalf("mapping = %+v (intake span %s)", mapping, intake.SpanID)
			}
			hs := rcv.Headers()
			if len(hs) == 0 || hs[0].Get("Authorization") != "Bearer s3cret" || hs[0].Get("Content-Encoding") != "gzip" {
				t.Fatalf("export headers = %v", hs)
			}
		})
	}
	// A CA file that holds no certificate is a clear error.
	bad := filepath.Join(t.TempDir(), "ca.pem")
	if err := writeFile(bad, "not a certificate"); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), Options{SampleRatio: 1, OTLP: OTLPOptions{Endpoint: "https://127.0.0.1:1/v1/traces", CAFile: bad}})
	if err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Fatalf("bad CA: %v", err)
	}
	if _, err := New(context.Background(), Options{SampleRatio: 2}); err == nil {
		t.Fatal("sample ratio 2 accepted")
	}
}

// Spans of submissions land in the store (real SQLite) with their parent
// links; spans without a submission do not.
func TestStoreExporter(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	if _, _, err := st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: "s1", PortalID: "p1",
		Tenant: "05315000", Service: "bauantrag", ReceivedAt: now, TraceParent: portalTP}}); err != nil {
		t.Fatal(err)
	}
	p, err := New(ctx, Options{SampleRatio: 1, Local: st, LocalPerSubmission: 3, LocalFlush: time.Hour, Parents: st,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	_, rejected := p.Tracer().StartIntake(ctx, nil, "http")
	rejected.Rejected(401, "unauthorized", "no key")
	rejected.End()
	for _, stage := range []routing.Stage{routing.StageMapping, routing.StageRouting, routing.StageDelivery, routing.StageDelivery} {
		_, sp := p.Tracer().StartStage(ctx, stage, routing.Submission{ID: "s1"}) // trace context looked up in the store
		if stage == routing.StageDelivery {
			sp.SetAttribute("delivery.outcome", "delivered")
		}
		sp.End()
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	spans, err := st.Spans(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 3 { // the fourth is beyond the per-submission cap
		t.Fatalf("%d spans kept, want 3: %+v", len(spans), spans)
	}
	for i, want := range []string{"mapping", "routing", "delivery"} {
		s := spans[i]
		if s.Name != want || s.TraceID != portalTrace || s.ParentSpanID != portalSpan || s.StatusCode != "ok" || s.End.Before(s.Start) {
			t.Fatalf("span %d = %+v", i, s)
		}
	}
	if spans[2].Attributes["delivery.outcome"] != "delivered" || spans[2].Kind != "client" {
		t.Fatalf("delivery span = %+v", spans[2])
	}
}

type failingStore struct{}

func (failingStore) SaveSpans(context.Context, []store.Span, int) (int, error) {
	return 0, errors.New("disk full")
}

func TestStoreExporterError(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := NewTracer(tp, nil, nil)
	_, sp := tr.StartStage(context.Background(), routing.StageMapping, routing.Submission{ID: "s1"})
	sp.End()
	e := &StoreExporter{Store: failingStore{}}
	if err := e.ExportSpans(context.Background(), rec.Ended()); err == nil || err.Error() != "disk full" {
		t.Fatalf("export error = %v", err)
	}
}

func TestMiddleware(t *testing.T) {
	var got []trace.SpanContext
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, trace.SpanContextFromContext(r.Context()))
	}))
	for _, tp := range []string{portalTP, "garbage", ""} {
		r := httptest.NewRequest(http.MethodPost, "/v1/submissions", nil)
		if tp != "" {
			r.Header.Set("Traceparent", tp)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if got[0].TraceID().String() != portalTrace || !got[0].IsRemote() || got[1].IsValid() || got[2].IsValid() {
		t.Fatalf("span contexts %v", got)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// A collector that refuses exports does not fail anything; the failure is
// logged (without the configured credentials).
func TestOTLPExportFailureIsLogged(t *testing.T) {
	rcv := otlptest.New()
	defer rcv.Close()
	var logs syncBuffer
	p, err := New(context.Background(), Options{SampleRatio: 1, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		OTLP: OTLPOptions{Endpoint: rcv.URL + "/wrong/path", Headers: map[string]string{"Authorization": "Bearer s3cret"},
			Timeout: 2 * time.Second, BatchTimeout: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	_, sp := p.Tracer().StartStage(context.Background(), routing.StageMapping, routing.Submission{ID: "s1"})
	sp.End()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(logs.String(), "tracing: span export failed") {
		select {
		case <-deadline.C:
			t.Fatalf("no export failure logged; logs: %s; receiver problems: %v", logs.String(), rcv.Problems())
		case <-tick.C:
		}
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Fatalf("credentials in the log: %s", logs.String())
	}
	if len(rcv.Problems()) == 0 {
		t.Fatal("the receiver saw no refused export")
	}
}
