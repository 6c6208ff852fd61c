package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/store"
)

var updateTraceGolden = flag.Bool("update-trace", false, "rewrite testdata/trace_spans*.golden")

// The span tree of `dxhub trace`: children under their parent in start
// order, an orphan (its parent not kept) as a root, a span of another trace
// marked, failed spans with their reason.
func TestPrintSpansGolden(t *testing.T) {
	const tid = "5c1c63257de34c67b5e4d1d2a1f0b9aa"
	t0 := time.Date(2026, 11, 23, 13, 59, 9, 825_000_000, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	spans := []store.Span{
		{TraceID: tid, SpanID: "a1", ParentSpanID: "portal", Name: "intake", Start: at(0), End: at(12), StatusCode: "ok",
			Attributes: map[string]string{"intake.transport": "http", "dxhub.portal": "demo-portal"}},
		{TraceID: tid, SpanID: "b1", ParentSpanID: "a1", Name: "mapping", Start: at(25), End: at(28), StatusCode: "ok",
			Attributes: map[string]string{"xoev.root": "universellerAntrag.antrag.1200"}},
		{TraceID: tid, SpanID: "b2", ParentSpanID: "a1", Name: "routing", Start: at(28), End: at(30), StatusCode: "ok",
			Attributes: map[string]string{"route.transport": "xta", "route.endpoint": "https://xta.koeln.example/send"}},
		{TraceID: tid, SpanID: "b3", ParentSpanID: "a1", Name: "delivery", Start: at(30), End: at(5030), StatusCode: "error",
			StatusMessage: "retry: HTTP 503", Attributes: map[string]string{"delivery.attempt": "1", "delivery.outcome": "retry"}},
		{TraceID: tid, SpanID: "c1", ParentSpanID: "b3", Name: "child", Start: at(31), End: at(40)},
		{TraceID: tid, SpanID: "b4", ParentSpanID: "a1", Name: "delivery", Start: at(15030), End: at(15100), StatusCode: "ok",
			Attributes: map[string]string{"delivery.attempt": "2", "delivery.outcome": "delivered"}},
		{TraceID: tid, SpanID: "d1", ParentSpanID: "pruned", Name: "back-channel", Start: at(60000), End: at(60002), StatusCode: "ok",
			Attributes: map[string]string{"inbound.type_code": "1120", "inbound.status": "acknowledged"}},
		{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "e1", Name: "intake", Start: at(70000), End: at(70001),
			StatusCode: "ok", Attributes: map[string]string{"intake.transport": "http"}},
	}
	for _, tc := range []struct {
		name    string
		traceID string
		spans   []store.Span
	}{
		{"trace_spans", tid, spans},
		{"trace_spans_none", tid, nil},
		{"trace_spans_untraced", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			printSpans(&buf, tc.traceID, tc.spans, time.UTC)
			golden := filepath.Join("testdata", tc.name+".golden")
			if *updateTraceGolden {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update-trace to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("output differs from %s:\n%s\nwant:\n%s", golden, buf.Bytes(), want)
			}
		})
	}
}
