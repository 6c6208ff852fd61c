package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/tracing"
)

// newTracing builds the tracer provider from tracing.* (nil when tracing is
// off): OTLP/HTTP export when tracing.otlp.endpoint is set, spans of
// submissions kept in the store when tracing.local.enabled.
func newTracing(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger) (*tracing.Provider, error) {
	t := cfg.Tracing
	if !t.Enabled {
		return nil, nil
	}
	headers, err := t.OTLP.OTLPHeaders()
	if err != nil {
		return nil, fmt.Errorf("tracing.otlp.headers: %w", err)
	}
	o := tracing.Options{
		ServiceName: t.ServiceName, ServiceVersion: version, SampleRatio: t.SampleRatio,
		OTLP: tracing.OTLPOptions{Endpoint: t.OTLP.Endpoint, CAFile: t.OTLP.CAFile, CertFile: t.OTLP.CertFile,
			KeyFile: t.OTLP.KeyFile, Headers: headers, Timeout: t.OTLP.Timeout, Compression: t.OTLP.Compression},
		Parents: st, Logger: log,
	}
	if t.Local.Enabled {
		o.Local, o.LocalPerSubmission, o.LocalFlush = st, t.Local.MaxSpansPerSubmission, t.Local.FlushInterval
	}
	p, err := tracing.New(ctx, o)
	if err != nil {
		return nil, err
	}
	log.Info("tracing on", "otlp", t.OTLP.Endpoint != "", "local", t.Local.Enabled, "sample_ratio", t.SampleRatio)
	return p, nil
}

// tracer is the hub's stage tracer (nil when tracing is off; the pipeline and
// the connectors treat a nil *tracing.Tracer as "no tracing").
func (h *hub) tracer() *tracing.Tracer { return h.tracing.Tracer() }

// traceDispatchers gives the status dispatchers their stage spans and makes
// the outbound HTTP of webhooks and the Servicekonto Postfach carry the W3C
// trace context.
func (h *hub) traceDispatchers() {
	if h.tracing == nil {
		return
	}
	tr := h.tracer()
	h.webhooks.Tracer = tr
	client := h.webhooks.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	c := *client
	c.Transport = tracing.Transport(c.Transport)
	h.webhooks.Client = &c
	h.dispatcher.Tracer = tr
	if h.kafka != nil && h.kafka.publisher != nil {
		h.kafka.publisher.Tracer = tr
	}
}

// scheduleTracing prunes the kept spans to tracing.local.maxSpans hourly.
func (h *hub) scheduleTracing(ctx context.Context, jobs *cron.Cron) error {
	if h.tracing == nil || !h.cfg.Tracing.Local.Enabled {
		return nil
	}
	_, err := jobs.AddFunc("@every 1h", func() {
		n, err := h.store.PruneSpans(ctx, h.cfg.Tracing.Local.MaxSpans)
		switch {
		case err != nil && ctx.Err() == nil:
			h.log.Error("tracing: pruning kept spans failed", "err", err)
		case n > 0:
			h.log.Info("tracing: oldest kept spans pruned", "deleted", n, "max", h.cfg.Tracing.Local.MaxSpans)
		}
	})
	return err
}

// closeTracing flushes the spans still queued.
func (h *hub) closeTracing() {
	if h.tracing == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.tracing.Shutdown(ctx); err != nil {
		h.log.Warn("tracing: flushing spans at shutdown failed", "err", err)
	}
}

// traceTransport wraps an outbound HTTP transport so that requests carry
// the W3C trace context of their context (unchanged when tracing is off).
func (h *hub) traceTransport(rt http.RoundTripper) http.RoundTripper {
	if h.tracing == nil {
		return rt
	}
	return tracing.Transport(rt)
}

// traceRequests reads the W3C trace context of incoming requests into their
// context (before the access log, which then names the caller's trace).
func (h *hub) traceRequests(next http.Handler) http.Handler {
	if h.tracing == nil {
		return next
	}
	return tracing.Middleware(next)
}
