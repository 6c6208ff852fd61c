package routing_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/connectors/xtaclient"
	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

// timedTransport reports when each healthy submission was delivered.
type timedTransport struct {
	next      routing.Transport
	healthy   string
	mu        sync.Mutex
	delivered map[string]time.Time
	done      chan string
	deadDone  chan struct{} // one per attempt on another endpoint
}

func (tt *timedTransport) Deliver(ctx context.Context, d routing.Delivery, m routing.Message, s routing.Submission) routing.Outcome {
	out := tt.next.Deliver(ctx, d, m, s)
	if d.Route.Endpoint == tt.healthy && out.Kind == routing.Delivered {
		tt.mu.Lock()
		tt.delivered[s.ID] = time.Now()
		tt.mu.Unlock()
		tt.done <- s.ID
	} else if d.Route.Endpoint != tt.healthy {
		tt.deadDone <- struct{}{}
	}
	return out
}

// TestBreakerKeepsHealthyLatency measures, with real workers, a real XTA
// server (xtatest) and a dead Fachverfahren that accepts connections but
// never answers (each attempt costs the adapter's 300 ms timeout), how long
// submissions to the healthy endpoint take from acceptance to delivery:
// alone, next to the dead endpoint with the circuit breaker, and next to it
// without. The figures are printed, not asserted (wall clock); the test
// asserts that every healthy submission is delivered and that the breaker
// stops spending attempts on the dead endpoint.
func TestBreakerKeepsHealthyLatency(t *testing.T) {
	const n = 20
	std := testenv.MustStandardsDir(t)
	// The healthy remote XTA server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	healthy := "http://" + ln.Addr().String()
	backend := xtatest.NewMemoryBackend(matrixHubKey, "ags:05314000")
	srv, err := xta.NewServer(backend, xta.Config{WSDLDir: filepath.Join(std, "xta2-v3"), BaseURL: healthy,
		SpoolDir: t.TempDir(), ServerIdentity: "xtatest"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux)
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	hs.Start()
	defer hs.Close()
	// The dead one: accepts, reads, never answers.
	blackhole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer blackhole.Close()
	go func() {
		for {
			c, err := blackhole.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	dead := "http://" + blackhole.Addr().String()

	scenarios := []struct {
		name     string
		withDead bool
		breaker  routing.BreakerPolicy
	}{
		{"healthy endpoint alone", false, routing.BreakerPolicy{Failures: 3, Cooldown: time.Minute}},
		{"one endpoint down, with breaker", true, routing.BreakerPolicy{Failures: 3, Cooldown: time.Minute}},
		{"one endpoint down, without breaker", true, routing.BreakerPolicy{Failures: -1}},
	}
	for _, sc := range scenarios {
		e := newEnv(t, fakeMapper{}, nil)
		// The dead endpoint costs its 300 ms timeout per attempt; the healthy
		// one gets a generous timeout so that a loaded machine does not turn
		// its answers into failures.
		adapter := func(timeout time.Duration) *xtaclient.Adapter {
			a, err := xtaclient.New(e.store, noBlobs{}, xtaclient.Options{AuthorKey: matrixHubKey, RetryMax: -1,
				Timeout: timeout, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		tt := &timedTransport{next: byEndpoint{healthy: healthy, ok: adapter(30 * time.Second), down: adapter(300 * time.Millisecond)},
			healthy: healthy, delivered: map[string]time.Time{}, done: make(chan string, 2*n),
			deadDone: make(chan struct{}, 4*n)}
		entries := []dvdv.Entry{
			{ReaderKey: "ags:05315000", ServiceURI: "urn:svc", Transport: "xta", URL: dead},
			{ReaderKey: "ags:05314000", ServiceURI: "urn:svc", Transport: "xta", URL: healthy},
		}
		// Real workers on the system clock: latency is wall-clock here.
		p, err := routing.NewPipeline(routing.PipelineConfig{
			Store: e.store, Mapper: fakeMapper{}, Resolver: mustDir(t, entries),
			Transports: map[routing.TransportKind]routing.Transport{routing.TransportXTA: tt},
			Tenants: map[string]routing.Tenant{"05315000": {AGS: "05315000", DVDVKey: "ags:05315000"},
				"05314000": {AGS: "05314000", DVDVKey: "ags:05314000"}},
			Services:  map[string]routing.Service{"universeller-antrag": {ID: "universeller-antrag", ServiceURI: "urn:svc"}},
			AuthorKey: matrixHubKey,
			Retry:     routing.RetryPolicy{Initial: time.Minute, MaxAttempts: 10, MaxAge: time.Hour},
			Breakers:  sc.breaker, Workers: 2, Poll: 20 * time.Millisecond, Lease: time.Minute,
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		submitted := map[string]time.Time{}
		add := func(id, tenant string) {
			now := time.Now()
			if _, _, err := e.store.CreateSubmission(context.Background(), routing.NewSubmission{Submission: routing.Submission{
				ID: id, PortalID: "p", Tenant: tenant, Service: "universeller-antrag", Reference: "r",
				Applicant: routing.Applicant{Name: "A"}, Form: []byte(`{}`), ReceivedAt: now}}); err != nil {
				t.Fatal(err)
			}
			submitted[id] = now
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); p.Run(ctx) }()
		// Warm-up: one healthy delivery (connections, caches) and, with the
		// dead endpoint, three failed attempts there (which open the breaker
		// where there is one) before the measured load starts.
		add("warm-ok", "05314000")
		deadWarm := 0
		if sc.withDead {
			deadWarm = 3
			for i := range deadWarm {
				add(fmt.Sprint("warm-dead-", i), "05315000")
			}
		}
		p.Wake()
		for okWarm := 1; okWarm > 0 || deadWarm > 0; {
			select {
			case <-tt.done:
				okWarm--
			case <-tt.deadDone:
				deadWarm--
			case <-ctx.Done():
				t.Fatalf("%s: warm-up did not end", sc.name)
			}
		}
		for i := range n {
			if sc.withDead {
				add(fmt.Sprint("dead-", i), "05315000")
			}
			add(fmt.Sprint("ok-", i), "05314000")
			p.Wake()
		}
		for got := 0; got < n; got++ {
			select {
			case <-tt.done:
			case <-ctx.Done():
				t.Fatalf("%s: only %d of %d healthy submissions delivered", sc.name, got, n)
			}
		}
		cancel()
		wg.Wait()
		state := p.Breakers().State("xta:" + dead)
		var lat []time.Duration
		for id, at := range tt.delivered {
			if strings.HasPrefix(id, "ok-") {
				lat = append(lat, at.Sub(submitted[id]))
			}
		}
		slices.Sort(lat)
		atts := 0
		if sc.withDead {
			for i := range n {
				a, _ := e.store.Attempts(context.Background(), fmt.Sprint("dead-", i))
				atts += len(a)
			}
		}
		t.Logf("%-36s healthy p50 %7.1f ms  p95 %7.1f ms  max %7.1f ms  (dead endpoint: %d attempts for %d submissions, breaker %s)",
			sc.name, ms(lat[len(lat)/2]), ms(lat[(len(lat)*95+99)/100-1]), ms(lat[len(lat)-1]), atts, n, state)
		if sc.withDead && sc.breaker.Failures > 0 && atts > 1 {
			t.Fatalf("%s: %d attempts on the dead endpoint", sc.name, atts)
		}
	}
	blackhole.Close()
}

// byEndpoint sends to the healthy endpoint with one adapter, elsewhere with
// the other.
type byEndpoint struct {
	healthy  string
	ok, down routing.Transport
}

func (b byEndpoint) Deliver(ctx context.Context, d routing.Delivery, m routing.Message, s routing.Submission) routing.Outcome {
	if d.Route.Endpoint == b.healthy {
		return b.ok.Deliver(ctx, d, m, s)
	}
	return b.down.Deliver(ctx, d, m, s)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
