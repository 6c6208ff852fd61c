package tracing

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/dxhub/dxhub/internal/store"
)

// SpanStore keeps finished spans (store.Store).
type SpanStore interface {
	SaveSpans(ctx context.Context, spans []store.Span, perSubmission int) (dropped int, err error)
}

// StoreExporter is a span exporter that writes the finished spans of
// submissions (those with a dxhub.submission_id attribute) into the store,
// where `dxhub trace` reads them. Other spans (a rejected intake request)
// go only to the OTLP exporter.
type StoreExporter struct {
	Store         SpanStore
	PerSubmission int // spans kept per submission (default 256)
	Logger        *slog.Logger
}

var _ sdktrace.SpanExporter = (*StoreExporter)(nil)

// ExportSpans writes one batch in one transaction.
func (e *StoreExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	batch := make([]store.Span, 0, len(spans))
	for _, s := range spans {
		if sp, ok := storeSpan(s); ok {
			batch = append(batch, sp)
		}
	}
	if len(batch) == 0 {
		return nil
	}
	per := e.PerSubmission
	if per <= 0 {
		per = 256
	}
	dropped, err := e.Store.SaveSpans(ctx, batch, per)
	if err != nil {
		return err
	}
	if dropped > 0 && e.Logger != nil {
		e.Logger.WarnContext(ctx, "tracing: spans beyond the per-submission limit not kept", "dropped", dropped, "limit", per)
	}
	return nil
}

// Shutdown has nothing to release: the store belongs to the caller.
func (e *StoreExporter) Shutdown(context.Context) error { return nil }

func storeSpan(s sdktrace.ReadOnlySpan) (store.Span, bool) {
	var sp store.Span
	attrs := map[string]string{}
	for _, kv := range s.Attributes() {
		if kv.Key == AttrSubmission {
			sp.SubmissionID = kv.Value.AsString()
			continue
		}
		attrs[string(kv.Key)] = valueString(kv.Value)
	}
	if sp.SubmissionID == "" {
		return sp, false
	}
	sc := s.SpanContext()
	sp.TraceID, sp.SpanID = sc.TraceID().String(), sc.SpanID().String()
	if p := s.Parent(); p.IsValid() {
		sp.ParentSpanID = p.SpanID().String()
	}
	sp.Name, sp.Kind = s.Name(), s.SpanKind().String()
	sp.Start, sp.End = s.StartTime(), s.EndTime()
	switch s.Status().Code {
	case codes.Ok:
		sp.StatusCode = "ok"
	case codes.Error:
		sp.StatusCode = "error"
	}
	sp.StatusMessage = s.Status().Description
	for i, l := range s.Links() {
		if i == 0 {
			attrs["link.trace_id"] = l.SpanContext.TraceID().String()
			attrs["link.span_id"] = l.SpanContext.SpanID().String()
		}
	}
	if len(attrs) > 0 {
		sp.Attributes = attrs
	}
	return sp, true
}

func valueString(v attribute.Value) string {
	if v.Type() == attribute.STRING {
		return v.AsString()
	}
	return v.Emit()
}
