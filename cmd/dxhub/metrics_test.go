package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestMetrics scrapes /metrics after a small load and checks the series an
// operator alerts on: submissions by status, queue depth and age, delivery
// attempts by endpoint and outcome, breaker state, HTTP latency.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	h, srv := newTestHub(t, nil)

	body, err := readFileRel("../../testdata/submissions/universeller-antrag.json")
	if err != nil {
		t.Fatal(err)
	}
	post := func(b []byte) int {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/submissions", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer demo-key")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 3 {
		if code := post(body); code != http.StatusAccepted {
			t.Fatalf("post: %d", code)
		}
	}
	if code := post([]byte(`{"tenant":`)); code != http.StatusBadRequest {
		t.Fatalf("bad post: %d", code)
	}
	scrape := func() string {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
		}
		return string(b)
	}
	before := scrape()
	for _, want := range []string{
		`dxhub_queue_depth 3`,
		// Mapped at intake (the pre-check's message is kept): validated at once.
		`dxhub_submissions{service="universeller-antrag",status="validated",tenant="05315000"} 3`,
	} {
		if !strings.Contains(before, want) {
			t.Errorf("before delivery: no %q", want)
		}
	}
	if !strings.Contains(before, "dxhub_queue_oldest_age_seconds ") {
		t.Error("no queue age")
	}

	if n, err := h.pipeline.RunOnce(ctx); err != nil || n != 3 {
		t.Fatalf("pipeline: %d %v", n, err)
	}
	after := scrape()
	for _, want := range []string{
		`dxhub_queue_depth 0`,
		`dxhub_submissions{service="universeller-antrag",status="delivered",tenant="05315000"} 3`,
		`dxhub_delivery_attempts_total{endpoint="ags:05315000",outcome="delivered",transport="xta-mailbox"} 3`,
		`dxhub_delivery_attempt_duration_seconds_count{transport="xta-mailbox"} 3`,
		`dxhub_breaker_state{endpoint="xta-mailbox:ags:05315000"} 0`,
		`dxhub_http_request_duration_seconds_count{code="202",method="POST",route="POST /v1/submissions"} 3`,
		`dxhub_http_request_duration_seconds_count{code="400",method="POST",route="POST /v1/submissions"} 1`,
		`dxhub_store_writes_total `,
		`dxhub_store_commits_total `,
		`go_goroutines `,
	} {
		if !strings.Contains(after, want) {
			t.Errorf("after delivery: no %q", want)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", after)
	}
}
