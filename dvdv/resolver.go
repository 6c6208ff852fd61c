package dvdv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

// Cache kinds: one per lookup, each with its own TTL.
const (
	KindService     = "service"     // findservicedescription; key "<orgKey> <serviceURI>"
	KindAuthority   = "authority"   // findauthoritydescription; key "<orgKey> <category>"
	KindCategories  = "categories"  // findcategories; key "<fingerprint> <orgKey>"
	KindVerify      = "verify"      // verifycategory; key "<fingerprint> <category>"
	KindCertificate = "certificate" // findCertificateByFingerprint; key "<fingerprint>"
)

// TTLs are the cache lifetimes per lookup kind. DVDV publishes none; the
// defaults follow the DVDV libraries (TRANSPORT.md §12).
type TTLs struct {
	ServiceDescription   time.Duration
	AuthorityDescription time.Duration
	Categories           time.Duration
	VerifyCategory       time.Duration
	Certificate          time.Duration
	// Negative is how long "not found" is remembered.
	Negative time.Duration
}

// DefaultTTLs returns 10 min for service and authority descriptions, 1 h for
// categories and certificates, 5 min for verifycategory and negative answers.
func DefaultTTLs() TTLs {
	return TTLs{
		ServiceDescription: 10 * time.Minute, AuthorityDescription: 10 * time.Minute,
		Categories: time.Hour, VerifyCategory: 5 * time.Minute, Certificate: time.Hour,
		Negative: 5 * time.Minute,
	}
}

func (t TTLs) withDefaults() TTLs {
	d := DefaultTTLs()
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&t.ServiceDescription, d.ServiceDescription)
	set(&t.AuthorityDescription, d.AuthorityDescription)
	set(&t.Categories, d.Categories)
	set(&t.VerifyCategory, d.VerifyCategory)
	set(&t.Certificate, d.Certificate)
	set(&t.Negative, d.Negative)
	return t
}

func (t TTLs) of(kind string) time.Duration {
	switch kind {
	case KindService:
		return t.ServiceDescription
	case KindAuthority:
		return t.AuthorityDescription
	case KindCategories:
		return t.Categories
	case KindVerify:
		return t.VerifyCategory
	}
	return t.Certificate
}

// CacheStore persists the cache so that a restart does not need DVDV.
// *store.Store implements it.
type CacheStore interface {
	DVDVCachePut(ctx context.Context, e store.DVDVCacheEntry) error
	DVDVCacheList(ctx context.Context, kind string) ([]store.DVDVCacheEntry, error)
	DVDVCacheDelete(ctx context.Context, kind, key string) (bool, error)
	DVDVCachePurge(ctx context.Context, kind string) (int64, error)
}

var _ CacheStore = (*store.Store)(nil)

// Pair is a (reader organisation key, service URI) the hub routes to.
type Pair struct{ ReaderKey, ServiceURI string }

// Options configures a Resolver.
type Options struct {
	// Client is the DVDV client (required).
	Client *Client
	// Store persists cache entries; nil keeps them in memory only.
	Store CacheStore
	TTL   TTLs
	// MaxStale bounds how long after its expiry an entry is still served
	// while DVDV is unavailable; 0 means without limit.
	MaxStale time.Duration
	// RefreshAhead: Refresh renews entries that expire within this window
	// (default a quarter of the service TTL).
	RefreshAhead time.Duration
	// Keep are the pairs of the configured tenants and services: Refresh
	// keeps them cached even if nobody asked yet.
	Keep   []Pair
	Clock  routing.Clock
	Logger *slog.Logger
}

// Stats are the resolver's counters since it was created.
type Stats struct {
	Hits         int64 // answered from a fresh cache entry
	NegativeHits int64 // of which "not found"
	Misses       int64 // needed DVDV
	Fetches      int64 // DVDV lookups made (including refreshes)
	FetchErrors  int64 // DVDV lookups that failed without a definitive answer
	StaleServed  int64 // answers served from an expired entry while DVDV was unavailable
	Refreshed    int64 // entries renewed by Refresh
	Failovers    int64 // client moves to another server
	Entries      int   // entries in memory
}

// Resolver resolves routes through DVDV with a cache (per-kind TTLs, negative
// caching, stale-while-error, persistence). It implements routing.Resolver
// and is safe for concurrent use.
type Resolver struct {
	c     *Client
	st    CacheStore
	ttl   TTLs
	opts  Options
	clock routing.Clock
	log   *slog.Logger

	mu      sync.RWMutex
	entries map[cacheKey]*entry
	flight  map[cacheKey]*flightCall

	hits, negHits, misses, fetches, fetchErrs, stale, refreshed atomic.Int64
}

