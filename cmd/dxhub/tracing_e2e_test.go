package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/tracing/otlptest"
)

// TestTracingEndToEnd: one submission with a portal's traceparent, through
// the real binary: intake, mapping, routing, delivery into the XTA mailbox,
// the Fachverfahren simulator fetches it and answers with a 1120. One span
// per stage, all in the portal's trace with the right parents — as kept in
// the store (dxhub trace) and as exported over OTLP/HTTP to a receiver that
// decodes the protobuf itself — and the hub's JSON log lines for the
// submission carry the same trace_id.
func TestTracingEndToEnd(t *testing.T) {
	const (
		portalTrace = "5c1c63257de34c67b5e4d1d2a1f0b9aa"
		portalSpan  = "b7ad6b7169203331"
	)
	rcv := otlptest.New()
	defer rcv.Close()
	dataDir := t.TempDir()
	h := startHub(t, dataDir, freeAddr(t),
		"DXHUB_TRACING_ENABLED=true", "DXHUB_TRACING_LOCAL_FLUSHINTERVAL=50ms",
		"DXHUB_TRACING_OTLP_ENDPOINT="+rcv.Endpoint(), "DXHUB_TRACING_OTLP_HEADERS=Authorization=Bearer%20e2e-token",
		"OTEL_BSP_SCHEDULE_DELAY=100", // the OTLP batcher's flush interval (ms), an SDK setting
		"DXHUB_HUB_LOGFORMAT=json")

	// The portal submits inside its own trace.
	var body bytes.Buffer
	js, _ := json.Marshal(readSample(t))
	body.Write(js)
	req, _ := http.NewRequest(http.MethodPost, h.base+"/v1/submissions", &body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer demo-key")
	req.Header.Set("Idempotency-Key", "trace-e2e-1")
	req.Header.Set("Traceparent", "00-"+portalTrace+"-"+portalSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %s %s", resp.Status, b)
	}
	var acc accepted
	if err := json.Unmarshal(b, &acc); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "delivery into the XTA mailbox", func() (bool, error) {
		return getStatus(t, h.base, acc.ID).Status == "delivered", nil
	})

	// The Fachverfahren simulator (the real binary) fetches it and answers 1120.
	sim := exec.Command(binPath, "sim", "fachverfahren", "--hub", h.base, "--identity", "ags:05315000", "--reply", "1120",
		"--out", t.TempDir())
	if out, err := sim.CombinedOutput(); err != nil {
		t.Fatalf("sim fachverfahren: %v\n%s", err, out)
	}
	eventually(t, 30*time.Second, "the 1120 acknowledgement", func() (bool, error) {
		return getStatus(t, h.base, acc.ID).Status == "acknowledged", nil
	})

	// dxhub trace --json (the real binary, on the running hub's data).
	stages := []string{"intake", "mapping", "routing", "delivery", "back-channel"}
	var tr struct {
		TraceID string       `json:"traceId"`
		Spans   []store.Span `json:"spans"`
	}
	byName := map[string][]store.Span{}
	eventually(t, 30*time.Second, "the stage spans in the store", func() (bool, error) {
		out, err := exec.Command(binPath, "trace", "--data", dataDir, "--json", acc.ID).Output()
		if err != nil {
			return false, err
		}
		tr.Spans = nil
		if err := json.Unmarshal(out, &tr); err != nil {
			return false, err
		}
		byName = map[string][]store.Span{}
		for _, s := range tr.Spans {
			byName[s.Name] = append(byName[s.Name], s)
		}
		for _, st := range stages {
			if len(byName[st]) == 0 {
				return false, fmt.Errorf("no %s span yet (%d spans)", st, len(tr.Spans))
			}
		}
		return true, nil
	})
	if tr.TraceID != portalTrace {
		t.Fatalf("dxhub trace: trace ID %s, want the portal's %s", tr.TraceID, portalTrace)
	}
	for _, st := range stages {
		if n := len(byName[st]); n != 1 {
			t.Errorf("%d %s spans, want 1", n, st)
		}
	}
	intake := byName["intake"][0]
	if intake.ParentSpanID != portalSpan {
		t.Errorf("intake parent %s, want the portal's span %s", intake.ParentSpanID, portalSpan)
	}
	for _, s := range tr.Spans {
		if s.TraceID != portalTrace {
			t.Errorf("span %s in trace %s, want %s", s.Name, s.TraceID, portalTrace)
		}
		if s.Name != "intake" && s.ParentSpanID != intake.SpanID {
			t.Errorf("span %s has parent %s, want the intake span %s", s.Name, s.ParentSpanID, intake.SpanID)
		}
		if s.StatusCode != "ok" {
			t.Errorf("span %s status %q (%s)", s.Name, s.StatusCode, s.StatusMessage)
		}
	}
	d := byName["delivery"][0]
	if d.Attributes["delivery.transport"] != "xta-mailbox" || d.Attributes["delivery.outcome"] != "delivered" ||
		d.Attributes["delivery.attempt"] != "1" || d.Attributes["delivery.endpoint"] != "ags:05315000" {
		t.Errorf("delivery attributes = %v", d.Attributes)
	}
	if bc := byName["back-channel"][0]; bc.Attributes["inbound.type_code"] != "1120" || bc.Attributes["inbound.status"] != "acknowledged" {
		t.Errorf("back-channel attributes = %v", bc.Attributes)
	}
	if m := byName["mapping"][0]; m.Attributes["xoev.root"] != "universellerAntrag.antrag.1200" {
		t.Errorf("mapping attributes = %v", m.Attributes)
	}
	if len(byName["status.postfach"]) == 0 {
		t.Errorf("no status.postfach span (the citizen's Postfach messages)")
	}

	// The text view: the trace ID and the tree with every stage.
	out, err := exec.Command(binPath, "trace", "--data", dataDir, acc.ID).Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dxhub trace:\n%s", out)
	if !strings.Contains(string(out), "trace ID        "+portalTrace) {
		t.Errorf("dxhub trace shows no trace ID:\n%s", out)
	}
	for _, st := range stages[1:] {
		if !strings.Contains(string(out), "├─ "+st+"  ") && !strings.Contains(string(out), "└─ "+st+"  ") {
			t.Errorf("dxhub trace shows no %s child span:\n%s", st, out)
		}
	}

	// The same spans reached the OTLP receiver (decoded independently).
	eventually(t, 30*time.Second, "the stage spans at the OTLP receiver", func() (bool, error) {
		got := map[string]int{}
		for _, s := range rcv.Spans() {
			if s.TraceID == portalTrace {
				got[s.Name]++
			}
		}
		for _, st := range stages {
			if got[st] != 1 {
				return false, fmt.Errorf("receiver has %v", got)
			}
		}
		return true, nil
	})
	for _, s := range rcv.Spans() {
		if s.TraceID == portalTrace && s.Service != "dxhub" {
			t.Errorf("exported span %s has service.name %q", s.Name, s.Service)
		}
	}
	if hs := rcv.Headers(); len(hs) == 0 || hs[0].Get("Authorization") != "Bearer e2e-token" {
		t.Errorf("OTLP export headers = %v", hs)
	}
	if p := rcv.Problems(); len(p) > 0 {
		t.Errorf("the receiver refused exports: %v", p)
	}

	// Every JSON log line about the submission made on its path names the
	// portal's trace; the stages' lines are among them.
	var withTrace, without []string
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if !strings.Contains(line, acc.ID) {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if rec["trace_id"] == nil {
			without = append(without, line)
			continue
		}
		if rec["trace_id"] != portalTrace {
			t.Errorf("log line in trace %v, want %s: %s", rec["trace_id"], portalTrace, line)
		}
		withTrace = append(withTrace, rec["msg"].(string))
	}
	for _, msg := range []string{"submission accepted", "delivered"} {
		found := false
		for _, m := range withTrace {
			found = found || m == msg
		}
		if !found {
			t.Errorf("no log line %q with the trace ID (lines with it: %q)", msg, withTrace)
		}
	}
	t.Logf("log lines with the trace ID: %q", withTrace)
	if len(without) > 0 {
		t.Errorf("log lines about the submission without a trace ID:\n%s", strings.Join(without, "\n"))
	}
}

