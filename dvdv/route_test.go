package dvdv_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/routing"
)

func dvdvCert(c *x509.Certificate) *dvdv.Certificate {
	return &dvdv.Certificate{Content: base64.StdEncoding.EncodeToString(c.Raw), Fingerprint: dvdv.Fingerprint(c.Raw)}
}

func TestBuildRouteCertificateSelection(t *testing.T) {
	p := testPKI(t)
	inter := dvdv.ServiceElement{Type: dvdv.ElementOSCIIntermediary, DescriptionName: "I", URI: "https://i.example/osci",
		CipherCertificate: dvdvCert(p.certs["intermediary-cipher"])}
	addr := dvdv.ServiceElement{Type: dvdv.ElementOSCIAddressee, DescriptionName: "A", URI: "https://a.example/osci"}
	cipher := func(name, cert string) dvdv.ServiceElement {
		return dvdv.ServiceElement{Type: dvdv.ElementCipherCertificate, DescriptionName: name, CipherCertificate: dvdvCert(p.certs[cert])}
	}
	withInline := addr
	withInline.CipherCertificate = dvdvCert(p.certs["bonn-cipher"])
	badFP := cipher("A", "koeln-cipher")
	badFP.CipherCertificate.Fingerprint = strings.Repeat("ab", 20)
	garbage := cipher("A", "koeln-cipher")
	garbage.CipherCertificate.Content = "bm90IGEgY2VydA=="
	noName := addr
	noName.DescriptionName = ""

	tests := []struct {
		name     string
		elements []dvdv.ServiceElement
		wantEnc  string // certificate name
		wantErr  string
	}{
		{"by name, not the first", []dvdv.ServiceElement{cipher("I", "intermediary-cipher"), inter, addr, cipher("A", "koeln-cipher")}, "koeln-cipher", ""},
		{"inline wins", []dvdv.ServiceElement{inter, withInline, cipher("A", "koeln-cipher")}, "bonn-cipher", ""},
		{"only the intermediary's", []dvdv.ServiceElement{cipher("I", "intermediary-cipher"), inter, addr}, "", "no encryption certificate"},
		{"addressee without name", []dvdv.ServiceElement{cipher("I", "intermediary-cipher"), inter, noName}, "", "no encryption certificate"},
		{"ambiguous name", []dvdv.ServiceElement{inter, addr, cipher("A", "koeln-cipher"), cipher("A", "bonn-cipher")}, "", "several different CIPHER_CERTIFICATE"},
		{"expired", []dvdv.ServiceElement{inter, addr, cipher("A", "duesseldorf-expired")}, "", "expired at"},
		{"fingerprint mismatch", []dvdv.ServiceElement{inter, addr, badFP}, "", "DVDV names fingerprint"},
		{"not a certificate", []dvdv.ServiceElement{inter, addr, garbage}, "", "not an X.509 certificate"},
		{"no intermediary", []dvdv.ServiceElement{addr, cipher("A", "koeln-cipher")}, "", "exactly one OSCI_INTERMEDIARY"},
		{"two addressees", []dvdv.ServiceElement{inter, addr, addr}, "", "2 OSCI_ADDRESSEE elements"},
		{"text only", []dvdv.ServiceElement{{Type: dvdv.ElementText, Text: "x"}}, "", "no OSCI_ADDRESSEE or WEBSERVER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &dvdv.Service{ServiceElements: tt.elements}
			sr, err := dvdv.BuildRoute(svc, "ags:05315000", "urn:s", epoch)
			if tt.wantErr != "" {
				var re *dvdv.RouteError
				if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want RouteError with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sr.Route.EncryptionCert != pemOf(p.certs[tt.wantEnc]) {
				t.Errorf("encryption certificate is not %s", tt.wantEnc)
			}
			if sr.IntermediaryCert == nil || sr.IntermediaryCert.PEM != pemOf(p.certs["intermediary-cipher"]) {
				t.Errorf("intermediary certificate wrong")
			}
			if sr.Route.IntermediaryCert != pemOf(p.certs["intermediary-cipher"]) || sr.Route.Intermediary == "" {
				t.Errorf("route lacks the intermediary URL or certificate: %q", sr.Route.Intermediary)
			}
			if !sr.NotAfter.Equal(p.certs[tt.wantEnc].NotAfter) && !sr.NotAfter.Equal(p.certs["intermediary-cipher"].NotAfter) {
				t.Errorf("NotAfter = %v", sr.NotAfter)
			}
		})
	}
}

func TestBuildRouteServiceValidity(t *testing.T) {
	p := testPKI(t)
	svc := &dvdv.Service{ServiceElements: []dvdv.ServiceElement{{Type: dvdv.ElementWebserver, URI: "https://x.example/xta",
		CipherCertificate: dvdvCert(p.certs["bonn-cipher"])}}}
	svc.ValidTo = dvdv.Time{Time: epoch.Add(-time.Hour)}
	if _, err := dvdv.BuildRoute(svc, "ags:1", "urn:s", epoch); err == nil || !strings.Contains(err.Error(), "service expired") {
		t.Fatalf("expired service: %v", err)
	}
	svc.ValidTo = dvdv.Time{}
	svc.ValidFrom = dvdv.Time{Time: epoch.Add(time.Hour)}
	if _, err := dvdv.BuildRoute(svc, "ags:1", "urn:s", epoch); err == nil || !strings.Contains(err.Error(), "valid only from") {
		t.Fatalf("future service: %v", err)
	}
	svc.ValidFrom = dvdv.Time{}
	sr, err := dvdv.BuildRoute(svc, "ags:1", "urn:s", epoch)
	if err != nil || sr.Route.Transport != routing.TransportXTA || sr.Route.Intermediary != "" {
		t.Fatalf("xta route = %+v, %v", sr, err)
	}
	svc.ServiceElements[0].URI = "ftp://x"
	if _, err := dvdv.BuildRoute(svc, "ags:1", "urn:s", epoch); err == nil || !strings.Contains(err.Error(), "not an http(s) URL") {
		t.Fatalf("ftp endpoint: %v", err)
	}
}

// TestCachedRouteRecheckedAtUse: a cached route whose certificate expires
// while cached is refused at use, not served until the TTL ends.
func TestCachedRouteRecheckedAtUse(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	_, url := startServer(t, clock)
	r := newResolver(t, newClient(t, clock, url), clock, nil, func(o *dvdv.Options) { o.TTL.ServiceDescription = 400 * 24 * time.Hour })
	if _, err := r.Resolve(ctx, koeln, serviceURI); err != nil {
		t.Fatal(err)
	}
	clock.Advance(366 * 24 * time.Hour) // past koeln-cipher's NotAfter
	if _, err := r.Resolve(ctx, koeln, serviceURI); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("err = %v, want expired certificate", err)
	}
}
