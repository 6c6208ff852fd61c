package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/internal/testenv"
)

// benchHub wires a complete hub (the same wiring as `dxhub serve`) on a fresh
// data directory and serves it on 127.0.0.1.
func benchHub(b *testing.B, workers int) (*hub, *httptest.Server) {
	b.Helper()
	cfg := config.Default()
	cfg.Hub.DataDir = b.TempDir()
	cfg.Hub.StandardsDir = testenv.MustStandardsDir(b)
	cfg.Workers.Count = workers
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	h, err := newHub(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h.handler)
	b.Cleanup(func() { srv.Close(); h.close() })
	return h, srv
}

// submission10KB is the sample submission padded to about 10 KB of form data.
func submission10KB(b *testing.B) []byte {
	b.Helper()
	var sub map[string]any
	raw, err := readFileRel("../../testdata/submissions/universeller-antrag.json")
	if err != nil {
		b.Fatal(err)
	}
	json.Unmarshal(raw, &sub)
	form := sub["form"].(map[string]any)
	form["beschreibung"] = strings.Repeat("Errichtung eines Carports mit Gründach. ", 240)
	out, _ := json.Marshal(sub)
	return out
}

// BenchmarkDurableIntake measures POST /v1/submissions with a 10 KB JSON body
// through the full HTTP stack into SQLite (synchronous=FULL: every 202 is
// durable against power loss). No pipeline workers run, so only intake is
// measured. Run with -cpu 1,2,8 to see the effect of concurrent clients.
func BenchmarkDurableIntake(b *testing.B) {
	// Portals post concurrently; the store groups their commits (one fsync
	// for many submissions), so throughput grows with the number of clients.
	for _, clients := range []int{2, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			h, srv := benchHub(b, 0)
			body := submission10KB(b)
			client := srv.Client()
			client.Transport.(*http.Transport).MaxIdleConnsPerHost = clients
			var failures atomic.Int64
			b.SetBytes(int64(len(body)))
			b.SetParallelism(max(clients/runtime.GOMAXPROCS(0), 1))
			w0, c0 := h.store.WriteStats()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("POST", srv.URL+"/v1/submissions", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer demo-key")
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err != nil {
						failures.Add(1)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						failures.Add(1)
					}
				}
			})
			b.StopTimer()
			if n := failures.Load(); n > 0 {
				b.Fatalf("%d requests failed", n)
			}
			w1, c1 := h.store.WriteStats()
			if c1 > c0 {
				b.ReportMetric(float64(w1-w0)/float64(c1-c0), "writes/commit")
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "submissions/s")
		})
	}
}

// BenchmarkIntakeToMailbox measures the embedded default's full outbound path
// per submission: HTTP intake, mapping + in-process XSD validation, routing and
// delivery into the built-in XTA mailbox (each stage a durable commit).
func BenchmarkIntakeToMailbox(b *testing.B) {
	h, srv := benchHub(b, 0)
	body := submission10KB(b)
	client := srv.Client()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/submissions", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer demo-key")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("status %d", resp.StatusCode)
		}
		n, err := h.pipeline.RunOnce(ctx)
		if err != nil || n != 1 {
			b.Fatal(fmt.Sprint("pipeline: ", n, err))
		}
	}
}
