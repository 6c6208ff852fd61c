package dvdv_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/dvdv/dvdvtest"
)

func TestCacheExpiry(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	srv, url := startServer(t, clock)
	r := newResolver(t, newClient(t, clock, url), clock, nil, func(o *dvdv.Options) { o.TTL.ServiceDescription = 10 * time.Minute })

	rt, err := r.Resolve(ctx, koeln, serviceURI)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rt.Source, "dvdv:") {
		t.Fatalf("first answer source %q", rt.Source)
	}
	clock.Advance(9 * time.Minute)
	rt, err = r.Resolve(ctx, koeln, serviceURI)
	if err != nil || !strings.HasPrefix(rt.Source, "dvdv-cache:") {
		t.Fatalf("within TTL: %q, %v", rt.Source, err)
	}
	if n := srv.Requests("findservicedescription"); n != 1 {
		t.Fatalf("requests = %d within the TTL, want 1", n)
	}
	clock.Advance(2 * time.Minute)
	rt, err = r.Resolve(ctx, koeln, serviceURI)
	if err != nil || !strings.HasPrefix(rt.Source, "dvdv:") {
		t.Fatalf("after TTL: %q, %v", rt.Source, err)
	}
	if n := srv.Requests("findservicedescription"); n != 2 {
		t.Fatalf("requests = %d after the TTL, want 2", n)
	}
	if st := r.Stats(); st.Hits != 1 || st.Misses != 2 || st.Fetches != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestStaleWhileError(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	srvA, a := startServer(t, clock)
	srvB, b := startServer(t, clock)
	r := newResolver(t, newClient(t, clock, a, b), clock, nil, func(o *dvdv.Options) { o.MaxStale = 24 * time.Hour })

	want, err := r.Resolve(ctx, koeln, serviceURI)
	if err != nil {
		t.Fatal(err)
	}
	// Both servers go down; the entry expires.
	srvA.InjectFault(dvdvtest.Fault{Status: http.StatusServiceUnavailable})
	srvB.InjectFault(dvdvtest.Fault{Hangup: true})
	clock.Advance(time.Hour)
	got, err := r.Resolve(ctx, koeln, serviceURI)
	if err != nil {
		t.Fatalf("stale entry not served: %v", err)
	}
	if !strings.HasPrefix(got.Source, "dvdv-stale:") || got.Endpoint != want.Endpoint || got.EncryptionCert != want.EncryptionCert {
		t.Fatalf("stale route = %+v", got)
	}
	if st := r.Stats(); st.StaleServed != 1 || st.FetchErrors != 1 {
		t.Fatalf("stats = %+v", st)
	}
	// An unknown pair has nothing stale: the error says DVDV is unavailable.
	if _, err := r.Resolve(ctx, bonn, serviceURI); !errors.Is(err, dvdv.ErrUnavailable) {
		t.Fatalf("unknown pair while down: %v", err)
	}
	// Beyond MaxStale the old answer is no longer served.
	clock.Advance(24 * time.Hour)
	if _, err := r.Resolve(ctx, koeln, serviceURI); !errors.Is(err, dvdv.ErrUnavailable) {
		t.Fatalf("beyond maxStale: %v", err)
	}
	// DVDV is back: fresh answers again.
	srvA.ClearFaults()
	srvB.ClearFaults()
	if rt, err := r.Resolve(ctx, koeln, serviceURI); err != nil || !strings.HasPrefix(rt.Source, "dvdv:") {
		t.Fatalf("after recovery: %q, %v", rt.Source, err)
	}
}

func TestPersistedCacheSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	dir := t.TempDir()
	_, url := startServer(t, clock)
	st := openStore(t, dir)
	r := newResolver(t, newClient(t, clock, url), clock, st, nil)
	want, err := r.Resolve(ctx, koeln, serviceURI)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(ctx, "ags:09162000", serviceURI); err == nil {
		t.Fatal("unknown pair resolved")
	}
	fp := dvdv.Fingerprint(testPKI(t).certs["hub-client"].Raw)
	if _, err := r.VerifyCategory(ctx, fp, "Kommunalportal"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// Restart with DVDV unreachable: the persisted cache answers.
	st2 := openStore(t, dir)
	r2 := newResolver(t, newClient(t, clock, deadServer(t)), clock, st2, nil)
	got, err := r2.Resolve(ctx, "AGS:05315000", serviceURI)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if got.Endpoint != want.Endpoint || got.EncryptionCert != want.EncryptionCert || !strings.HasPrefix(got.Source, "dvdv-cache:") {
		t.Fatalf("after restart: %+v", got)
	}
	var nf *dvdv.NotFoundError
	if _, err := r2.Resolve(ctx, "ags:09162000", serviceURI); !errors.As(err, &nf) {
		t.Fatalf("negative entry not persisted: %v", err)
	}
	if ok, err := r2.VerifyCategory(ctx, fp, "Kommunalportal"); err != nil || !ok {
		t.Fatalf("verify entry not persisted: %v %v", ok, err)
	}
	if st := r2.Stats(); st.Fetches != 0 {
		t.Fatalf("restart needed DVDV: %+v", st)
	}
	// Expired after restart and DVDV down: stale-while-error from the store.
	clock.Advance(time.Hour)
	if rt, err := r2.Resolve(ctx, koeln, serviceURI); err != nil || !strings.HasPrefix(rt.Source, "dvdv-stale:") {
		t.Fatalf("stale after restart: %q, %v", rt.Source, err)
	}
}

