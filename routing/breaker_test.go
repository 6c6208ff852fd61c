package routing_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/routing"
)

func TestBreakerStates(t *testing.T) {
	c := &fakeClock{t: t0}
	b := routing.NewBreakers(routing.BreakerPolicy{Failures: 3, Cooldown: time.Minute, MaxCooldown: 4 * time.Minute, Concurrency: 2}, c)
	const ep = "xta:https://fv.example"
	fail := func() {
		t.Helper()
		ok, _, why := b.Acquire(ep)
		if !ok {
			t.Fatalf("refused: %s", why)
		}
		b.Release(ep, routing.Retry)
	}
	fail()
	fail()
	if b.State(ep) != "closed" {
		t.Fatalf("open after 2 failures")
	}
	fail()
	if b.State(ep) != "open" {
		t.Fatalf("state = %s after 3 failures", b.State(ep))
	}
	if ok, at, _ := b.Acquire(ep); ok || !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("open breaker let an attempt through (%v, %v)", ok, at)
	}
	c.Advance(time.Minute)
	// Half-open: one probe, a second caller waits.
	if ok, _, _ := b.Acquire(ep); !ok {
		t.Fatal("no probe after the cooldown")
	}
	if ok, _, why := b.Acquire(ep); ok {
		t.Fatalf("second attempt during the probe: %s", why)
	}
	b.Release(ep, routing.Ambiguous) // probe fails: open twice as long
	if ok, at, _ := b.Acquire(ep); ok || !at.Equal(c.Now().Add(2*time.Minute)) {
		t.Fatalf("after failed probe: %v %v", ok, at)
	}
	c.Advance(2 * time.Minute)
	if ok, _, _ := b.Acquire(ep); !ok {
		t.Fatal("no second probe")
	}
	b.Release(ep, routing.Delivered)
	if b.State(ep) != "closed" {
		t.Fatalf("state = %s after a good probe", b.State(ep))
	}
	// Concurrency limit.
	b.Acquire(ep)
	b.Acquire(ep)
	if ok, _, why := b.Acquire(ep); ok || why == "" {
		t.Fatal("third concurrent attempt allowed")
	}
	b.Release(ep, routing.Delivered)
	if ok, _, _ := b.Acquire(ep); !ok {
		t.Fatal("slot not freed")
	}
	// Another endpoint is independent.
	if ok, _, _ := b.Acquire("xta:https://other.example"); !ok {
		t.Fatal("endpoints share a breaker")
	}
}

// countingTransport fails or succeeds per endpoint and counts calls.
type countingTransport struct{ dead, healthy atomic.Int64 }

func (c *countingTransport) Deliver(_ context.Context, d routing.Delivery, _ routing.Message, _ routing.Submission) routing.Outcome {
	if d.Route.Endpoint == "https://dead.example/xta" {
		c.dead.Add(1)
		return routing.Outcome{Kind: routing.Retry, Reason: "connection refused"}
	}
	c.healthy.Add(1)
	return routing.Outcome{Kind: routing.Delivered, Status: routing.StatusSent}
}

// With one endpoint down, the breaker stops spending attempts (and worker
// time) on it, while the healthy endpoint's submissions go straight through.
func TestBreakerIsolatesDeadEndpoint(t *testing.T) {
	e := newEnv(t, fakeMapper{}, []dvdv.Entry{
		{ReaderKey: "ags:05315000", ServiceURI: "urn:svc", Transport: "xta", URL: "https://dead.example/xta"},
		{ReaderKey: "ags:05314000", ServiceURI: "urn:svc", Transport: "xta", URL: "https://healthy.example/xta"},
	})
	ct := &countingTransport{}
	var err error
	e.pipeline, err = routing.NewPipeline(routing.PipelineConfig{
		Store: e.store, Mapper: fakeMapper{}, Resolver: mustDir(t, []dvdv.Entry{
			{ReaderKey: "ags:05315000", ServiceURI: "urn:svc", Transport: "xta", URL: "https://dead.example/xta"},
			{ReaderKey: "ags:05314000", ServiceURI: "urn:svc", Transport: "xta", URL: "https://healthy.example/xta"}}),
		Transports: map[routing.TransportKind]routing.Transport{routing.TransportXTA: ct},
		Tenants: map[string]routing.Tenant{"05315000": {AGS: "05315000", DVDVKey: "ags:05315000"},
			"05314000": {AGS: "05314000", DVDVKey: "ags:05314000"}},
		Services: map[string]routing.Service{"universeller-antrag": {ID: "universeller-antrag", ServiceURI: "urn:svc"}},
		Retry:    routing.RetryPolicy{Initial: time.Second, Max: time.Second, Multiplier: 1, Jitter: 0, MaxAttempts: 100, MaxAge: time.Hour},
		Breakers: routing.BreakerPolicy{Failures: 3, Cooldown: time.Minute},
		Clock:    e.clock, Lease: time.Minute, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		e.submitTo(t, fmt.Sprint("dead-", i), "05315000")
		e.submitTo(t, fmt.Sprint("ok-", i), "05314000")
	}
	// Ten rounds of one second: without a breaker the dead endpoint would be
	// tried 20 times per round.
	for range 10 {
		e.run(t)
		e.clock.Advance(time.Second)
	}
	if got := ct.healthy.Load(); got != 20 {
		t.Fatalf("healthy endpoint got %d deliveries, want 20", got)
	}
	dead := ct.dead.Load()
	t.Logf("dead endpoint: %d attempts in 10 rounds for 20 submissions (without a breaker: 200)", dead)
	if dead > 5 {
		t.Fatalf("breaker let %d attempts through to the dead endpoint", dead)
	}
	if s := e.pipeline.Breakers().State("xta:https://dead.example/xta"); s != "open" {
		t.Fatalf("breaker state = %s", s)
	}
}

func mustDir(t *testing.T, entries []dvdv.Entry) *dvdv.FileDirectory {
	t.Helper()
	d, err := dvdv.NewFileDirectory("test", entries)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
