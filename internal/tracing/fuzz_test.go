package tracing

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// FuzzTraceParent: any traceparent/tracestate a portal or a Kafka producer
// sends is either continued exactly (a valid W3C traceparent) or replaced
// by a new trace; intake never fails or panics on it, and what is stored
// with the submission always parses again.
func FuzzTraceParent(f *testing.F) {
	for _, s := range []string{portalTP, "", "00-" + portalTrace + "-" + portalSpan + "-00", "ff-" + portalTrace + "-" + portalSpan + "-01",
		"00-" + portalTrace + "-" + portalSpan + "-01-extra", "01-" + portalTrace + "-" + portalSpan + "-01-future", "\x00", "00--"} {
		f.Add(s, "vendor=abc")
	}
	tr, rec := recorder(f, nil)
	f.Fuzz(func(t *testing.T, traceparent, tracestate string) {
		h := http.Header{}
		h.Set("Traceparent", traceparent)
		h.Set("Tracestate", tracestate)
		ctx, span := tr.StartIntake(context.Background(), h, "http")
		span.End()
		rec.Reset()
		sc := trace.SpanContextFromContext(ctx)
		if !sc.IsValid() {
			t.Fatalf("no valid span context for %q", traceparent)
		}
		in := ParseTraceParent(strings.TrimSpace(traceparent))
		if in.IsValid() && in.TraceID() != sc.TraceID() && strings.TrimSpace(traceparent) == traceparent {
			t.Fatalf("valid traceparent %q not continued (trace %s)", traceparent, sc.TraceID())
		}
		stored := TraceParent(ctx)
		if back := ParseTraceParent(stored); !back.IsValid() || back.TraceID() != sc.TraceID() || back.SpanID() != sc.SpanID() {
			t.Fatalf("stored %q does not parse back to %v", stored, sc)
		}
		// The Kafka path reads the same values from record headers.
		if got := trace.SpanContextFromContext(Extract(context.Background(), func(k string) (string, bool) {
			return h.Get(k), true
		})); got.IsValid() != in.IsValid() && strings.TrimSpace(traceparent) == traceparent {
			t.Fatalf("Extract and ParseTraceParent disagree on %q", traceparent)
		}
	})
}