var _ routing.Resolver = (*Resolver)(nil)

type cacheKey struct{ kind, key string }

// entry is one cached answer. Fields other than route and used are immutable.
type entry struct {
	raw      []byte
	val      any // decoded: *Service, *OrganizationDescription, []string, bool, *Certificate
	negative bool
	detail   string
	server   string
	fetched  time.Time
	expires  time.Time
	route    atomic.Pointer[ServiceRoute]
	used     atomic.Int64 // Unix micros of the last use
}

type flightCall struct {
	done chan struct{}
	e    *entry
	src  string
	err  error
}

// NewResolver builds the resolver and loads the persisted cache.
func NewResolver(ctx context.Context, opts Options) (*Resolver, error) {
	if opts.Client == nil {
		return nil, errors.New("dvdv: resolver needs a client")
	}
	opts.TTL = opts.TTL.withDefaults()
	if opts.RefreshAhead <= 0 {
		opts.RefreshAhead = opts.TTL.ServiceDescription / 4
	}
	if opts.MaxStale < 0 {
		opts.MaxStale = 0
	}
	if opts.Clock == nil {
		opts.Clock = routing.SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Resolver{c: opts.Client, st: opts.Store, ttl: opts.TTL, opts: opts, clock: opts.Clock, log: opts.Logger,
		entries: map[cacheKey]*entry{}, flight: map[cacheKey]*flightCall{}}
	if r.st != nil {
		es, err := r.st.DVDVCacheList(ctx, "")
		if err != nil {
			return nil, fmt.Errorf("dvdv: load cache: %w", err)
		}
		for _, pe := range es {
			e := &entry{raw: pe.Value, negative: pe.Negative, detail: pe.Detail, server: pe.Server,
				fetched: pe.FetchedAt, expires: pe.ExpiresAt}
			if !e.negative {
				v, err := decodeKind(pe.Kind, pe.Value)
				if err != nil {
					r.log.Warn("dvdv: dropping undecodable cache entry", "kind", pe.Kind, "key", pe.Key, "err", err)
					continue
				}
				e.val = v
			}
			r.entries[cacheKey{pe.Kind, pe.Key}] = e
		}
		if len(es) > 0 {
			r.log.Info("dvdv cache loaded", "entries", len(r.entries))
		}
	}
	return r, nil
}

// Client returns the resolver's DVDV client.
func (r *Resolver) Client() *Client { return r.c }

// Stats returns the counters.
func (r *Resolver) Stats() Stats {
	r.mu.RLock()
	n := len(r.entries)
	r.mu.RUnlock()
	return Stats{Hits: r.hits.Load(), NegativeHits: r.negHits.Load(), Misses: r.misses.Load(), Fetches: r.fetches.Load(),
		FetchErrors: r.fetchErrs.Load(), StaleServed: r.stale.Load(), Refreshed: r.refreshed.Load(),
		Failovers: r.c.Failovers(), Entries: n}
}

// ServiceKey is the cache key of a (reader, service URI) pair.
func ServiceKey(readerKey, serviceURI string) string {
	return strings.ToLower(strings.TrimSpace(readerKey)) + " " + strings.TrimSpace(serviceURI)
}

// Resolve implements routing.Resolver.
func (r *Resolver) Resolve(ctx context.Context, readerKey, serviceURI string) (routing.Route, error) {
	sr, err := r.ResolveService(ctx, readerKey, serviceURI)
	if err != nil {
		return routing.Route{}, err
	}
	return sr.Route, nil
}

// ResolveService resolves the pair and returns the route with the service
// and certificate details. Route.Source is "dvdv:<server>" for a fresh
// answer, "dvdv-cache:<server>" from the cache and "dvdv-stale:<server>"
// for an expired entry served while DVDV is unavailable.
func (r *Resolver) ResolveService(ctx context.Context, readerKey, serviceURI string) (*ServiceRoute, error) {
	readerKey = strings.TrimSpace(readerKey)
	serviceURI = strings.TrimSpace(serviceURI)
	if readerKey == "" || serviceURI == "" {
		return nil, errors.New("dvdv: organisation key and service URI are required")
	}
	lk := strings.ToLower(readerKey)
	e, src, err := r.lookup(ctx, KindService, ServiceKey(readerKey, serviceURI), func(ctx context.Context) (any, string, error) {
		svc, _, server, err := r.c.findServiceDescription(ctx, lk, serviceURI)
		return svc, server, err
	})
	if err != nil {
		return nil, err
	}
	if e.negative {
		if e.detail != "" {
			return nil, &InvalidEntryError{ReaderKey: readerKey, ServiceURI: serviceURI, Warning: e.detail}
		}
		return nil, &NotFoundError{ReaderKey: readerKey, ServiceURI: serviceURI}
	}
	now := r.clock.Now()
	sr := e.route.Load()
	if sr == nil || !sr.usableAt(now) {
		sr, err = BuildRoute(e.val.(*Service), lk, serviceURI, now)
		if err != nil {
			return nil, err
		}
		e.route.Store(sr)
	}
	out := *sr
	out.Route.ReaderKey = readerKey
	out.Route.ResolvedAt = now
	out.Route.Source = src + ":" + e.server
	return &out, nil
}

// FindAuthorityDescription is the cached Client.FindAuthorityDescription.
func (r *Resolver) FindAuthorityDescription(ctx context.Context, category, orgKey string) (*OrganizationDescription, error) {
	key := strings.ToLower(orgKey) + " " + category
	e, err := r.cached(ctx, KindAuthority, key, func(ctx context.Context) (any, error) {
		return r.c.FindAuthorityDescription(ctx, category, strings.ToLower(orgKey))
	})
	if err != nil {
		return nil, err
	}
	return e.val.(*OrganizationDescription), nil
}

// FindCategories is the cached Client.FindCategories.
func (r *Resolver) FindCategories(ctx context.Context, fingerprint, orgKey string) ([]string, error) {
	fp := NormalizeFingerprint(fingerprint)
	e, err := r.cached(ctx, KindCategories, fp+" "+strings.ToLower(orgKey), func(ctx context.Context) (any, error) {
		return r.c.FindCategories(ctx, fp, strings.ToLower(orgKey))
	})
	if err != nil {
		return nil, err
	}
	return append([]string(nil), e.val.([]string)...), nil
}

// VerifyCategory is the cached Client.VerifyCategory: whether the sender
// with the certificate fingerprint belongs to the category.
func (r *Resolver) VerifyCategory(ctx context.Context, fingerprint, category string) (bool, error) {
	fp := NormalizeFingerprint(fingerprint)
	e, err := r.cached(ctx, KindVerify, fp+" "+category, func(ctx context.Context) (any, error) {
		return r.c.VerifyCategory(ctx, fp, category)
	})
	if err != nil {
		return false, err
	}
	return e.val.(bool), nil
}

// FindCertificateByFingerprint is the cached Client.FindCertificateByFingerprint.
func (r *Resolver) FindCertificateByFingerprint(ctx context.Context, fingerprint string) (*Certificate, error) {
	fp := NormalizeFingerprint(fingerprint)
	e, err := r.cached(ctx, KindCertificate, fp, func(ctx context.Context) (any, error) {
		return r.c.FindCertificateByFingerprint(ctx, fp)
	})
	if err != nil {
		return nil, err
	}
	return e.val.(*Certificate), nil
}

// cached runs a non-service lookup through the cache; negative entries become
// *NoEntryError.
func (r *Resolver) cached(ctx context.Context, kind, key string, fetch func(context.Context) (any, error)) (*entry, error) {
	e, _, err := r.lookup(ctx, kind, key, func(ctx context.Context) (any, string, error) {
		v, err := fetch(ctx)
		return v, r.c.ActiveServer(), err
	})
	if err != nil {
		return nil, err
	}
	if e.negative {
		return nil, &NoEntryError{Op: kind, Query: key}
	}
	return e, nil
}

// lookup returns the entry for (kind, key): fresh from memory, else fetched
// (one fetch per key at a time), else — when DVDV is unavailable — the
// expired entry. src is "dvdv", "dvdv-cache" or "dvdv-stale".
func (r *Resolver) lookup(ctx context.Context, kind, key string, fetch func(context.Context) (any, string, error)) (*entry, string, error) {
	k := cacheKey{kind, key}
	now := r.clock.Now()
	r.mu.RLock()
	e := r.entries[k]
	r.mu.RUnlock()
	if e != nil && now.Before(e.expires) {
		r.hits.Add(1)
		if e.negative {
			r.negHits.Add(1)
		}
		e.used.Store(now.UnixMicro())
		return e, "dvdv-cache", nil
	}
	r.misses.Add(1)
	return r.fetch(ctx, k, fetch, false)
}

// fetch asks DVDV for k, coalescing concurrent callers. force skips the
// freshness re-check (Refresh).
func (r *Resolver) fetch(ctx context.Context, k cacheKey, fetch func(context.Context) (any, string, error), force bool) (*entry, string, error) {
	r.mu.Lock()
	if fc, ok := r.flight[k]; ok {
		r.mu.Unlock()
		select {
		case <-fc.done:
			return fc.e, fc.src, fc.err
		case <-ctx.Done():
			return nil, "", ctx.Err()
		}
	}
	old := r.entries[k]
	now := r.clock.Now()
	if !force && old != nil && now.Before(old.expires) {
		r.mu.Unlock()
		return old, "dvdv-cache", nil
	}
	fc := &flightCall{done: make(chan struct{})}
	r.flight[k] = fc
	r.mu.Unlock()

	fc.e, fc.src, fc.err = r.fetchOnce(ctx, k, old, fetch)

	r.mu.Lock()
	delete(r.flight, k)
	r.mu.Unlock()
	close(fc.done)
	return fc.e, fc.src, fc.err
}

func (r *Resolver) fetchOnce(ctx context.Context, k cacheKey, old *entry, fetch func(context.Context) (any, string, error)) (*entry, string, error) {
	r.fetches.Add(1)
	v, server, err := fetch(ctx)
	now := r.clock.Now()
	switch {
	case err == nil:
		raw, merr := json.Marshal(v)
		if merr != nil {
			return nil, "", fmt.Errorf("dvdv: encode %s for the cache: %w", k.kind, merr)
		}
		e := &entry{raw: raw, val: v, server: server, fetched: now, expires: now.Add(r.ttl.of(k.kind))}
		e.used.Store(now.UnixMicro())
		r.put(ctx, k, e)
		return e, "dvdv", nil
	case errors.Is(err, routing.ErrNotFound):
		e := &entry{negative: true, server: server, fetched: now, expires: now.Add(r.ttl.Negative)}
		var ie *InvalidEntryError
		if errors.As(err, &ie) {
			e.detail = ie.Warning
		}
		e.used.Store(now.UnixMicro())
		r.put(ctx, k, e)
		return e, "dvdv", nil
	}
	r.fetchErrs.Add(1)
	if errors.Is(err, ErrUnavailable) && old != nil && (r.opts.MaxStale == 0 || now.Sub(old.expires) <= r.opts.MaxStale) {
		r.stale.Add(1)
		r.log.Warn("dvdv unavailable; serving the last good answer", "kind", k.kind, "key", k.key,
			"expired", old.expires, "age", now.Sub(old.fetched).Round(time.Second), "err", err)
		old.used.Store(now.UnixMicro())
		return old, "dvdv-stale", nil
	}
	return nil, "", err
}

func (r *Resolver) put(ctx context.Context, k cacheKey, e *entry) {
	r.mu.Lock()
	r.entries[k] = e
	r.mu.Unlock()
	if r.st == nil {
		return
	}
	err := r.st.DVDVCachePut(context.WithoutCancel(ctx), store.DVDVCacheEntry{Kind: k.kind, Key: k.key, Value: e.raw,
		Negative: e.negative, Detail: e.detail, Server: e.server, FetchedAt: e.fetched, ExpiresAt: e.expires})
	if err != nil {
		r.log.Error("dvdv: cannot persist cache entry", "kind", k.kind, "key", k.key, "err", err)
	}
}

// Invalidate drops the entry for (kind, key) from memory and the store, so
// the next lookup asks DVDV.
func (r *Resolver) Invalidate(ctx context.Context, kind, key string) error {
	r.mu.Lock()
	delete(r.entries, cacheKey{kind, key})
	r.mu.Unlock()
	if r.st == nil {
		return nil
	}
	_, err := r.st.DVDVCacheDelete(ctx, kind, key)
	return err
}

// InvalidateRoute drops the cached service description of the pair. Call it
// when a delivery fails with a certificate or decryption error (OSCI
// 9200–9202, 97xx): the reader's certificate has probably changed.
func (r *Resolver) InvalidateRoute(ctx context.Context, readerKey, serviceURI string) error {
	r.log.Info("dvdv: route invalidated", "reader", readerKey, "service", serviceURI)
	return r.Invalidate(ctx, KindService, ServiceKey(readerKey, serviceURI))
}

// Purge drops every entry of the kind ("" = all) and returns how many
// entries were in memory.
func (r *Resolver) Purge(ctx context.Context, kind string) (int, error) {
	r.mu.Lock()
	n := 0
	for k := range r.entries {
		if kind == "" || k.kind == kind {
			delete(r.entries, k)
			n++
		}
	}
	r.mu.Unlock()
	if r.st != nil {
		if _, err := r.st.DVDVCachePurge(ctx, kind); err != nil {
			return n, err
		}
	}
	return n, nil
}

// RefreshReport says what one Refresh did.
type RefreshReport struct {
	Due       int // entries that were due
	Refreshed int // renewed (including "not found" answers)
	Failed    int // could not be renewed; the old entry stays
}

// Refresh renews, before they expire, the service entries of opts.Keep and
// every entry that was used since it was fetched and expires within
// RefreshAhead. Several service descriptions go in batch requests; if the
// batch fails, they are looked up one by one. A failed renewal keeps the old
// entry (stale-while-error).
func (r *Resolver) Refresh(ctx context.Context) (RefreshReport, error) {
	now := r.clock.Now()
	horizon := now.Add(r.opts.RefreshAhead)
	due := map[cacheKey]bool{}
	r.mu.RLock()
	for _, p := range r.opts.Keep {
		k := cacheKey{KindService, ServiceKey(p.ReaderKey, p.ServiceURI)}
		if e := r.entries[k]; e == nil || e.expires.Before(horizon) {
			due[k] = true
		}
	}
	for k, e := range r.entries {
		if e.expires.Before(horizon) && e.used.Load() > e.fetched.UnixMicro() {
			due[k] = true
		}
	}
	r.mu.RUnlock()
	keys := make([]cacheKey, 0, len(due))
	for k := range due {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].kind != keys[j].kind {
			return keys[i].kind < keys[j].kind
		}
		return keys[i].key < keys[j].key
	})
	rep := RefreshReport{Due: len(keys)}
	var services []cacheKey
	for _, k := range keys {
		if k.kind == KindService {
			services = append(services, k)
			continue
		}
		if r.refreshOne(ctx, k) {
			rep.Refreshed++
		} else {
			rep.Failed++
		}
	}
	if len(services) > 1 {
		services = r.refreshBatch(ctx, services, &rep)
	}
	for _, k := range services {
		if r.refreshOne(ctx, k) {
			rep.Refreshed++
		} else {
			rep.Failed++
		}
	}
	r.refreshed.Add(int64(rep.Refreshed))
	if rep.Due > 0 {
		r.log.Info("dvdv cache refreshed", "due", rep.Due, "refreshed", rep.Refreshed, "failed", rep.Failed)
	}
	if rep.Failed > 0 {
		return rep, fmt.Errorf("dvdv: %d of %d cache entries could not be refreshed", rep.Failed, rep.Due)
	}
	return rep, ctx.Err()
}

