package xtaclient_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/connectors/xtaclient"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

const (
	hubKey    = "dvdv:dxhub"
	readerKey = "ags:05315000"
	service   = "urn:xoev-de:xbau:standard:xbau_2.6/xbau.wsdl"
)

type memBlobs map[string][]byte

func (m memBlobs) Open(key string) (io.ReadCloser, error) {
	b, ok := m[key]
	if !ok {
		return nil, fmt.Errorf("no blob %s", key)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

type remote struct {
	url     string
	backend *xtatest.MemoryBackend
	faults  *xtatest.Faults
}

func startRemote(t testing.TB, mtomResponses bool) *remote {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	b := xtatest.NewMemoryBackend(hubKey, readerKey)
	srv, err := xta.NewServer(b, xta.Config{WSDLDir: filepath.Join(testenv.MustStandardsDir(t), "xta2-v3"), BaseURL: base,
		SpoolDir: t.TempDir(), MTOM: mtomResponses, ServerIdentity: "xtatest"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux)
	f := &xtatest.Faults{Next: mux}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: f}}
	ts.Start()
	t.Cleanup(ts.Close)
	return &remote{url: base, backend: b, faults: f}
}

type fixture struct {
	st    *store.Store
	blobs memBlobs
	sub   routing.Submission
	msg   routing.Message
	pdf   []byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"), store.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pdf := bytes.Repeat([]byte("%PDF-1.7 lageplan "), 20000)
	sub, _, err := st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{
		ID: "sub-1", PortalID: "demo", Tenant: "05315000", Service: "bau", Reference: "R-1", Form: []byte(`{}`),
		ReceivedAt: time.Now(),
		Attachments: []routing.Attachment{{ID: "att-1", Filename: "lageplan.pdf", ContentType: "application/pdf",
			Size: int64(len(pdf)), SHA256: "x", BlobKey: "blob-1"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	msg := routing.Message{SubmissionID: sub.ID, UUID: "6f1c2d3e-0000-4000-8000-000000000001", Standard: "XBau-Kernmodul",
		Version: "2.6", RootElement: "baugenehmigung.antrag.0200", Namespace: "http://www.xleitstelle.de/xbau/2/6",
		XML:         []byte(`<xbau:baugenehmigung.antrag.0200 xmlns:xbau="http://www.xleitstelle.de/xbau/2/6"/>`),
		Attachments: []routing.MessageAttachment{{AttachmentID: "att-1", DocumentID: "doc-1", Filename: "lageplan.pdf"}}}
	return &fixture{st: st, blobs: memBlobs{"blob-1": pdf}, sub: sub, msg: msg, pdf: pdf}
}

func (f *fixture) adapter(t *testing.T, opts xtaclient.Options) *xtaclient.Adapter {
	t.Helper()
	opts.AuthorKey = hubKey
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	opts.RetryWaitMin, opts.RetryWaitMax = time.Millisecond, 5*time.Millisecond
	a, err := xtaclient.New(f.st, f.blobs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *fixture) delivery(endpoint, suffix string) routing.Delivery {
	return routing.Delivery{ID: 1, SubmissionID: f.sub.ID, MessageUUID: f.msg.UUID,
		TransportID: "urn:de:xta:messageid:dxhub:" + f.msg.UUID + suffix, CreatedAt: time.Now(),
		Route: routing.Route{ReaderKey: readerKey, ServiceURI: service, Transport: routing.TransportXTA, Endpoint: endpoint}}
}

// TestDeliverMTOMAndInline delivers one submission to an xtatest server
// with MTOM and to a second one with inline base64; both end with final
// transport reports that move the submission to delivered.
func TestDeliverMTOMAndInline(t *testing.T) {
	ctx := context.Background()
	for _, mtom := range []bool{true, false} {
		f := newFixture(t)
		r := startRemote(t, mtom)
		r.backend.OpenReports = 1 // the first poll sees status 0
		a := f.adapter(t, xtaclient.Options{MTOMEndpoints: map[string]bool{r.url + xta.PathSend: mtom}})
		d := f.delivery(r.url, "")
		out := a.Deliver(ctx, d, f.msg, f.sub)
		if out.Kind != routing.Delivered || out.Status != routing.StatusSent || !strings.HasPrefix(out.Evidence, "urn:de:xta:messageid:xtatest:") {
			t.Fatalf("mtom=%v: outcome %+v", mtom, out)
		}
		ct := r.faults.ContentType(xta.ActionSendMessage)
		if isMTOM := strings.HasPrefix(ct, "multipart/related"); isMTOM != mtom {
			t.Errorf("mtom=%v: request Content-Type %s", mtom, ct)
		}
		got := r.backend.Received()
		if len(got) != 1 || got[0].Meta.MessageID != out.Evidence || !bytes.Equal(got[0].Attachments[0].Data, f.pdf) ||
			got[0].Attachments[0].Filename != "lageplan.pdf" || got[0].Meta.ReaderKey != readerKey {
			t.Fatalf("mtom=%v: remote received %+v", mtom, got)
		}
		res, err := a.PollReports(ctx, 10)
		if err != nil || len(res) != 1 || res[0].Status != xta.StatusOpen || res[0].Event != "" {
			t.Fatalf("mtom=%v: first poll %+v, %v", mtom, res, err)
		}
		res, err = a.PollReports(ctx, 10)
		if err != nil || len(res) != 1 || res[0].Status != xta.StatusGreen || res[0].Event != routing.StatusDelivered {
			t.Fatalf("mtom=%v: second poll %+v, %v", mtom, res, err)
		}
		if res, _ := a.PollReports(ctx, 10); len(res) != 0 {
			t.Errorf("mtom=%v: final report polled again: %+v", mtom, res)
		}
		sub, _ := f.st.GetSubmission(ctx, f.sub.ID)
		if sub.Status != routing.StatusDelivered {
			t.Errorf("mtom=%v: submission status %s", mtom, sub.Status)
		}
		// A later Deliver of the same delivery does not send again.
		if out := a.Deliver(ctx, d, f.msg, f.sub); out.Kind != routing.Delivered || len(r.backend.Received()) != 1 {
			t.Errorf("mtom=%v: redelivery %+v", mtom, out)
		}
	}
}

func TestFaultClassification(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	r := startRemote(t, false)
	a := f.adapter(t, xtaclient.Options{RetryMax: -1})
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + closed.Addr().String()
	closed.Close()
	cases := []struct {
		name     string
		action   string
		fault    xtatest.Fault
		endpoint string
		want     routing.OutcomeKind
		after    time.Duration
	}{
		{"9030 internal", xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.SOAPFault, Code: 9030}, "", routing.Retry, 0},
		{"9031 directory", xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.SOAPFault, Code: 9031}, "", routing.Retry, 0},
		{"9032 delivery", xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.SOAPFault, Code: 9032}, "", routing.Retry, 0},
		{"9050 schema", xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.SOAPFault, Code: 9050}, "", routing.Permanent, 0},
		{"9060 virus", xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.SOAPFault, Code: 9060}, "", routing.Permanent, 0},
		{"9014 cert", xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.SOAPFault, Code: 9014}, "", routing.Permanent, 0},
		{"9010 expired", xta.ActionCheckAccountActive, xtatest.Fault{Kind: xtatest.SOAPFault, Code: 9010}, "", routing.Permanent, 0},
		{"9012 account", xta.ActionCreateMessageID, xtatest.Fault{Kind: xtatest.SOAPFault, Code: 9012}, "", routing.Permanent, 0},
		{"9081 sync only", xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.SOAPFault, Code: 9081}, "", routing.Permanent, 0},
		{"9024 already accepted", xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.SOAPFault, Code: 9024}, "", routing.Delivered, 0},
		{"503 Retry-After", xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.Unavailable, RetryAfter: 7}, "", routing.Retry, 7 * time.Second},
		{"corrupt response", xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.Corrupt}, "", routing.Ambiguous, 0},
		{"refused before send", "", xtatest.Fault{}, deadURL, routing.Retry, 0},
	}
	for i, tc := range cases {
		if tc.action != "" {
			r.faults.Inject(tc.action, tc.fault)
		}
		ep := r.url
		if tc.endpoint != "" {
			ep = tc.endpoint
		}
		out := a.Deliver(ctx, f.delivery(ep, fmt.Sprintf("-%d", i)), f.msg, f.sub)
		if out.Kind != tc.want || out.RetryAfter != tc.after {
			t.Errorf("%s: outcome %v (retry after %v): %s", tc.name, out.Kind, out.RetryAfter, out.Reason)
		}
	}
}

