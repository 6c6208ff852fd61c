package osciclient_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/dxhub/dxhub/connectors/osciclient"
	"github.com/dxhub/dxhub/osci"
	"github.com/dxhub/dxhub/osci/oscitest"
	"github.com/dxhub/dxhub/routing"
)

// BenchmarkFetchMailbox is the hub's side of the OSCI back-channel per reply:
// a mailbox run fetches 20 replies (a 1120-sized content, signed by the
// Fachverfahren and encrypted for the hub) from the intermediary on
// 127.0.0.1, stores them and hands each, decrypted and verified, to the
// receiver. ns/op is per reply and includes the intermediary's share (same
// process).
func BenchmarkFetchMailbox(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, readerID.Cert)
	reply := make([]byte, 3000)
	for i := range reply {
		reply[i] = 'a' + byte(i%26)
	}
	cp, err := osci.SealContent("reply", []osci.Content{{Data: append(append([]byte("<quittung>"), reply...), "</quittung>"...)}},
		&osci.Identity{Key: readerID.Key, Cert: readerID.Cert}, hubEnc.Cert, nil)
	if err != nil {
		b.Fatal(err)
	}
	md := etree.NewDocument()
	_ = md.ReadFromString(`<oscimeta:MessageMetaData xmlns:oscimeta="http://www.osci.eu/ws/2014/10/transport" Id="MetaData"><oscimeta:Originators><oscimeta:Author><oscimeta:Identifier type="xoev">ags:05315000</oscimeta:Identifier></oscimeta:Author></oscimeta:Originators></oscimeta:MessageMetaData>`)
	recv := recvFunc(func(context.Context, routing.Inbound) (routing.InboundRecord, error) {
		return routing.InboundRecord{}, nil
	})
	opts := osciclient.MailboxOptions{Intermediary: f.srv.URL, Max: 1000}
	const batch = 20
	// The first run (with the recovery check) is not measured.
	if _, err := f.adapter.FetchMailbox(ctx, opts, recv); err != nil {
		b.Fatal(err)
	}
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		b.StopTimer()
		for range batch {
			f.srv.Put(oscitest.Delivery{Addressee: hubEnc.Cert, Originator: readerID.Cert, OriginatorEnc: readerID.Cert,
				Content: cp.Copy(), CustomHeaders: []*etree.Element{md.Root().Copy()}})
		}
		b.StartTimer()
		if n, err := f.adapter.FetchMailbox(ctx, opts, recv); err != nil || n != batch {
			b.Fatalf("run: %d %v", n, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// cpuTime is the process's user + system CPU time (hub and intermediary
// share the process; the wall time is dominated by SQLite's fsyncs on a
// shared machine, the CPU time is the steadier figure).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
