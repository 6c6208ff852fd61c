package xta_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

type mtlsEnv struct {
	url    string
	ca     *xtatest.CA
	server tls.Certificate
}

// startMTLS runs an XTA server over b behind TLS that requests client
// certificates; the CertAuthority trusts ca and maps CN "fachverfahren-koeln"
// to readerKey.
func startMTLS(t testing.TB, b xta.Backend) *mtlsEnv {
	t.Helper()
	now := time.Now()
	ca, err := xtatest.NewCA("dxhub test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, err := ca.Issue("xta.test", true, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + ln.Addr().String()
	srv, err := xta.NewServer(b, xta.Config{WSDLDir: filepath.Join(testenv.MustStandardsDir(t), "xta2-v3"), BaseURL: base,
		SpoolDir: t.TempDir(), ClientCerts: &xta.CertAuthority{Roots: ca.Pool(), Mappings: []xta.CertMapping{
			{SubjectCN: "fachverfahren-koeln", Identities: []string{readerKey}},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux)
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux},
		TLS: &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS12}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return &mtlsEnv{url: base, ca: ca, server: srvCert}
}

func (e *mtlsEnv) client(t testing.TB, author string, cert *tls.Certificate) *xta.Client {
	cfg := &tls.Config{RootCAs: e.ca.Pool(), MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &xta.Client{Endpoints: xta.EndpointsAt(e.url), Author: author, HTTP: &http.Client{Transport: tr}}
}

func TestMutualTLSIdentities(t *testing.T) {
	b := xtatest.NewMemoryBackend(readerKey, hubKey, "ags:09162000")
	e := startMTLS(t, b)
	now := time.Now()
	good, _ := e.ca.Issue("fachverfahren-koeln", false, now.Add(-time.Hour), now.Add(time.Hour))
	expired, _ := e.ca.Issue("fachverfahren-koeln", false, now.Add(-48*time.Hour), now.Add(-time.Hour))
	unmapped, _ := e.ca.Issue("someone-else", false, now.Add(-time.Hour), now.Add(time.Hour))
	otherCA, _ := xtatest.NewCA("rogue CA", now)
	rogue, _ := otherCA.Issue("fachverfahren-koeln", false, now.Add(-time.Hour), now.Add(time.Hour))
	ctx := context.Background()

	if err := e.client(t, readerKey, &good).CheckAccountActive(ctx); err != nil {
		t.Fatalf("own identity: %v", err)
	}
	for name, tc := range map[string]struct {
		author string
		cert   *tls.Certificate
		want   int
	}{
		"foreign identity":  {"ags:09162000", &good, xta.CodeCertSenderMismatch},
		"expired":           {readerKey, &expired, xta.CodeCertExpired},
		"unmapped":          {readerKey, &unmapped, xta.CodeAccountMissing},
		"untrusted issuer":  {readerKey, &rogue, xta.CodeCertSenderMismatch},
		"no certificate":    {readerKey, nil, -1},
		"foreign as sender": {"ags:09162000", &good, xta.CodeCertSenderMismatch},
	} {
		c := e.client(t, tc.author, tc.cert)
		var err error
		if name == "foreign as sender" {
			meta := sampleMeta("urn:de:xta:messageid:fv:spoof", tc.author, hubKey)
			err = c.SendMessage(ctx, meta, []xta.Content{content([]byte("<x/>"), "application/xml", "x.xml")})
		} else {
			err = c.CheckAccountActive(ctx)
		}
		if tc.want < 0 {
			// RequireAnyClientCert: the handshake itself fails.
			if err == nil {
				t.Errorf("%s: accepted", name)
			}
			continue
		}
		if got := faultCode(t, err); got != tc.want {
			t.Errorf("%s: fault %d, want %d (%v)", name, got, tc.want, err)
		}
	}
	if n := len(b.Received()); n != 0 {
		t.Errorf("%d messages received from a spoofed author", n)
	}
}
