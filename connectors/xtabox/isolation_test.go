package xtabox_test

// Tenant isolation suite of the built-in XTA mailbox (issue 9): a
// Fachverfahren certificate for tenant A (Köln) cannot list, fetch, close or
// query the transport report of tenant B's (Bonn's) messages, whichever
// mailbox it names, over real mTLS on 127.0.0.1; every refusal is the XTA
// fault a Fachverfahren can act on, and B's messages stay untouched. Every
// fetch and close is recorded in the hash-chained audit log with the
// certificate. Run it with
//
//	go test -run TestIsolation ./connectors/xtabox
//
// The portal side is in connectors/portal/isolation_test.go.

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/connectors/xtabox"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/internal/testpki"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

func TestIsolationFachverfahrenCannotReachOtherMailbox(t *testing.T) {
	e := newEnv(t)
	e.clock.now = time.Now().UTC() // the certificates are valid around the real time
	rec := e.st.NewAuditRecorder(0)
	t.Cleanup(rec.Close)
	// as dxhub serve wires it: fetches through the batched recorder, closes
	// appended in the close's own transaction
	e.box.AuditEntry = func(a xtabox.Access) store.AuditEntry {
		return store.AuditEntry{At: e.clock.Now(), Actor: "fachverfahren " + a.Reader + " (" + a.Peer + ")",
			Action: a.Action, SubmissionID: a.SubmissionID, Detail: a.MessageID}
	}
	e.box.AuditAccess = func(ctx context.Context, a xtabox.Access) error { return rec.Record(ctx, e.box.AuditEntry(a)) }
	xml, _ := sample1200(t)
	dK := e.route("sub-koeln", "11111111-1111-4111-8111-111111111111", koeln, xml)
	e.attempt(dK, 1, routing.Outcome{Kind: routing.Delivered})
	dB := e.route("sub-bonn", "22222222-2222-4222-8222-222222222222", bonnKey, xml)
	e.attempt(dB, 1, routing.Outcome{Kind: routing.Delivered})

	// the XTA server over mTLS: certificate fv-koeln may act for Köln only
	ca := testpki.NewCA(t, "fachverfahren-ca")
	srvCert := ca.Server(t, "localhost")
	authority := &xta.CertAuthority{Roots: ca.Pool(), Mappings: []xta.CertMapping{
		{SubjectCN: "fv-koeln", Identities: []string{koeln}},
		{SubjectCN: "fv-bonn", Identities: []string{bonnKey}},
	}}
	tlsCfg, err := xta.ServerTLSConfig(srvCert.CertFile, srvCert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	url := "https://" + srv.Listener.Addr().String()
	s, err := xta.NewServer(e.box, xta.Config{WSDLDir: filepath.Join(testenv.MustStandardsDir(t), "xta2-v3"), BaseURL: url,
		SpoolDir: t.TempDir(), Now: e.clock.Now, ClientCerts: authority, Iterations: &xtabox.Iterations{Store: e.st, Clock: e.clock}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Mount(mux)
	srv.Config.Handler = xtabox.WithPeer(mux)
	srv.TLS = tlsCfg
	srv.StartTLS()
	t.Cleanup(srv.Close)

	koelnCert := ca.Client(t, "fv-koeln")
	client := func(author string) *xtatest.Client {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12,
			Certificates: []tls.Certificate{koelnCert.TLS}}}}
		return xtatest.New(url, author, hc)
	}
	ctx := context.Background()
	asBonn, asKoeln := client(bonnKey), client(koeln)
	fault := func(t *testing.T, err error, code int, reason string) {
		t.Helper()
		var f *xta.Fault
		if !errors.As(err, &f) || f.Code != code || !strings.Contains(f.Reason, reason) {
			t.Fatalf("err = %v, want XTA fault %d containing %q", err, code, reason)
		}
	}

	t.Run("naming B's mailbox with A's certificate", func(t *testing.T) {
		const reason = `the client certificate does not authorise "ags:05314000"`
		_, err := asBonn.GetStatusList(ctx, 10)
		fault(t, err, xta.CodeCertSenderMismatch, reason)
		_, err = asBonn.GetMessage(ctx, dB.TransportID)
		fault(t, err, xta.CodeCertSenderMismatch, reason)
		fault(t, asBonn.Close(ctx, dB.TransportID), xta.CodeCertSenderMismatch, reason)
		fault(t, asBonn.CheckAccountActive(ctx), xta.CodeCertSenderMismatch, reason)
		_, err = asBonn.XTA().GetTransportReport(ctx, dB.TransportID)
		fault(t, err, xta.CodeCertSenderMismatch, reason)
	})
	t.Run("B's message ID from A's own mailbox", func(t *testing.T) {
		list, err := asKoeln.GetStatusList(ctx, 10)
		if err != nil || len(list) != 1 || list[0].MessageID != dK.TransportID {
			t.Fatalf("Köln's list = %+v, %v", list, err)
		}
		_, err = asKoeln.GetMessage(ctx, dB.TransportID)
		fault(t, err, xta.CodeUnknownMessageID, dB.TransportID)
		fault(t, asKoeln.Close(ctx, dB.TransportID), xta.CodeUnknownMessageID, dB.TransportID)
		_, err = asKoeln.XTA().GetTransportReport(ctx, dB.TransportID)
		fault(t, err, xta.CodeUnknownMessageID, dB.TransportID)
		// the answer for B's ID is the answer for an ID that does not exist
		_, err = asKoeln.GetMessage(ctx, "urn:de:xta:messageid:dxhub:33333333-3333-4333-8333-333333333333")
		fault(t, err, xta.CodeUnknownMessageID, "")
	})
	t.Run("B's message untouched, A's own fetch and close work and are audited", func(t *testing.T) {
		fm, err := asKoeln.GetMessage(ctx, dK.TransportID)
		if err != nil || len(fm.Message) == 0 {
			t.Fatalf("own fetch: %v", err)
		}
		if err := asKoeln.Close(ctx, dK.TransportID); err != nil {
			t.Fatal(err)
		}
		items, _, err := e.st.MailboxQuery(ctx, bonnKey, store.MailboxQuery{Limit: 10})
		if err != nil || len(items) != 1 || !items[0].FetchedAt.IsZero() {
			t.Fatalf("Bonn's mailbox after the attempts: %+v %v", items, err)
		}
		sub, err := e.st.GetSubmission(ctx, "sub-bonn")
		if err != nil || sub.Status != routing.StatusDelivered {
			t.Fatalf("Bonn's submission: %s %v", sub.Status, err)
		}
		entries, err := e.st.AuditList(ctx, store.AuditQuery{Actor: "fachverfahren *"})
		if err != nil || len(entries) != 2 {
			t.Fatalf("audit = %+v %v", entries, err)
		}
		for i, action := range []string{"xta.getMessage", "xta.close"} {
			a := entries[i]
			if a.Action != action || a.SubmissionID != "sub-koeln" || a.Detail != dK.TransportID ||
				!strings.HasPrefix(a.Actor, "fachverfahren ags:05315000 (CN=fv-koeln sha256:") {
				t.Fatalf("audit entry %d = %+v", i, a)
			}
		}
		if n, err := e.st.VerifyAudit(ctx); err != nil || n != 2 {
			t.Fatalf("verify: %d %v", n, err)
		}
	})
}
