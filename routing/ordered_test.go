package routing_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// orderedEnv is a pipeline whose store holds new jobs for an ordered work
// source, and an OrderedWorker whose waits advance the fake clock.
func orderedEnv(t *testing.T, maxBlock time.Duration) (*env, *routing.OrderedWorker, *[]time.Duration) {
	t.Helper()
	e := newEnv(t, fakeMapper{}, nil)
	e.store.SetWorkTopic(true)
	var waits []time.Duration
	w, err := routing.NewOrderedWorker(routing.OrderedConfig{
		Pipeline: e.pipeline, Store: e.store, Owner: "kafka/p0", Lease: time.Minute, MaxBlock: maxBlock,
		Clock: e.clock, Logger: slog.New(slog.DiscardHandler),
		Wait: func(ctx context.Context, d time.Duration) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			waits = append(waits, d)
			e.clock.Advance(d)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e, w, &waits
}

func TestOrderedWorkerDeliversAndDeduplicates(t *testing.T) {
	e, w, _ := orderedEnv(t, time.Minute)
	ctx := context.Background()
	e.submit(t, "s1")
	if n := e.run(t); n != 0 {
		t.Fatalf("the database queue ran %d jobs held for the work topic", n)
	}
	if st, _ := e.store.JobState(ctx, "s1"); !st.Exists || !st.Held || !st.NextAt.IsZero() {
		t.Fatalf("job state after intake = %+v, want held", st)
	}
	res, err := w.Handle(ctx, "s1")
	if err != nil || res != routing.WorkDone {
		t.Fatalf("Handle = %v, %v; want done", res, err)
	}
	if got := fmt.Sprint(e.statuses(t, "s1")); got != "[received validated routed delivered]" {
		t.Fatalf("history = %s", got)
	}
	// A redelivered record (rebalance, crash before the offset commit).
	res, err = w.Handle(ctx, "s1")
	if err != nil || res != routing.WorkDuplicate {
		t.Fatalf("second Handle = %v, %v; want duplicate", res, err)
	}
	if len(e.transport.ids) != 1 {
		t.Fatalf("delivered %d times", len(e.transport.ids))
	}
}

func TestOrderedWorkerBlocksForRetryWithinBound(t *testing.T) {
	e, w, waits := orderedEnv(t, 5*time.Minute)
	ctx := context.Background()
	e.transport.outcomes = []routing.Outcome{{Kind: routing.Retry, Reason: "503"}, {Kind: routing.Retry, Reason: "503"}}
	e.submit(t, "s1")
	res, err := w.Handle(ctx, "s1")
	if err != nil || res != routing.WorkDone {
		t.Fatalf("Handle = %v, %v; want done after the retries", res, err)
	}
	atts, _ := e.store.Attempts(ctx, "s1")
	if len(atts) != 3 || atts[2].Outcome != "delivered" {
		t.Fatalf("attempts = %+v", atts)
	}
	var waited time.Duration
	for _, d := range *waits {
		waited += d
	}
	// Backoff 1 min then 2 min (no jitter), waited in lease/2 steps.
	if waited != 3*time.Minute {
		t.Fatalf("waited %s (%v), want 3m", waited, *waits)
	}
	if n := e.run(t); n != 0 {
		t.Fatalf("the database queue ran %d jobs", n)
	}
}

func TestOrderedWorkerParksBeyondBound(t *testing.T) {
	e, w, _ := orderedEnv(t, 90*time.Second)
	ctx := context.Background()
	e.transport.outcomes = []routing.Outcome{{Kind: routing.Retry, Reason: "503"}, {Kind: routing.Retry, Reason: "503"}}
	e.submit(t, "s1")
	res, err := w.Handle(ctx, "s1")
	if err != nil || res != routing.WorkParked {
		t.Fatalf("Handle = %v, %v; want parked (second retry due after 3 min > 90 s)", res, err)
	}
	st, _ := e.store.JobState(ctx, "s1")
	if !st.Exists || st.Held || st.Owner != "" || st.NextAt.IsZero() {
		t.Fatalf("parked job state = %+v, want in the database queue", st)
	}
	// The database retry queue finishes it.
	e.clock.Advance(3 * time.Minute)
	if n := e.run(t); n != 1 {
		t.Fatalf("database queue ran %d jobs, want the parked one", n)
	}
	if got := e.statuses(t, "s1"); got[len(got)-1] != routing.StatusDelivered {
		t.Fatalf("history = %v", got)
	}
	// Its record, redelivered, is not the worker's any more.
	if res, err := w.Handle(ctx, "s1"); err != nil || res != routing.WorkDuplicate {
		t.Fatalf("Handle after the queue finished = %v, %v", res, err)
	}
}

func TestOrderedWorkerWaitsForAnotherOwnersLease(t *testing.T) {
	e, w, waits := orderedEnv(t, time.Minute)
	ctx := context.Background()
	e.submit(t, "s1")
	// The partition's previous owner claimed the job and crashed.
	held, _, err := e.store.ClaimHeldJob(ctx, "s1", "kafka/crashed", e.clock.Now(), 30*time.Second)
	if err != nil || !held {
		t.Fatalf("claim by the previous owner: %v %v", held, err)
	}
	res, err := w.Handle(ctx, "s1")
	if err != nil || res != routing.WorkDone {
		t.Fatalf("Handle = %v, %v", res, err)
	}
	var waited time.Duration
	for _, d := range *waits {
		waited += d
	}
	if waited < 30*time.Second {
		t.Fatalf("took over after %s, before the previous owner's lease ran out", waited)
	}
}

func TestOrderedWorkerGivesUpLeaseWhenRevoked(t *testing.T) {
	e := newEnv(t, fakeMapper{}, nil)
	e.store.SetWorkTopic(true)
	e.transport.outcomes = []routing.Outcome{{Kind: routing.Retry, Reason: "503"}}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := routing.NewOrderedWorker(routing.OrderedConfig{
		Pipeline: e.pipeline, Store: e.store, Owner: "kafka/p0", MaxBlock: time.Hour, Clock: e.clock,
		Wait: func(context.Context, time.Duration) error { cancel(); return context.Canceled },
	})
	if err != nil {
		t.Fatal(err)
	}
	e.submit(t, "s1")
	if _, err := w.Handle(ctx, "s1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Handle = %v, want canceled", err)
	}
	st, _ := e.store.JobState(context.Background(), "s1")
	if !st.Held || st.Owner != "" {
		t.Fatalf("job after revocation = %+v, want held without a lease", st)
	}
	// The partition's next owner takes it at once and delivers.
	w2, _ := routing.NewOrderedWorker(routing.OrderedConfig{Pipeline: e.pipeline, Store: e.store, Owner: "kafka/p1", Clock: e.clock,
		Wait: func(context.Context, time.Duration) error { t.Fatal("the next owner had to wait"); return nil }})
	e.clock.Advance(time.Minute)
	if res, err := w2.Handle(context.Background(), "s1"); err != nil || res != routing.WorkDone {
		t.Fatalf("next owner: %v, %v", res, err)
	}
}
