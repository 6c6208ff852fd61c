package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/dxhub/dxhub/routing"
)

// ParentLookup finds the trace context recorded with a submission at
// intake (store.Store.TraceParent).
type ParentLookup interface {
	TraceParent(ctx context.Context, submissionID string) (string, error)
}

// Tracer starts dxhub's spans. A nil *Tracer is valid and traces nothing.
type Tracer struct {
	tr      trace.Tracer
	parents ParentLookup
	log     *slog.Logger
}

var _ routing.Tracer = (*Tracer)(nil)

// NewTracer returns a tracer on tp. parents may be nil.
func NewTracer(tp trace.TracerProvider, parents ParentLookup, log *slog.Logger) *Tracer {
	if log == nil {
		log = slog.Default()
	}
	return &Tracer{tr: tp.Tracer(instrumentation), parents: parents, log: log}
}

// stageKind is the span kind of each stage.
func stageKind(st routing.Stage) trace.SpanKind {
	switch st {
	case routing.StageIntake:
		return trace.SpanKindServer
	case routing.StageDelivery, routing.StageWebhook, routing.StagePostfach:
		return trace.SpanKindClient
	case routing.StageKafkaStatus:
		return trace.SpanKindProducer
	}
	return trace.SpanKindInternal
}

// StartStage starts the span of one stage of sub, as a child of the intake
// span recorded in sub.TraceParent (looked up by sub.ID when empty). A span
// already in ctx from another trace (the inbound request that carried a
// receipt, say) is linked, not made the parent: the stage belongs to the
// submission's trace.
func (t *Tracer) StartStage(ctx context.Context, stage routing.Stage, sub routing.Submission) (context.Context, routing.Span) {
	if t == nil {
		return routing.StartStage(ctx, nil, stage, sub)
	}
	tp := sub.TraceParent
	if tp == "" && sub.ID != "" && t.parents != nil {
		var err error
		if tp, err = t.parents.TraceParent(ctx, sub.ID); err != nil {
			t.log.DebugContext(ctx, "tracing: no trace context for submission", "submission", sub.ID, "err", err)
		}
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(stageKind(stage))}
	parent := ctx
	if tp != "" {
		if sc := ParseTraceParent(tp); sc.IsValid() {
			if cur := trace.SpanContextFromContext(ctx); cur.IsValid() && cur.TraceID() != sc.TraceID() {
				opts = append(opts, trace.WithLinks(trace.Link{SpanContext: cur}))
			}
			parent = trace.ContextWithRemoteSpanContext(ctx, sc)
		}
	}
	attrs := []attribute.KeyValue{attribute.String(AttrStage, string(stage))}
	if sub.ID != "" {
		attrs = append(attrs, attribute.String(AttrSubmission, sub.ID))
	}
	if sub.Tenant != "" {
		attrs = append(attrs, attribute.String(AttrTenant, sub.Tenant))
	}
	if sub.Service != "" {
		attrs = append(attrs, attribute.String(AttrService, sub.Service))
	}
	opts = append(opts, trace.WithAttributes(attrs...))
	ctx, sp := t.tr.Start(parent, string(stage), opts...)
	return ctx, &span{sp: sp}
}

// span adapts an OpenTelemetry span to routing.Span.
type span struct {
	sp     trace.Span
	failed bool
}

func (s *span) SetAttribute(key string, value any) { s.sp.SetAttributes(attr(key, value)) }

func (s *span) Fail(reason string) {
	s.failed = true
	s.sp.SetStatus(codes.Error, reason)
}

func (s *span) End() {
	if !s.failed {
		s.sp.SetStatus(codes.Ok, "")
	}
	s.sp.End()
}

func attr(key string, value any) attribute.KeyValue {
	switch v := value.(type) {
	case string:
		return attribute.String(key, v)
	case int:
		return attribute.Int(key, v)
	case int64:
		return attribute.Int64(key, v)
	case bool:
		return attribute.Bool(key, v)
	case float64:
		return attribute.Float64(key, v)
	case fmt.Stringer:
		return attribute.String(key, v.String())
	}
	return attribute.String(key, fmt.Sprint(value))
}

// IntakeSpan is the span of one intake request. A nil *IntakeSpan is valid
// and does nothing.
type IntakeSpan struct {
	sp     trace.Span
	failed bool
}

