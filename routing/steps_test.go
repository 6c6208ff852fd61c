package routing_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

// byCommitTransport is a transport that delivers by the attempt's commit
// (like the built-in XTA mailbox) and counts its calls.
type byCommitTransport struct{ scriptedTransport }

func (*byCommitTransport) DeliveredByCommit() bool { return true }

// crashingStore simulates a crash around the combined commit: before it
// (nothing committed) or after it (committed, but the worker never hears).
type crashingStore struct {
	*store.Store
	after bool
}

var errCrash = errors.New("simulated crash")

func (c *crashingStore) CommitSteps(ctx context.Context, s routing.Steps) (routing.StepsCommitted, error) {
	if c.after {
		if _, err := c.Store.CommitSteps(ctx, s); err != nil {
			return routing.StepsCommitted{}, err
		}
	}
	return routing.StepsCommitted{}, errCrash
}

// TestPipelineStepsCrash: a crash before or after the combined commit of
// mapping, routing (and, for a transport that delivers by the commit, the
// attempt) resumes correctly once the lease ends: every status once and in
// order, one transport ID, and a remote transport never called with a route
// that was not committed.
func TestPipelineStepsCrash(t *testing.T) {
	for _, tc := range []struct {
		name     string
		byCommit bool
		after    bool
		// remote attempts made by the crashed worker
		crashedCalls int
	}{
		{"by commit, crash before", true, false, 1}, // Deliver ran (it has no effect of its own), nothing committed
		{"by commit, crash after", true, true, 1},
		{"remote, crash before", false, false, 0}, // never sent: the route was not durable
		{"remote, crash after", false, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries := []dvdv.Entry{{ReaderKey: "ags:05315000", ServiceURI: "urn:svc", Transport: "xta", URL: "https://fv.example/xta"}}
			e := newEnv(t, fakeMapper{}, entries)
			var tr routing.Transport = e.transport
			if tc.byCommit {
				tr = &byCommitTransport{}
			}
			calls := func() int {
				if bt, ok := tr.(*byCommitTransport); ok {
					return len(bt.ids)
				}
				return len(e.transport.ids)
			}
			pipeline := func(st routing.Store) *routing.Pipeline {
				p, err := routing.NewPipeline(routing.PipelineConfig{
					Store: st, Mapper: fakeMapper{}, Resolver: mustDir(t, entries),
					Transports: map[routing.TransportKind]routing.Transport{routing.TransportXTA: tr},
					Tenants:    map[string]routing.Tenant{"05315000": {AGS: "05315000", DVDVKey: "ags:05315000"}},
					Services:   map[string]routing.Service{"universeller-antrag": {ID: "universeller-antrag", ServiceURI: "urn:svc"}},
					Clock:      e.clock, Lease: time.Minute, Logger: slog.New(slog.DiscardHandler),
				})
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			e.submit(t, "s1")
			ctx := context.Background()
			if n, err := pipeline(&crashingStore{Store: e.store, after: tc.after}).RunOnce(ctx); err != nil || n != 1 {
				t.Fatalf("crashed run: %d, %v", n, err)
			}
			if got := calls(); got != tc.crashedCalls {
				t.Fatalf("transport called %d times by the crashed worker, want %d", got, tc.crashedCalls)
			}
			wantCrashed := "[received]"
			if tc.after {
				wantCrashed = "[received validated routed]"
				if tc.byCommit {
					wantCrashed = "[received validated routed delivered]"
				}
			}
			if got := fmt.Sprint(e.statuses(t, "s1")); got != wantCrashed {
				t.Fatalf("history after the crash = %s, want %s", got, wantCrashed)
			}
			// The crashed worker's lease runs out; another one resumes.
			e.clock.Advance(2 * time.Minute)
			if _, err := pipeline(e.store).RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if got, want := fmt.Sprint(e.statuses(t, "s1")), "[received validated routed delivered]"; got != want {
				t.Fatalf("history = %s, want %s", got, want)
			}
			if atts, _ := e.store.Attempts(ctx, "s1"); len(atts) != 1 {
				t.Fatalf("attempts = %+v, want one", atts)
			}
			if st, err := e.store.JobState(ctx, "s1"); err != nil || st.Exists {
				t.Fatalf("job = %+v, %v; want finished", st, err)
			}
			d, _ := e.store.GetDelivery(ctx, "s1")
			var ids []string
			if bt, ok := tr.(*byCommitTransport); ok {
				ids = bt.ids
			} else {
				ids = e.transport.ids
			}
			for _, id := range ids {
				if id != d.TransportID {
					t.Fatalf("transport IDs %v, committed %s", ids, d.TransportID)
				}
			}
		})
	}
}

