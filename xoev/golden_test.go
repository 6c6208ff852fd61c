package xoev

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenCases returns the golden inputs testdata/golden/*.json.
func goldenCases(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	return files
}

// TestGolden maps each testdata/golden/*.json to XML and compares it with the
// .xml next to it (run with -update to rewrite).
func TestGolden(t *testing.T) {
	m := newTestMapper(t)
	for _, in := range goldenCases(t) {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			doc, err := m.Map(context.Background(), loadCase(t, in))
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(in, ".json") + ".xml"
			if *update {
				if err := os.WriteFile(golden, doc.XML, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./xoev -run TestGolden -update)", err)
			}
			if !bytes.Equal(doc.XML, want) {
				t.Errorf("%s differs from the mapping output:\n%s", golden, doc.XML)
			}
		})
	}
}
