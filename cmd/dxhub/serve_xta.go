package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/dxhub/dxhub/internal/metrics"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/connectors/xtabox"
	"github.com/dxhub/dxhub/connectors/xtaclient"
	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xta"
)

// xtaWiring is the XTA side of a hub: the built-in XTA server (on the main
// listener, or on its own TLS listener with client certificates), the
// client adapter for remote XTA servers and the Leser jobs.
type xtaWiring struct {
	server *xta.Server
	// tlsLn and tlsConf are set when the XTA ports have their own TLS
	// listener (xta.server.tls); url is where the ports are reached.
	tlsLn   net.Listener
	tlsConf *tls.Config
	url     string
	mtls    bool
	handler http.Handler
	// Leser: jobs, their persistence and the adapter that runs them.
	out   *xtaclient.Adapter
	jobs  []xtaclient.LeserJob
	inbox xtaclient.Inbox
	srv   *http.Server
	log   *slog.Logger
}

// xtaClientOptions builds the options of the remote-XTA adapter from
// xta.client: timeouts, MTOM, the default client certificate and one per
// tenant. Unreadable certificates are configuration errors naming their key.
func xtaClientOptions(cfg *config.Config, log *slog.Logger, clock routing.Clock) (xtaclient.Options, error) {
	c := cfg.XTA.Client
	opts := xtaclient.Options{AuthorKey: cfg.Hub.AuthorKey, Logger: log, Clock: clock, Timeout: c.Timeout,
		RetryMax: c.RetryMax, MTOM: c.MTOM, MTOMEndpoints: map[string]bool{}, Tenants: map[string]*tls.Config{}}
	for _, e := range c.Endpoints {
		opts.MTOMEndpoints[e.URL] = e.MTOM
	}
	if _, err := xta.ClientTLSConfig("", "", c.ServerCAFile); err != nil {
		return opts, &config.FieldError{Key: "xta.client.serverCAFile", Problem: err.Error()}
	}
	var err error
	if opts.TLS, err = xta.ClientTLSConfig(c.CertFile, c.KeyFile, c.ServerCAFile); err != nil {
		return opts, &config.FieldError{Key: "xta.client.certFile", Problem: err.Error()}
	}
	for i, t := range c.Tenants {
		if opts.Tenants[t.Tenant], err = xta.ClientTLSConfig(t.CertFile, t.KeyFile, c.ServerCAFile); err != nil {
			return opts, &config.FieldError{Key: fmt.Sprintf("xta.client.tenants[%d].certFile", i), Problem: err.Error()}
		}
	}
	return opts, nil
}

// leserJobs turns xta.client.leser into adapter jobs.
func leserJobs(cfg *config.Config) []xtaclient.LeserJob {
	jobs := make([]xtaclient.LeserJob, len(cfg.XTA.Client.Leser))
	for i, j := range cfg.XTA.Client.Leser {
		jobs[i] = xtaclient.LeserJob{Schedule: j.Schedule, LeserOptions: xtaclient.LeserOptions{
			Endpoint: j.Endpoint, Tenant: j.Tenant, Identity: j.Identity, Max: j.Max,
			SpoolDir: filepath.Join(cfg.Hub.DataDir, "spool")}}
	}
	return jobs
}

