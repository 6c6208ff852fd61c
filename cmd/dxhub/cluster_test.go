package main

// The cluster test of issue 8: three `dxhub serve` processes share one
// PostgreSQL database, one blob directory and one Kafka-protocol broker
// (kfake over TCP), with work distributed over the Kafka work topic
// (partitioned by recipient, one consumer group). Six recipients each get
// their submissions from one portal, one after the other (so acceptance
// order is defined), posted round-robin to the three processes while one
// process is SIGKILLed (and stays down) and another is restarted with
// SIGTERM; Fachverfahren poll through whichever process answers. At the end
// every accepted submission was delivered and processed exactly once, every
// history is complete, each recipient received its submissions in acceptance
// order, and kcat, an independent Kafka client, finds every submission's
// status events on the status topic in the store's order.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/dxhub/dxhub/connectors/kafka"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xta/xtatest"
)

const (
	clusterStatusTopic = "dxhub.status"
	clusterWorkTopic   = "dxhub.work"
)

// clusterTenants are the recipients of the cluster test (Nordrhein-Westfalen
// AGS); each one's Fachverfahren fetches from the built-in XTA mailbox.
var clusterTenants = []string{"05315000", "05314000", "05111000", "05334002", "05913000", "05113000"}

// clusterNode is one hub process slot: its address stays fixed across
// restarts, the process behind it changes.
type clusterNode struct {
	addr, base string
	mu         sync.Mutex
	h          *hubProcess
}

func (n *clusterNode) proc() *hubProcess { n.mu.Lock(); defer n.mu.Unlock(); return n.h }

