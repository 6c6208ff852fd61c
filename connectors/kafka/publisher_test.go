package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

// seed creates n submissions with events interleaved across submissions
// (round robin, perSub events each, received included) and returns each
// submission's event IDs in order as the store holds them.
func seed(t testing.TB, st *store.Store, prefix string, n, perSub int) map[string][]int64 {
	t.Helper()
	ctx := testCtx(t)
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	statuses := []routing.Status{routing.StatusValidated, routing.StatusRouted, routing.StatusSent, routing.StatusDelivered,
		routing.StatusFetched, routing.StatusAcknowledged}
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s-%02d", prefix, i)
		_, created, err := st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{
			ID: id, PortalID: "portal-a", Tenant: "05315000", Service: "svc", Reference: "ref-" + id,
			Form: json.RawMessage(`{}`), ReceivedAt: base}})
		if err != nil || !created {
			t.Fatalf("create %s: %v %v", id, created, err)
		}
		ids = append(ids, id)
	}
	for k := 1; k < perSub; k++ {
		for i, id := range ids {
			ev := routing.StatusEvent{Status: statuses[(k-1)%len(statuses)], Time: base.Add(time.Duration(k*100+i) * time.Second),
				Source: routing.SourceHub, Detail: fmt.Sprintf("step %d", k)}
			if err := st.AppendEvent(ctx, id, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	return storeEvents(t, st, ids)
}

func storeEvents(t testing.TB, st *store.Store, ids []string) map[string][]int64 {
	t.Helper()
	out := map[string][]int64{}
	for _, id := range ids {
		evs, err := st.Events(testCtx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			out[id] = append(out[id], e.ID)
		}
	}
	return out
}

func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile("status-event.schema.json")
	if err != nil {
		t.Fatalf("compile status-event.schema.json: %v", err)
	}
	return sch
}

// byKey groups published records per key (event IDs in topic order) after
// checking each against the schema, the key and the headers.
func byKey(t testing.TB, recs []recordView, sch *jsonschema.Schema) map[string][]int64 {
	t.Helper()
	out := map[string][]int64{}
	for _, r := range recs {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.value))
		if err != nil {
			t.Fatalf("record value is not JSON: %v", err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Fatalf("record %s does not match the schema: %v", r.value, err)
		}
		var ev StatusEvent
		if err := json.Unmarshal(r.value, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.SubmissionID != r.key {
			t.Fatalf("key %q, submissionId %q", r.key, ev.SubmissionID)
		}
		if r.eventID != "" && r.eventID != strconv.FormatInt(ev.EventID, 10) {
			t.Fatalf("header %s %q, eventId %d", HeaderEventID, r.eventID, ev.EventID)
		}
		out[r.key] = append(out[r.key], ev.EventID)
	}
	return out
}

type recordView struct {
	key, eventID string
	partition    int32
	value        []byte
}

func TestPublisherOrderPerSubmission(t *testing.T) {
	c, cfg := startCluster(t, 3, "status")
	st := openStore(t, "")
	want := seed(t, st, "sub", 12, 5)
	w, err := NewWriter(cfg, "status")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p := &Publisher{Store: st, Writer: w, Batch: 7} // several batches
	n, err := p.RunOnce(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if n != 60 {
		t.Fatalf("published %d; want 60", n)
	}
	if n, err := p.RunOnce(testCtx(t)); err != nil || n != 0 {
		t.Fatalf("second run published %d (%v); want 0", n, err)
	}
	var recs []recordView
	partOf := map[string]int32{}
	for _, r := range consumeAll(t, c, "status") {
		recs = append(recs, recordView{key: string(r.Key), eventID: header(r, HeaderEventID), partition: r.Partition, value: r.Value})
		if p, ok := partOf[string(r.Key)]; ok && p != r.Partition {
			t.Fatalf("submission %s on partitions %d and %d", r.Key, p, r.Partition)
		}
		partOf[string(r.Key)] = r.Partition
		if got := header(r, HeaderSchema); got != StatusEventSchema {
			t.Fatalf("schema header %q", got)
		}
	}
	got := byKey(t, recs, compileSchema(t))
	if len(got) != len(want) {
		t.Fatalf("%d keys; want %d", len(got), len(want))
	}
	for id, ids := range want {
		if !slices.Equal(got[id], ids) {
			t.Errorf("%s: published %v; store has %v", id, got[id], ids)
		}
	}
	used := map[int32]bool{}
	for _, p := range partOf {
		used[p] = true
	}
	if len(used) < 2 {
		t.Errorf("12 keys all on one partition: %v", partOf)
	}
}

// failingMark fails KafkaPublished: the brokers have the events, the store
// does not know it, as after a crash between the two.
type failingMark struct{ *store.Store }

func (failingMark) KafkaPublished(context.Context, []int64, time.Time) error {
	return errors.New("simulated crash before the outbox mark")
}

// failingWriter fails every write, as when the brokers are unreachable.
type failingWriter struct{}

func (failingWriter) WriteMessages(context.Context, ...Message) error {
	return errors.New("brokers unreachable")
}
func (failingWriter) Close() error { return nil }

func TestPublisherRestartLosesNothing(t *testing.T) {
	c, cfg := startCluster(t, 2, "status")
	path := filepath.Join(t.TempDir(), "dxhub.db")
	st := openStore(t, path)
	seed(t, st, "a", 4, 3)
	w, err := NewWriter(cfg, "status")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := testCtx(t)
	// 1. The brokers are down: nothing is marked.
	if _, err := (&Publisher{Store: st, Writer: failingWriter{}}).RunOnce(ctx); err == nil {
		t.Fatal("no error from a failing writer")
	}
	// 2. Published, then "crash" before the mark.
	if _, err := (&Publisher{Store: failingMark{st}, Writer: w}).RunOnce(ctx); err == nil {
		t.Fatal("no error from the failing mark")
	}
	// 3. Restart: reopen the store, more events arrive, a new publisher runs.
	st.Close()
	st = openStore(t, path)
	seed(t, st, "b", 3, 4)
	for _, id := range []string{"a-00", "a-03"} {
		if err := st.AppendEvent(ctx, id, routing.StatusEvent{Status: routing.StatusDecided, Time: time.Now(), Source: routing.SourceXOEV}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := (&Publisher{Store: st, Writer: w}).RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4*3+3*4+2 { // the unmarked first batch again, and the new events
		t.Fatalf("published %d after the restart; want 26", n)
	}
	want := storeEvents(t, st, []string{"a-00", "a-01", "a-02", "a-03", "b-00", "b-01", "b-02"})
	var recs []recordView
	for _, r := range consumeAll(t, c, "status") {
		recs = append(recs, recordView{key: string(r.Key), eventID: header(r, HeaderEventID), value: r.Value})
	}
	if len(recs) != 12+26 {
		t.Fatalf("%d records on the topic; want 38 (12 published twice)", len(recs))
	}
	got := byKey(t, recs, compileSchema(t))
	for id, ids := range want {
		// At least once: de-duplicating by eventId (keep the first) gives
		// exactly the store's events in order.
		var dedup []int64
		seen := map[int64]bool{}
		for _, e := range got[id] {
			if !seen[e] {
				seen[e] = true
				dedup = append(dedup, e)
			}
		}
		if !slices.Equal(dedup, ids) {
			t.Errorf("%s: published %v (deduplicated %v); store has %v", id, got[id], dedup, ids)
		}
	}
}

// TestStatusTopicWithKcat reads the status topic with kcat (librdkafka), an
// independent Kafka client.
func TestStatusTopicWithKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed; run make deps (Debian package kcat)")
	}
	_, cfg := startCluster(t, 3, "status")
	st := openStore(t, "")
	want := seed(t, st, "k", 5, 4)
	w, err := NewWriter(cfg, "status")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := (&Publisher{Store: st, Writer: w}).RunOnce(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(testCtx(t), kcat, "-b", cfg.Brokers[0], "-C", "-t", "status", "-o", "beginning", "-e", "-q",
		"-f", "%k\t%p\t%h\t%s\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, stderr.String())
	}
	var recs []recordView
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		f := bytes.SplitN(line, []byte("\t"), 4)
		if len(f) != 4 {
			t.Fatalf("kcat line %q", line)
		}
		p, _ := strconv.Atoi(string(f[1]))
		if !bytes.Contains(f[2], []byte(HeaderEventID+"=")) {
			t.Fatalf("kcat headers %q lack %s", f[2], HeaderEventID)
		}
		recs = append(recs, recordView{key: string(f[0]), partition: int32(p), value: slices.Clone(f[3])})
	}
	got := byKey(t, recs, compileSchema(t))
	if len(recs) != 20 {
		t.Fatalf("kcat read %d records; want 20", len(recs))
	}
	for id, ids := range want {
		if !slices.Equal(got[id], ids) {
			t.Errorf("%s: kcat read %v; store has %v", id, got[id], ids)
		}
	}
}
