// Package testenv locates shared test resources, most importantly the directory of
// official schema sets and code lists (../shared/standards beside the repository).
package testenv

import (
	"testing"

	"github.com/dxhub/dxhub/internal/standards"
)

// StandardsDir returns the standards directory, or "" if there is none
// (see standards.Locate for the search order).
func StandardsDir() string {
	d, err := standards.Locate("")
	if err != nil {
		return ""
	}
	return d
}

// MustStandardsDir is StandardsDir for tests: it fails the test when the
// directory is missing, because every schema check depends on it.
func MustStandardsDir(tb testing.TB) string {
	tb.Helper()
	d, err := standards.Locate("")
	if err != nil {
		tb.Fatal(err)
	}
	return d
}