// TestTracingAcrossProcesses: the intake runs in one process (no workers),
// which is then killed; another process on the same data maps, routes and
// delivers. Its stage spans continue the portal's trace as children of the
// first process's intake span — the trace context travels with the
// submission, not in memory.
func TestTracingAcrossProcesses(t *testing.T) {
	const (
		portalTrace = "0af7651916cd43dd8448eb211c80319c"
		portalSpan  = "00f067aa0ba902b7"
	)
	data, addr := t.TempDir(), freeAddr(t)
	env := []string{"DXHUB_TRACING_ENABLED=true", "DXHUB_TRACING_LOCAL_FLUSHINTERVAL=50ms", "DXHUB_HUB_LOGFORMAT=json"}
	h := startHub(t, data, addr, append(env, "DXHUB_WORKERS_COUNT=0")...)
	js, _ := json.Marshal(readSample(t))
	req, _ := http.NewRequest(http.MethodPost, h.base+"/v1/submissions", bytes.NewReader(js))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer demo-key")
	req.Header.Set("Traceparent", "00-"+portalTrace+"-"+portalSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var acc accepted
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(b, &acc) != nil {
		t.Fatalf("POST: %s %s", resp.Status, b)
	}
	spans := func() (map[string][]store.Span, error) {
		out, err := exec.Command(binPath, "trace", "--data", data, "--json", acc.ID).Output()
		if err != nil {
			return nil, err
		}
		var tr struct {
			Spans []store.Span `json:"spans"`
		}
		if err := json.Unmarshal(out, &tr); err != nil {
			return nil, err
		}
		m := map[string][]store.Span{}
		for _, s := range tr.Spans {
			m[s.Name] = append(m[s.Name], s)
		}
		return m, nil
	}
	var intake store.Span
	eventually(t, 30*time.Second, "the intake span in the store", func() (bool, error) {
		m, err := spans()
		if len(m["intake"]) == 1 {
			intake = m["intake"][0]
		}
		return len(m["intake"]) == 1, err
	})
	h.kill()

	h2 := startHub(t, data, addr, env...)
	eventually(t, 30*time.Second, "delivery by the second process", func() (bool, error) {
		return getStatus(t, h2.base, acc.ID).Status == "delivered", nil
	})
	var m map[string][]store.Span
	eventually(t, 30*time.Second, "the second process's stage spans", func() (bool, error) {
		var err error
		m, err = spans()
		return len(m["mapping"]) == 1 && len(m["routing"]) == 1 && len(m["delivery"]) == 1, err
	})
	if intake.TraceID != portalTrace || intake.ParentSpanID != portalSpan {
		t.Fatalf("intake span %+v", intake)
	}
	for _, name := range []string{"mapping", "routing", "delivery"} {
		s := m[name][0]
		if s.TraceID != portalTrace || s.ParentSpanID != intake.SpanID {
			t.Errorf("%s span in trace %s with parent %s; want trace %s, parent %s (the first process's intake span)",
				name, s.TraceID, s.ParentSpanID, portalTrace, intake.SpanID)
		}
	}
	found := false
	for _, line := range strings.Split(h2.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "delivered" && rec["submission"] == acc.ID {
			found = rec["trace_id"] == portalTrace
		}
	}
	if !found {
		t.Errorf("the second process's \"delivered\" log line does not carry the portal's trace ID")
	}
}
