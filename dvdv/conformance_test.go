package dvdv_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/dvdv/dvdvtest"
	"github.com/dxhub/dxhub/routing"
)

// conformanceFixture is what every resolver under test must serve: the
// routes (with the certificates in PEM) and pairs it must not know.
type conformanceFixture struct {
	Routes  []routing.Route
	Missing []dvdv.Pair
	// Certs are the certificates the routes use, by name (for backends that
	// refer to certificates by name).
	Certs map[string]*x509.Certificate
}

func newConformanceFixture(t *testing.T) conformanceFixture {
	p := testPKI(t)
	return conformanceFixture{
		Routes: []routing.Route{
			{ReaderKey: "ags:05315000", ServiceURI: "urn:s:1", Transport: routing.TransportOSCI,
				Endpoint: "https://bauamt.koeln.example/osci", Intermediary: "https://intermediaer.example/osci",
				EncryptionCert: pemOf(p.certs["koeln-cipher"]), SignatureCert: pemOf(p.certs["koeln-signature"])},
			{ReaderKey: "ags:05314000", ServiceURI: "urn:s:1", Transport: routing.TransportXTA,
				Endpoint: "https://xta.bonn.example/send", EncryptionCert: pemOf(p.certs["bonn-cipher"])},
			{ReaderKey: "ags:05315000", ServiceURI: "urn:s:2", Transport: routing.TransportXTA,
				Endpoint: "https://xta.koeln.example/send"},
		},
		Missing: []dvdv.Pair{{"ags:05315000", "urn:s:3"}, {"ags:00000000", "urn:s:1"}, {"ags:05314000", "urn:s:2"}},
		Certs:   p.certs,
	}
}

// resolverConformance is the one test suite every routing.Resolver of this
// package passes (the file directory and the DVDV resolver).
func resolverConformance(t *testing.T, build func(t *testing.T, fx conformanceFixture) routing.Resolver) {
	fx := newConformanceFixture(t)
	r := build(t, fx)
	ctx := context.Background()

	t.Run("routes", func(t *testing.T) {
		for _, want := range fx.Routes {
			for _, key := range []string{want.ReaderKey, strings.ToUpper(want.ReaderKey)} {
				got, err := r.Resolve(ctx, key, want.ServiceURI)
				if err != nil {
					t.Fatalf("Resolve(%s, %s): %v", key, want.ServiceURI, err)
				}
				if !strings.EqualFold(got.ReaderKey, want.ReaderKey) || got.ServiceURI != want.ServiceURI {
					t.Errorf("Resolve(%s, %s) names %s / %s", key, want.ServiceURI, got.ReaderKey, got.ServiceURI)
				}
				if got.Transport != want.Transport || got.Endpoint != want.Endpoint || got.Intermediary != want.Intermediary {
					t.Errorf("Resolve(%s, %s) = %s %s %s, want %s %s %s", key, want.ServiceURI,
						got.Transport, got.Endpoint, got.Intermediary, want.Transport, want.Endpoint, want.Intermediary)
				}
				if got.EncryptionCert != want.EncryptionCert || got.SignatureCert != want.SignatureCert {
					t.Errorf("Resolve(%s, %s): certificates differ", key, want.ServiceURI)
				}
				if got.Source == "" || got.ResolvedAt.IsZero() {
					t.Errorf("Resolve(%s, %s): source %q resolvedAt %v", key, want.ServiceURI, got.Source, got.ResolvedAt)
				}
			}
		}
	})
	t.Run("not found", func(t *testing.T) {
		for _, m := range fx.Missing {
			_, err := r.Resolve(ctx, m.ReaderKey, m.ServiceURI)
			var nf *dvdv.NotFoundError
			if !errors.Is(err, routing.ErrNotFound) || !errors.As(err, &nf) {
				t.Errorf("Resolve(%s, %s) err = %v, want *NotFoundError", m.ReaderKey, m.ServiceURI, err)
			}
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8*len(fx.Routes))
		for range 8 {
			wg.Go(func() {
				for _, want := range fx.Routes {
					if _, err := r.Resolve(ctx, want.ReaderKey, want.ServiceURI); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func TestConformanceFileDirectory(t *testing.T) {
	resolverConformance(t, func(t *testing.T, fx conformanceFixture) routing.Resolver {
		var entries []dvdv.Entry
		for _, r := range fx.Routes {
			entries = append(entries, dvdv.Entry{ReaderKey: r.ReaderKey, ServiceURI: r.ServiceURI, Transport: string(r.Transport),
				URL: r.Endpoint, Intermediary: r.Intermediary, EncryptionCert: r.EncryptionCert, SignatureCert: r.SignatureCert})
		}
		d, err := dvdv.NewFileDirectory("conformance", entries)
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func TestConformanceDVDVResolver(t *testing.T) {
	resolverConformance(t, func(t *testing.T, fx conformanceFixture) routing.Resolver {
		clock := newClock()
		certName := map[string]string{}
		for name, c := range fx.Certs {
			certName[pemOf(c)] = name
		}
		dir := &dvdvtest.Directory{Organizations: []dvdvtest.Organization{
			{Name: "dxhub", Category: "Kommunalportal", Keys: []string{hubKey}, ClientCertificates: []string{"hub-client"}},
		}}
		orgs := map[string]int{}
		for _, r := range fx.Routes {
			i, ok := orgs[r.ReaderKey]
			if !ok {
				i = len(dir.Organizations)
				orgs[r.ReaderKey] = i
				dir.Organizations = append(dir.Organizations, dvdvtest.Organization{Name: r.ReaderKey, Category: "Behörde", Keys: []string{r.ReaderKey}})
			}
			svc := dvdvtest.Service{URI: r.ServiceURI, Name: "svc"}
			switch r.Transport {
			case routing.TransportOSCI:
				// Decoy first: the intermediary's standalone cipher certificate.
				svc.Elements = []dvdvtest.Element{
					{Type: dvdv.ElementCipherCertificate, Name: "Intermediär", CipherCertificate: "intermediary-cipher"},
					{Type: dvdv.ElementOSCIIntermediary, Name: "Intermediär", URI: r.Intermediary},
					{Type: dvdv.ElementOSCIAddressee, Name: "Empfänger", URI: r.Endpoint},
					{Type: dvdv.ElementCipherCertificate, Name: "Empfänger", CipherCertificate: certName[r.EncryptionCert]},
				}
				if r.SignatureCert != "" {
					svc.Elements = append(svc.Elements, dvdvtest.Element{Type: dvdv.ElementSignatureCertificate, Name: "Empfänger",
						SignatureCertificate: certName[r.SignatureCert]})
				}
			case routing.TransportXTA:
				svc.Elements = []dvdvtest.Element{{Type: dvdv.ElementWebserver, Name: "XTA", URI: r.Endpoint,
					CipherCertificate: certName[r.EncryptionCert], SignatureCertificate: certName[r.SignatureCert]}}
			default:
				t.Fatalf("DVDV cannot express transport %s", r.Transport)
			}
			dir.Organizations[i].Services = append(dir.Organizations[i].Services, svc)
		}
		if err := dir.Resolve("", fx.Certs); err != nil {
			t.Fatal(err)
		}
		srv, err := dvdvtest.New(dvdvtest.Options{Directory: dir, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv)
		t.Cleanup(ts.Close)
		return newResolver(t, newClient(t, clock, ts.URL+dvdvtest.BasePath), clock, openStore(t, t.TempDir()), nil)
	})
}