func TestCluster(t *testing.T) {
	total := envInt("DXHUB_CLUSTER_SUBMISSIONS", 300)
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed; run make deps (Debian package kcat)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// One PostgreSQL, one broker (3 partitions: submissions spread over them).
	pg, err := testenv.StartPostgres(ctx)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			t.Errorf("postgres stop: %v", err)
		}
	})
	dsn := pg.NewDatabase(t)
	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, clusterStatusTopic), kfake.SeedTopics(12, clusterWorkTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	brokers, _ := json.Marshal(broker.ListenAddrs())

	// Work over Kafka; a dead process's partitions move after 6 s.
	cfgFile := clusterConfig(t, clusterTenants, fmt.Sprintf("store:\n  driver: postgres\n  dsn: %q\nkafka:\n  brokers: %s\n  statusTopic: %s\n"+
		"  writer:\n    batchTimeout: 5ms\n  work:\n    enabled: true\n    topic: %s\n    sessionTimeout: 6s\n    heartbeatInterval: 500ms\n",
		dsn, brokers, clusterStatusTopic, clusterWorkTopic))
	// One data directory for all three: the blobs (attachments, XTA payloads)
	// written by one process are read by the others.
	data := t.TempDir()
	env := []string{"DXHUB_WORKERS_LEASE=2s", "DXHUB_HUB_LOGLEVEL=warn"}
	nodes := make([]*clusterNode, 3)
	for i := range nodes {
		n := &clusterNode{addr: freeAddr(t)}
		// Started one after the other: the first one migrates the database.
		h, err := startNode(t, cfgFile, data, n.addr, env...)
		if err != nil {
			t.Fatal(err)
		}
		n.h, n.base = h, h.base
		nodes[i] = n
	}
	t.Logf("cluster: %s; kfake on %v; 3 hubs %s %s %s; %d submissions (DXHUB_CLUSTER_SUBMISSIONS)",
		pg, broker.ListenAddrs(), nodes[0].base, nodes[1].base, nodes[2].base, total)

	// Chaos: at a third of the load node 0 is SIGKILLed and stays down (its
	// leased work must be taken over by the others); at two thirds node 1 is
	// stopped with SIGTERM and started again on the same address.
	var accepted atomic.Int64
	chaosDone := make(chan error, 1)
	go func() {
		chaosDone <- func() error {
			for accepted.Load() < int64(total/3) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				wait(ctx, 5*time.Millisecond)
			}
			nodes[0].proc().kill()
			t.Logf("SIGKILL node 0 after %d accepted submissions", accepted.Load())
			for accepted.Load() < int64(2*total/3) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				wait(ctx, 5*time.Millisecond)
			}
			if err := nodes[1].proc().terminate(30 * time.Second); err != nil {
				return err
			}
			t.Logf("SIGTERM node 1 after %d accepted submissions", accepted.Load())
			h, err := startNode(t, cfgFile, data, nodes[1].addr, env...)
			if err != nil {
				return err
			}
			nodes[1].mu.Lock()
			nodes[1].h = h
			nodes[1].mu.Unlock()
			t.Logf("node 1 restarted after %d accepted submissions", accepted.Load())
			return nil
		}()
	}()

	// Portals: one per recipient, posting that recipient's submissions one
	// after the other (submission i is for recipient i%6), so each
	// recipient's acceptance order is the order of i. Submission i goes to
	// node i%3 first; on any error (refused, reset, 5xx during shutdown) it
	// is re-posted with the same Idempotency-Key to the next node.
	sample := readSample(t)
	bodies := make([][]byte, total)
	ctypes := make([]string, total)
	sums := make([]string, total)
	for i := range total {
		file := bytes.Repeat([]byte(fmt.Sprintf("%%PDF-1.4 Anlage %06d\n", i)), 50)
		sum := sha256.Sum256(file)
		sums[i] = hex.EncodeToString(sum[:])
		sample["tenant"] = clusterTenants[i%len(clusterTenants)]
		bodies[i], ctypes[i] = multipartBody(t, sample, fmt.Sprintf("anlage-%06d.pdf", i), file)
	}
	ids := make([]string, total)
	var reposts atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for r := range clusterTenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r; i < total && ctx.Err() == nil; i += len(clusterTenants) {
				for try := 0; ctx.Err() == nil; try++ {
					base := nodes[(i+try)%len(nodes)].base
					id, err := postOnce(ctx, client, base, bodies[i], ctypes[i], fmt.Sprintf("cluster-%06d", i))
					if err == nil {
						ids[i] = id
						accepted.Add(1)
						break
					}
					reposts.Add(1)
					wait(ctx, 10*time.Millisecond)
				}
			}
		}()
	}

	// The Fachverfahren (one per recipient, taking turns): poll through any
	// live node (switching on error), process each message ID once in the
	// order the mailbox lists it, close it. They stop when every submission
	// was processed and every mailbox is empty, so that a second delivery of
	// any submission would be seen.
	seen := map[string]int{}
	processed := map[string]string{}  // message ID → attachment SHA-256
	received := map[string][]string{} // reader → message IDs in the order first received
	var fvMu sync.Mutex
	fvDone := make(chan struct{})
	hc := &http.Client{Timeout: 30 * time.Second}
	type fvClient struct {
		reader string
		nodes  []*xtatest.Client
	}
	var fvs []fvClient
	for _, ags := range clusterTenants {
		c := fvClient{reader: "ags:" + ags}
		for _, n := range nodes {
			x := xtatest.New(n.base, c.reader, hc)
			x.AttachmentDir = t.TempDir()
			c.nodes = append(c.nodes, x)
		}
		fvs = append(fvs, c)
	}
	go func() {
		defer close(fvDone)
		cur := 0
		for ctx.Err() == nil {
			empty := 0
			for _, c := range fvs {
				fv := c.nodes[cur]
				list, err := fv.GetStatusList(ctx, 50)
				if err != nil {
					cur = (cur + 1) % len(nodes)
					wait(ctx, 10*time.Millisecond)
					continue
				}
				if len(list) == 0 {
					empty++
					continue
				}
				for _, meta := range list {
					m, err := fv.GetMessage(ctx, meta.MessageID)
					if err != nil {
						cur = (cur + 1) % len(nodes)
						break
					}
					fvMu.Lock()
					seen[meta.MessageID]++
					if _, dup := processed[meta.MessageID]; !dup && len(m.Attachments) == 1 {
						processed[meta.MessageID] = m.Attachments[0].SHA256
						received[c.reader] = append(received[c.reader], meta.MessageID)
					}
					fvMu.Unlock()
					for _, a := range m.Attachments {
						os.Remove(a.Path)
					}
					if err := fv.Close(ctx, meta.MessageID); err != nil {
						cur = (cur + 1) % len(nodes) // fetched again later through another node
						break
					}
				}
			}
			if empty == len(fvs) {
				fvMu.Lock()
				done := len(processed) >= total
				fvMu.Unlock()
				if done {
					return
				}
				wait(ctx, 20*time.Millisecond)
			}
		}
	}()

	wg.Wait()
	select {
	case err := <-chaosDone:
		if err != nil {
			t.Fatalf("chaos: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("timed out before the kill and the restart happened")
	}
	select {
	case <-fvDone:
	case <-ctx.Done():
	}
	fvMu.Lock()
	defer fvMu.Unlock()
	if ctx.Err() != nil {
		t.Fatalf("timed out: %d accepted, %d processed", accepted.Load(), len(processed))
	}

	// Verify against the store.
	st, err := store.OpenPostgres(ctx, dsn, store.PostgresOptions{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	want := []routing.Status{routing.StatusReceived, routing.StatusValidated, routing.StatusRouted, routing.StatusDelivered, routing.StatusFetched}
	storeEvents := map[string][]int64{}
	wantOrder := map[string][]string{}  // reader → message IDs in acceptance order
	lastDelivered := map[string]int64{} // reader → delivered event ID of its previous submission
	unique := map[string]bool{}
	for i, id := range ids {
		if id == "" {
			t.Fatalf("submission %d never accepted", i)
		}
		if unique[id] {
			t.Fatalf("submission %d: ID %s returned for two Idempotency-Keys", i, id)
		}
		unique[id] = true
		d, err := st.GetDelivery(ctx, id)
		if err != nil {
			t.Fatalf("submission %d (%s): %v", i, id, err)
		}
		if got, ok := processed[d.TransportID]; !ok || got != sums[i] {
			t.Fatalf("submission %d: message %s processed=%v, attachment %s want %s", i, d.TransportID, ok, got, sums[i])
		}
		evs, err := st.Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var hist []routing.Status
		for _, e := range evs {
			hist = append(hist, e.Status)
			storeEvents[id] = append(storeEvents[id], e.ID)
		}
		if !slices.Equal(hist, want) {
			t.Fatalf("submission %d (%s): history %v, want %v", i, id, hist, want)
		}
		// Per-recipient order in the store: each submission's delivery
		// committed after the previous one's of the same recipient.
		reader := d.Route.ReaderKey
		if evs[3].ID <= lastDelivered[reader] {
			t.Errorf("recipient %s: submission %d (%s) delivered (event %d) before the one accepted before it (event %d)",
				reader, i, id, evs[3].ID, lastDelivered[reader])
		}
		lastDelivered[reader] = evs[3].ID
		wantOrder[reader] = append(wantOrder[reader], d.TransportID)
	}
	// Per-recipient order at the Fachverfahren: the order each one first
	// received its messages is the order they were accepted.
	for reader, want := range wantOrder {
		if got := received[reader]; !slices.Equal(got, want) {
			first := 0
			for first < min(len(got), len(want)) && got[first] == want[first] {
				first++
			}
			t.Errorf("recipient %s received %d messages out of acceptance order (first difference at position %d of %d)",
				reader, len(want), first, len(want))
		}
	}
	if len(wantOrder) != len(clusterTenants) {
		t.Fatalf("%d recipients, want %d", len(wantOrder), len(clusterTenants))
	}
	if len(processed) != total {
		t.Fatalf("%d processed messages for %d submissions: some submission was delivered twice", len(processed), total)
	}
	refetched := 0
	for _, n := range seen {
		if n > 1 {
			refetched++
		}
	}

	// Kafka: wait until the live processes published every event (the
	// outbox is empty), then read the whole topic with kcat.
	eventually(t, 60*time.Second, "the status event outbox to drain", func() (bool, error) {
		p, err := st.PendingKafkaEvents(ctx, 1)
		return err == nil && len(p) == 0, err
	})
	cmd := exec.CommandContext(ctx, kcat, "-b", broker.ListenAddrs()[0], "-C", "-t", clusterStatusTopic,
		"-o", "beginning", "-e", "-q", "-f", "%k\t%s\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, stderr.String())
	}
	records, dupEvents := 0, 0
	firstSeen := map[int64]bool{}
	onTopic := map[string][]int64{} // submission ID → event IDs, first occurrences in topic order
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		key, value, ok := bytes.Cut(line, []byte("\t"))
		if !ok {
			t.Fatalf("kcat line %q", line)
		}
		records++
		var ev kafka.StatusEvent
		if err := json.Unmarshal(value, &ev); err != nil {
			t.Fatalf("kcat record %q: %v", line, err)
		}
		if ev.SubmissionID != string(key) || ev.Schema != kafka.StatusEventSchema {
			t.Fatalf("record key %q: %+v", key, ev)
		}
		if firstSeen[ev.EventID] {
			dupEvents++
			continue
		}
		firstSeen[ev.EventID] = true
		onTopic[ev.SubmissionID] = append(onTopic[ev.SubmissionID], ev.EventID)
	}
	for id, evs := range storeEvents {
		if !slices.Equal(onTopic[id], evs) {
			t.Fatalf("submission %s: status topic has events %v, store %v", id, onTopic[id], evs)
		}
	}
	if len(onTopic) != total {
		t.Fatalf("status topic names %d submissions, want %d", len(onTopic), total)
	}
	// Every accepted submission went through the work topic (once, unless
	// the publishing process died between the write and the outbox delete).
	var workRecords int64
	for _, p := range broker.PartitionInfos(clusterWorkTopic) {
		workRecords += p.HighWatermark
	}
	if workRecords < int64(total) {
		t.Fatalf("work topic holds %d records for %d submissions", workRecords, total)
	}
	t.Logf("accepted %d (re-posts %d), delivered %d, processed exactly once %d, fetched more than once %d; "+
		"%d recipients, each received in acceptance order; work topic: %d records; "+
		"status topic: %d records read by kcat, %d distinct events, %d duplicates (at-least-once publishing)",
		accepted.Load(), reposts.Load(), len(unique), len(processed), refetched, len(wantOrder), workRecords, records,
		len(firstSeen), dupEvents)
}

// clusterConfig writes the embedded default configuration with the given
// tenants (each with its built-in XTA mailbox for universeller-antrag, all
// allowed to the demo portal) and extra YAML sections appended.
func clusterConfig(t *testing.T, tenants []string, extra string) string {
	t.Helper()
	y, err := multiTenantYAML(tenants)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "dxhub.yaml")
	if err := os.WriteFile(p, []byte(string(y)+"\n"+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
