package kafka

import (
	"io"
	"log/slog"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/dxhub/dxhub/connectors/portal"
	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/internal/tracing"
)

// A producer's traceparent record header becomes the parent of the intake
// span, whose context is stored with the submission; the status events of
// that submission are published in the same trace, with a traceparent
// header of their own span.
func TestKafkaTraceContext(t *testing.T) {
	const producerTrace, producerSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	c, cfg := startCluster(t, 1, "intake", "intake-dlq", "status")
	st := openStore(t, "")
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(testCtx(t))
	tr := tracing.NewTracer(tp, st, nil)
	bs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h, err := portal.New(st, bs, portal.Options{
		Portals:  []portal.Portal{{ID: "portal-a", APIKey: apiKeyA, Tenants: []string{"05315000"}}},
		Tenants:  []string{"05315000"},
		Services: []string{"xbau-bauantrag"},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Tracer:   tr,
	})
	if err != nil {
		t.Fatal(err)
	}
	produce(t, cfg,
		intakeRecord("p1", doc("R-1", nil), HeaderAPIKey, apiKeyA, HeaderIdempotencyKey, "k-1",
			"traceparent", "00-"+producerTrace+"-"+producerSpan+"-01"),
		intakeRecord("p2", doc("R-2", nil), HeaderAPIKey, apiKeyA, HeaderIdempotencyKey, "k-2", "traceparent", "garbage"))
	in := newIntake(t, cfg, "g1", h)
	for i := range 2 {
		if got := next(t, in); got != Accepted {
			t.Fatalf("record %d: %s", i, got)
		}
	}
	var intakes []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "intake" {
			intakes = append(intakes, s)
		}
	}
	if len(intakes) != 2 {
		t.Fatalf("%d intake spans", len(intakes))
	}
	first, second := intakes[0], intakes[1]
	if first.SpanContext().TraceID().String() != producerTrace || first.Parent().SpanID().String() != producerSpan ||
		first.SpanKind() != trace.SpanKindConsumer {
		t.Fatalf("intake of the traced record: trace %s parent %s kind %v", first.SpanContext().TraceID(), first.Parent().SpanID(), first.SpanKind())
	}
	if second.SpanContext().TraceID().String() == producerTrace || second.Parent().IsValid() {
		t.Fatalf("a garbage traceparent was continued: %v", second.Parent())
	}
	subID := ""
	for _, kv := range first.Attributes() {
		if string(kv.Key) == tracing.AttrSubmission {
			subID = kv.Value.AsString()
		}
	}
	stored, err := st.TraceParent(testCtx(t), subID)
	if err != nil || tracing.ParseTraceParent(stored).SpanID() != first.SpanContext().SpanID() {
		t.Fatalf("stored trace parent of %q = %q, %v; want the intake span %s", subID, stored, err, first.SpanContext().SpanID())
	}

	w, err := NewWriter(cfg, "status")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p := &Publisher{Store: st, Writer: w, Tracer: tr}
	if n, err := p.RunOnce(testCtx(t)); err != nil || n != 2 {
		t.Fatalf("published %d, %v", n, err)
	}
	found := false
	for _, r := range consumeAll(t, c, "status") {
		if string(r.Key) != subID {
			continue
		}
		found = true
		sc := tracing.ParseTraceParent(header(r, "traceparent"))
		if sc.TraceID().String() != producerTrace {
			t.Fatalf("status record traceparent %q not in the producer's trace", header(r, "traceparent"))
		}
		matched := false
		for _, s := range rec.Ended() {
			if s.SpanContext().SpanID() != sc.SpanID() {
				continue
			}
			matched = true
			if s.Name() != "status.kafka" || s.Parent().SpanID() != first.SpanContext().SpanID() || s.SpanKind() != trace.SpanKindProducer {
				t.Fatalf("status span %s (%v) has parent %s", s.Name(), s.SpanKind(), s.Parent().SpanID())
			}
		}
		if !matched {
			t.Fatalf("the record's traceparent names no recorded span")
		}
	}
	if !found {
		t.Fatal("no status record of the traced submission")
	}
}
