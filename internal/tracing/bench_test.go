package tracing

import (
	"context"
	"io"
	"log/slog"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/dxhub/dxhub/routing"
)

// BenchmarkStartStage: the CPU cost of one stage span (parse the stored
// traceparent, start, five attributes, end, hand to a batching exporter).
func BenchmarkStartStage(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	defer tp.Shutdown(context.Background())
	tr := NewTracer(tp, nil, nil)
	sub := routing.Submission{ID: "01a208b4-1702-70f8-943b-f65e25ff7599", Tenant: "05315000", Service: "bauantrag", TraceParent: portalTP}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, sp := tr.StartStage(ctx, routing.StageDelivery, sub)
		sp.SetAttribute("delivery.attempt", 1)
		sp.SetAttribute("delivery.transport", "xta")
		sp.SetAttribute("delivery.endpoint", "https://xta.example/send")
		sp.SetAttribute("delivery.transport_id", "urn:de:xta:messageid:dxhub:5c6c1889")
		sp.SetAttribute("delivery.outcome", "delivered")
		sp.End()
	}
}

// BenchmarkLogHandler: a JSON log line with and without the trace attributes.
func BenchmarkLogHandler(b *testing.B) {
	tr, _ := recorder(b, nil)
	spanCtx, sp := tr.StartStage(context.Background(), routing.StageMapping, routing.Submission{ID: "s1", TraceParent: portalTP})
	defer sp.End()
	for _, c := range []struct {
		name string
		log  *slog.Logger
		ctx  context.Context
	}{
		{"plain", slog.New(slog.NewJSONHandler(io.Discard, nil)), spanCtx},
		{"wrapped-no-span", slog.New(NewLogHandler(slog.NewJSONHandler(io.Discard, nil))), context.Background()},
		{"wrapped-span", slog.New(NewLogHandler(slog.NewJSONHandler(io.Discard, nil))), spanCtx},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.log.InfoContext(c.ctx, "delivered", "submission", "s1", "attempt", 1)
			}
		})
	}
}
