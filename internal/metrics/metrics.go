// Package metrics exposes the hub's Prometheus metrics on its own registry:
// counters and histograms fed by hooks (HTTP requests, delivery attempts),
// and gauges read at scrape time from their sources (submissions by status,
// queue depth and age, DVDV cache, circuit breakers), so a scrape always
// shows the durable state, also of work other processes did.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

// Store is what the scrape-time gauges read.
type Store interface {
	SubmissionCounts(ctx context.Context) ([]store.SubmissionCount, error)
	QueueStats(ctx context.Context, now time.Time) (depth int, oldest time.Duration, err error)
	// WriteStats: write transactions asked for and commits that carried
	// them (group commit); zero on backends without grouping.
	WriteStats() (writes, commits int64)
}

// Sources are the optional live components read at scrape time.
type Sources struct {
	Store    Store
	Breakers interface {
		States() map[string]routing.EndpointState
	}
	DVDV   interface{ Stats() dvdv.Stats } // nil without DVDV
	Logger *slog.Logger
}

// Metrics is the hub's registry and the instruments fed by hooks.
type Metrics struct {
	reg      *prometheus.Registry
	http     *prometheus.HistogramVec
	attempts *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New builds the registry with every dxhub metric and the Go/process
// collectors.
func New(src Sources) *Metrics {
	if src.Logger == nil {
		src.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.http = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "dxhub_http_request_duration_seconds", Help: "HTTP requests by route pattern, method and status code.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"route", "method", "code"})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dxhub_delivery_attempts_total", Help: "Transport attempts by endpoint, transport and outcome.",
	}, []string{"endpoint", "transport", "outcome"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "dxhub_delivery_attempt_duration_seconds", Help: "Duration of transport attempts by transport.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
	}, []string{"transport"})
	m.reg.MustRegister(m.http, m.attempts, m.duration, &scrape{src: src},
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveHTTP records one request; route is the mux pattern that matched
// ("" for none), so label values stay bounded.
func (m *Metrics) ObserveHTTP(route, method string, code int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.http.WithLabelValues(route, method, strconv.Itoa(code)).Observe(d.Seconds())
}

// ObserveAttempt is the pipeline's OnAttempt hook.
func (m *Metrics) ObserveAttempt(r routing.AttemptResult) {
	rt := r.Delivery.Route
	endpoint := rt.Endpoint
	if endpoint == "" {
		endpoint = rt.ReaderKey // the built-in mailbox of that reader
	}
	m.attempts.WithLabelValues(endpoint, string(rt.Transport), r.Outcome.Kind.String()).Inc()
	m.duration.WithLabelValues(string(rt.Transport)).Observe(r.Finished.Sub(r.Started).Seconds())
}

// scrape is the collector of the scrape-time gauges.
type scrape struct{ src Sources }

var (
	descSubmissions = prometheus.NewDesc("dxhub_submissions", "Submissions by tenant, service and current status.",
		[]string{"tenant", "service", "status"}, nil)
	descQueueDepth = prometheus.NewDesc("dxhub_queue_depth", "Submissions with pipeline work pending (mapping, routing, delivery).", nil, nil)
	descQueueAge   = prometheus.NewDesc("dxhub_queue_oldest_age_seconds", "Age of the oldest pending pipeline job.", nil, nil)
	descBreaker    = prometheus.NewDesc("dxhub_breaker_state", "Circuit breaker per endpoint: 0 closed, 1 half-open, 2 open.",
		[]string{"endpoint"}, nil)
	descInFlight = prometheus.NewDesc("dxhub_delivery_in_flight", "Delivery attempts in flight per endpoint.", []string{"endpoint"}, nil)
	descDVDV     = prometheus.NewDesc("dxhub_dvdv_cache_total", "DVDV cache: hit, negative_hit, miss, stale (served while DVDV was down), fetch, fetch_error, refresh, failover.",
		[]string{"result"}, nil)
	descDVDVEntries = prometheus.NewDesc("dxhub_dvdv_cache_entries", "DVDV cache entries in memory.", nil, nil)
	descWrites      = prometheus.NewDesc("dxhub_store_writes_total", "Write transactions (group commit: several share one commit).", nil, nil)
	descCommits     = prometheus.NewDesc("dxhub_store_commits_total", "Database commits (fsyncs) that carried the writes.", nil, nil)
	descScrapeError = prometheus.NewDesc("dxhub_scrape_errors", "1 if a scrape-time source failed (see the log).", []string{"source"}, nil)
)

func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSubmissions, descQueueDepth, descQueueAge, descBreaker, descInFlight, descDVDV,
		descDVDVEntries, descScrapeError, descWrites, descCommits} {
		ch <- d
	}
}

func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	failed := func(source string, err error) {
		s.src.Logger.Warn("metrics: scrape source failed", "source", source, "err", err)
		ch <- prometheus.MustNewConstMetric(descScrapeError, prometheus.GaugeValue, 1, source)
	}
	if s.src.Store != nil {
		counts, err := s.src.Store.SubmissionCounts(ctx)
		if err != nil {
			failed("submissions", err)
		}
		for _, c := range counts {
			ch <- prometheus.MustNewConstMetric(descSubmissions, prometheus.GaugeValue, float64(c.N), c.Tenant, c.Service, c.Status)
		}
		w, c := s.src.Store.WriteStats()
		ch <- prometheus.MustNewConstMetric(descWrites, prometheus.CounterValue, float64(w))
		ch <- prometheus.MustNewConstMetric(descCommits, prometheus.CounterValue, float64(c))
		depth, oldest, err := s.src.Store.QueueStats(ctx, time.Now())
		if err != nil {
			failed("queue", err)
		} else {
			ch <- prometheus.MustNewConstMetric(descQueueDepth, prometheus.GaugeValue, float64(depth))
			ch <- prometheus.MustNewConstMetric(descQueueAge, prometheus.GaugeValue, oldest.Seconds())
		}
	}
	if s.src.Breakers != nil {
		for ep, st := range s.src.Breakers.States() {
			v := 0.0
			switch st.State {
			case "half-open":
				v = 1
			case "open":
				v = 2
			}
			ch <- prometheus.MustNewConstMetric(descBreaker, prometheus.GaugeValue, v, ep)
			ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(st.InFlight), ep)
		}
	}
	if s.src.DVDV != nil {
		st := s.src.DVDV.Stats()
		for _, kv := range []struct {
			k string
			v int64
		}{{"hit", st.Hits}, {"negative_hit", st.NegativeHits}, {"miss", st.Misses}, {"stale", st.StaleServed},
			{"fetch", st.Fetches}, {"fetch_error", st.FetchErrors}, {"refresh", st.Refreshed}, {"failover", st.Failovers}} {
			ch <- prometheus.MustNewConstMetric(descDVDV, prometheus.CounterValue, float64(kv.v), kv.k)
		}
		ch <- prometheus.MustNewConstMetric(descDVDVEntries, prometheus.GaugeValue, float64(st.Entries))
	}
}