// TestTimeoutAfterReceiptExactlyOnce: the server stores the message and
// never answers. The in-call retry and the next pipeline attempt both reuse
// the message ID; the server's 9024 counts as accepted, and the receiver
// holds exactly one message.
func TestTimeoutAfterReceiptExactlyOnce(t *testing.T) {
	ctx := context.Background()
	for _, retries := range []int{2, -1} {
		f := newFixture(t)
		r := startRemote(t, false)
		r.faults.Inject(xta.ActionSendMessage, xtatest.Fault{Kind: xtatest.TimeoutAfterReceipt})
		a := f.adapter(t, xtaclient.Options{RetryMax: retries, Timeout: 3 * time.Second})
		d := f.delivery(r.url, "")
		out := a.Deliver(ctx, d, f.msg, f.sub)
		if retries < 0 {
			if out.Kind != routing.Ambiguous {
				t.Fatalf("no in-call retry: outcome %+v, want ambiguous", out)
			}
			out = a.Deliver(ctx, d, f.msg, f.sub) // the pipeline's next attempt
		}
		if out.Kind != routing.Delivered || !strings.Contains(out.Reason, "9024") {
			t.Errorf("retries=%d: outcome %+v", retries, out)
		}
		if n := len(r.backend.Received()); n != 1 {
			t.Errorf("retries=%d: receiver holds %d messages", retries, n)
		}
		if n := r.faults.Requests(xta.ActionCreateMessageID); n != 1 {
			t.Errorf("retries=%d: createMessageId called %d times", retries, n)
		}
		if n := r.faults.Requests(xta.ActionSendMessage); n != 2 {
			t.Errorf("retries=%d: sendMessage called %d times", retries, n)
		}
	}
}

