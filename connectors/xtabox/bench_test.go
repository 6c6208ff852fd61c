package xtabox_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xta"
)

// BenchmarkStatusListIteration measures getStatusList + getNextStatusList
// against the built-in mailbox over HTTP, with the MsgBoxRequestID kept in
// SQLite (xtabox.Iterations: one insert and two updates per op) — the cost
// of iterations that survive a restart — against the in-memory default.
func BenchmarkStatusListIteration(b *testing.B) {
	for _, mem := range []bool{false, true} {
		name := "store"
		if mem {
			name = "memory"
		}
		b.Run(name, func(b *testing.B) { benchIteration(b, mem) })
	}
}

func benchIteration(b *testing.B, memIters bool) {
	ctx := context.Background()
	e := newEnv(b)
	if memIters {
		e.memIters = true
		e.start()
	}
	xml1200, _ := sample1200(b)
	for i := range 2 {
		d := e.route(fmt.Sprint("s", i), fmt.Sprint("uuid-", i), koeln, xml1200)
		e.attempt(d, 1, routing.Outcome{Kind: routing.Delivered})
	}
	c := e.client(koeln)
	b.ResetTimer()
	for b.Loop() {
		p, err := c.GetStatusList(ctx, 1, nil)
		if err != nil || len(p.Metas) != 1 {
			b.Fatal(p, err)
		}
		p2, err := c.GetNextStatusList(ctx, p.RequestID)
		if err != nil || len(p2.Metas) != 1 || p2.NoMessageReason == xta.MsgBoxReasonRequestIDInvalid {
			b.Fatal(p2, err)
		}
	}
}

// BenchmarkLeserCycleMailbox measures one full Leser cycle of a
// Fachverfahren against the built-in mailbox over HTTP: getStatusList
// (iteration stored in SQLite), getMessage, close (the fetched event
// committed) — everything durable with synchronous=FULL. Placing the
// message in the mailbox is not timed.
func BenchmarkLeserCycleMailbox(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b)
	xml1200, _ := sample1200(b)
	c := e.client(koeln)
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		d := e.route(fmt.Sprint("s", i), fmt.Sprint("uuid-", i), koeln, xml1200)
		e.attempt(d, 1, routing.Outcome{Kind: routing.Delivered})
		b.StartTimer()
		p, err := c.GetStatusList(ctx, 10, nil)
		if err != nil || len(p.Metas) != 1 {
			b.Fatal(p, err)
		}
		if _, err := c.GetMessage(ctx, p.Metas[0].MessageID, func(int, xta.ContentHeader, io.Reader) error { return nil }); err != nil {
			b.Fatal(err)
		}
		if err := c.Close(ctx, p.RequestID, p.Metas[0].MessageID); err != nil {
			b.Fatal(err)
		}
	}
}
