package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/internal/testenv"
)

// TestBenchCluster runs the cluster curve for real at a tiny scale: its own
// PostgreSQL and kfake broker, one and then two hub processes with Kafka work
// distribution. It checks that every submission completed, that CPU was
// measured for the hubs and PostgreSQL, and that BENCHMARKS.md keeps its
// other sections; it asserts no timings.
func TestBenchCluster(t *testing.T) {
	benchExecutable = func() (string, error) { return binPath, nil }
	t.Setenv("DXHUB_STANDARDS_DIR", testenv.MustStandardsDir(t))
	out := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := os.WriteFile(out, []byte("# dxhub benchmarks\n\n## Full path\n\nsingle-process figures\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--cluster", "1,2", "--scale", "0.01", "--recipients", "3", "--partitions", "6", "--fachverfahren", "1", "--out", out}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), tailLines(stderr.String(), 40))
	}
	table := stdout.String()
	for _, want := range []string{"| 1 | 20 |", "| 2 | 20 |", " MiB |"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "| 0.0 / ") || strings.Contains(table, " / 0.0 / ") {
		t.Errorf("a CPU figure is zero:\n%s", table)
	}
	doc, _ := os.ReadFile(out)
	for _, want := range []string{"## Full path\n\nsingle-process figures", clusterHeading, "`dxhub bench --cluster 1,2", table} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("BENCHMARKS.md lacks %q:\n%s", want, doc)
		}
	}
	// A second run replaces the section instead of appending another.
	if code := run(context.Background(), append(args[:2:2], "1", "--scale", "0.005", "--recipients", "2", "--out", out), &stdout, &stderr); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, tailLines(stderr.String(), 20))
	}
	doc, _ = os.ReadFile(out)
	if n := strings.Count(string(doc), clusterHeading); n != 1 || !strings.Contains(string(doc), "single-process figures") {
		t.Fatalf("after a second run: %d cluster sections:\n%s", n, doc)
	}
	for _, bad := range [][]string{{"bench", "--cluster", "0"}, {"bench", "--cluster", "x"}, {"bench", "--cluster", "1", "--hub", "http://127.0.0.1:1"},
		{"bench", "--cluster", "1", "--recipients", "99"}} {
		if code := run(context.Background(), bad, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

func TestReplaceSection(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"# t\n\n## A\na\n", "# t\n\n## A\na\n\n## C\nnew\n"},
		{"# t\n\n## C\nold\n\n## D\nd\n", "# t\n\n## C\nnew\n\n## D\nd\n"},
		{"# t\n\n## C\nold\n", "# t\n\n## C\nnew\n"},
	} {
		if got := replaceSection(tc.doc, "## C", "## C\nnew\n"); got != tc.want {
			t.Errorf("replaceSection(%q) = %q, want %q", tc.doc, got, tc.want)
		}
	}
}
