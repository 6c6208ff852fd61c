package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

const (
	workTopic = "dxhub.work"
	workGroup = "dxhub-work"
)

var workTenants = map[string]routing.Tenant{
	"05315000": {AGS: "05315000", Name: "Köln", DVDVKey: "ags:05315000"},
	"05111000": {AGS: "05111000", Name: "Düsseldorf", DVDVKey: "ags:05111000"},
	"05913000": {AGS: "05913000", Name: "Dortmund", DVDVKey: "ags:05913000"},
}

type workMapper struct{}

func (workMapper) Map(_ context.Context, in routing.MapInput) (routing.Message, error) {
	return routing.Message{UUID: "uuid-" + in.Submission.ID, Standard: "XBau-Kernmodul", Version: "1.3.0", TypeCode: "1200",
		RootElement: "universellerAntrag.antrag.1200", Namespace: "urn:test", Service: "urn:svc", XML: []byte("<a/>")}, nil
}

// recordingTransport records deliveries per reader, in order; every
// failEvery-th first attempt of a submission fails transiently once.
type recordingTransport struct {
	mu        sync.Mutex
	byReader  map[string][]string
	attempts  map[string]int
	failEvery int
	n         int
}

func (r *recordingTransport) Deliver(_ context.Context, d routing.Delivery, _ routing.Message, sub routing.Submission) routing.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[sub.ID]++
	if r.attempts[sub.ID] == 1 {
		r.n++
		if r.failEvery > 0 && r.n%r.failEvery == 0 {
			return routing.Outcome{Kind: routing.Retry, Reason: "503 (injected)"}
		}
	}
	r.byReader[d.Route.ReaderKey] = append(r.byReader[d.Route.ReaderKey], sub.ID)
	return routing.Outcome{Kind: routing.Delivered, Status: routing.StatusDelivered}
}

func (r *recordingTransport) delivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ids := range r.byReader {
		n += len(ids)
	}
	return n
}

