package kafka

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dxhub/dxhub/internal/store"
)

// startCluster starts a kfake broker on 127.0.0.1 with the topics seeded.
func startCluster(t testing.TB, partitions int32, topics ...string) (*kfake.Cluster, Config) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c, Config{Brokers: c.ListenAddrs(), BatchTimeout: 5 * time.Millisecond, Acks: AcksAll, ClientID: "dxhub-test"}
}

func openStore(t testing.TB, path string) *store.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "dxhub.db")
	}
	s, err := store.OpenSQLite(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// endOffsets sums the high watermarks of a topic's partitions.
func endOffsets(c *kfake.Cluster, topic string) int64 {
	var n int64
	for _, p := range c.PartitionInfos(topic) {
		n += p.HighWatermark
	}
	return n
}

// consumeAll reads every record of topic from the start with franz-go's kgo
// (an independent client, not kafka-go) until it has all the brokers hold.
func consumeAll(t testing.TB, c *kfake.Cluster, topic string) []*kgo.Record {
	t.Helper()
	want := endOffsets(c, topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testCtx(t)
	var out []*kgo.Record
	for int64(len(out)) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records of %s: %v", len(out), want, topic, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch %s: %v", topic, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// committed returns the group's committed offset of topic/partition, -1 if none.
func committed(t testing.TB, cfg Config, group, topic string, partition int) int64 {
	t.Helper()
	cl := &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Timeout: 10 * time.Second}
	resp, err := cl.OffsetFetch(testCtx(t), &kafkago.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {partition}}})
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	if resp.Error != nil {
		t.Fatalf("offset fetch: %v", resp.Error)
	}
	for _, p := range resp.Topics[topic] {
		if p.Partition == partition {
			if p.Error != nil {
				t.Fatalf("offset fetch %s/%d: %v", topic, partition, p.Error)
			}
			return p.CommittedOffset
		}
	}
	return -1
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
