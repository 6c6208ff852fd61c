package dvdv_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/dvdv/dvdvtest"
	"github.com/dxhub/dxhub/internal/store"
)

// Constants of testdata/directory.yaml.
const (
	serviceURI   = "urn:xoev-de:xbau-kernmodul:universellerAntrag"
	oldURI       = "urn:xoev-de:xbau:standard:xbau_2.3"
	koeln        = "ags:05315000"
	bonn         = "ags:05314000"
	duesseldorf  = "ags:05111000"
	hubKey       = "kop:0500000001"
	koelnAddr    = "https://bauamt.koeln.example/osci/empfang"
	koelnInterm  = "https://intermediaer.koeln.example/osci-manager-entry/externalentry"
	bonnEndpoint = "https://xta.bonn.example/MB_XTA-WS/XTA210sendPort.svc"
)

// epoch is the fake clock's start; certificates are valid for a year around it.
var epoch = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type pki struct {
	key   *rsa.PrivateKey
	certs map[string]*x509.Certificate
}

var (
	pkiOnce sync.Once
	pkiVal  pki
	pkiErr  error
)

// testPKI generates one RSA key and the named certificates of the test
// directory, once per test binary.
func testPKI(tb testing.TB) pki {
	tb.Helper()
	pkiOnce.Do(func() {
		pkiVal.key, pkiErr = dvdvtest.NewKey()
		if pkiErr != nil {
			return
		}
		pkiVal.certs = map[string]*x509.Certificate{}
		for _, c := range []struct {
			name     string
			from, to time.Time
		}{
			{"hub-client", epoch.Add(-24 * time.Hour), epoch.AddDate(1, 0, 0)},
			{"intermediary-cipher", epoch.Add(-24 * time.Hour), epoch.AddDate(1, 0, 0)},
			{"koeln-cipher", epoch.Add(-24 * time.Hour), epoch.AddDate(1, 0, 0)},
			{"koeln-signature", epoch.Add(-24 * time.Hour), epoch.AddDate(1, 0, 0)},
			{"bonn-cipher", epoch.Add(-24 * time.Hour), epoch.AddDate(1, 0, 0)},
			{"duesseldorf-expired", epoch.AddDate(-2, 0, 0), epoch.AddDate(0, 0, -1)},
			{"stranger", epoch.Add(-24 * time.Hour), epoch.AddDate(1, 0, 0)},
		} {
			var cert *x509.Certificate
			if cert, pkiErr = dvdvtest.NewCertificate(c.name, c.from, c.to, pkiVal.key); pkiErr != nil {
				return
			}
			pkiVal.certs[c.name] = cert
		}
	})
	if pkiErr != nil {
		tb.Fatal(pkiErr)
	}
	return pkiVal
}

func pemOf(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// fakeClock is a settable clock shared by client, resolver and server.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: epoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startServer runs dvdvtest with testdata/directory.yaml on 127.0.0.1 and
// returns it with its base URL.
func startServer(tb testing.TB, clock dvdvtest.Clock) (*dvdvtest.Server, string) {
	tb.Helper()
	p := testPKI(tb)
	dir, err := dvdvtest.LoadDirectory(filepath.Join("testdata", "directory.yaml"), p.certs)
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := dvdvtest.New(dvdvtest.Options{Directory: dir, Clock: clock, TokenTTL: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	tb.Cleanup(ts.Close)
	return srv, ts.URL + dvdvtest.BasePath
}

// deadServer returns the URL of a port nobody listens on.
func deadServer(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + dvdvtest.BasePath
}

// newClient returns a client authenticating with the hub's certificate and
// fast retries.
func newClient(tb testing.TB, clock *fakeClock, servers ...string) *dvdv.Client {
	tb.Helper()
	p := testPKI(tb)
	c, err := dvdv.NewClient(dvdv.ClientOptions{
		Servers: servers, Certificate: p.certs["hub-client"], Key: p.key,
		Timeout: 2 * time.Second, CallTimeout: 5 * time.Second,
		RetryMax: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond,
		Clock: clock, Logger: quietLogger(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func openStore(tb testing.TB, dir string) *store.Store {
	tb.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "dxhub.db"), store.Options{Synchronous: "NORMAL"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

func newResolver(tb testing.TB, c *dvdv.Client, clock *fakeClock, st dvdv.CacheStore, mod func(*dvdv.Options)) *dvdv.Resolver {
	tb.Helper()
	o := dvdv.Options{Client: c, Store: st, Clock: clock, Logger: quietLogger()}
	if mod != nil {
		mod(&o)
	}
	r, err := dvdv.NewResolver(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}