func newWorkPipeline(t testing.TB, st *store.Store, tr routing.Transport) *routing.Pipeline {
	t.Helper()
	var entries []dvdv.Entry
	for _, tn := range workTenants {
		entries = append(entries, dvdv.Entry{ReaderKey: tn.DVDVKey, ServiceURI: "urn:svc", Transport: "xta-mailbox"})
	}
	dir, err := dvdv.NewFileDirectory("test", entries)
	if err != nil {
		t.Fatal(err)
	}
	p, err := routing.NewPipeline(routing.PipelineConfig{
		Store: st, Mapper: workMapper{}, Resolver: dir,
		Transports: map[routing.TransportKind]routing.Transport{routing.TransportXTAMailbox: tr},
		Tenants:    workTenants, Services: map[string]routing.Service{"svc": {ID: "svc", ServiceURI: "urn:svc"}},
		Retry: routing.RetryPolicy{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond, Multiplier: 2, MaxAttempts: 10, MaxAge: time.Hour},
		Lease: 5 * time.Second, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func workRecipient(tenant, service string) (string, bool) {
	tn, ok := workTenants[tenant]
	if !ok || service != "svc" {
		return "", false
	}
	return RecipientKey(tn.DVDVKey, "urn:svc"), true
}

// workMember is one hub process's consumer: its own group membership and
// ordered worker on the shared store.
type workMember struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startMember(t testing.TB, cfg Config, p *routing.Pipeline, st *store.Store, owner string, onResult func(int, string, routing.WorkResult)) *workMember {
	t.Helper()
	g, err := NewGroup(cfg, workTopic, workGroup, GroupOptions{SessionTimeout: 6 * time.Second, HeartbeatInterval: 500 * time.Millisecond,
		RebalanceTimeout: 6 * time.Second, Logger: testLogger(t, owner)})
	if err != nil {
		t.Fatal(err)
	}
	w, err := routing.NewOrderedWorker(routing.OrderedConfig{Pipeline: p, Store: st, Owner: owner, MaxBlock: time.Minute,
		BusyPoll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := &WorkConsumer{Group: g, Handler: w, Logger: testLogger(t, owner), Backoff: 10 * time.Millisecond, OnResult: onResult}
	ctx, cancel := context.WithCancel(context.Background())
	m := &workMember{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		if err := c.Run(ctx); err != nil {
			t.Errorf("%s: %v", owner, err)
		}
		g.Close()
	}()
	t.Cleanup(m.stop)
	return m
}

func (m *workMember) stop() {
	m.cancel()
	<-m.done
}

// Submissions to three recipients are published keyed by recipient and
// consumed by two group members with ordered workers on one store; one
// member leaves half-way (a rebalance). Every submission is delivered once,
// each recipient's in acceptance order, transient failures included; a
// third consumer reading the whole topic again finds only duplicates.
func TestWorkTopicKeepsRecipientOrder(t *testing.T) {
	c, cfg := startCluster(t, 6, workTopic)
	ctx := testCtx(t)
	st := openStore(t, "")
	st.SetWorkTopic(true)
	tr := &recordingTransport{byReader: map[string][]string{}, attempts: map[string]int{}, failEvery: 7}
	p := newWorkPipeline(t, st, tr)

	const total = 90
	ags := []string{"05315000", "05111000", "05913000"}
	want := map[string][]string{}
	base := time.Now() // the retry policy's MaxAge counts from here
	for i := range total {
		tn := workTenants[ags[i%3]]
		id := fmt.Sprintf("w-%03d", i)
		if _, _, err := st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: id, PortalID: "p",
			Tenant: tn.AGS, Service: "svc", Reference: id, Form: json.RawMessage(`{}`), ReceivedAt: base.Add(time.Duration(i) * time.Millisecond)}}); err != nil {
			t.Fatal(err)
		}
		want[tn.DVDVKey] = append(want[tn.DVDVKey], id)
	}
	// The database queue never runs held jobs.
	if n, err := p.RunOnce(ctx); err != nil || n != 0 {
		t.Fatalf("database queue ran %d jobs (%v)", n, err)
	}
	w, err := NewWriter(cfg, workTopic)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	pub := &WorkPublisher{Store: st, Writer: w, Recipient: workRecipient, Batch: 25}
	if n, err := pub.RunOnce(ctx); err != nil || n != total {
		t.Fatalf("published %d (%v)", n, err)
	}
	if pending, _ := st.PendingWork(ctx, 1); len(pending) != 0 {
		t.Fatal("outbox not empty after publishing")
	}
	// Keyed by recipient: one partition per recipient, records in order.
	recs := consumeAll(t, c, workTopic)
	partOf := map[string]int32{}
	onTopic := map[string][]string{}
	for _, r := range recs {
		var wr WorkRecord
		if err := json.Unmarshal(r.Value, &wr); err != nil || wr.Schema != WorkSchema {
			t.Fatalf("record %s: %v", r.Value, err)
		}
		if string(r.Key) != wr.Recipient || header(r, HeaderSubmissionID) != wr.SubmissionID {
			t.Fatalf("record key %q, header %q: %+v", r.Key, header(r, HeaderSubmissionID), wr)
		}
		if p, ok := partOf[wr.Recipient]; ok && p != r.Partition {
			t.Fatalf("recipient %s on partitions %d and %d", wr.Recipient, p, r.Partition)
		}
		partOf[wr.Recipient] = r.Partition
		rk := workTenants[wr.Tenant].DVDVKey
		onTopic[rk] = append(onTopic[rk], wr.SubmissionID)
	}
	for rk, ids := range want {
		if !slices.Equal(onTopic[rk], ids) {
			t.Fatalf("recipient %s: topic order %v, want %v", rk, onTopic[rk], ids)
		}
	}

	var mu sync.Mutex
	results := map[routing.WorkResult]int{}
	onResult := func(_ int, _ string, r routing.WorkResult) { mu.Lock(); results[r]++; mu.Unlock() }
	a := startMember(t, cfg, p, st, "kafka/a", onResult)
	startMember(t, cfg, p, st, "kafka/b", onResult)
	deadline := time.NewTimer(45 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	stopped := false
	pendingJobs := func() int { n, _, _ := st.QueueStats(ctx, time.Now()); return n }
	for tr.delivered() < total || pendingJobs() > 0 {
		select {
		case <-deadline.C:
			for i := range total {
				id := fmt.Sprintf("w-%03d", i)
				tr.mu.Lock()
				n := tr.attempts[id]
				tr.mu.Unlock()
				tr.mu.Lock()
				in := slices.Contains(tr.byReader[workTenants[ags[i%3]].DVDVKey], id)
				tr.mu.Unlock()
				if js, _ := st.JobState(ctx, id); !in {
					evs, _ := st.Events(ctx, id)
					t.Logf("%s: attempts %d job %+v events %+v", id, n, js, evs)
				}
			}
			t.Fatalf("delivered %d of %d", tr.delivered(), total)
		case <-tick.C:
		}
		if !stopped && tr.delivered() >= total/3 {
			a.stop() // leaves the group: its partitions move to b
			stopped = true
		}
	}
	tr.mu.Lock()
	for rk, ids := range want {
		if !slices.Equal(tr.byReader[rk], ids) {
			t.Fatalf("recipient %s: delivered in order %v, want %v", rk, tr.byReader[rk], ids)
		}
	}
	retried := 0
	for _, n := range tr.attempts {
		if n > 1 {
			retried++
		}
	}
	tr.mu.Unlock()
	if retried == 0 {
		t.Fatal("no transient failure was injected")
	}

	// Redelivery: a consumer in a fresh group reads everything again.
	g, err := NewGroup(cfg, workTopic, "dxhub-work-replay", GroupOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ow, _ := routing.NewOrderedWorker(routing.OrderedConfig{Pipeline: p, Store: st, Owner: "kafka/replay"})
	var dups sync.WaitGroup
	dups.Add(total)
	var other []routing.WorkResult
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go (&WorkConsumer{Group: g, Handler: ow, OnResult: func(_ int, _ string, r routing.WorkResult) {
		mu.Lock()
		if r != routing.WorkDuplicate {
			other = append(other, r)
		}
		mu.Unlock()
		dups.Done()
	}}).Run(rctx)
	dups.Wait()
	cancel()
	mu.Lock()
	defer mu.Unlock()
	if len(other) != 0 || tr.delivered() != total {
		t.Fatalf("replayed records: non-duplicates %v, deliveries %d", other, tr.delivered())
	}
	t.Logf("results %v; %d submissions retried once; recipients on partitions %v", results, retried, partOf)
}

func testLogger(t testing.TB, name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("member", name)
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

type fakeLeader struct {
	lead  bool
	tries int
}

func (f *fakeLeader) TryLeadWorkPublisher(context.Context) (*store.Leadership, error) {
	f.tries++
	if !f.lead {
		return nil, nil
	}
	return &store.Leadership{}, nil
}

// With a Leader, a publisher that does not lead publishes nothing and asks
// again only after LeadRetry; once it leads it drains the outbox.
func TestWorkPublisherLeads(t *testing.T) {
	c, cfg := startCluster(t, 3, workTopic)
	ctx := testCtx(t)
	st := openStore(t, "")
	st.SetWorkTopic(true)
	for i := range 5 {
		id := fmt.Sprintf("l-%d", i)
		if _, _, err := st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: id, PortalID: "p",
			Tenant: "05315000", Service: "svc", Reference: id, Form: json.RawMessage(`{}`), ReceivedAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := NewWriter(cfg, workTopic)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	leader := &fakeLeader{}
	pub := &WorkPublisher{Store: st, Writer: w, Recipient: workRecipient, Leader: leader, LeadRetry: time.Hour}
	for range 3 {
		if n, err := pub.RunOnce(ctx); n != 0 || err != nil {
			t.Fatalf("published %d (%v) without the lead", n, err)
		}
	}
	if leader.tries != 1 {
		t.Fatalf("asked for the lead %d times within LeadRetry", leader.tries)
	}
	leader.lead, pub.LeadRetry = true, time.Nanosecond
	if n, err := pub.RunOnce(ctx); n != 5 || err != nil {
		t.Fatalf("leader published %d (%v), want 5", n, err)
	}
	pub.Close()
	if got := endOffsets(c, workTopic); got != 5 {
		t.Fatalf("topic holds %d records", got)
	}
}