func TestInvalidateAndPurge(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	srv, url := startServer(t, clock)
	st := openStore(t, t.TempDir())
	r := newResolver(t, newClient(t, clock, url), clock, st, nil)
	for range 2 {
		if _, err := r.Resolve(ctx, koeln, serviceURI); err != nil {
			t.Fatal(err)
		}
	}
	// A delivery failed with a decryption error: the next resolve asks DVDV.
	if err := r.InvalidateRoute(ctx, "AGS:05315000", serviceURI); err != nil {
		t.Fatal(err)
	}
	if es, _ := st.DVDVCacheList(ctx, dvdv.KindService); len(es) != 0 {
		t.Fatalf("invalidated entry still persisted: %+v", es)
	}
	if _, err := r.Resolve(ctx, koeln, serviceURI); err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests("findservicedescription"); n != 2 {
		t.Fatalf("requests = %d, want 2 (re-fetched after invalidation)", n)
	}
	if _, err := r.Resolve(ctx, bonn, serviceURI); err != nil {
		t.Fatal(err)
	}
	n, err := r.Purge(ctx, "")
	if err != nil || n != 2 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	if es, _ := st.DVDVCacheList(ctx, ""); len(es) != 0 {
		t.Fatalf("purged entries still persisted: %d", len(es))
	}
}

func TestRefresh(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	srv, url := startServer(t, clock)
	keep := []dvdv.Pair{{koeln, serviceURI}, {bonn, serviceURI}, {"ags:09162000", serviceURI}}
	r := newResolver(t, newClient(t, clock, url), clock, nil, func(o *dvdv.Options) {
		o.Keep = keep
		o.TTL.ServiceDescription = 10 * time.Minute
		o.RefreshAhead = 3 * time.Minute
	})
	rep, err := r.Refresh(ctx)
	if err != nil || rep.Due != 3 || rep.Refreshed != 3 {
		t.Fatalf("Refresh = %+v, %v", rep, err)
	}
	// Two found in one batch request; the unknown one asked singly.
	if srv.Requests("batch/findservicedescription") != 1 || srv.Requests("findservicedescription") != 1 {
		t.Fatalf("batch %d single %d", srv.Requests("batch/findservicedescription"), srv.Requests("findservicedescription"))
	}
	if rt, err := r.Resolve(ctx, bonn, serviceURI); err != nil || !strings.HasPrefix(rt.Source, "dvdv-cache:") {
		t.Fatalf("refreshed entry not cached: %q %v", rt.Source, err)
	}
	// Nothing due yet.
	if rep, _ := r.Refresh(ctx); rep.Due != 0 {
		t.Fatalf("second Refresh = %+v", rep)
	}
	// Close to expiry the kept pairs are renewed before anyone asks.
	clock.Advance(8 * time.Minute)
	if rep, err := r.Refresh(ctx); err != nil || rep.Due != 3 || rep.Refreshed != 3 {
		t.Fatalf("Refresh near expiry = %+v, %v", rep, err)
	}
	clock.Advance(5 * time.Minute)
	if rt, err := r.Resolve(ctx, koeln, serviceURI); err != nil || !strings.HasPrefix(rt.Source, "dvdv-cache:") {
		t.Fatalf("after refresh: %q %v", rt.Source, err)
	}
	// A failing refresh keeps the old entries.
	srv.InjectFault(dvdvtest.Fault{Status: http.StatusInternalServerError})
	clock.Advance(6 * time.Minute)
	rep, err = r.Refresh(ctx)
	if err == nil || rep.Failed == 0 {
		t.Fatalf("failing refresh = %+v, %v", rep, err)
	}
	if _, err := r.Resolve(ctx, koeln, serviceURI); err != nil {
		t.Fatalf("entry lost after failed refresh: %v", err)
	}
}

func TestRegisterRefresh(t *testing.T) {
	clock := newClock()
	_, url := startServer(t, clock)
	r := newResolver(t, newClient(t, clock, url), clock, nil, nil)
	c := cron.New()
	if _, err := r.RegisterRefresh(c, "*/5 * * * *", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RegisterRefresh(c, "every five minutes", time.Minute); err == nil || !strings.Contains(err.Error(), "refresh schedule") {
		t.Fatalf("bad spec accepted: %v", err)
	}
	if n := len(c.Entries()); n != 1 {
		t.Fatalf("entries = %d", n)
	}
}

func TestConcurrentResolveCoalesces(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	srv, url := startServer(t, clock)
	srv.InjectFault(dvdvtest.Fault{Op: "findservicedescription", Delay: 50 * time.Millisecond, Times: 1})
	r := newResolver(t, newClient(t, clock, url), clock, nil, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := r.Resolve(ctx, koeln, serviceURI)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Requests("findservicedescription"); n != 1 {
		t.Fatalf("requests = %d, want 1 (concurrent misses coalesced)", n)
	}
}
