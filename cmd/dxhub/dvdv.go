package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/internal/store"
)

// dvdvSettings returns the configuration's DVDV section; `dxhub dvdv lookup`
// flags are applied on top of it.
var dvdvSettings = func(cfg *config.Config) config.DVDV { return cfg.DVDV }

// newDVDVClient builds the DVDV client from the settings.
func newDVDVClient(d config.DVDV, log *slog.Logger) (*dvdv.Client, error) {
	opts := dvdv.ClientOptions{
		Servers: d.Servers, EntryPath: d.EntryPath, Timeout: d.Timeout, CallTimeout: d.CallTimeout,
		RetryMax: d.RetryMax, RetryWaitMin: d.RetryWaitMin, RetryWaitMax: d.RetryWaitMax, Logger: log,
	}
	if opts.RetryMax == 0 {
		opts.RetryMax = -1 // config 0 means "no retries"; the client's 0 means "default"
	}
	if d.EntryPath != config.DVDVEntryIntern {
		cert, key, err := dvdv.LoadKeyPair(d.CertFile, d.KeyFile)
		if err != nil {
			return nil, err
		}
		opts.Certificate, opts.Key = cert, key
	}
	if d.CAFile != "" {
		pem, err := os.ReadFile(d.CAFile)
		if err != nil {
			return nil, fmt.Errorf("dvdv: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("dvdv: %s holds no PEM certificate", d.CAFile)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		opts.Transport = tr
	}
	return dvdv.NewClient(opts)
}

// newDVDVResolver builds the cached DVDV resolver for `dxhub serve`: the
// persisted cache lives in st, and every (tenant, service) pair of the
// configuration is kept warm by Refresh.
//
// serve.go wiring (when dvdvSettings(cfg).Enabled()):
//
//	res, err := newDVDVResolver(ctx, cfg, h.store, log)
//	resolver := dvdv.Chain(dir, res) // configured endpoints first, then DVDV
//	if spec := dvdvSettings(cfg).RefreshSchedule; spec != "" {
//		res.RegisterRefresh(cronScheduler, spec, time.Minute)
//	}
func newDVDVResolver(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger) (*dvdv.Resolver, error) {
	d := dvdvSettings(cfg)
	c, err := newDVDVClient(d, log)
	if err != nil {
		return nil, err
	}
	var keep []dvdv.Pair
	for _, t := range cfg.Tenants {
		for _, s := range cfg.Services {
			keep = append(keep, dvdv.Pair{ReaderKey: t.DVDVKey, ServiceURI: s.ServiceURI})
		}
	}
	opts := dvdv.Options{Client: c, TTL: dvdv.TTLs{
		ServiceDescription: d.TTL.ServiceDescription, AuthorityDescription: d.TTL.AuthorityDescription,
		Categories: d.TTL.Categories, VerifyCategory: d.TTL.VerifyCategory, Certificate: d.TTL.Certificate,
		Negative: d.TTL.Negative,
	}, MaxStale: d.MaxStale, RefreshAhead: d.RefreshAhead, Keep: keep, Logger: log}
	if st != nil {
		opts.Store = st
	}
	return dvdv.NewResolver(ctx, opts)
}

func cmdDVDV(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("give a subcommand: lookup, cache list, cache purge")
	}
	switch args[0] {
	case "lookup":
		return dvdvLookup(ctx, args[1:], stdout, stderr)
	case "cache":
		if len(args) < 2 {
			return usagef("give a cache subcommand: list, purge")
		}
		switch args[1] {
		case "list":
			return dvdvCacheList(ctx, args[2:], stdout, stderr)
		case "purge":
			return dvdvCachePurge(ctx, args[2:], stdout, stderr)
		}
		return usagef("unknown cache subcommand %q (known: list, purge)", args[1])
	}
	return usagef("unknown subcommand %q (known: lookup, cache)", args[0])
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func dvdvLookup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dvdv lookup", stderr)
	path := fs.String("config", "", "configuration file (default: the embedded default)")
	var servers stringList
	fs.Var(&servers, "server", "DVDV server base URL incl. /dvdv2-backend (repeatable; overrides dvdv.servers)")
	certFile := fs.String("cert", "", "client certificate PEM (overrides dvdv.certFile)")
	keyFile := fs.String("key", "", "client key PEM (overrides dvdv.keyFile)")
	entry := fs.String("entry-path", "", "entry path: "+config.DVDVEntryStandaloneAuth+" or "+config.DVDVEntryIntern)
	timeout := fs.Duration("timeout", 0, "timeout of one HTTP attempt (overrides dvdv.timeout)")
	verbose := fs.Bool("v", false, "log retries and failovers to stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dxhub dvdv lookup [flags] ORGKEY SERVICEURI")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("want ORGKEY SERVICEURI, got %d arguments", fs.NArg())
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	d := dvdvSettings(cfg)
	if len(servers) > 0 {
		d.Servers = servers
	}
	if *certFile != "" {
		d.CertFile = *certFile
	}
	if *keyFile != "" {
		d.KeyFile = *keyFile
	}
	if *entry != "" {
		d.EntryPath = *entry
	}
	if *timeout > 0 {
		d.Timeout = *timeout
		d.CallTimeout = max(d.CallTimeout, *timeout)
	}
	if !d.Enabled() {
		return usagef("no DVDV server: give --server or set dvdv.servers in the configuration")
	}
	if errs := d.Validate("dvdv"); len(errs) > 0 {
		return fmt.Errorf("invalid DVDV settings: %w", errors.Join(errs...))
	}
	level := slog.LevelError
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	c, err := newDVDVClient(d, log)
	if err != nil {
		return err
	}
	r, err := dvdv.NewResolver(ctx, dvdv.Options{Client: c, Logger: log})
	if err != nil {
		return err
	}
	sr, err := r.ResolveService(ctx, fs.Arg(0), fs.Arg(1))
	if err != nil {
		return err
	}
	printServiceRoute(stdout, sr)
	return nil
}

func printServiceRoute(w io.Writer, sr *dvdv.ServiceRoute) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rt := sr.Route
	fmt.Fprintf(tw, "organisation\t%s\n", rt.ReaderKey)
	fmt.Fprintf(tw, "service URI\t%s\n", rt.ServiceURI)
	fmt.Fprintf(tw, "DVDV service\t%s (%s), valid %s – %s\n", sr.ServiceName, sr.OrganizationName, dateOrOpen(sr.ValidFrom), dateOrOpen(sr.ValidTo))
	fmt.Fprintf(tw, "transport\t%s\n", rt.Transport)
	fmt.Fprintf(tw, "endpoint\t%s (element %q)\n", rt.Endpoint, sr.Addressee)
	if rt.Intermediary != "" {
		fmt.Fprintf(tw, "intermediary\t%s\n", rt.Intermediary)
	}
	fmt.Fprintf(tw, "usable\t%s – %s\n", dateOrOpen(sr.NotBefore), dateOrOpen(sr.NotAfter))
	fmt.Fprintf(tw, "source\t%s\n", rt.Source)
	for _, c := range sr.Certificates {
		fmt.Fprintf(tw, "certificate\t%s (element %q)\n", c.Role, c.Element)
		fmt.Fprintf(tw, "  subject\t%s\n", c.Subject)
		fmt.Fprintf(tw, "  issuer\t%s\n", c.Issuer)
		fmt.Fprintf(tw, "  serial\t%s\n", c.Serial)
		fmt.Fprintf(tw, "  SHA-1\t%s\n", c.Fingerprint)
		fmt.Fprintf(tw, "  valid\t%s – %s\n", c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
	}
	tw.Flush()
}

func dateOrOpen(t time.Time) string {
	if t.IsZero() {
		return "open"
	}
	return t.UTC().Format(time.RFC3339)
}

func dvdvCacheList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, open := storeFlags("dvdv cache list", stderr)
	kind := fs.String("kind", "", "only this kind: service, authority, categories, verify, certificate")
	if err := parseFlags(fs.FlagSet, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %v", fs.Args())
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	es, err := st.DVDVCacheList(ctx, *kind)
	if err != nil {
		return err
	}
	if *fs.json {
		return writeJSON(stdout, es)
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tKEY\tSTATE\tFETCHED\tEXPIRES\tSERVER")
	for _, e := range es {
		state := "fresh"
		if !now.Before(e.ExpiresAt) {
			state = "expired"
		}
		if e.Negative {
			state += ",not-found"
			if e.Detail != "" {
				state += " (" + e.Detail + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Kind, e.Key, state,
			e.FetchedAt.Format(time.RFC3339), e.ExpiresAt.Format(time.RFC3339), e.Server)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d entries\n", len(es))
	return nil
}

func dvdvCachePurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, open := storeFlags("dvdv cache purge", stderr)
	kind := fs.String("kind", "", "only this kind: service, authority, categories, verify, certificate")
	if err := parseFlags(fs.FlagSet, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %v", fs.Args())
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.DVDVCachePurge(ctx, *kind)
	if err != nil {
		return err
	}
	if *fs.json {
		return writeJSON(stdout, map[string]int64{"purged": n})
	}
	fmt.Fprintf(stdout, "purged %d DVDV cache entries\n", n)
	return nil
}
