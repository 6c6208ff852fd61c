// Package testenv locates shared test resources, most importantly the directory of
// official schema sets and code lists (../shared/standards beside the repository).
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// StandardsDir returns the standards directory: $DXHUB_STANDARDS_DIR if set, else
// the first "shared/standards" found beside the working directory or one of its
// parents. It returns "" if there is none.
func StandardsDir() string {
	if d := os.Getenv("DXHUB_STANDARDS_DIR"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		cand := filepath.Join(dir, "shared", "standards")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// MustStandardsDir is StandardsDir for tests: it fails the test when the
// directory is missing, because every schema check depends on it.
func MustStandardsDir(tb testing.TB) string {
	tb.Helper()
	d := StandardsDir()
	if d == "" {
		tb.Fatal("standards directory not found: set DXHUB_STANDARDS_DIR or check out beside ../shared/standards")
	}
	return d
}
