package portal

import (
	"context"
	"net/http"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/dxhub/dxhub/internal/tracing"
)

// The intake continues a portal's W3C traceparent and stores the intake
// span's context with the submission; a missing or invalid traceparent
// starts a new trace and never fails the request. Rejected requests are
// error spans.
func TestIntakeTraceContext(t *testing.T) {
	const portalTrace, portalSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	e := newEnv(t, func(o *Options) { o.Tracer = tracing.NewTracer(tp, nil, discardLogger()) })
	body := mustJSON(t, validDoc())

	for _, tc := range []struct {
		name, traceparent string
		continues         bool
	}{
		{"portal trace", "00-" + portalTrace + "-" + portalSpan + "-01", true},
		{"no header", "", false},
		{"invalid", "00-xyz-" + portalSpan + "-01", false},
		{"all zero", "00-00000000000000000000000000000000-0000000000000000-01", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.Reset()
			hdr := map[string]string{}
			if tc.traceparent != "" {
				hdr["traceparent"] = tc.traceparent
			}
			a, _ := expectAccepted(t, e.postJSON(keyA, body, hdr))
			e.store.mu.Lock()
			sub := e.store.subs[a.ID]
			e.store.mu.Unlock()
			sc := tracing.ParseTraceParent(sub.TraceParent)
			if !sc.IsValid() {
				t.Fatalf("stored trace parent %q is not a valid traceparent", sub.TraceParent)
			}
			if (sc.TraceID().String() == portalTrace) != tc.continues {
				t.Fatalf("stored trace %s; continues the portal's = %v, want %v", sc.TraceID(), !tc.continues, tc.continues)
			}
			spans := rec.Ended()
			if len(spans) != 1 || spans[0].Name() != "intake" || spans[0].SpanContext().SpanID() != sc.SpanID() {
				t.Fatalf("spans = %v; the stored context must be the intake span's", spans)
			}
			attrs := map[string]string{}
			for _, kv := range spans[0].Attributes() {
				attrs[string(kv.Key)] = kv.Value.Emit()
			}
			if attrs[tracing.AttrSubmission] != a.ID || attrs[tracing.AttrPortal] != "portal-a" || attrs["intake.replay"] != "false" {
				t.Fatalf("intake attributes = %v", attrs)
			}
		})
	}

	rec.Reset()
	resp := e.postJSON("wrong-key", body, map[string]string{"traceparent": "00-" + portalTrace + "-" + portalSpan + "-01"})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d", resp.StatusCode)
	}
	spans := rec.Ended()
	if len(spans) != 1 || spans[0].Status().Code.String() != "Error" || !strings.HasPrefix(spans[0].Status().Description, "401 ") ||
		spans[0].SpanContext().TraceID().String() != portalTrace {
		t.Fatalf("rejected intake spans = %v", spans)
	}
}
