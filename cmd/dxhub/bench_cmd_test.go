package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/connectors/webhook"
	"github.com/dxhub/dxhub/internal/loadgen"
	"github.com/dxhub/dxhub/internal/testenv"
)

// TestBenchCommand runs the harness for real at a tiny scale: fresh hub
// processes, portals, Fachverfahren answering with 1120, signed webhooks.
// It checks that every submission completed and the report is coherent; it
// asserts no timings.
func TestBenchCommand(t *testing.T) {
	benchExecutable = func() (string, error) { return binPath, nil }
	t.Setenv("DXHUB_STANDARDS_DIR", testenv.MustStandardsDir(t))
	out := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "--scale", "0.005", "--scenarios", "intake,10KB,10KB-12,half,1MB", "--out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), tailLines(stderr.String(), 40))
	}
	table := stdout.String()
	for _, want := range []string{"| 10 KB JSON, durable intake only | 40 | 64 | – | ", "| 10 KB JSON | 20 |", "| 10 KB JSON, 12 recipients | 20 |", "| 10 KB JSON at 50 % of max (paced at", "| 1 MB attachment | 1 |", " MiB |"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	doc, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# dxhub benchmarks", "## Machine", "`dxhub bench --scale 0.005", table} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("BENCHMARKS.md lacks %q", want)
		}
	}

	var js bytes.Buffer
	if code := run(context.Background(), []string{"bench", "--scale", "0.005", "--scenarios", "10KB", "--json"}, &js, &stderr); code != 0 {
		t.Fatalf("--json exit %d: %s", code, tailLines(stderr.String(), 20))
	}
	var res []benchResult
	if err := json.Unmarshal(js.Bytes(), &res); err != nil || len(res) != 1 {
		t.Fatalf("json: %v %s", err, js.String())
	}
	r := res[0]
	if r.Completed != 20 || r.IntakeErrors != 0 || r.HubCPU <= 0 || r.PeakRSS <= 0 ||
		r.EndToEnd.P50 > r.EndToEnd.P99 || r.Intake.P50 > r.EndToEnd.P50 {
		t.Fatalf("incoherent result: %+v", r)
	}
	if code := run(context.Background(), []string{"bench", "--scenarios", "nope"}, &js, &stderr); code != 2 {
		t.Fatalf("unknown scenario: exit %d, want 2", code)
	}
	if code := run(context.Background(), []string{"bench", "--hub", "http://127.0.0.1:1"}, &js, &stderr); code != 2 {
		t.Fatalf("--hub without --api-key: exit %d, want 2", code)
	}
}

// The tracker is a portal's webhook endpoint: it accepts only correctly
// signed events and wakes waiters on the status they wait for.
func TestTrackerVerifiesSignatures(t *testing.T) {
	tr := loadgen.NewTracker("s3cret")
	srv := httptest.NewServer(tr)
	defer srv.Close()
	post := func(secret string, body string) int {
		ts := time.Now().Unix()
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
		req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(webhook.HeaderSignature, "sha512="+webhook.Sign(secret, ts, []byte(body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `{"eventId":1,"submissionId":"s1","status":"acknowledged","time":"2026-11-23T12:00:00Z","source":"xoev"}`
	if code := post("wrong", body); code != http.StatusUnauthorized || tr.BadSignatures() != 1 {
		t.Fatalf("bad signature: %d, %d counted", code, tr.BadSignatures())
	}
	done := make(chan error, 1)
	go func() { _, err := tr.Wait(context.Background(), "s1", "acknowledged"); done <- err }()
	if code := post("s3cret", body); code != http.StatusNoContent {
		t.Fatalf("good signature: %d", code)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
