package routing_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

func TestSLAMonitor(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, fakeMapper{}, nil)
	e.submit(t, "late")
	e.submit(t, "fetched")
	e.run(t) // both delivered into the mailbox at t0
	if _, err := e.store.MailboxClose(ctx, "ags:05315000", "urn:de:xta:messageid:dxhub:uuid-fetched", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var alerts []string
	m := &routing.SLAMonitor{Store: e.store, Clock: e.clock, DefaultSLA: 72 * time.Hour,
		SLA:    map[string]time.Duration{"universeller-antrag": 48 * time.Hour},
		Expiry: map[string]time.Duration{"universeller-antrag": 96 * time.Hour},
		Logger: slog.New(slog.DiscardHandler),
		OnBreach: func(id, reader string, over time.Duration) {
			alerts = append(alerts, fmt.Sprintf("%s %s %s", id, reader, over))
		}}
	check := func(wantB, wantE int) {
		t.Helper()
		b, x, err := m.RunOnce(ctx)
		if err != nil || b != wantB || x != wantE {
			t.Fatalf("breaches %d expiries %d (%v), want %d %d", b, x, err, wantB, wantE)
		}
	}
	e.clock.Advance(47 * time.Hour)
	check(0, 0)
	e.clock.Advance(2 * time.Hour) // 49 h: the service's 48 h SLA is over
	check(1, 0)
	check(0, 0) // reported once
	if len(alerts) != 1 || alerts[0] != "late ags:05315000 1h0m0s" {
		t.Fatalf("alerts = %v", alerts)
	}
	evs, _ := e.store.Events(ctx, "late")
	if last := evs[len(evs)-1]; last.Status != routing.StatusDelivered || last.Detail[:10] != "SLA breach" {
		t.Fatalf("breach event = %+v", last)
	}
	e.clock.Advance(48 * time.Hour) // 97 h: expired
	check(0, 1)
	sub, _ := e.store.GetSubmission(ctx, "late")
	if sub.Status != routing.StatusExpired {
		t.Fatalf("status = %s", sub.Status)
	}
	if _, total, _ := e.store.MailboxList(ctx, "ags:05315000", 10); total != 0 {
		t.Fatalf("expired message still in the mailbox (%d)", total)
	}
}
