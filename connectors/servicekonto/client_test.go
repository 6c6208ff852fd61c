package servicekonto_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/connectors/servicekonto"
	"github.com/dxhub/dxhub/connectors/servicekonto/servicekontotest"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/testpki"
	"github.com/dxhub/dxhub/routing"
)

type fixed time.Time

func (f fixed) Now() time.Time { return time.Time(f) }

func mtlsSetup(t *testing.T) (*servicekontotest.Server, servicekonto.ClientConfig) {
	t.Helper()
	ca := testpki.NewCA(t, "Test CA")
	srv := servicekontotest.NewTLS(ca.Server(t, "postfach.test").TLS, ca.Pool())
	t.Cleanup(srv.Close)
	client := ca.Client(t, "dxhub")
	return srv, servicekonto.ClientConfig{BaseURL: srv.URL, CertFile: client.CertFile, KeyFile: client.KeyFile,
		CAFile: ca.WriteCA(t), Sender: "Stadt Köln über dxhub", RetryMax: 3}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"), store.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: "s1", PortalID: "p", Tenant: "05315000",
		Service: "universeller-antrag", Reference: "KP-1", Applicant: routing.Applicant{Name: "Erika", Mailbox: "mb-erika"},
		Form: []byte(`{}`), ReceivedAt: now}})
	st.AppendEvent(ctx, "s1", routing.StatusEvent{Status: routing.StatusAcknowledged, Time: now, Source: routing.SourceXOEV})
	return st
}

func TestClientMTLSWithRetriesAndDedupe(t *testing.T) {
	ctx := context.Background()
	srv, cfg := mtlsSetup(t)
	c, err := servicekonto.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	d := &servicekonto.Dispatcher{Store: st, Sink: c, Texts: servicekonto.DefaultTexts(), Clock: fixed(time.Now())}
	srv.FailNext(503, 502) // two transient failures: the client retries within the call
	if n, err := d.RunOnce(ctx); err != nil || n != 2 {
		t.Fatalf("dispatch: %d %v", n, err)
	}
	msgs := srv.Messages("mb-erika")
	if len(msgs) != 2 || msgs[0].Title != "Ihr Antrag ist eingegangen" || msgs[0].Sender != "Stadt Köln über dxhub" || msgs[1].Reference != "KP-1" {
		t.Fatalf("messages = %+v", msgs)
	}
	if reps := srv.Reports(); len(reps) != 2 || reps[1].Status != "acknowledged" {
		t.Fatalf("reports = %+v", srv.Reports())
	}
	// The same event again (a lost response, a crash before MarkNotified):
	// the Idempotency-Key keeps the Postfach from storing it twice.
	n := store.Notification{Event: routing.StatusEvent{ID: 1, Status: routing.StatusReceived, Time: time.Now()},
		Submission: routing.Submission{ID: "s1", Service: "universeller-antrag", Reference: "KP-1",
			Applicant: routing.Applicant{Mailbox: "mb-erika"}}}
	if err := c.Notify(ctx, n, "Ihr Antrag ist eingegangen", "x"); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.Messages("mb-erika")); got != 2 {
		t.Fatalf("duplicate stored: %d messages", got)
	}
}

func TestClientPermanentAndTransient(t *testing.T) {
	ctx := context.Background()
	srv, cfg := mtlsSetup(t)
	cfg.RetryMax = 1
	c, _ := servicekonto.NewClient(cfg)
	n := store.Notification{Event: routing.StatusEvent{ID: 7, Status: routing.StatusReceived},
		Submission: routing.Submission{Applicant: routing.Applicant{Mailbox: "unknown"}}}
	srv.KnownMailboxes("mb-erika")
	if err := c.Notify(ctx, n, "t", "b"); !servicekonto.IsPermanent(err) {
		t.Fatalf("404 not permanent: %v", err)
	}
	srv.FailNext(503, 503, 503)
	n.Submission.Applicant.Mailbox = "mb-erika"
	err := c.Notify(ctx, n, "t", "b")
	if err == nil || servicekonto.IsPermanent(err) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("exhausted retries: %v", err)
	}
}

func TestClientNeedsCertificate(t *testing.T) {
	srv, cfg := mtlsSetup(t)
	cfg.CertFile, cfg.KeyFile = "", ""
	cfg.RetryMax = 1
	c, err := servicekonto.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Notify(context.Background(), store.Notification{Submission: routing.Submission{Applicant: routing.Applicant{Mailbox: "m"}}}, "t", "b")
	if err == nil {
		t.Fatal("server accepted a client without certificate")
	}
	if srv.Calls() != 0 {
		t.Fatalf("request reached the handler without mTLS")
	}
	var pe *servicekonto.PermanentError
	if errors.As(err, &pe) {
		t.Fatalf("TLS failure classified as HTTP refusal: %v", err)
	}
	if _, err := servicekonto.NewClient(servicekonto.ClientConfig{BaseURL: "ftp://x"}); err == nil {
		t.Fatal("bad base URL accepted")
	}
}
