package routing_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/routing"
)

// gateTransport holds every attempt until released and records how many
// attempts were in flight per endpoint at once.
type gateTransport struct {
	mu       sync.Mutex
	inFlight map[string]int
	maxSeen  map[string]int
	entered  chan string
	release  chan struct{}
}

func (g *gateTransport) Deliver(ctx context.Context, d routing.Delivery, _ routing.Message, _ routing.Submission) routing.Outcome {
	ep := d.Route.Endpoint
	g.mu.Lock()
	g.inFlight[ep]++
	g.maxSeen[ep] = max(g.maxSeen[ep], g.inFlight[ep])
	g.mu.Unlock()
	g.entered <- ep
	select {
	case <-g.release:
	case <-ctx.Done():
	}
	g.mu.Lock()
	g.inFlight[ep]--
	g.mu.Unlock()
	return routing.Outcome{Kind: routing.Delivered, Status: routing.StatusSent}
}

// TestConcurrencyLimitPerEndpoint: eight workers process at once; the slow
// endpoint with a limit of 2 never sees more than two attempts in flight (the
// others are deferred without an attempt), while another endpoint with the
// default limit is not held up by it.
func TestConcurrencyLimitPerEndpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const slow, other = "https://slow.example/xta", "https://other.example/xta"
	entries := []dvdv.Entry{
		{ReaderKey: "ags:05315000", ServiceURI: "urn:svc", Transport: "xta", URL: slow},
		{ReaderKey: "ags:05314000", ServiceURI: "urn:svc", Transport: "xta", URL: other},
	}
	e := newEnv(t, fakeMapper{}, entries)
	gt := &gateTransport{inFlight: map[string]int{}, maxSeen: map[string]int{}, entered: make(chan string, 16), release: make(chan struct{})}
	var err error
	e.pipeline, err = routing.NewPipeline(routing.PipelineConfig{
		Store: e.store, Mapper: fakeMapper{}, Resolver: mustDir(t, entries),
		Transports: map[routing.TransportKind]routing.Transport{routing.TransportXTA: gt},
		Tenants: map[string]routing.Tenant{"05315000": {AGS: "05315000", DVDVKey: "ags:05315000"},
			"05314000": {AGS: "05314000", DVDVKey: "ags:05314000"}},
		Services: map[string]routing.Service{"universeller-antrag": {ID: "universeller-antrag", ServiceURI: "urn:svc"}},
		Breakers: routing.BreakerPolicy{Concurrency: 4, Limits: map[string]int{slow: 2}},
		Clock:    e.clock, Lease: time.Minute, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 6 {
		ids = append(ids, fmt.Sprint("slow-", i))
		e.submitTo(t, ids[len(ids)-1], "05315000")
	}
	for i := range 2 {
		ids = append(ids, fmt.Sprint("other-", i))
		e.submitTo(t, ids[len(ids)-1], "05314000")
	}
	claimed, err := e.store.ClaimJobs(ctx, "w", e.clock.Now(), time.Minute, 100)
	if err != nil || len(claimed) != len(ids) {
		t.Fatalf("claimed %v (%v)", claimed, err)
	}
	finished := make(chan string, len(ids))
	for _, id := range ids {
		go func() {
			if err := e.pipeline.Process(ctx, id, "w"); err != nil {
				t.Errorf("process %s: %v", id, err)
			}
			finished <- id
		}()
	}
	// 2 slow + 2 other attempts enter and block; the 4 other slow ones are
	// deferred and return.
	entered := map[string]int{}
	var done []string
	for sum(entered) < 4 || len(done) < 4 {
		select {
		case ep := <-gt.entered:
			entered[ep]++
		case id := <-finished:
			done = append(done, id)
		case <-ctx.Done():
			t.Fatalf("stuck: entered %v, finished %v", entered, done)
		}
	}
	if entered[slow] != 2 || entered[other] != 2 {
		t.Fatalf("entered = %v", entered)
	}
	if n := e.pipeline.Breakers().InFlight("xta:" + slow); n != 2 {
		t.Fatalf("breaker counts %d in flight", n)
	}
	for _, id := range done {
		if d, err := e.store.GetDelivery(ctx, id); err != nil || d.Attempts != 0 {
			t.Fatalf("deferred %s used an attempt: %+v %v", id, d, err)
		}
	}
	close(gt.release)
	for len(done) < len(ids) {
		select {
		case id := <-finished:
			done = append(done, id)
		case <-ctx.Done():
			t.Fatal("blocked attempts did not finish")
		}
	}
	// The deferred ones are due again shortly; the limit lets them through.
	e.clock.Advance(time.Second)
	for e.run(t) > 0 {
	}
	for _, id := range ids {
		if got := e.statuses(t, id); got[len(got)-1] != routing.StatusSent {
			t.Fatalf("%s: history %v", id, got)
		}
	}
	if gt.maxSeen[slow] != 2 || gt.maxSeen[other] != 2 {
		t.Fatalf("max in flight = %v (slow limit 2)", gt.maxSeen)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
