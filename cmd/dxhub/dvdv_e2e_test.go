package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/dvdv/dvdvtest"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/internal/testpki"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

// TestDeliveryRoutedByDVDV: no endpoint is configured for Köln; the hub asks
// a DVDV2 server (dvdvtest on 127.0.0.1), which names a remote XTA server
// (xtatest on 127.0.0.1) as Köln's WEBSERVER, and the submission is delivered
// there as XTA Autor, then reported final.
func TestDeliveryRoutedByDVDV(t *testing.T) {
	ctx := context.Background()
	std := testenv.MustStandardsDir(t)

	// The remote XTA server of the municipality.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	xtaBase := "http://" + ln.Addr().String()
	backend := xtatest.NewMemoryBackend("kop:0500000001", "ags:05315000")
	xsrv, err := xta.NewServer(backend, xta.Config{WSDLDir: filepath.Join(std, "xta2-v3"), BaseURL: xtaBase,
		SpoolDir: t.TempDir(), ServerIdentity: "xta-koeln"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	xsrv.Mount(mux)
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	ts.Start()
	defer ts.Close()

	// The DVDV with the hub's client certificate and Köln's service entry.
	dir := t.TempDir()
	key, err := dvdvtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	certs := map[string]*x509.Certificate{}
	for _, n := range []string{"hub", "koeln-cipher"} {
		if certs[n], err = dvdvtest.NewCertificate(n, now.Add(-time.Hour), now.Add(24*time.Hour), key); err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile := filepath.Join(dir, "hub.pem"), filepath.Join(dir, "hub.key")
	writePEM(t, certFile, "CERTIFICATE", certs["hub"].Raw)
	writePEM(t, keyFile, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))
	d := &dvdvtest.Directory{Organizations: []dvdvtest.Organization{
		{Name: "dxhub", Category: "Kommunalportal", Keys: []string{"kop:0500000001"}, ClientCertificates: []string{"hub"}},
		{Name: "Stadt Köln", Category: "Bauaufsicht", Keys: []string{"ags:05315000"}, Services: []dvdvtest.Service{{
			URI: "urn:xoev-de:xbau-kernmodul:universellerAntrag", Name: "antrag", Elements: []dvdvtest.Element{
				{Type: dvdv.ElementWebserver, Name: "XTA Köln", URI: xtaBase, CipherCertificate: "koeln-cipher"},
			}}}},
	}}
	if err := d.Resolve("", certs); err != nil {
		t.Fatal(err)
	}
	dsrv, err := dvdvtest.New(dvdvtest.Options{Directory: d})
	if err != nil {
		t.Fatal(err)
	}
	// The DVDV speaks HTTPS with a certificate from a private CA that the
	// hub trusts only through dvdv.caFile, as in a real deployment.
	pki := testpki.NewCA(t, "DVDV Test CA")
	dts := httptest.NewUnstartedServer(dsrv)
	dts.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Server(t, "dvdv.test").TLS}, MinVersion: tls.VersionTLS12}
	dts.StartTLS()
	defer dts.Close()
	dvdvURL := dts.URL + dvdvtest.BasePath

	cfg := config.Default()
	cfg.Hub.DataDir = t.TempDir()
	cfg.Hub.StandardsDir = std
	cfg.Workers.Count = 0
	cfg.Endpoints = nil // nothing configured: DVDV decides
	cfg.DVDV.Servers = []string{dvdvURL}
	cfg.DVDV.CAFile = pki.WriteCA(t)
	cfg.DVDV.CertFile, cfg.DVDV.KeyFile = certFile, keyFile
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := newHub(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	srv := httptest.NewServer(h.handler)
	defer srv.Close()

	body, _ := readFileRel("../../testdata/submissions/universeller-antrag.json")
	req, _ := http.NewRequest("POST", srv.URL+"/v1/submissions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer demo-key")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("intake: %d %s", resp.StatusCode, b)
	}
	if n, err := h.pipeline.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("pipeline: %d %v", n, err)
	}
	got := backend.Received()
	if len(got) != 1 || got[0].Meta.ReaderKey != "ags:05315000" {
		t.Fatalf("remote XTA server received %d messages: %+v", len(got), got)
	}
	if dsrv.Requests("findservicedescription") == 0 {
		t.Fatal("the route did not come from the DVDV")
	}
	// The transport report becomes final on the remote side; the poll job
	// moves the submission from sent to delivered.
	for i := 0; i < 3; i++ {
		if _, err := h.xtaOut.PollReports(ctx, 10); err != nil {
			t.Fatal(err)
		}
	}
	var acc accepted
	if err := json.Unmarshal(b, &acc); err != nil {
		t.Fatal(err)
	}
	if dls, _ := h.store.DeadLetters(ctx, true); len(dls) != 0 {
		t.Fatalf("dead letters: %+v", dls)
	}
	evs, err := h.store.Events(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	var hist []string
	for _, e := range evs {
		hist = append(hist, string(e.Status))
	}
	t.Logf("history: %v", hist)
	if len(hist) < 4 || fmt.Sprint(hist[:4]) != "[received validated routed sent]" {
		t.Fatalf("history = %v", hist)
	}
	if evs[2].Detail == "" || !strings.Contains(evs[2].Detail, xtaBase) {
		t.Fatalf("routed event does not name the DVDV endpoint: %q", evs[2].Detail)
	}
	// dxhub trace names the MessageID the remote server issued.
	tr, err := h.store.Trace(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Remote) != 1 || tr.Remote[0].Transport != "xta" || tr.Remote[0].ID != got[0].Meta.MessageID ||
		!strings.HasPrefix(tr.Remote[0].Endpoint, xtaBase) {
		t.Fatalf("trace remote = %+v, want the remote MessageID %s", tr.Remote, got[0].Meta.MessageID)
	}
}
