package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunExitCodes(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("tenants:\n  - ags: \"0531500\"\n    name: X\n    dvdvKey: ags:1\nhub:\n  listn: x\n"), 0o600)
	invalid := filepath.Join(t.TempDir(), "invalid.yaml")
	os.WriteFile(invalid, []byte("tenants:\n  - ags: \"0531500\"\n    name: X\n    dvdvKey: AGS-1\n"), 0o600)
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"no command", nil, 2, "", "usage: dxhub"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"help", []string{"help"}, 0, "", "usage: dxhub"},
		{"version", []string{"version"}, 0, "dxhub ", ""},
		{"bad flag", []string{"serve", "--nope"}, 2, "", "flag provided but not defined"},
		{"check default", []string{"check-config"}, 0, "configuration OK (embedded default)", ""},
		{"check unknown key", []string{"check-config", "--config", bad}, 1, "", "hub.listn"},
		{"check invalid values", []string{"check-config", "--config", invalid}, 1, "", "tenants[0].ags"},
		{"check missing file", []string{"check-config", "--config", "/nonexistent.yaml"}, 1, "", "nonexistent"},
		{"check extra args", []string{"check-config", "x"}, 2, "", "unexpected arguments"},
		{"submit without files", []string{"submit"}, 2, "", "give one or more"},
		{"status without id", []string{"status"}, 2, "", "exactly one submission ID"},
		{"submit to a dead hub", []string{"submit", "--hub", "http://127.0.0.1:1", "../../testdata/submissions/universeller-antrag.json"}, 1, "", "connection refused"},
		{"sim without kind", []string{"sim"}, 2, "", "give a simulator"},
		{"sim bad reply", []string{"sim", "fachverfahren", "--reply", "9999"}, 2, "", `unknown reply "9999"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tt.inStdout) || !strings.Contains(errb.String(), tt.inStderr) {
				t.Fatalf("stdout %q / stderr %q; want %q / %q", out.String(), errb.String(), tt.inStdout, tt.inStderr)
			}
		})
	}
}