// refreshBatch renews service entries with batch/findservicedescription and
// returns the keys it could not renew (to be tried one by one).
func (r *Resolver) refreshBatch(ctx context.Context, keys []cacheKey, rep *RefreshReport) []cacheKey {
	var rest []cacheKey
	for len(keys) > 0 {
		n := min(len(keys), 200)
		chunk := keys[:n]
		keys = keys[n:]
		qs := make([]Request, n)
		for i, k := range chunk {
			org, uri, _ := strings.Cut(k.key, " ")
			qs[i] = Request{OrganizationKey: org, ServiceSpecificationURI: uri}
		}
		r.fetches.Add(1)
		svcs, err := r.c.BatchFindServiceDescription(ctx, qs)
		if err != nil {
			r.log.Info("dvdv batch refresh failed; refreshing one by one", "err", err)
			rest = append(rest, chunk...)
			continue
		}
		now := r.clock.Now()
		for i, k := range chunk {
			if svcs[i] == nil {
				// null in a batch answer: nothing valid; ask singly to
				// learn whether an invalid entry exists (warning header).
				rest = append(rest, k)
				continue
			}
			raw, _ := json.Marshal(svcs[i])
			e := &entry{raw: raw, val: svcs[i], server: r.c.ActiveServer(), fetched: now, expires: now.Add(r.ttl.ServiceDescription)}
			r.put(ctx, k, e)
			rep.Refreshed++
		}
	}
	return rest
}

