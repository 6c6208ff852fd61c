// Package tracing is dxhub's OpenTelemetry tracing: one span per stage of a
// submission's way through the hub (intake → mapping → routing → delivery →
// back-channel, plus the status dispatches), all in the trace the portal
// started (W3C trace context, `traceparent`/`tracestate`).
//
// The pipeline is asynchronous: intake commits a submission and returns, and
// workers (possibly in another process, possibly after a restart) pick it up
// later. The intake span's context is therefore persisted with the submission
// (routing.Submission.TraceParent) and every later stage span is its child.
//
// Finished spans are exported over OTLP/HTTP to a collector and/or kept in
// the store (StoreExporter) so that `dxhub trace` shows them without one.
// LogHandler adds trace_id and span_id to every log record made with a
// context that carries a span.
//
// routing does not import this package: Tracer implements routing.Tracer and
// is plugged in by cmd/dxhub.
package tracing

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Attribute keys dxhub sets on its spans.
const (
	AttrSubmission = "dxhub.submission_id"
	AttrStage      = "dxhub.stage"
	AttrTenant     = "dxhub.tenant"
	AttrService    = "dxhub.service"
	AttrPortal     = "dxhub.portal"
)

// instrumentation is the name of dxhub's tracer (the OTLP instrumentation scope).
const instrumentation = "github.com/dxhub/dxhub"

// propagator is the W3C trace context propagator (traceparent, tracestate).
var propagator = propagation.TraceContext{}

// Propagator returns the W3C trace context propagator dxhub uses on every edge.
func Propagator() propagation.TextMapPropagator { return propagator }

// Options configure a Provider.
type Options struct {
	ServiceName    string
	ServiceVersion string
	// SampleRatio is the share of new traces that are recorded; a trace
	// context from a portal keeps the portal's sampling decision.
	SampleRatio float64

	// OTLP exporter; Endpoint "" = no export.
	OTLP OTLPOptions

	// Local keeps finished spans of submissions in the store; nil = none.
	Local SpanStore
	// LocalPerSubmission caps the kept spans of one submission (default 256).
	LocalPerSubmission int
	// LocalFlush is the longest a finished span waits before it is written
	// to the store (default 1 s).
	LocalFlush time.Duration

	// Parents looks up the trace context of a submission whose
	// routing.Submission value does not carry it (status dispatchers).
	Parents ParentLookup

	Logger *slog.Logger
}

// OTLPOptions configure the OTLP/HTTP exporter (protobuf encoding).
type OTLPOptions struct {
	Endpoint    string // full URL of the traces endpoint, e.g. https://collector:4318/v1/traces
	CAFile      string
	CertFile    string
	KeyFile     string
	Headers     map[string]string // e.g. Authorization; never logged
	Timeout     time.Duration
	Compression string // gzip or none
	// BatchTimeout is the longest a finished span waits for export
	// (default 5 s, the SDK's).
	BatchTimeout time.Duration
}

// Provider owns the SDK tracer provider and its exporters.
type Provider struct {
	tp     *sdktrace.TracerProvider
	tracer *Tracer
}

// New builds a provider: a parent-based ratio sampler, a batching OTLP/HTTP
// exporter when an endpoint is configured and a batching store exporter when
// Local is set.
func New(ctx context.Context, o Options) (*Provider, error) {
	if o.ServiceName == "" {
		o.ServiceName = "dxhub"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SampleRatio < 0 || o.SampleRatio > 1 {
		return nil, fmt.Errorf("tracing: sample ratio %g outside [0, 1]", o.SampleRatio)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", o.ServiceName)}
	if o.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", o.ServiceVersion))
	}
	if host, err := os.Hostname(); err == nil {
		attrs = append(attrs, attribute.String("host.name", host))
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SampleRatio))),
	}
	if o.OTLP.Endpoint != "" {
		exp, err := NewOTLPExporter(ctx, o.OTLP)
		if err != nil {
			return nil, err
		}
		var bo []sdktrace.BatchSpanProcessorOption
		if o.OTLP.BatchTimeout > 0 {
			bo = append(bo, sdktrace.WithBatchTimeout(o.OTLP.BatchTimeout))
		}
		opts = append(opts, sdktrace.WithBatcher(exp, bo...))
	}
	if o.Local != nil {
		flush := o.LocalFlush
		if flush <= 0 {
			flush = time.Second
		}
		exp := &StoreExporter{Store: o.Local, PerSubmission: o.LocalPerSubmission, Logger: o.Logger}
		opts = append(opts, sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(flush)))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	// Export failures (collector down, store busy) surface through the
	// SDK's global error handler: route them to the hub's log. Spans that
	// cannot be exported are dropped; the pipeline never waits for them.
	log := o.Logger
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: span export failed", "err", err)
	}))
	return &Provider{tp: tp, tracer: NewTracer(tp, o.Parents, o.Logger)}, nil
}

// Tracer returns the hub's tracer (implements routing.Tracer).
func (p *Provider) Tracer() *Tracer {
	if p == nil {
		return nil
	}
	return p.tracer
}

// TracerProvider returns the SDK provider.
func (p *Provider) TracerProvider() trace.TracerProvider { return p.tp }

// ForceFlush exports every finished span now.
func (p *Provider) ForceFlush(ctx context.Context) error {
	if p == nil {
		return nil
	}
	return p.tp.ForceFlush(ctx)
}

// Shutdown flushes and stops the exporters.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	return p.tp.Shutdown(ctx)
}

// NewOTLPExporter returns an OTLP/HTTP (protobuf) span exporter.
func NewOTLPExporter(ctx context.Context, o OTLPOptions) (sdktrace.SpanExporter, error) {
	if o.Endpoint == "" {
		return nil, errors.New("tracing: OTLP endpoint is empty")
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(o.Endpoint)}
	if o.Timeout > 0 {
		opts = append(opts, otlptracehttp.WithTimeout(o.Timeout))
	}
	if o.Compression == "none" {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.NoCompression))
	} else {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	}
	if len(o.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(o.Headers))
	}
	if o.CAFile != "" || o.CertFile != "" {
		tc, err := clientTLS(o.CAFile, o.CertFile, o.KeyFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, otlptracehttp.WithTLSClientConfig(tc))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	return exp, nil
}

func clientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tracing: OTLP CA %s holds no PEM certificate", caFile)
		}
		tc.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
