package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/connectors/mapping"
	"github.com/dxhub/dxhub/connectors/osciclient"
	"github.com/dxhub/dxhub/connectors/portal"
	"github.com/dxhub/dxhub/connectors/servicekonto"
	"github.com/dxhub/dxhub/connectors/webhook"
	"github.com/dxhub/dxhub/connectors/xtabox"
	"github.com/dxhub/dxhub/connectors/xtaclient"
	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/internal/metrics"
	"github.com/dxhub/dxhub/internal/standards"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/tracing"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xoev"
)

// loadConfig loads and validates the configuration ("" = embedded default).
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func cmdCheckConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check-config", stderr)
	path := fs.String("config", "", "configuration file (default: the embedded default)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %v", fs.Args())
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		for _, fe := range config.FieldErrors(err) {
			fmt.Fprintf(stderr, "  %s: %s\n", fe.Key, fe.Problem)
		}
		if len(config.FieldErrors(err)) == 0 {
			fmt.Fprintln(stderr, " ", err)
		}
		return errors.New("configuration is invalid")
	}
	src := cfg.Source()
	if src == "" {
		src = "embedded default"
	}
	fmt.Fprintf(stdout, "configuration OK (%s): %d tenants, %d portals, %d services, %d endpoints\n",
		src, len(cfg.Tenants), len(cfg.Portals), len(cfg.Services), len(cfg.Endpoints))
	for _, id := range cfg.InsecureDemoPortals() {
		fmt.Fprintf(stdout, "warning: portal %q uses the public demo API key\n", id)
	}
	for _, e := range cfg.IgnoredEnv() {
		fmt.Fprintf(stdout, "warning: environment variable %s matches no configuration key\n", e)
	}
	return nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	path := fs.String("config", "", "configuration file (default: the embedded default)")
	dataDir := fs.String("data", "", "data directory (overrides hub.dataDir)")
	listen := fs.String("listen", "", "listen address host:port (overrides hub.listen)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %v", fs.Args())
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	if *dataDir != "" {
		cfg.Hub.DataDir = *dataDir
	}
	if *listen != "" {
		cfg.Hub.Listen = *listen
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	hub, err := newHub(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer hub.close()
	return hub.serve(ctx, stdout)
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	if cfg.Hub.LogFormat == "json" {
		return slog.New(tracing.NewLogHandler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(tracing.NewLogHandler(slog.NewTextHandler(w, opts)))
}

// hub is the wired process: every component, built explicitly from config.
type hub struct {
	cfg        *config.Config
	log        *slog.Logger
	store      *store.Store
	blobs      *blob.Store
	mapper     *xoev.Mapper
	engine     *xoev.Engine // declarative profiles (services with a profile)
	dvdv       *dvdv.Resolver
	xtaOut     *xtaclient.Adapter  // delivery to remote XTA servers
	xta        *xtaWiring          // XTA server, its TLS listener, Leser jobs (serve_xta.go)
	osciOut    *osciclient.Adapter // delivery through OSCI intermediaries (serve_osci.go)
	osciRecv   osciclient.Receiver
	pipeline   *routing.Pipeline
	metrics    *metrics.Metrics // GET /metrics (serve_metrics.go)
	dispatcher *servicekonto.Dispatcher
	webhooks   *webhook.Dispatcher
	sla        *routing.SLAMonitor
	loc        *time.Location
	notify     chan struct{} // wakes the Postfach dispatcher
	hooks      chan struct{} // wakes the webhook dispatcher
	kafka      *kafkaWiring  // status topic and intake connector (serve_kafka.go)
	access     *accessWiring // portal keys, mTLS, data-access audit (serve_access.go)
	handler    http.Handler

	tracing *tracing.Provider // nil when tracing is off (serve_tracing.go)
}

func newHub(ctx context.Context, cfg *config.Config, log *slog.Logger) (*hub, error) {
	for _, id := range cfg.InsecureDemoPortals() {
		log.Warn("!!! INSECURE DEMO DEFAULT: portal uses the public API key \""+config.DemoAPIKey+
			"\"; anyone can submit. Configure your own portals and keys before exposing this hub.", "portal", id)
	}
	for _, e := range cfg.IgnoredEnv() {
		log.Warn("environment variable matches no configuration key", "var", e)
	}
	loc, err := cfg.Location()
	if err != nil {
		return nil, err
	}
	stdDir, err := standards.Locate(cfg.Hub.StandardsDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Hub.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	h := &hub{cfg: cfg, log: log, notify: make(chan struct{}, 1), hooks: make(chan struct{}, 1)}
	ok := false
	defer func() {
		if !ok {
			h.close()
		}
	}()
	if h.store, err = openStore(ctx, cfg); err != nil {
		return nil, err
	}
	if h.blobs, err = blob.Open(filepath.Join(cfg.Hub.DataDir, "blobs")); err != nil {
		return nil, err
	}
	if h.tracing, err = newTracing(ctx, cfg, h.store, log); err != nil {
		return nil, err
	}
	artDesAntrags := map[string]string{}
	services := map[string]routing.Service{}
	var serviceIDs []string
	for _, s := range cfg.Services {
		services[s.ID] = routing.Service{ID: s.ID, ServiceURI: s.ServiceURI}
		serviceIDs = append(serviceIDs, s.ID)
		if s.ArtDesAntrags != "" {
			artDesAntrags[s.ID] = s.ArtDesAntrags
		}
	}
	// One set of code lists and compiled schemas for the built-in mapper and
	// the profile engine.
	if h.mapper, h.engine, err = xoev.OpenMapperAndEngine(xoev.Config{
		StandardsDir: stdDir, ServiceArtDesAntrags: artDesAntrags, Location: loc, Logger: log,
		Product: xoev.Product{Name: "dxhub", Version: version},
	}); err != nil {
		return nil, fmt.Errorf("xoev: %w", err)
	}
	if err := registerProfiles(h.engine, cfg); err != nil {
		return nil, fmt.Errorf("xoev profiles: %w", err)
	}
	mapper := mapping.Mapper{X: h.mapper, E: h.engine}
	tenants := map[string]routing.Tenant{}
	var tenantAGS, accounts []string
	for _, t := range cfg.Tenants {
		tenants[t.AGS] = routing.Tenant{AGS: t.AGS, Name: t.Name, DVDVKey: t.DVDVKey}
		tenantAGS = append(tenantAGS, t.AGS)
		accounts = append(accounts, t.DVDVKey)
	}
	entries := make([]dvdv.Entry, len(cfg.Endpoints))
	for i, e := range cfg.Endpoints {
		entries[i] = dvdv.Entry{ReaderKey: e.ReaderKey, ServiceURI: e.ServiceURI, Transport: e.Transport, URL: e.URL,
			Intermediary: e.Intermediary, EncryptionCert: e.EncryptionCert, SignatureCert: e.SignatureCert}
	}
	dir, err := dvdv.NewFileDirectory("config", entries)
	if err != nil {
		return nil, err
	}
	// Configured endpoints take precedence; with dvdv.servers set, everything
	// else is looked up in the DVDV (cached, persisted, failover).
	var resolver routing.Resolver = dir
	if cfg.DVDV.Enabled() {
		if h.dvdv, err = newDVDVResolver(ctx, cfg, h.store, log); err != nil {
			return nil, fmt.Errorf("dvdv: %w", err)
		}
		resolver = dvdv.Chain(dir, h.dvdv)
	}
	clock := routing.SystemClock{}
	back := &routing.BackChannel{Store: h.store, Parser: inboundParser(h.cfg), Tenants: tenants, Clock: clock, Logger: log}
	if h.access, err = newAccessWiring(cfg, h.store); err != nil {
		return nil, err
	}
	mailbox := &xtabox.Mailbox{Store: h.store, Blobs: xtabox.BlobStore{Store: h.blobs}, Receiver: notifying{back, h.wakeNotify},
		Accounts: accounts, AuthorKey: cfg.Hub.AuthorKey, Clock: clock, AuditAccess: h.access.mailboxAudit,
		AuditEntry: mailboxEntry}
	xtaOpts, err := xtaClientOptions(cfg, log, clock)
	if err != nil {
		return nil, err
	}
	xtaOpts.WrapTransport = h.traceTransport
	back.Tracer = h.tracer()
	if h.xtaOut, err = xtaclient.New(h.store, xtabox.BlobStore{Store: h.blobs}, xtaOpts); err != nil {
		return nil, err
	}
	transports := map[routing.TransportKind]routing.Transport{routing.TransportXTAMailbox: mailbox, routing.TransportXTA: h.xtaOut}
	if err := h.setupOSCI(resolver, notifying{back, h.wakeNotify}, transports); err != nil {
		return nil, err
	}
	h.metrics = newHubMetrics(h, log)
	hostname, _ := os.Hostname()
	h.pipeline, err = routing.NewPipeline(routing.PipelineConfig{
		Store: h.store, Mapper: mapper, Resolver: resolver,
		Transports: transports,
		Tenants:    tenants, Services: services, AuthorKey: cfg.Hub.AuthorKey, AuthorName: cfg.Hub.AuthorName,
		Retry: routing.RetryPolicy{Initial: cfg.Retry.InitialBackoff, Max: cfg.Retry.MaxBackoff, Multiplier: cfg.Retry.Multiplier,
			Jitter: cfg.Retry.Jitter, MaxAttempts: cfg.Retry.MaxAttempts, MaxAge: cfg.Retry.MaxAge},
		Clock: clock, Logger: log, Owner: fmt.Sprintf("%s/%d", hostname, os.Getpid()),
		Lease: cfg.Workers.Lease, Workers: cfg.Workers.Count, Poll: cfg.Workers.PollInterval,
		OnEvent:   h.wakeNotify,
		OnAttempt: h.metrics.ObserveAttempt,
		Breakers:  breakerPolicy(cfg.Reliability),
		Tracer:    h.tracer(),
	})
	if err != nil {
		return nil, err
	}
	texts := servicekonto.DefaultTexts()
	if cfg.Mailbox.Messages != "" {
		if texts, err = servicekonto.LoadTexts(cfg.Mailbox.Messages); err != nil {
			return nil, err
		}
	}
	var sink servicekonto.Sink = &servicekonto.LocalSink{Store: h.store, Clock: clock}
	if m := cfg.Mailbox; m.URL != "" {
		if sink, err = servicekonto.NewClient(servicekonto.ClientConfig{BaseURL: m.URL, CertFile: m.CertFile, KeyFile: m.KeyFile,
			CAFile: m.CAFile, Sender: m.Sender, ReplyAddress: m.ReplyAddress, Logger: log, WrapTransport: h.traceTransport,
			Blobs: xtabox.BlobStore{Store: h.blobs}}); err != nil {
			return nil, err
		}
	}
	h.dispatcher = &servicekonto.Dispatcher{Store: h.store, Sink: sink, Texts: texts, Location: loc, Clock: clock, Logger: log}
	h.loc = loc
	h.sla = slaMonitor(cfg, h.store, clock, log, h.wakeNotify)

	portals, err := h.access.portals(cfg)
	if err != nil {
		return nil, err
	}
	targets := map[string]webhook.Target{}
	for _, p := range cfg.Portals {
		if p.Webhook.URL != "" {
			targets[p.ID] = webhook.Target{URL: p.Webhook.URL, Secret: p.Webhook.SigningSecret()}
		}
	}
	h.webhooks = &webhook.Dispatcher{Store: h.store, Targets: targets, Clock: clock, Logger: log,
		Retry: routing.RetryPolicy{Initial: 5 * time.Second, Max: 10 * time.Minute, Multiplier: 2, Jitter: 0.2}}
	applyXMLLimits(cfg)
	scanner, err := newScanner(ctx, cfg, h.blobs, log)
	if err != nil {
		return nil, err
	}
	api, err := portal.New(h.store, h.blobs, portal.Options{
		Tracer:  h.tracer(),
		BaseURL: cfg.BaseURL(), Portals: portals, Tenants: tenantAGS, Services: serviceIDs,
		MaxBodyBytes: cfg.Limits.MaxBodyBytes.Int64(), MaxJSONBytes: cfg.Limits.MaxJSONBytes.Int64(),
		MaxAttachmentBytes: cfg.Limits.MaxAttachmentBytes.Int64(), MaxAttachments: cfg.Limits.MaxAttachments,
		MaxJSONDepth: cfg.Limits.MaxJSONDepth, Logger: log, Ready: h.store.Ping,
		MaxTotalAttachmentBytes: cfg.Limits.MaxTotalAttachmentBytes.Int64(), Scanner: scanner, ScanRetryAfter: cfg.Antivirus.RetryAfter,
		OnAccepted: func(string) { h.pipeline.Wake(); h.wakeNotify() },
		Check:      mapper.Precheck(h.pipeline.Premap),
		Keys:       storeKeys{h.store}, AuditAccess: h.access.portalAudit,
	})
	if err != nil {
		return nil, err
	}
	cfg.DropPortalSecrets() // from here on only the keys' SHA-256 exist
	if h.xta, err = newXTAWiring(cfg, mailbox, h.store, h.xtaOut, notifying{back, h.wakeNotify}, h.blobs, stdDir, log, clock, h.metrics); err != nil {
		return nil, err
	}
	if h.kafka, err = newKafkaWiring(cfg, h.store, api, h.pipeline, clock, log); err != nil {
		return nil, err
	}
	h.traceDispatchers()
	mux := http.NewServeMux()
	api.Register(mux)
	h.xta.mount(mux)
	mux.Handle("GET /v1/mailboxes/{handle}/messages", servicekonto.Handler(h.store, api.AuthorizeAccess("postfach.list", mailboxResource)))
	mux.Handle("GET /v1/mailboxes/{handle}/messages/{id}/attachments/{n}",
		servicekonto.AttachmentHandler(h.store, xtabox.BlobStore{Store: h.blobs}, api.AuthorizeAccess("postfach.attachment.read", mailboxResource)))
	if err := mountServiceSchemas(mux, cfg, h.engine, api); err != nil {
		return nil, fmt.Errorf("service schemas: %w", err)
	}
	if err := h.mountAdmin(mux); err != nil {
		return nil, fmt.Errorf("admin UI: %w", err)
	}
	mux.Handle("GET /metrics", h.metrics.Handler())
	h.handler = logRequests(log, h.metrics, xtabox.WithPeer(mux))
	ok = true
	return h, nil
}

// notifying wakes the Postfach dispatcher after each committed inbound message.
type notifying struct {
	*routing.BackChannel
	wake func()
}

func (n notifying) Receive(ctx context.Context, in routing.Inbound) (routing.InboundRecord, error) {
	rec, err := n.BackChannel.Receive(ctx, in)
	if err == nil {
		n.wake()
	}
	return rec, err
}

// wakeNotify wakes the Postfach and webhook dispatchers after a committed
// status event.
func (h *hub) wakeNotify() {
	for _, c := range []chan struct{}{h.notify, h.hooks} {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	h.kafka.wakeup()
}

func (h *hub) close() {
	h.kafka.close()
	h.xta.close()
	h.access.close()
	if h.engine != nil {
		h.engine.Close()
	}
	if h.mapper != nil {
		h.mapper.Close()
	}
	h.closeTracing() // flushes kept spans into the store: before it closes
	if h.store != nil {
		h.store.Close()
	}
}

// serve listens, runs the background loops, prints the ready line and shuts
// down gracefully when ctx ends.
func (h *hub) serve(ctx context.Context, stdout io.Writer) error {
	h.handler = h.traceRequests(h.handler) // serve_tracing.go
	ln, err := net.Listen("tcp", h.cfg.Hub.Listen)
	if err != nil {
		return err
	}
	ln, scheme := h.access.listen(ln)
	srv := &http.Server{Handler: h.handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	bg, stop := context.WithCancel(ctx)
	defer stop()
	// Scheduled jobs (robfig/cron, the configured time zone; never overlapping).
	jobs := cron.New(cron.WithLocation(h.loc), cron.WithChain(cron.Recover(cronLogger{h.log}), cron.SkipIfStillRunning(cronLogger{h.log})))
	if _, err := jobs.AddFunc("@every 1m", func() {
		if _, _, err := h.sla.RunOnce(bg); err != nil && bg.Err() == nil {
			h.log.Error("SLA check failed", "err", err)
		}
	}); err != nil {
		return err
	}
	// Remote XTA servers: poll open transport reports until they are final.
	if _, err := jobs.AddFunc("@every 30s", func() {
		if _, err := h.xtaOut.PollReports(bg, 100); err != nil && bg.Err() == nil {
			h.log.Error("XTA transport report poll failed", "err", err)
		}
	}); err != nil {
		return err
	}
	if err := h.xta.schedule(bg, jobs); err != nil {
		return err
	}
	if err := h.registerOSCIJobs(bg, jobs); err != nil {
		return err
	}
	if err := h.scheduleRetention(bg, jobs, time.Now); err != nil {
		return err
	}
	if err := h.scheduleTracing(bg, jobs); err != nil {
		return err
	}
	if h.dvdv != nil {
		if _, err := h.dvdv.RegisterRefresh(jobs, h.cfg.DVDV.RefreshSchedule, time.Minute); err != nil {
			return fmt.Errorf("dvdv refresh schedule: %w", err)
		}
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); h.pipeline.Run(bg) }()
	go func() { defer wg.Done(); h.dispatcher.Run(bg, 2*time.Second, h.notify) }()
	go func() { defer wg.Done(); h.webhooks.Run(bg, 2*time.Second, h.hooks) }()
	h.kafka.start(bg, &wg)
	jobs.Start()
	defer func() { <-jobs.Stop().Done() }()
	if h.cfg.Hub.DebugListen != "" {
		dbg, err := startDebugServer(h.cfg.Hub.DebugListen)
		if err != nil {
			return fmt.Errorf("hub.debugListen: %w", err)
		}
		defer dbg.Close()
		h.log.Info("pprof profiles served", "addr", "http://"+h.cfg.Hub.DebugListen+"/debug/pprof/")
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	xtaErrc := h.xta.start(stdout)
	h.log.Info("dxhub listening", "addr", ln.Addr().String(), "base_url", h.cfg.BaseURL(),
		"data", h.cfg.Hub.DataDir, "workers", h.cfg.Workers.Count, "version", version)
	fmt.Fprintf(stdout, "dxhub ready on %s://%s\n", scheme, ln.Addr())
	select {
	case <-ctx.Done():
	case err = <-errc:
	case err = <-xtaErrc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	serr := errors.Join(srv.Shutdown(shutdownCtx), h.xta.shutdown(shutdownCtx))
	stop()
	wg.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return serr
}

// logRequests logs each request at debug level, errors at info.
func logRequests(log *slog.Logger, m *metrics.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		m.ObserveHTTP(r.Pattern, r.Method, rec.status, time.Since(start))
		level := slog.LevelDebug
		if rec.status >= 400 {
			level = slog.LevelInfo
		}
		log.Log(r.Context(), level, "http", "method", r.Method, "path", strings.SplitN(r.URL.RequestURI(), "?", 2)[0],
			"status", rec.status, "duration", time.Since(start))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Flush keeps streaming responses (XTA getMessage) streaming.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// cronLogger adapts slog to cron.Logger.
type cronLogger struct{ log *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.log.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.log.Error("cron: "+msg, append(kv, "err", err)...)
}
