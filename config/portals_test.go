package config

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/internal/testpki"
)

func TestPortalClientCertValidation(t *testing.T) {
	ca := testpki.NewCA(t, "portal-ca")
	srv := ca.Server(t, "localhost")
	caFile := ca.WriteCA(t)
	notPEM := writeFile(t, t.TempDir(), "x.pem", "not a certificate")
	withTLS := func(c *Config) { c.Hub.TLS = HubTLS{CertFile: srv.CertFile, KeyFile: srv.KeyFile} }
	for _, tc := range []struct {
		name   string
		mutate func(c *Config)
		want   string // "" = valid
	}{
		{"TLS with a client certificate by CN", func(c *Config) {
			withTLS(c)
			c.Portals[0].ClientCert = PortalClientCert{SubjectCN: "portal.example", CAFile: caFile}
		}, ""},
		{"certificate alone, no key", func(c *Config) {
			withTLS(c)
			c.Portals[0].APIKey = ""
			c.Portals[0].ClientCert = PortalClientCert{Fingerprint: strings.Repeat("ab:", 31) + "ab", CAFile: caFile, WithoutAPIKey: true}
		}, ""},
		{"no key and certificate not alone", func(c *Config) {
			withTLS(c)
			c.Portals[0].APIKey = ""
			c.Portals[0].ClientCert = PortalClientCert{SubjectCN: "p", CAFile: caFile}
		}, "portals[0]: needs apiKey or apiKeyFile"},
		{"client certificate without hub.tls", func(c *Config) {
			c.Portals[0].ClientCert = PortalClientCert{SubjectCN: "p", CAFile: caFile}
		}, "portals[0].clientCert: client certificates need TLS on the main listener"},
		{"neither CN nor fingerprint", func(c *Config) {
			withTLS(c)
			c.Portals[0].ClientCert = PortalClientCert{CAFile: caFile}
		}, "portals[0].clientCert: name the certificate by subjectCN or fingerprint"},
		{"bad fingerprint", func(c *Config) {
			withTLS(c)
			c.Portals[0].ClientCert = PortalClientCert{Fingerprint: "abc", CAFile: caFile}
		}, "portals[0].clientCert.fingerprint: must be the SHA-256"},
		{"no CA", func(c *Config) {
			withTLS(c)
			c.Portals[0].ClientCert = PortalClientCert{SubjectCN: "p"}
		}, "portals[0].clientCert.caFile: must name the CA bundle"},
		{"CA not PEM", func(c *Config) {
			withTLS(c)
			c.Portals[0].ClientCert = PortalClientCert{SubjectCN: "p", CAFile: notPEM}
		}, "holds no PEM certificate"},
		{"hub.tls half", func(c *Config) { c.Hub.TLS.CertFile = srv.CertFile }, "hub.tls: certFile and keyFile go together"},
		{"hub.tls key of another certificate", func(c *Config) {
			c.Hub.TLS = HubTLS{CertFile: srv.CertFile, KeyFile: ca.Server(t, "other").KeyFile}
		}, "hub.tls.certFile:"},
		{"hub.tls missing file", func(c *Config) { c.Hub.TLS = HubTLS{CertFile: srv.CertFile, KeyFile: "/nonexistent/k.pem"} }, "hub.tls.keyFile: cannot read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	c := Default()
	withTLS(c)
	if got := c.BaseURL(); got != "https://127.0.0.1:8080" {
		t.Fatalf("BaseURL with TLS = %s", got)
	}
}

func TestDropPortalSecrets(t *testing.T) {
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "p.key", "file-secret-0815\n")
	c := Default()
	c.Portals = append(c.Portals, Portal{ID: "file", APIKeyFile: keyFile, Tenants: []string{"05315000"}})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.DropPortalSecrets()
	for _, p := range c.Portals {
		if p.APIKey != "" || p.Secret() != "" {
			t.Fatalf("portal %s keeps its plaintext key", p.ID)
		}
	}
	h, ok := c.Portals[1].APIKeyHash()
	want := sha256.Sum256([]byte("file-secret-0815"))
	if !ok || h != want {
		t.Fatalf("hash = %s", hex.EncodeToString(h[:]))
	}
	if p, ok := c.PortalByAPIKey("file-secret-0815"); !ok || p.ID != "file" {
		t.Fatal("PortalByAPIKey after DropPortalSecrets")
	}
	if ids := c.InsecureDemoPortals(); len(ids) != 1 || ids[0] != "demo-portal" {
		t.Fatalf("InsecureDemoPortals after DropPortalSecrets = %v", ids)
	}
}
