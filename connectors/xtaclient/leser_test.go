package xtaclient_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/connectors/mapping"
	"github.com/dxhub/dxhub/connectors/xtaclient"
	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/internal/testpki"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xoev"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

// startMTLSRemote runs a remote XTA server that requires client
// certificates from ca and authorises only the CN "hub-koeln" to act as the
// hub (hubKey).
func startMTLSRemote(t *testing.T, ca *testpki.CA) *remote {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + ln.Addr().String()
	b := xtatest.NewMemoryBackend(hubKey, readerKey)
	srv, err := xta.NewServer(b, xta.Config{WSDLDir: filepath.Join(testenv.MustStandardsDir(t), "xta2-v3"), BaseURL: base,
		SpoolDir: t.TempDir(), ServerIdentity: "xtatest",
		ClientCerts: &xta.CertAuthority{Roots: ca.Pool(), Mappings: []xta.CertMapping{{SubjectCN: "hub-koeln", Identities: []string{hubKey}}}}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux)
	f := &xtatest.Faults{Next: mux}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: f},
		TLS: &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "xta-remote").TLS}, ClientAuth: tls.RequireAnyClientCert,
			MinVersion: tls.VersionTLS12}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return &remote{url: base, backend: b, faults: f}
}

func clientTLS(t *testing.T, ca *testpki.CA, leaf *testpki.Leaf) *tls.Config {
	t.Helper()
	cfg, err := xta.ClientTLSConfig(leaf.CertFile, leaf.KeyFile, ca.WriteCA(t))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestTenantCertificates: the adapter presents the client certificate of
// the submission's tenant, and the default certificate for every other
// tenant — both for delivery (Autor) and for the Leser job.
func TestTenantCertificates(t *testing.T) {
	ctx := context.Background()
	ca := testpki.NewCA(t, "remote XTA CA")
	r := startMTLSRemote(t, ca)
	f := newFixture(t)
	a := f.adapter(t, xtaclient.Options{
		TLS:     clientTLS(t, ca, ca.Client(t, "hub-default")),
		Tenants: map[string]*tls.Config{"05315000": clientTLS(t, ca, ca.Client(t, "hub-koeln"))},
	})

	// Köln's submission goes out with Köln's certificate, which the remote
	// server maps to the hub's identity.
	out := a.Deliver(ctx, f.delivery(r.url, ""), f.msg, f.sub)
	if out.Kind != routing.Delivered || len(r.backend.Received()) != 1 {
		t.Fatalf("Köln: outcome %+v, remote received %d", out, len(r.backend.Received()))
	}
	// Bonn has no certificate of its own: the default one is used, which
	// the remote server does not know (9012, permanent).
	bonn := f.sub
	bonn.Tenant = "05314000"
	out = a.Deliver(ctx, f.delivery(r.url, "-bonn"), f.msg, bonn)
	if out.Kind != routing.Permanent || !strings.Contains(out.Reason, "9012") || !strings.Contains(out.Reason, "hub-default") {
		t.Fatalf("Bonn: outcome %+v, want permanent 9012 naming the default certificate", out)
	}

	// The Leser job picks its certificate by the job's tenant in the same way.
	persist := func(context.Context, xtaclient.Reply) error { return nil }
	if _, err := a.FetchReplies(ctx, xtaclient.LeserOptions{Endpoint: r.url, Tenant: "05315000", Identity: hubKey}, persist); err != nil {
		t.Fatalf("leser with Köln's certificate: %v", err)
	}
	var fault *xta.Fault
	if _, err := a.FetchReplies(ctx, xtaclient.LeserOptions{Endpoint: r.url, Tenant: "05314000", Identity: hubKey}, persist); !errors.As(err, &fault) ||
		fault.Code != xta.CodeAccountMissing {
		t.Fatalf("leser with the default certificate: %v, want fault 9012", err)
	}
}

// TestLeserPersistsBeforeClose runs the Leser sequence into the real
// back-channel (SQLite store, XÖV parser): a 1120 answering our 1200 becomes
// the submission's "acknowledged" event. A crash between persist and close
// (simulated by a failing close) leaves the message in the remote mailbox;
// the next run fetches it again, the back-channel recognises it
// (ErrDuplicate) and it is closed without a second effect.
func TestLeserPersistsBeforeClose(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	xml1200, err := os.ReadFile("../../xoev/testdata/golden/minimal.xml")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := xoev.ParseInbound(xml1200)
	if err != nil {
		t.Fatal(err)
	}
	// Our 1200 of the fixture's submission, as the pipeline stores it.
	msg := routing.Message{SubmissionID: f.sub.ID, UUID: ref.Header.UUID, Standard: "XBau-Kernmodul", Version: "1.3.0", TypeCode: "1200",
		RootElement: ref.Header.RootElement, Namespace: ref.Header.Namespace, Service: service, XML: xml1200}
	if err := f.st.SaveMapped(ctx, msg, routing.StatusEvent{Status: routing.StatusValidated, Time: time.Now(), Source: routing.SourceHub}); err != nil {
		t.Fatal(err)
	}
	r1120, err := xoev.BuildReceipt1120(ref.Header, xoev.Reply{Created: time.Now(), Reference: ref.Reference, CaseNumber: "63-2026-1"})
	if err != nil {
		t.Fatal(err)
	}
	r := startRemote(t, false)
	bescheid := []byte("%PDF-1.7 Bescheid")
	r.backend.Deliver(xta.MessageMeta{MessageID: "urn:de:xta:messageid:fv:1120", AuthorKey: readerKey, ReaderKey: hubKey,
		Service: service, BusinessScenario: xta.Code{Code: "XBAU_DATA"}, MessageType: xta.Code{Code: r1120.RootElement},
		PayloadSchema: r1120.Namespace},
		xtatest.Blob{ContentType: "application/xml", Data: r1120.XML},
		xtatest.Blob{ContentType: "application/pdf", Filename: "bescheid.pdf", Data: bescheid})
	// Not an XÖV message: left in the mailbox, does not hold up the 1120.
	r.backend.Deliver(xta.MessageMeta{MessageID: "urn:de:xta:messageid:fv:0junk", AuthorKey: readerKey, ReaderKey: hubKey,
		Service: service, BusinessScenario: xta.Code{Code: "XBAU_DATA"}, MessageType: xta.Code{Code: "x"}, PayloadSchema: "urn:x"},
		xtatest.Blob{ContentType: "application/xml", Data: []byte("not xml")})

	blobs, err := blob.Open(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	back := &routing.BackChannel{Store: f.st, Parser: mapping.Parser{}, Logger: slog.New(slog.DiscardHandler),
		Tenants: map[string]routing.Tenant{"05315000": {AGS: "05315000", DVDVKey: readerKey}}}
	in := xtaclient.Inbox{Receiver: back, Blobs: blobs}
	a := f.adapter(t, xtaclient.Options{})
	jobs := []xtaclient.LeserJob{{LeserOptions: xtaclient.LeserOptions{Endpoint: r.url, Identity: hubKey, SpoolDir: t.TempDir()}}}

	r.faults.Inject(xta.ActionClose, xtatest.Fault{Kind: xtatest.SOAPFault, Code: xta.CodeInternalError})
	res := a.RunLeser(ctx, jobs, in)
	if len(res) != 1 || res[0].Closed != 0 || !errors.Is(res[0].Err, xtaclient.ErrNotXOEV) || !strings.Contains(res[0].Err.Error(), "close") {
		t.Fatalf("first run: %+v", res)
	}
	if r.backend.Closed(hubKey, "urn:de:xta:messageid:fv:1120") {
		t.Fatal("closed although close failed")
	}
	// Persisted before close: the status event is there already.
	acks := func() int {
		evs, err := f.st.Events(ctx, f.sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Status == routing.StatusAcknowledged {
				n++
			}
		}
		return n
	}
	if n := acks(); n != 1 {
		t.Fatalf("acknowledged events after the first run: %d", n)
	}
	sum := sha256.Sum256(bescheid)
	if fh, err := blobs.Open(hex.EncodeToString(sum[:])); err != nil {
		t.Fatalf("the attachment was not kept: %v", err)
	} else {
		fh.Close()
	}

	res = a.RunLeser(ctx, jobs, in)
	if res[0].Closed != 1 || !errors.Is(res[0].Err, xtaclient.ErrNotXOEV) {
		t.Fatalf("second run: %+v", res)
	}
	if !r.backend.Closed(hubKey, "urn:de:xta:messageid:fv:1120") || r.backend.Closed(hubKey, "urn:de:xta:messageid:fv:0junk") {
		t.Fatal("after the second run the 1120 must be closed and the junk message open")
	}
	if n := acks(); n != 1 {
		t.Fatalf("acknowledged events after the re-fetch: %d, want still 1", n)
	}
	if n := r.faults.Requests(xta.ActionGetMessage); n != 4 {
		t.Errorf("getMessage requests = %d, want 4 (two messages, two runs)", n)
	}
}
