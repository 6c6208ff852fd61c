package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/tracing"
	"github.com/dxhub/dxhub/routing"
)

// Each webhook call is a status.webhook span in the submission's trace
// (found in the store by submission ID), and the call carries that span's
// traceparent; a failed call is an error span.
func TestWebhookTraceContext(t *testing.T) {
	const portalTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"), store.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	if _, _, err := st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: "a", PortalID: "p1",
		Tenant: "05315000", Service: "s", Reference: "r", Form: []byte(`{}`), ReceivedAt: now,
		TraceParent: "00-" + portalTrace + "-00f067aa0ba902b7-01"}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	fail := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Header.Get("Traceparent"))
		if fail {
			fail = false
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(ctx)
	c := &clock{t: now}
	d := &Dispatcher{Store: st, Targets: map[string]Target{"p1": {URL: srv.URL, Secret: secret}}, Clock: c,
		Client: &http.Client{Transport: tracing.Transport(nil)}, Tracer: tracing.NewTracer(tp, st, nil),
		Retry: routing.RetryPolicy{Initial: time.Second, Max: time.Minute, Multiplier: 2}}
	if _, err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	if _, err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	if len(spans) != 2 || len(seen) != 2 {
		t.Fatalf("%d spans, %d calls", len(spans), len(seen))
	}
	for i, s := range spans {
		if s.Name() != "status.webhook" || s.SpanContext().TraceID().String() != portalTrace ||
			s.Parent().SpanID().String() != "00f067aa0ba902b7" {
			t.Fatalf("span %d: %s in trace %s parent %s", i, s.Name(), s.SpanContext().TraceID(), s.Parent().SpanID())
		}
		if want := "00-" + portalTrace + "-" + s.SpanContext().SpanID().String() + "-01"; seen[i] != want {
			t.Fatalf("call %d traceparent %q, want %q", i, seen[i], want)
		}
	}
	if spans[0].Status().Code.String() != "Error" || spans[1].Status().Code.String() != "Ok" {
		t.Fatalf("statuses %v, %v", spans[0].Status(), spans[1].Status())
	}
}
