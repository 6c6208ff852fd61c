package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/internal/testenv"
)

// TestBenchOSCIScenario runs the OSCI scenario for real at a tiny scale: a
// fresh hub process routing Köln over OSCI 1.2 (content and transport
// crypto) through the bench's intermediary, OSCI Fachverfahren answering
// with a 1120 into the hub's OSCI mailbox, the back-channel's status reaching
// the portal's webhook. Every submission must complete; the table and
// BENCHMARKS.md carry the row and its explanation. No timings are asserted.
func TestBenchOSCIScenario(t *testing.T) {
	benchExecutable = func() (string, error) { return binPath, nil }
	t.Setenv("DXHUB_STANDARDS_DIR", testenv.MustStandardsDir(t))
	out := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "--scale", "0.01", "--scenarios", "OSCI", "--out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), tailLines(stderr.String(), 40))
	}
	table := stdout.String()
	for _, want := range []string{"| " + osciScenarioName + " | 10 | 16 |", " MiB |",
		osciScenarioName + ": the bench process (OSCI intermediary, Fachverfahren"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "| 10 KB JSON |") {
		t.Errorf("--scenarios OSCI ran other scenarios too:\n%s", table)
	}
	doc, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"The OSCI row delivers the same 10 KB submission over OSCI-Transport 1.2", table} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("BENCHMARKS.md lacks %q", want)
		}
	}

	var js, errs bytes.Buffer
	if code := run(context.Background(), []string{"bench", "--scale", "0.005", "--scenarios", "OSCI", "--json"}, &js, &errs); code != 0 {
		t.Fatalf("--json exit %d: %s", code, tailLines(errs.String(), 20))
	}
	var res []benchResult
	if err := json.Unmarshal(js.Bytes(), &res); err != nil || len(res) != 1 {
		t.Fatalf("json: %v %s", err, js.String())
	}
	r := res[0]
	if r.Scenario != osciScenarioName || r.Completed != 5 || r.Count != 5 || r.IntakeErrors != 0 || r.HubCPU <= 0 || r.PeakRSS <= 0 ||
		r.ReaderCPU <= 0 || r.EndToEnd.P50 > r.EndToEnd.P99 || r.Intake.P50 > r.EndToEnd.P50 {
		t.Fatalf("incoherent result: %+v", r)
	}
}

// The OSCI scenario needs its own hub: with --hub it is skipped, and a
// selection of nothing else is a usage error.
func TestBenchOSCIScenarioNeedsOwnHub(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "--hub", "http://127.0.0.1:1", "--api-key", "k", "--scenarios", "OSCI"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "skipped with --hub") {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
}
