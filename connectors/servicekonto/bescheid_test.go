package servicekonto_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/connectors/servicekonto"
	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/routing"
)

// bescheidParser plays the XÖV parser: every payload is a Bescheid (decided)
// answering our outbound message "out-1".
type bescheidParser struct{}

func (bescheidParser) ParseInbound(payload []byte) (routing.InboundReport, error) {
	return routing.InboundReport{MessageUUID: "in-" + string(payload), TypeCode: "0205", RootElement: "baugenehmigung.bescheid.0205",
		ReferencedUUID: "out-1", Status: routing.StatusDecided, Detail: "Baugenehmigung erteilt"}, nil
}

type blobDir struct{ *blob.Store }

func (b blobDir) Open(key string) (io.ReadCloser, error) { return b.Store.Open(key) }

// bescheidSetup: a delivered submission whose Fachverfahren sends a
// Bescheid (0205) with a PDF through the back-channel.
func bescheidSetup(t *testing.T) (*store.Store, blobDir, []byte) {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)
	bs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveMapped(ctx, routing.Message{SubmissionID: "s1", UUID: "out-1", Standard: "XBau", Version: "2.6", TypeCode: "0200",
		RootElement: "baugenehmigung.antrag.0200", Namespace: "n", Service: "urn:s", XML: []byte("<a/>")},
		routing.StatusEvent{Status: routing.StatusValidated, Time: time.Now(), Source: routing.SourceHub}); err != nil {
		t.Fatal(err)
	}
	pdf := bytes.Repeat([]byte("%PDF-1.7 Bescheid 63-2026-0815 "), 10000)
	ref, err := bs.Put(ctx, bytes.NewReader(pdf), 0)
	if err != nil {
		t.Fatal(err)
	}
	back := &routing.BackChannel{Store: st, Parser: bescheidParser{}, Clock: fixed(time.Now()),
		Tenants: map[string]routing.Tenant{"05315000": {AGS: "05315000", DVDVKey: "ags:05315000"}}}
	in := routing.Inbound{TransportID: "urn:de:xta:messageid:fv:bescheid-1", Transport: routing.TransportXTAMailbox,
		AuthorKey: "ags:05315000", ReaderKey: "kop:0500000001", Payload: []byte("1"),
		Attachments: []routing.Attachment{{ID: "doc-1", Filename: "Bescheid 63-2026-0815.pdf", ContentType: "application/pdf",
			Size: ref.Size, SHA256: ref.SHA256, BlobKey: ref.Key}}}
	if _, err := back.Receive(ctx, in); err != nil {
		t.Fatal(err)
	}
	// The Fachverfahren sends it again: de-duplicated, no second attachment.
	if _, err := back.Receive(ctx, in); !errors.Is(err, routing.ErrDuplicate) {
		t.Fatalf("resend: %v", err)
	}
	return st, blobDir{bs}, pdf
}