// newXTAWiring builds the hub's XTA server over the built-in mailbox and,
// with xta.server.tls, opens its TLS listener (so that its address, also
// for port 0, is known for the WSDL before anything is served).
func newXTAWiring(cfg *config.Config, mailbox xta.Backend, st *store.Store, out *xtaclient.Adapter, recv xtaclient.Receiver,
	blobs *blob.Store, stdDir string, log *slog.Logger, clock routing.Clock, m *metrics.Metrics) (*xtaWiring, error) {
	s := cfg.XTA.Server
	w := &xtaWiring{out: out, jobs: leserJobs(cfg), inbox: xtaclient.Inbox{Receiver: recv, Blobs: blobs,
		MaxAttachmentBytes: cfg.Limits.MaxAttachmentBytes.Int64()}, log: log, url: cfg.BaseURL()}
	xcfg := xta.Config{WSDLDir: filepath.Join(stdDir, "xta2-v3"), ServerIdentity: s.ServerIdentity, MTOM: s.MTOM,
		MaxRequestBytes: s.MaxRequestBytes.Int64(), MaxControlBytes: s.MaxControlBytes.Int64(), Logger: log, Now: clock.Now,
		Parse:      xta.Limits{MaxDepth: s.MaxDepth, MaxElements: s.MaxElements, MaxAttrs: s.MaxAttributes},
		SpoolDir:   filepath.Join(cfg.Hub.DataDir, "spool"),
		Iterations: &xtabox.Iterations{Store: st, Clock: clock}}
	if s.TLS.CertFile != "" {
		var err error
		if w.tlsConf, err = xta.ServerTLSConfig(s.TLS.CertFile, s.TLS.KeyFile); err != nil {
			return nil, &config.FieldError{Key: "xta.server.tls.certFile", Problem: err.Error()}
		}
		if s.TLS.ClientCAFile == "" {
			w.tlsConf.ClientAuth = tls.NoClientCert
		} else {
			maps := make([]xta.CertMapping, len(s.Clients))
			for i, m := range s.Clients {
				maps[i] = xta.CertMapping{SubjectCN: m.SubjectCN, Fingerprint: m.Fingerprint, Identities: m.Identities}
			}
			if xcfg.ClientCerts, err = xta.NewCertAuthority(s.TLS.ClientCAFile, maps); err != nil {
				return nil, &config.FieldError{Key: "xta.server.tls.clientCAFile", Problem: err.Error()}
			}
			// Ask for a certificate without making the handshake depend on
			// it: every XTA request is then authorised by the CertAuthority,
			// so a Fachverfahren without (or with a wrong) certificate gets
			// the PermissionDenied fault (9010–9014) instead of a TLS alert.
			w.tlsConf.ClientAuth = tls.RequestClientCert
			w.mtls = true
		}
		if w.tlsLn, err = net.Listen("tcp", s.Listen); err != nil {
			return nil, &config.FieldError{Key: "xta.server.listen", Problem: err.Error()}
		}
		bound := s // the announced URL carries the bound port (also for port 0)
		bound.Listen = w.tlsLn.Addr().String()
		w.url = bound.ListenURL()
	}
	xcfg.BaseURL = w.url
	var err error
	if w.server, err = xta.NewServer(mailbox, xcfg); err != nil {
		w.close()
		return nil, fmt.Errorf("xta: %w", err)
	}
	if w.tlsLn != nil {
		mux := http.NewServeMux()
		w.server.Mount(mux)
		w.handler = logRequests(log, m, xtabox.WithPeer(mux))
	}
	return w, nil
}

// mount registers the XTA ports on the main mux unless they have their own
// TLS listener.
func (w *xtaWiring) mount(mux *http.ServeMux) {
	if w.tlsLn == nil {
		w.server.Mount(mux)
	}
}

// start serves the XTA TLS listener (if any), announces where the XTA ports
// are, and returns a channel that reports the listener's failure.
func (w *xtaWiring) start(stdout io.Writer) <-chan error {
	if w.tlsLn == nil {
		w.log.Info("dxhub XTA ports on the main listener", "url", w.url+xta.PathManagement, "tls", false)
		return nil
	}
	errc := make(chan error, 1)
	w.srv = &http.Server{Handler: w.handler, TLSConfig: w.tlsConf, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(w.log.Handler(), slog.LevelDebug)}
	go func() {
		err := w.srv.ServeTLS(w.tlsLn, "", "")
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	auth := "TLS"
	if w.mtls {
		auth = "mTLS"
	}
	w.log.Info("dxhub XTA listening", "addr", w.tlsLn.Addr().String(), "url", w.url, "auth", auth)
	fmt.Fprintf(stdout, "dxhub XTA (%s) ready on %s\n", auth, w.url)
	return errc
}

// shutdown stops the XTA TLS listener gracefully.
func (w *xtaWiring) shutdown(ctx context.Context) error {
	if w.srv == nil {
		return nil
	}
	return w.srv.Shutdown(ctx)
}

// close releases a listener that was never served.
func (w *xtaWiring) close() {
	if w != nil && w.tlsLn != nil && w.srv == nil {
		w.tlsLn.Close()
	}
}

// schedule registers one cron job per Leser job; runs never overlap (the
// cron chain skips a run while the previous one is busy).
func (w *xtaWiring) schedule(ctx context.Context, jobs *cron.Cron) error {
	for i, j := range w.jobs {
		if _, err := jobs.AddFunc(j.Schedule, func() { w.out.RunLeser(ctx, []xtaclient.LeserJob{j}, w.inbox) }); err != nil {
			return &config.FieldError{Key: fmt.Sprintf("xta.client.leser[%d].schedule", i), Problem: err.Error()}
		}
	}
	return nil
}
