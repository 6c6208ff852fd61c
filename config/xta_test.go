package config

import (
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
