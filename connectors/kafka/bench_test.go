package kafka

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dxhub/dxhub/routing"
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

// BenchmarkWorkConsume measures work distribution end to end in one
// process: b.N accepted submissions for three recipients published from the
// outbox (SQLite, durable) to the work topic (kfake over TCP, 6 partitions),
// then consumed by one group member whose partitions run the pipeline
// (a trivial mapper, an in-memory transport) and commit each offset:
// submissions per second through claim, the pipeline's three stages and
// the offset commit.
func BenchmarkWorkConsume(b *testing.B) {
	_, cfg := startCluster(b, 6, workTopic)
	ctx := testCtx(b)
	st := openStore(b, "")
	st.SetWorkTopic(true)
	tr := &recordingTransport{byReader: map[string][]string{}, attempts: map[string]int{}}
	p := newWorkPipeline(b, st, tr)
	ags := []string{"05315000", "05111000", "05913000"}
	for i := range b.N {
		id := fmt.Sprintf("b-%07d", i)
		if _, _, err := st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: id, PortalID: "p",
			Tenant: ags[i%3], Service: "svc", Reference: id, Form: json.RawMessage(`{}`), ReceivedAt: time.Now()}}); err != nil {
			b.Fatal(err)
		}
	}
	w, err := NewWriter(cfg, workTopic)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ResetTimer()
	start := time.Now()
	if _, err := (&WorkPublisher{Store: st, Writer: w, Recipient: workRecipient}).RunOnce(ctx); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{}, b.N)
	startMember(b, cfg, p, st, "kafka/bench", func(int, string, routing.WorkResult) { done <- struct{}{} })
	for range b.N {
		select {
		case <-done:
		case <-ctx.Done():
			b.Fatal("timed out")
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "submissions/s")
}
