package kafka

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"fmt"
	"testing"
	"time"
)

// BenchmarkPublish measures draining the store's outbox (SQLite) to the
// status topic (kfake over TCP, acks=all): events per second.
func BenchmarkPublish(b *testing.B) {
	_, cfg := startCluster(b, 3, "status")
	st := openStore(b, "")
	seed(b, st, "bench", max(1, b.N/10), 10)
	w, err := NewWriter(cfg, "status")
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	p := &Publisher{Store: st, Writer: w}
	b.ResetTimer()
	start := time.Now()
	n, err := p.RunOnce(testCtx(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkIntake measures the intake connector: fetch, validate, store
// (SQLite, durable commit), commit the offset: records per second.
func BenchmarkIntake(b *testing.B) {
	_, cfg := startCluster(b, 1, "intake", "intake-dlq")
	st := openStore(b, "")
	in := newIntake(b, cfg, "bench", newHandler(b, st))
	const chunk = 500
	for i := 0; i < b.N; i += chunk {
		recs := make([]*kgo.Record, 0, chunk)
		for j := i; j < min(b.N, i+chunk); j++ {
			recs = append(recs, intakeRecord("p", doc(fmt.Sprintf("R-%d", j), nil), HeaderAPIKey, apiKeyA,
				HeaderIdempotencyKey, fmt.Sprintf("k-%d", j)))
		}
		produce(b, cfg, recs...)
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if out := next(b, in); out != Accepted {
			b.Fatalf("outcome %s", out)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}