// TestPipelineStepsBreakerDefers: with a transport that delivers by the
// commit and its endpoint's breaker open, mapping and routing still commit
// together, no attempt is made or recorded, and the job waits for the
// breaker; the delivery follows in its own step once the cooldown is over.
func TestPipelineStepsBreakerDefers(t *testing.T) {
	e := newEnv(t, fakeMapper{}, nil) // the route goes to the built-in mailbox kind
	tr := &byCommitTransport{scriptedTransport{outcomes: []routing.Outcome{{Kind: routing.Retry, Reason: "busy"}}}}
	p, err := routing.NewPipeline(routing.PipelineConfig{
		Store: e.store, Mapper: fakeMapper{}, Resolver: mustDir(t, []dvdv.Entry{{ReaderKey: "ags:05315000", ServiceURI: "urn:svc", Transport: "xta-mailbox"}}),
		Transports: map[routing.TransportKind]routing.Transport{routing.TransportXTAMailbox: tr},
		Tenants:    map[string]routing.Tenant{"05315000": {AGS: "05315000", DVDVKey: "ags:05315000"}},
		Services:   map[string]routing.Service{"universeller-antrag": {ID: "universeller-antrag", ServiceURI: "urn:svc"}},
		Retry:      routing.RetryPolicy{Initial: time.Minute, Max: time.Hour, Multiplier: 2, MaxAttempts: 4, MaxAge: 24 * time.Hour},
		Breakers:   routing.BreakerPolicy{Failures: 1, Cooldown: 10 * time.Minute, MaxCooldown: time.Hour},
		Clock:      e.clock, Lease: time.Minute, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e.submit(t, "s1")
	if _, err := p.RunOnce(ctx); err != nil { // s1: attempt 1 fails, the breaker opens
		t.Fatal(err)
	}
	if got := fmt.Sprint(e.statuses(t, "s1")); got != "[received validated routed]" {
		t.Fatalf("s1 history = %s", got)
	}
	if atts, _ := e.store.Attempts(ctx, "s1"); len(atts) != 1 || atts[0].Outcome != "retry" {
		t.Fatalf("s1 attempts = %+v", atts)
	}
	e.submit(t, "s2")
	if _, err := p.RunOnce(ctx); err != nil { // s2: routed, the attempt deferred by the breaker
		t.Fatal(err)
	}
	if got := fmt.Sprint(e.statuses(t, "s2")); got != "[received validated routed]" {
		t.Fatalf("s2 history = %s", got)
	}
	if atts, _ := e.store.Attempts(ctx, "s2"); len(atts) != 0 {
		t.Fatalf("s2 attempts = %+v; want none while the breaker is open", atts)
	}
	st, err := e.store.JobState(ctx, "s2")
	if err != nil || !st.Exists || st.Owner != "" || !st.NextAt.After(e.clock.Now()) {
		t.Fatalf("s2 job = %+v, %v; want released until the breaker lets attempts through", st, err)
	}
	e.clock.Advance(10 * time.Minute)
	if _, err := p.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s1", "s2"} {
		if got := fmt.Sprint(e.statuses(t, id)); got != "[received validated routed delivered]" {
			t.Fatalf("%s history = %s", id, got)
		}
	}
}