func (r *Resolver) refreshOne(ctx context.Context, k cacheKey) bool {
	fetch, ok := r.fetcher(k)
	if !ok {
		return false
	}
	e, src, err := r.fetch(ctx, k, fetch, true)
	if err != nil || src == "dvdv-stale" {
		if err == nil {
			err = errors.New("DVDV unavailable")
		}
		r.log.Warn("dvdv refresh failed; keeping the old entry", "kind", k.kind, "key", k.key, "err", err)
		return false
	}
	return e != nil
}

// fetcher rebuilds the DVDV lookup of a cache key.
func (r *Resolver) fetcher(k cacheKey) (func(context.Context) (any, string, error), bool) {
	a, b, _ := strings.Cut(k.key, " ")
	wrap := func(f func(context.Context) (any, error)) func(context.Context) (any, string, error) {
		return func(ctx context.Context) (any, string, error) {
			v, err := f(ctx)
			return v, r.c.ActiveServer(), err
		}
	}
	switch k.kind {
	case KindService:
		return func(ctx context.Context) (any, string, error) {
			svc, _, server, err := r.c.findServiceDescription(ctx, a, b)
			return svc, server, err
		}, true
	case KindAuthority:
		return wrap(func(ctx context.Context) (any, error) { return r.c.FindAuthorityDescription(ctx, b, a) }), true
	case KindCategories:
		return wrap(func(ctx context.Context) (any, error) { return r.c.FindCategories(ctx, a, b) }), true
	case KindVerify:
		return wrap(func(ctx context.Context) (any, error) { return r.c.VerifyCategory(ctx, a, b) }), true
	case KindCertificate:
		return wrap(func(ctx context.Context) (any, error) { return r.c.FindCertificateByFingerprint(ctx, a) }), true
	}
	return nil, false
}