// TestFetchReplies runs the Leser job against a remote mailbox.
func TestFetchReplies(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	r := startRemote(t, true)
	pdf := bytes.Repeat([]byte("bescheid "), 5000)
	for i := 0; i < 3; i++ {
		r.backend.Deliver(xta.MessageMeta{MessageID: fmt.Sprintf("urn:de:xta:messageid:fv:%d", i), AuthorKey: readerKey, ReaderKey: hubKey,
			Service: service, BusinessScenario: xta.Code{Code: "XBAU_DATA"}, MessageType: xta.Code{Code: "x"}, PayloadSchema: "urn:x"},
			xtatest.Blob{ContentType: "application/xml", Data: []byte(fmt.Sprintf("<r%d/>", i))},
			xtatest.Blob{ContentType: "application/pdf", Filename: "bescheid.pdf", Data: pdf})
	}
	a := f.adapter(t, xtaclient.Options{})
	var got []string
	fail := true
	persist := func(ctx context.Context, rep xtaclient.Reply) error {
		rc, err := rep.Attachments[0].Open()
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(b, pdf) {
			return fmt.Errorf("attachment differs")
		}
		if fail && len(got) == 1 {
			fail = false
			return fmt.Errorf("disk full")
		}
		got = append(got, string(rep.Message))
		return nil
	}
	n, err := a.FetchReplies(ctx, xtaclient.LeserOptions{Endpoint: r.url, Identity: hubKey, SpoolDir: t.TempDir()}, persist)
	if err == nil || n != 2 || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("first run: %d, %v (want 2 and the persist error: a failing message does not hold up the others)", n, err)
	}
	if r.backend.Closed(hubKey, "urn:de:xta:messageid:fv:1") {
		t.Error("message closed although persist failed")
	}
	n, err = a.FetchReplies(ctx, xtaclient.LeserOptions{Endpoint: r.url, Identity: hubKey, SpoolDir: t.TempDir()}, persist)
	if err != nil || n != 1 {
		t.Fatalf("second run: %d, %v", n, err)
	}
	if strings.Join(got, ",") != "<r0/>,<r2/>,<r1/>" {
		t.Errorf("persisted %v", got)
	}
	for i := 0; i < 3; i++ {
		if !r.backend.Closed(hubKey, fmt.Sprintf("urn:de:xta:messageid:fv:%d", i)) {
			t.Errorf("message %d not closed", i)
		}
	}
}

// A server whose certificate does not verify marks the route stale (the
// directory may name a renewed certificate); a refused connection does not.
func TestClassifyCertificateFailureMarksRouteStale(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := (&http.Client{Timeout: 5 * time.Second}).Get(srv.URL) // no trust in the test CA
	if err == nil {
		t.Fatal("expected a certificate error")
	}
	out := xtaclient.Classify("sendMessage", fmt.Errorf("send: %w", err))
	if out.Kind != routing.Retry || !out.RouteStale {
		t.Fatalf("certificate failure: %+v, want retry with RouteStale", out)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, err = (&http.Client{Timeout: 5 * time.Second}).Get("https://" + addr)
	if out := xtaclient.Classify("sendMessage", err); out.RouteStale {
		t.Fatalf("refused connection marked the route stale: %+v", out)
	}
}
