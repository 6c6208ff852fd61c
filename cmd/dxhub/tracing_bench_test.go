package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/internal/tracing/otlptest"
)

// BenchmarkTracingOverhead measures the outbound path of
// BenchmarkIntakeToMailbox (HTTP intake with a traceparent, mapping +
// XSD validation, routing, delivery into the built-in XTA mailbox) with
// tracing off, with spans kept in the store (the batch exporter writes them
// in the background, competing for the store's writer) and with spans
// exported over OTLP/HTTP to a receiver on 127.0.0.1.
func BenchmarkTracingOverhead(b *testing.B) {
	for _, mode := range []string{"off", "local", "otlp", "local+otlp"} {
		b.Run("tracing="+mode, func(b *testing.B) {
			var rcv *otlptest.Receiver
			cfg := config.Default()
			cfg.Hub.DataDir = b.TempDir()
			cfg.Hub.StandardsDir = testenv.MustStandardsDir(b)
			cfg.Workers.Count = 0
			if mode != "off" {
				cfg.Tracing.Enabled = true
				cfg.Tracing.Local.Enabled = mode != "otlp"
				if mode != "local" {
					rcv = otlptest.New()
					defer rcv.Close()
					cfg.Tracing.OTLP.Endpoint = rcv.Endpoint()
				}
			}
			if err := cfg.Validate(); err != nil {
				b.Fatal(err)
			}
			h, err := newHub(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(h.handler)
			defer func() { srv.Close(); h.close() }()
			body := submission10KB(b)
			client := srv.Client()
			ctx := context.Background()
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req, _ := http.NewRequest("POST", srv.URL+"/v1/submissions", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer demo-key")
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Traceparent", fmt.Sprintf("00-%032x-%016x-01", i+1, i+1))
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					b.Fatalf("status %d", resp.StatusCode)
				}
				if n, err := h.pipeline.RunOnce(ctx); err != nil || n != 1 {
					b.Fatal(fmt.Sprint("pipeline: ", n, err))
				}
			}
			// The spans are part of the cost: flush what is still queued.
			if h.tracing != nil {
				fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				if err := h.tracing.ForceFlush(fctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			// Wall time is dominated by fsyncs on a shared disk; the process's
			// CPU time (hub, exporters and the benchmark's client) is the
			// steadier measure of what tracing adds.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			if rcv != nil && len(rcv.Spans()) < 4*b.N {
				b.Fatalf("receiver has %d spans for %d submissions", len(rcv.Spans()), b.N)
			}
		})
	}
}

// cpuTime is the CPU time (user + system) the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