// decodeKind decodes a persisted value of the kind.
func decodeKind(kind string, raw []byte) (any, error) {
	switch kind {
	case KindService:
		return DecodeService(raw)
	case KindAuthority:
		return DecodeOrganizationDescription(raw)
	case KindCategories:
		return DecodeStrings("findcategories", raw)
	case KindVerify:
		return DecodeVerification(raw)
	case KindCertificate:
		return DecodeCertificate(raw)
	}
	return nil, fmt.Errorf("unknown cache kind %q", kind)
}

// RegisterRefresh schedules Refresh on c with the cron spec (5 fields or a
// descriptor such as "@every 5m"). Each run is bounded by timeout (0 = one
// minute). Wrap c with cron.SkipIfStillRunning to avoid overlapping runs.
func (r *Resolver) RegisterRefresh(c *cron.Cron, spec string, timeout time.Duration) (cron.EntryID, error) {
	if timeout <= 0 {
		timeout = time.Minute
	}
	id, err := c.AddFunc(spec, func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if _, err := r.Refresh(ctx); err != nil {
			r.log.Warn("dvdv refresh job", "err", err)
		}
	})
	if err != nil {
		return 0, fmt.Errorf("dvdv: refresh schedule %q: %w", spec, err)
	}
	return id, nil
}

// Chain tries resolvers in order and returns the first route; a resolver
// answering routing.ErrNotFound passes to the next. Use it to let configured
// endpoints (the file directory) override DVDV.
func Chain(resolvers ...routing.Resolver) routing.Resolver { return chain(resolvers) }

type chain []routing.Resolver

func (c chain) Resolve(ctx context.Context, readerKey, serviceURI string) (routing.Route, error) {
	var err error
	for _, r := range c {
		var rt routing.Route
		rt, err = r.Resolve(ctx, readerKey, serviceURI)
		if err == nil || !errors.Is(err, routing.ErrNotFound) {
			return rt, err
		}
	}
	if err == nil {
		err = &NotFoundError{ReaderKey: readerKey, ServiceURI: serviceURI}
	}
	return routing.Route{}, err
}

// InvalidateRoute forwards to every member that caches routes.
func (c chain) InvalidateRoute(ctx context.Context, readerKey, serviceURI string) error {
	var errs []error
	for _, r := range c {
		if inv, ok := r.(routing.RouteInvalidator); ok {
			errs = append(errs, inv.InvalidateRoute(ctx, readerKey, serviceURI))
		}
	}
	return errors.Join(errs...)
}
