package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/dvdv/dvdvtest"
	"github.com/dxhub/dxhub/internal/store"
)

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCmdDVDV(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key, err := dvdvtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	certs := map[string]*x509.Certificate{}
	for _, n := range []string{"hub", "cipher", "interm"} {
		if certs[n], err = dvdvtest.NewCertificate(n, now.Add(-time.Hour), now.Add(24*time.Hour), key); err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile := filepath.Join(dir, "hub.pem"), filepath.Join(dir, "hub.key")
	writePEM(t, certFile, "CERTIFICATE", certs["hub"].Raw)
	writePEM(t, keyFile, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))

	d := &dvdvtest.Directory{Organizations: []dvdvtest.Organization{
		{Name: "Hub", Category: "Kommunalportal", Keys: []string{"kop:0500000001"}, ClientCertificates: []string{"hub"}},
		{Name: "Stadt Köln", Category: "Bauaufsicht", Keys: []string{"ags:05315000"}, Services: []dvdvtest.Service{{
			URI: "urn:s:1", Name: "antrag", Elements: []dvdvtest.Element{
				{Type: dvdv.ElementOSCIIntermediary, Name: "I", URI: "https://i.example/osci", CipherCertificate: "interm"},
				{Type: dvdv.ElementOSCIAddressee, Name: "A", URI: "https://a.example/osci"},
				{Type: dvdv.ElementCipherCertificate, Name: "A", CipherCertificate: "cipher"},
			}}}},
	}}
	if err := d.Resolve("", certs); err != nil {
		t.Fatal(err)
	}
	srv, err := dvdvtest.New(dvdvtest.Options{Directory: d})
	if err != nil {
		t.Fatal(err)
	}
	run, err := dvdvtest.Listen(srv, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()

	var out, errOut bytes.Buffer
	args := []string{"lookup", "--server", run.URL, "--cert", certFile, "--key", keyFile, "ags:05315000", "urn:s:1"}
	if err := cmdDVDV(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("lookup: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"transport     osci", "https://a.example/osci", "https://i.example/osci",
		dvdv.Fingerprint(certs["cipher"].Raw), "CN=cipher", "intermediary-encryption"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lookup output lacks %q:\n%s", want, out.String())
		}
	}
	args[len(args)-1] = "urn:s:2"
	err = cmdDVDV(ctx, args, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), `no entry for organisation "ags:05315000" and service "urn:s:2"`) {
		t.Fatalf("not found: %v", err)
	}
	if err := cmdDVDV(ctx, []string{"lookup", "ags:1", "urn:x"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "no DVDV server") {
		t.Fatalf("without server: %v", err)
	}

	// cache list / purge on a hub data directory.
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "dxhub.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.DVDVCachePut(ctx, store.DVDVCacheEntry{Kind: "service", Key: "ags:05315000 urn:s:1", Value: []byte("{}"), Server: run.URL,
		FetchedAt: now, ExpiresAt: now.Add(time.Hour)})
	st.DVDVCachePut(ctx, store.DVDVCacheEntry{Kind: "service", Key: "ags:1 urn:s:1", Negative: true, Detail: "ungültig",
		FetchedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)})
	st.Close()
	out.Reset()
	if err := cmdDVDV(ctx, []string{"cache", "list", "--data", dir}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "ags:05315000 urn:s:1  fresh") || !strings.Contains(s, "expired,not-found (ungültig)") ||
		!strings.Contains(s, "2 entries") {
		t.Fatalf("cache list:\n%s", s)
	}
	out.Reset()
	if err := cmdDVDV(ctx, []string{"cache", "purge", "--data", dir}, &out, &errOut); err != nil || !strings.Contains(out.String(), "purged 2") {
		t.Fatalf("purge: %v %s", err, out.String())
	}
	if err := cmdDVDV(ctx, []string{"cache", "list", "--data", filepath.Join(dir, "nope")}, &out, &errOut); err == nil ||
		!strings.Contains(err.Error(), "no hub database") {
		t.Fatalf("missing data dir: %v", err)
	}
	if err := cmdDVDV(ctx, []string{"bogus"}, &out, &errOut); err == nil {
		t.Fatal("unknown subcommand accepted")
	}
}
