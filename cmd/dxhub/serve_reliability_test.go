package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// deliverDirect files a submission as delivered into the built-in mailbox at
// the clock's time (what the pipeline records).
func deliverDirect(t *testing.T, st *store.Store, clock *testClock, id, service string) {
	t.Helper()
	ctx := context.Background()
	now := clock.Now()
	if _, _, err := st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{
		ID: id, PortalID: "p", Tenant: "05315000", Service: service, Reference: "r", Applicant: routing.Applicant{Name: "A"},
		Form: []byte(`{}`), ReceivedAt: now}}); err != nil {
		t.Fatal(err)
	}
	ev := func(s routing.Status) routing.StatusEvent {
		return routing.StatusEvent{Status: s, Time: now, Source: routing.SourceHub}
	}
	if err := st.SaveMapped(ctx, routing.Message{SubmissionID: id, UUID: "uuid-" + id, Standard: "s", Version: "1", TypeCode: "1200",
		RootElement: "r", Namespace: "urn:x", Service: "urn:svc", XML: []byte("<r/>")}, ev(routing.StatusValidated)); err != nil {
		t.Fatal(err)
	}
	d := routing.Delivery{SubmissionID: id, MessageUUID: "uuid-" + id, TransportID: "urn:de:xta:messageid:dxhub:" + id,
		Route:         routing.Route{ReaderKey: "ags:05315000", ServiceURI: "urn:svc", Transport: routing.TransportXTAMailbox},
		NextAttemptAt: now, CreatedAt: now}
	if err := st.SaveRoute(ctx, d, ev(routing.StatusRouted)); err != nil {
		t.Fatal(err)
	}
	if d, err := st.GetDelivery(ctx, id); err != nil {
		t.Fatal(err)
	} else {
		done := ev(routing.StatusDelivered)
		if err := st.RecordAttempt(ctx, routing.AttemptResult{Delivery: d, Number: 1, Started: now, Finished: now,
			Outcome: routing.Outcome{Kind: routing.Delivered}, Done: true, Event: &done}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSLAConfigPerService: services[].sla and services[].expiry drive the SLA
// monitor per service; a service without sla gets the 3-day default.
func TestSLAConfigPerService(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	base := cfg.Services[0]
	fast, slow := base, base
	fast.ID, fast.SLA, fast.Expiry = "fast", 4*time.Hour, 24*time.Hour
	slow.ID, slow.SLA, slow.Expiry = "slow", 0, 0 // defaults: 72 h, never expires
	cfg.Services = []config.Service{fast, slow}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "dxhub.db"), store.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := &testClock{t: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}
	deliverDirect(t, st, clock, "f1", "fast")
	deliverDirect(t, st, clock, "s1", "slow")
	woken := 0
	m := slaMonitor(cfg, st, clock, slog.New(slog.DiscardHandler), func() { woken++ })
	step := func(adv time.Duration, wantB, wantE int) {
		t.Helper()
		clock.Advance(adv)
		b, x, err := m.RunOnce(ctx)
		if err != nil || b != wantB || x != wantE {
			t.Fatalf("after %s: breaches %d expiries %d (%v), want %d %d", adv, b, x, err, wantB, wantE)
		}
	}
	step(4*time.Hour-time.Minute, 0, 0)
	step(time.Minute, 1, 0)  // fast: 4 h
	step(20*time.Hour, 0, 1) // fast: 24 h → expired
	step(48*time.Hour-time.Minute, 0, 0)
	step(time.Minute, 1, 0)      // slow: 72 h default
	step(365*24*time.Hour, 0, 0) // slow never expires
	for id, want := range map[string]routing.Status{"f1": routing.StatusExpired, "s1": routing.StatusDelivered} {
		sub, err := st.GetSubmission(ctx, id)
		if err != nil || sub.Status != want {
			t.Fatalf("%s: status %s (%v), want %s", id, sub.Status, err, want)
		}
	}
	if woken != 2 {
		t.Fatalf("alerts woke the dispatchers %d times, want 2", woken)
	}
}

func TestBreakerPolicyFromConfig(t *testing.T) {
	r := config.DefaultReliability()
	r.Breaker.Failures = 0
	r.Endpoints = []config.EndpointLimit{{Endpoint: "https://fv.example/xta", Concurrency: 1}}
	p := breakerPolicy(r)
	if p.Failures != -1 || p.Concurrency != 4 || p.Limits["https://fv.example/xta"] != 1 {
		t.Fatalf("policy = %+v", p)
	}
	b := routing.NewBreakers(p, &testClock{})
	key := routing.EndpointKey(routing.Route{Transport: routing.TransportXTA, Endpoint: "https://fv.example/xta"})
	if ok, _, _ := b.Acquire(key); !ok {
		t.Fatal("first attempt refused")
	}
	if ok, _, why := b.Acquire(key); ok {
		t.Fatal("limit 1 allowed a second attempt")
	} else if why == "" {
		t.Fatal("no reason")
	}
	for range 20 { // failures 0: never opens
		b.Release(key, routing.Retry)
		if ok, _, why := b.Acquire(key); !ok {
			t.Fatalf("breaker opened although disabled: %s", why)
		}
	}
}