// TestBescheidToServicekonto: the Bescheid PDF of a back-channel decision
// goes with the German "decided" message to the BundID-style Postfach (mTLS
// test server), exactly once although the first response gets lost and the
// dispatcher hands the event over again after a crash.
func TestBescheidToServicekonto(t *testing.T) {
	ctx := context.Background()
	st, blobs, pdf := bescheidSetup(t)
	srv, cfg := mtlsSetup(t)
	cfg.Blobs = blobs
	c, err := servicekonto.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := st.PendingNotifications(ctx, servicekonto.DefaultTexts().Statuses(), 10)
	if err != nil || len(pending) != 3 { // received, acknowledged, decided
		t.Fatalf("pending = %+v (%v)", pending, err)
	}
	decided := pending[2]
	if decided.Event.Status != routing.StatusDecided || len(decided.Attachments) != 1 {
		t.Fatalf("decided notification = %+v", decided)
	}
	srv.LoseNextResponses(1) // the first message is stored, its answer lost
	d := &servicekonto.Dispatcher{Store: st, Sink: c, Texts: servicekonto.DefaultTexts(), Clock: fixed(time.Now())}
	if n, err := d.RunOnce(ctx); err != nil || n != 3 {
		t.Fatalf("dispatch: %d %v", n, err)
	}
	// A crash before MarkNotified: the event is handed over once more.
	title, body, _, err := servicekonto.DefaultTexts().Render(decided, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Notify(ctx, decided, title, body); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages("mb-erika")
	var withFile []servicekonto.Message
	for _, m := range msgs {
		if len(m.Attachments) > 0 {
			withFile = append(withFile, m)
		}
	}
	if len(msgs) != 3 || len(withFile) != 1 {
		t.Fatalf("Postfach holds %d messages, %d with attachments; want 3 and 1", len(msgs), len(withFile))
	}
	m := withFile[0]
	a := m.Attachments[0]
	if m.Title != "Über Ihren Antrag wurde entschieden" || !strings.Contains(m.Content, "Den Bescheid finden Sie im Anhang") ||
		!strings.Contains(m.Content, "- Bescheid 63-2026-0815.pdf") || strings.Contains(m.Content, "gesondert") {
		t.Fatalf("message = %q / %q", m.Title, m.Content)
	}
	if a.Filename != "Bescheid 63-2026-0815.pdf" || a.ContentType != "application/pdf" || !bytes.Equal(a.Content, pdf) {
		t.Fatalf("attachment %s %s %d bytes", a.Filename, a.ContentType, len(a.Content))
	}
	// 6 stored calls, 1 repeated after the lost answer, 2 repeated after the crash.
	if srv.Calls() != 9 {
		t.Fatalf("%d calls, want 9", srv.Calls())
	}
	if reps := srv.Reports(); len(reps) != 3 || reps[2].Status != "decided" {
		t.Fatalf("status reports = %+v", reps)
	}
}

// TestBescheidInLocalPostfach: the embedded default keeps the Bescheid with
// the message and serves it to the submitting portal only.
func TestBescheidInLocalPostfach(t *testing.T) {
	ctx := context.Background()
	st, blobs, pdf := bescheidSetup(t)
	d := &servicekonto.Dispatcher{Store: st, Sink: &servicekonto.LocalSink{Store: st, Clock: fixed(time.Now())},
		Texts: servicekonto.DefaultTexts(), Clock: fixed(time.Now())}
	if n, err := d.RunOnce(ctx); err != nil || n != 3 {
		t.Fatalf("dispatch: %d %v", n, err)
	}
	msgs, err := st.PostfachMessages(ctx, "mb-erika", "p")
	if err != nil || len(msgs) != 3 {
		t.Fatalf("postfach = %+v (%v)", msgs, err)
	}
	m := msgs[2]
	sum := sha256.Sum256(pdf)
	if m.Status != routing.StatusDecided || len(m.Attachments) != 1 || m.Attachments[0].SHA256 != hex.EncodeToString(sum[:]) ||
		!strings.Contains(m.Body, "Bescheid 63-2026-0815.pdf") {
		t.Fatalf("decided message = %+v", m)
	}
	authorize := func(w http.ResponseWriter, r *http.Request) (string, bool) {
		if p := r.Header.Get("X-Portal"); p != "" {
			return p, true
		}
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return "", false
	}
	srv := httptest.NewServer(func() http.Handler {
		mux := http.NewServeMux()
		mux.Handle("GET /v1/mailboxes/{handle}/messages/{id}/attachments/{n}", servicekonto.AttachmentHandler(st, blobs, authorize))
		return mux
	}())
	defer srv.Close()
	get := func(portal, path string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("X-Portal", portal)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	path := fmt.Sprintf("/v1/mailboxes/mb-erika/messages/%d/attachments/1", m.ID)
	resp, body := get("p", path)
	if resp.StatusCode != 200 || !bytes.Equal(body, pdf) || resp.Header.Get("Content-Type") != "application/pdf" ||
		resp.Header.Get("Digest") != "sha-256="+base64.StdEncoding.EncodeToString(sum[:]) ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "Bescheid 63-2026-0815.pdf") {
		t.Fatalf("download: %d %v (%d bytes)", resp.StatusCode, resp.Header, len(body))
	}
	for _, tc := range []struct{ portal, path string }{
		{"other-portal", path},
		{"p", fmt.Sprintf("/v1/mailboxes/mb-erika/messages/%d/attachments/2", m.ID)},
		{"p", fmt.Sprintf("/v1/mailboxes/someone-else/messages/%d/attachments/1", m.ID)},
		{"p", "/v1/mailboxes/mb-erika/messages/x/attachments/1"},
	} {
		if resp, _ := get(tc.portal, tc.path); resp.StatusCode != 404 ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Fatalf("%s %s: %d", tc.portal, tc.path, resp.StatusCode)
		}
	}

	// After the retention purge the Bescheid is gone: 410, not an internal error.
	if err := st.FinishJob(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	rep, err := st.Purge(ctx, store.RetentionPolicy{Now: time.Now(), Before: time.Now().Add(time.Hour)}, blobs.Store)
	if err != nil || rep.Submissions != 1 || rep.BlobsDeleted != 1 {
		t.Fatalf("purge %+v %v", rep, err)
	}
	resp, body = get("p", path)
	if resp.StatusCode != http.StatusGone ||
		string(body) != `{"code":"purged","detail":"the attachment was deleted after the retention period","status":410,"title":"Gone","type":"urn:dxhub:problem:purged"}`+"\n" {
		t.Fatalf("after purge: %d %s", resp.StatusCode, body)
	}
}

// Without an attachment the decision text says the Bescheid comes separately;
// a damaged blob is not sent.
func TestBescheidTextsAndIntegrity(t *testing.T) {
	n := store.Notification{Event: routing.StatusEvent{ID: 9, Status: routing.StatusDecided, Time: time.Now()},
		Submission: routing.Submission{Reference: "KP-1", Applicant: routing.Applicant{Mailbox: "mb-erika"}}}
	_, body, ok, err := servicekonto.DefaultTexts().Render(n, time.UTC)
	if err != nil || !ok || !strings.Contains(body, "Den Bescheid erhalten Sie gesondert.") || strings.Contains(body, "Anhang") {
		t.Fatalf("body = %q (%v)", body, err)
	}
	srv, cfg := mtlsSetup(t)
	bs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := bs.Put(context.Background(), strings.NewReader("%PDF short"), 0)
	cfg.Blobs = blobDir{bs}
	c, _ := servicekonto.NewClient(cfg)
	n.Attachments = []routing.Attachment{{Filename: "b.pdf", ContentType: "application/pdf", Size: ref.Size + 1, SHA256: ref.SHA256, BlobKey: ref.Key}}
	if err := c.Notify(context.Background(), n, "t", "b"); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("damaged attachment: %v", err)
	}
	cfg.MaxAttachmentBytes = 4
	c, _ = servicekonto.NewClient(cfg)
	n.Attachments[0].Size = ref.Size
	if err := c.Notify(context.Background(), n, "t", "b"); !servicekonto.IsPermanent(err) {
		t.Fatalf("oversized attachments: %v", err)
	}
	if srv.Calls() != 0 {
		t.Fatalf("%d calls reached the Postfach", srv.Calls())
	}
}
