package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestXTAValidate(t *testing.T) {
	ok := XTA{Server: XTAServer{ServerIdentity: "dxhub"}, Client: XTAClient{Endpoints: []XTAEndpointFlags{{URL: "https://xta.example.org/send", MTOM: true}}}}
	if err := ok.Validate("xta"); err != nil {
		t.Errorf("valid config: %v", err)
	}
	bad := XTA{
		Server: XTAServer{ServerIdentity: "with:colon", TLS: XTAServerTLS{ClientCAFile: "/nonexistent/ca.pem"},
			Clients: []XTACertMapping{{Identities: []string{"05315000"}}, {Fingerprint: "abc", Identities: []string{"ags:1"}}}},
		Client: XTAClient{CertFile: "/nonexistent/c.crt", Tenants: []XTATenantCert{{Tenant: "1"}, {Tenant: "1"}},
			Endpoints: []XTAEndpointFlags{{URL: "ftp://x"}}, Leser: []XTALeserJob{{Endpoint: "https://x"}}},
	}
	err := bad.Validate("xta")
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{
		"xta.server.serverIdentity", "xta.server.tls.clientCAFile: client certificates need TLS", "xta.server.clients[0]: needs subjectCN",
		`"05315000" is not an organisation key`, "xta.server.clients[1].fingerprint", "xta.client: certFile and keyFile go together",
		"xta.client.tenants[1].tenant: tenant 1 listed twice", `xta.client.endpoints[0].url: "ftp://x"`, "xta.client.leser[0]: needs",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestXTAValidateTLSFiles: certificate files are loaded as the TLS stack will
// load them, so a wrong file is a configuration error naming its key.
func TestXTAValidateTLSFiles(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	crt, key := "testdata/koeln-xta.crt", "testdata/koeln-xta.key"
	tests := []struct {
		name string
		x    XTA
		want []string // substrings of the error; none: valid
	}{
		{"tls listener", XTA{Server: XTAServer{Listen: "127.0.0.1:8443", TLS: XTAServerTLS{CertFile: crt, KeyFile: key, ClientCAFile: crt},
			Clients: []XTACertMapping{{SubjectCN: "fv", Identities: []string{"ags:05315000"}}}}}, nil},
		{"tls without listen", XTA{Server: XTAServer{TLS: XTAServerTLS{CertFile: crt, KeyFile: key}}},
			[]string{"xta.server.listen: the XTA TLS listener needs an address"}},
		{"listen without tls", XTA{Server: XTAServer{Listen: "127.0.0.1:8443"}},
			[]string{"xta.server.listen: a separate XTA listener serves TLS only"}},
		{"bad listen", XTA{Server: XTAServer{Listen: "nohostport", TLS: XTAServerTLS{CertFile: crt, KeyFile: key}}},
			[]string{`xta.server.listen: "nohostport" is not host:port`}},
		{"http baseURL", XTA{Server: XTAServer{Listen: ":8443", BaseURL: "http://x", TLS: XTAServerTLS{CertFile: crt, KeyFile: key}}},
			[]string{`xta.server.baseURL: "http://x" is not an https URL`}},
		{"server key mismatch", XTA{Server: XTAServer{Listen: ":8443", TLS: XTAServerTLS{CertFile: crt, KeyFile: garbage}}},
			[]string{"xta.server.tls.certFile: " + crt + " and " + garbage + " are not a PEM certificate and its private key"}},
		{"client CA garbage", XTA{Server: XTAServer{Listen: ":8443", TLS: XTAServerTLS{CertFile: crt, KeyFile: key, ClientCAFile: garbage},
			Clients: []XTACertMapping{{SubjectCN: "fv", Identities: []string{"ags:1"}}}}},
			[]string{"xta.server.tls.clientCAFile: " + garbage + " holds no PEM certificate"}},
		{"tenant cert missing", XTA{Client: XTAClient{Tenants: []XTATenantCert{{Tenant: "05315000", CertFile: filepath.Join(dir, "missing.crt"), KeyFile: key}}}},
			[]string{"xta.client.tenants[0].certFile: cannot read"}},
		{"tenant cert garbage", XTA{Client: XTAClient{Tenants: []XTATenantCert{{Tenant: "05315000", CertFile: garbage, KeyFile: key}}}},
			[]string{"xta.client.tenants[0].certFile: " + garbage}},
		{"default cert ok, server CA garbage", XTA{Client: XTAClient{CertFile: crt, KeyFile: key, ServerCAFile: garbage}},
			[]string{"xta.client.serverCAFile: " + garbage + " holds no PEM certificate"}},
		{"leser", XTA{Client: XTAClient{Leser: []XTALeserJob{{Endpoint: "ftp://x", Identity: "hub", Schedule: "every day"},
			{Endpoint: "https://a|https://b", Identity: "kop:1", Schedule: "@every 1m", Max: -1}}}},
			[]string{`xta.client.leser[0].endpoint: "ftp://x"`, `xta.client.leser[0].identity: "hub"`, `xta.client.leser[0].schedule: "every day"`,
				"xta.client.leser[1].endpoint: give a base URL or three URLs", "xta.client.leser[1].max: -1 is out of range"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.x.Validate("xta")
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestXTAListenURLAndRelativePaths(t *testing.T) {
	s := XTAServer{Listen: "0.0.0.0:8443", TLS: XTAServerTLS{CertFile: "c"}}
	if got := s.ListenURL(); got != "https://localhost:8443" {
		t.Errorf("ListenURL = %q", got)
	}
	s.BaseURL = "https://xta.example.org/"
	if got := s.ListenURL(); got != "https://xta.example.org" {
		t.Errorf("ListenURL with baseURL = %q", got)
	}
	if got := (XTAServer{Listen: "127.0.0.1:8443"}).ListenURL(); got != "" {
		t.Errorf("ListenURL without TLS = %q", got)
	}
	c, err := Load("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.XTA.Client.Tenants[0].CertFile; got != filepath.Join("testdata", "koeln-xta.crt") {
		t.Errorf("tenant certFile not resolved relative to the config file: %q", got)
	}
}
