package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/connectors/kafka"
	"github.com/dxhub/dxhub/internal/testenv"
)

// TestKafkaIntakeToStatusTopic: a portal publishes a submission to the intake
// topic (kfake over TCP on 127.0.0.1); the hub's Kafka intake stores it, the
// pipeline delivers it into the built-in XTA mailbox, and every status event of
// the submission appears on the status topic, in order, keyed by its ID. The
// hub's own background loops (serve's wiring) do the work.
func TestKafkaIntakeToStatusTopic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "dxhub.status", "dxhub.intake", "dxhub.intake.dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()

	cfg := config.Default()
	cfg.Hub.DataDir = t.TempDir()
	cfg.Hub.StandardsDir = testenv.MustStandardsDir(t)
	cfg.Workers.Count = 0
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	cfg.Kafka.Intake = config.KafkaIntake{Topic: "dxhub.intake", Group: "dxhub-e2e", DeadLetterTopic: "dxhub.intake.dlq"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := newHub(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	if h.kafka == nil || h.kafka.publisher == nil || h.kafka.intake == nil {
		t.Fatalf("kafka wiring %+v", h.kafka)
	}
	var wg sync.WaitGroup
	bg, stop := context.WithCancel(ctx)
	h.kafka.start(bg, &wg)
	defer func() { stop(); wg.Wait() }()

	body, err := readFileRel("../../testdata/submissions/universeller-antrag.json")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics("dxhub.status"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "dxhub.intake", Key: []byte("antrag-1"), Value: body, Headers: []kgo.RecordHeader{
		{Key: kafka.HeaderAPIKey, Value: []byte(config.DemoAPIKey)}, {Key: kafka.HeaderIdempotencyKey, Value: []byte("antrag-1")},
	}}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// The first status event ("received") on the topic names the submission.
	var recs []*kgo.Record
	poll := func() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("status topic: %d records before the deadline", len(recs))
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatal(err) })
		recs = append(recs, fs.Records()...)
	}
	for len(recs) == 0 {
		poll()
	}
	id := string(recs[0].Key)
	if n, err := h.pipeline.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("pipeline: %d %v", n, err)
	}
	evs, err := h.store.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range evs {
		want = append(want, string(e.Status))
	}
	if len(want) < 4 || !slices.Equal(want[:4], []string{"received", "validated", "routed", "delivered"}) {
		t.Fatalf("history %v", want)
	}
	for len(recs) < len(evs) {
		poll()
	}
	var got []string
	for i, r := range recs {
		var ev kafka.StatusEvent
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != id || ev.SubmissionID != id || ev.EventID != evs[i].ID || ev.PortalID != "demo-portal" ||
			ev.Schema != kafka.StatusEventSchema {
			t.Fatalf("record %d: key %s %+v", i, r.Key, ev)
		}
		got = append(got, string(ev.Status))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("status topic %v; store %v", got, want)
	}
	if sub, err := h.store.GetSubmission(ctx, id); err != nil || sub.Reference == "" {
		t.Fatalf("stored submission %+v %v", sub, err)
	}
}
