package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/internal/testpki"
)

// TestXTACLIAndCertificateErrors: the exit codes of `dxhub xta`, and bad
// XTA certificate files stop check-config, serve and xta leser with the key
// named (exit 1), before anything listens.
func TestXTACLIAndCertificateErrors(t *testing.T) {
	t.Setenv("DXHUB_STANDARDS_DIR", testenv.MustStandardsDir(t))
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := testpki.NewCA(t, "cli CA")
	good := ca.Client(t, "hub-koeln")
	other := ca.Client(t, "someone-else")
	tenantCert := configFile(t, fmt.Sprintf(`xta:
  client:
    tenants:
      - tenant: "05315000"
        certFile: %s
        keyFile: %s
    leser:
      - endpoint: http://127.0.0.1:1
        identity: kop:0500000001
        schedule: "@every 1h"
`, garbage, good.KeyFile), "")
	mismatched := configFile(t, fmt.Sprintf(`xta:
  server:
    listen: 127.0.0.1:0
    tls:
      certFile: %s
      keyFile: %s
`, good.CertFile, other.KeyFile), "")
	noListen := configFile(t, fmt.Sprintf(`xta:
  server:
    tls:
      certFile: %s
      keyFile: %s
`, good.CertFile, good.KeyFile), "")
	unreachable := configFile(t, `xta:
  client:
    leser:
      - endpoint: http://127.0.0.1:1
        identity: kop:0500000001
        schedule: "@every 1h"
`, "")
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"xta without subcommand", []string{"xta"}, 2, "", "usage: dxhub xta leser"},
		{"xta unknown subcommand", []string{"xta", "schreiber"}, 2, "", `unknown xta command "schreiber"`},
		{"leser extra args", []string{"xta", "leser", "x"}, 2, "", "unexpected arguments"},
		{"leser without jobs", []string{"xta", "leser", "--once", "--data", t.TempDir()}, 1, "", "no Leser jobs configured (xta.client.leser)"},
		{"check-config bad tenant certificate", []string{"check-config", "--config", tenantCert}, 1, "",
			"xta.client.tenants[0].certFile: " + garbage},
		{"serve bad tenant certificate", []string{"serve", "--config", tenantCert, "--data", t.TempDir()}, 1, "",
			"xta.client.tenants[0].certFile: " + garbage},
		{"leser bad tenant certificate", []string{"xta", "leser", "--once", "--config", tenantCert, "--data", t.TempDir()}, 1, "",
			"xta.client.tenants[0].certFile"},
		{"serve server key of another certificate", []string{"serve", "--config", mismatched, "--data", t.TempDir()}, 1, "",
			"xta.server.tls.certFile: " + good.CertFile + " and " + other.KeyFile + " are not a PEM certificate and its private key"},
		{"serve TLS without listen", []string{"serve", "--config", noListen, "--data", t.TempDir()}, 1, "",
			"xta.server.listen: the XTA TLS listener needs an address"},
		{"leser against an unreachable server", []string{"xta", "leser", "--once", "--config", unreachable, "--data", t.TempDir()}, 1,
			"leser http://127.0.0.1:1 as kop:0500000001: 0 message(s) fetched and closed", "1 of 1 Leser jobs failed"},
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
