package xtabox_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/dxhub/dxhub/connectors/xtabox"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xoev"
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

// BenchmarkFachverfahrenCycle measures the Fachverfahren's whole cycle of
// dxhub bench against the built-in mailbox over HTTP, audited as dxhub serve
// audits it: getStatusList, getMessage (audit entry through the batched
// recorder before the message is served), close, sendMessage with a 1120
// that the back-channel turns into "acknowledged". "close audited in its
// transaction" is dxhub serve's wiring (Mailbox.AuditEntry); "close, then
// lookup and audit" the one before it. writes/op counts the store's write
// transactions per cycle (WriteStats; the recorder's batch is one).
func BenchmarkFachverfahrenCycle(b *testing.B) {
	for _, inTx := range []bool{true, false} {
		name := "close audited in its transaction"
		if !inTx {
			name = "close, then lookup and audit"
		}
		b.Run(name, func(b *testing.B) { benchCycle(b, inTx) })
	}
}

func benchCycle(b *testing.B, inTx bool) {
	ctx := context.Background()
	e := newEnv(b)
	rec := e.st.NewAuditRecorder(0)
	b.Cleanup(rec.Close)
	entry := func(a xtabox.Access) store.AuditEntry {
		return store.AuditEntry{At: e.clock.Now(), Actor: "fachverfahren " + a.Reader, Action: a.Action,
			SubmissionID: a.SubmissionID, Detail: "message " + a.MessageID}
	}
	e.box.AuditAccess = func(ctx context.Context, a xtabox.Access) error { return rec.Record(ctx, entry(a)) }
	if inTx {
		e.box.AuditEntry = entry
	}
	xml1200, in1200 := sample1200(b)
	c := e.client(koeln)
	var writes int64
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		h := in1200.Header
		h.UUID = fmt.Sprintf("6f1a5d4e-0000-4000-8000-%012d", i)
		d := e.route(fmt.Sprint("s", i), h.UUID, koeln, xml1200)
		e.attempt(d, 1, routing.Outcome{Kind: routing.Delivered})
		r1120, err := xoev.BuildReceipt1120(h, xoev.Reply{Created: e.clock.Now(), Reference: in1200.Reference})
		if err != nil {
			b.Fatal(err)
		}
		w0, _ := e.st.WriteStats()
		b.StartTimer()
		p, err := c.GetStatusList(ctx, 100, nil)
		if err != nil || len(p.Metas) != 1 {
			b.Fatal(p, err)
		}
		id := p.Metas[0].MessageID
		if _, err := c.GetMessage(ctx, id, func(int, xta.ContentHeader, io.Reader) error { return nil }); err != nil {
			b.Fatal(err)
		}
		if err := c.Close(ctx, "", id); err != nil {
			b.Fatal(err)
		}
		meta := xta.MessageMeta{MessageID: "urn:de:xta:messageid:fv:" + h.UUID, AuthorKey: koeln, AuthorType: "xoev",
			ReaderKey: hubKey, ReaderType: "xoev", Service: "urn:s", BusinessScenario: xta.Code{Code: "XBAU_DATA"},
			MessageType:   xta.Code{Code: "prozessnachrichten.eingangsbestaetigung.1120"},
			PayloadSchema: xoev.NSKernmodul130}
		doc := r1120.XML
		if err := c.SendMessage(ctx, meta, []xta.Content{{ContentType: "application/xml", Filename: "m.xml", Size: int64(len(doc)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(doc)), nil }}}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		w1, _ := e.st.WriteStats()
		writes += w1 - w0
		b.StartTimer()
	}
	b.StopTimer()
	sub, err := e.st.GetSubmission(ctx, fmt.Sprint("s", i))
	if err != nil || sub.Status != routing.StatusAcknowledged {
		b.Fatalf("last submission: %s %v", sub.Status, err)
	}
	if n, err := e.st.VerifyAudit(ctx); err != nil || n != 2*i {
		b.Fatalf("audit log: %d entries, %v (want %d)", n, err, 2*i)
	}
	b.ReportMetric(float64(writes)/float64(i), "writes/op")
}