// StartIntake starts the intake span. The caller's trace context is taken
// from h (an HTTP request's headers; nil for none) or, failing that, from
// ctx (a Kafka record's headers extracted with Extract). An invalid or
// missing traceparent starts a new trace: intake never fails for it.
func (t *Tracer) StartIntake(ctx context.Context, h http.Header, transport string) (context.Context, *IntakeSpan) {
	if t == nil {
		return ctx, nil
	}
	if h != nil {
		ctx = propagator.Extract(ctx, propagation.HeaderCarrier(h))
	}
	kind := trace.SpanKindServer
	if transport != "http" {
		kind = trace.SpanKindConsumer // a record from a queue (Kafka)
	}
	ctx, sp := t.tr.Start(ctx, string(routing.StageIntake), trace.WithSpanKind(kind), trace.WithAttributes(
		attribute.String(AttrStage, string(routing.StageIntake)), attribute.String("intake.transport", transport)))
	return ctx, &IntakeSpan{sp: sp}
}

// Accepted records the stored submission (new or an idempotent replay).
func (s *IntakeSpan) Accepted(sub routing.Submission, created bool) {
	if s == nil {
		return
	}
	s.sp.SetAttributes(attribute.String(AttrSubmission, sub.ID), attribute.String(AttrPortal, sub.PortalID),
		attribute.String(AttrTenant, sub.Tenant), attribute.String(AttrService, sub.Service),
		attribute.Int("intake.attachments", len(sub.Attachments)), attribute.Bool("intake.replay", !created))
}

// Rejected records that the intake refused the request (problem status and code).
func (s *IntakeSpan) Rejected(status int, code, detail string) {
	if s == nil {
		return
	}
	s.failed = true
	s.sp.SetAttributes(attribute.Int("http.response.status_code", status), attribute.String("intake.problem", code))
	s.sp.SetStatus(codes.Error, strconv.Itoa(status)+" "+code+": "+detail)
}

// End finishes the intake span.
func (s *IntakeSpan) End() {
	if s == nil {
		return
	}
	if !s.failed {
		s.sp.SetStatus(codes.Ok, "")
	}
	s.sp.End()
}

// TraceParent returns the W3C traceparent of the span in ctx, "" if ctx
// carries none. It is what intake stores with a submission.
func TraceParent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	propagator.Inject(trace.ContextWithSpanContext(context.Background(), sc), c)
	return c["traceparent"]
}

// ParseTraceParent parses a W3C traceparent; an invalid one gives an
// invalid (zero) span context.
func ParseTraceParent(tp string) trace.SpanContext {
	ctx := propagator.Extract(context.Background(), propagation.MapCarrier{"traceparent": tp})
	return trace.SpanContextFromContext(ctx)
}

// Extract returns ctx with the remote trace context read by get (a Kafka
// record's headers, say): traceparent and tracestate. Invalid values are
// ignored.
func Extract(ctx context.Context, get func(key string) (string, bool)) context.Context {
	c := propagation.MapCarrier{}
	for _, k := range propagator.Fields() {
		if v, ok := get(k); ok {
			c[k] = v
		}
	}
	return propagator.Extract(ctx, c)
}

// Transport returns an http.RoundTripper that adds the W3C trace context of
// the request's context (traceparent, tracestate) to outbound requests
// (webhook calls, the Servicekonto Postfach, XTA/OSCI SOAP requests: as an
// HTTP header, never in a signed body). base nil means
// http.DefaultTransport.
func Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper{base}
}

type roundTripper struct{ base http.RoundTripper }

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	if !trace.SpanContextFromContext(r.Context()).IsValid() {
		return rt.base.RoundTrip(r)
	}
	r = r.Clone(r.Context()) // a RoundTripper must not modify the caller's request
	propagator.Inject(r.Context(), propagation.HeaderCarrier(r.Header))
	return rt.base.RoundTrip(r)
}

// Middleware puts the W3C trace context of an incoming request (a portal's,
// a Fachverfahren's) into the request's context, so that the access log line
// names the caller's trace and spans started while handling it can continue
// or link to it. An invalid header is ignored.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Traceparent") != "" {
			r = r.WithContext(propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
		}
		next.ServeHTTP(w, r)
	})
}
