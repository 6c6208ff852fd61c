package xtaclient_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dxhub/dxhub/connectors/mapping"
	"github.com/dxhub/dxhub/connectors/servicekonto"
	"github.com/dxhub/dxhub/connectors/xtaclient"
	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xoev"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// leserEnv is a hub store with one submission whose 1200 went out, a real
// back-channel and blob store, and the Inbox the Leser persists through.
type leserEnv struct {
	st    *store.Store
	blobs *blob.Store
	in    xtaclient.Inbox
	ref   xoev.Inbound // our 1200 as the Fachverfahren parses it
}

func newLeserEnv(t *testing.T) *leserEnv {
	t.Helper()
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
	if _, _, err := f.st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{
		ID: "sub-p", PortalID: "demo", Tenant: "05315000", Service: "bau", Reference: "R-P", Form: []byte(`{}`),
		ReceivedAt: time.Now(), Applicant: routing.Applicant{Name: "Erika Mustermann", Mailbox: "mb-erika"}}}); err != nil {
		t.Fatal(err)
	}
	msg := routing.Message{SubmissionID: "sub-p", UUID: ref.Header.UUID, Standard: "XBau-Kernmodul", Version: "1.3.0", TypeCode: "1200",
		RootElement: ref.Header.RootElement, Namespace: ref.Header.Namespace, Service: service, XML: xml1200}
	if err := f.st.SaveMapped(ctx, msg, routing.StatusEvent{Status: routing.StatusValidated, Time: time.Now(), Source: routing.SourceHub}); err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.Open(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	back := &routing.BackChannel{Store: f.st, Parser: mapping.Parser{}, Logger: slog.New(slog.DiscardHandler),
		Tenants: map[string]routing.Tenant{"05315000": {AGS: "05315000", DVDVKey: readerKey}}}
	return &leserEnv{st: f.st, blobs: blobs, in: xtaclient.Inbox{Receiver: back, Blobs: blobs}, ref: ref}
}

// TestLeserBescheidReachesPostfach: a 1170 "Bescheid erteilt" and a 0205
// Bescheid, each with the Bescheid PDF, picked up by the Leser from a remote
// XTA mailbox, reach the citizen's Postfach with the PDF byte for byte (the
// attachment is not only kept in the blob store but linked to the message's
// status event).
func TestLeserBescheidReachesPostfach(t *testing.T) {
	ctx := context.Background()
	e := newLeserEnv(t)
	// Binary content (every byte value) so that any re-encoding shows.
	var pdf []byte
	pdf = append(pdf, "%PDF-1.7\n"...)
	for i := 0; i < 64<<10; i++ {
		pdf = append(pdf, byte(i*7))
	}
	builds := []struct {
		name string
		mtom bool
		doc  func() (xoev.Document, error)
	}{
		{"1170 inline", false, func() (xoev.Document, error) {
			return xoev.BuildStatus1170(e.ref.Header, "10", time.Time{}, xoev.Reply{UUID: uuid.NewString(), Created: time.Now(),
				Reference: e.ref.Reference, CaseNumber: "63-2026-0815"})
		}},
		{"0205 MTOM", true, func() (xoev.Document, error) {
			return xoev.BuildBescheid0205(e.ref.Header, xoev.Bescheid{Granted: true, Documents: []xoev.BescheidDocument{{
				Bezeichnung: "Baugenehmigung", AnlageArt: "9999", MimeType: "application/pdf", DokumentID: "bescheid-1",
				Filename: "Bescheid-63-2026-0815.pdf"}}}, xoev.Reply{Created: time.Now(), Reference: e.ref.Reference, CaseNumber: "63-2026-0815"})
		}},
	}
	for _, bt := range builds {
		t.Run(bt.name, func(t *testing.T) {
			r := startRemote(t, bt.mtom)
			doc, err := bt.doc()
			if err != nil {
				t.Fatal(err)
			}
			id := "urn:de:xta:messageid:fv:" + doc.UUID
			r.backend.Deliver(xta.MessageMeta{MessageID: id, AuthorKey: readerKey, ReaderKey: hubKey,
				Service: service, BusinessScenario: xta.Code{Code: "XBAU_DATA"}, MessageType: xta.Code{Code: doc.RootElement},
				PayloadSchema: doc.Namespace},
				xtatest.Blob{ContentType: "application/xml", Data: doc.XML},
				xtatest.Blob{ContentType: "application/pdf", Filename: "Bescheid-63-2026-0815.pdf", Data: pdf})
			a := newFixture(t).adapter(t, xtaclient.Options{})
			res := a.RunLeser(ctx, []xtaclient.LeserJob{{LeserOptions: xtaclient.LeserOptions{Endpoint: r.url, Identity: hubKey,
				SpoolDir: t.TempDir()}}}, e.in)
			if len(res) != 1 || res[0].Err != nil || res[0].Closed != 1 {
				t.Fatalf("leser: %+v", res)
			}
		})
	}
	// The 1170 (inline base64) and the 0205 (MTOM) are "decided" events with the PDF.
	d := &servicekonto.Dispatcher{Store: e.st, Sink: &servicekonto.LocalSink{Store: e.st, Clock: fixedClock(time.Now())},
		Texts: servicekonto.DefaultTexts(), Clock: fixedClock(time.Now()), Logger: slog.New(slog.DiscardHandler)}
	if _, err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	box, err := e.st.PostfachMessages(ctx, "mb-erika", "demo")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pdf)
	decided := 0
	for _, m := range box {
		if m.Status != routing.StatusDecided {
			continue
		}
		decided++
		if len(m.Attachments) != 1 || m.Attachments[0].Filename != "Bescheid-63-2026-0815.pdf" ||
			m.Attachments[0].ContentType != "application/pdf" || m.Attachments[0].SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("Postfach message %d attachments = %+v", m.ID, m.Attachments)
		}
		att, err := e.st.PostfachAttachment(ctx, "mb-erika", "demo", m.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := e.blobs.Open(att.BlobKey)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, pdf) {
			t.Fatalf("Postfach attachment: %d bytes, err %v; want the %d bytes sent", len(got), err, len(pdf))
		}
	}
	if decided != 2 {
		t.Fatalf("no decided message in the Postfach: %+v", box)
	}
}

// startPagedRemote runs a remote XTA server that lists at most pageSize
// messages per getStatusList/getNextStatusList page.
func startPagedRemote(t *testing.T, pageSize int) *remote {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	b := xtatest.NewMemoryBackend(hubKey, readerKey)
	srv, err := xta.NewServer(b, xta.Config{WSDLDir: filepath.Join(testenv.MustStandardsDir(t), "xta2-v3"), BaseURL: base,
		SpoolDir: t.TempDir(), ServerIdentity: "xtatest", DefaultListItems: pageSize, MaxListItems: pageSize})
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

// TestLeserFollowsStatusListPages: with more replies waiting than the remote
// server lists per page, one Leser run follows getNextStatusList
// (MsgBoxRequestID, ItemsPending) until nothing is pending, and the per-run
// bound (Max) leaves the rest for the next run.
func TestLeserFollowsStatusListPages(t *testing.T) {
	ctx := context.Background()
	const pageSize, total = 3, 8
	tests := []struct {
		name       string
		max        int
		wantClosed []int // per run
		wantNext   []int // getNextStatusList requests after each run
	}{
		// pages of 3+3+2; the second run finds an empty list.
		{"all in one run", 0, []int{total, 0}, []int{2, 0}},
		// 3 + 2 of the second page; then the remaining 3 in one page.
		{"bounded per run", 5, []int{5, total - 5, 0}, []int{1, 0, 0}},
		// the bound is one page: no getNextStatusList at all.
		{"bound on a page edge", pageSize, []int{3, 3, 2, 0}, []int{0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newLeserEnv(t)
			r := startPagedRemote(t, pageSize)
			for i := 0; i < total; i++ {
				doc, err := xoev.BuildReceipt1120(e.ref.Header, xoev.Reply{UUID: uuid.NewString(), Created: time.Now(), Reference: e.ref.Reference})
				if err != nil {
					t.Fatal(err)
				}
				r.backend.Deliver(xta.MessageMeta{MessageID: fmt.Sprintf("urn:de:xta:messageid:fv:%02d", i), AuthorKey: readerKey,
					ReaderKey: hubKey, Service: service, BusinessScenario: xta.Code{Code: "XBAU_DATA"},
					MessageType: xta.Code{Code: doc.RootElement}, PayloadSchema: doc.Namespace},
					xtatest.Blob{ContentType: "application/xml", Data: doc.XML})
			}
			a := newFixture(t).adapter(t, xtaclient.Options{})
			jobs := []xtaclient.LeserJob{{LeserOptions: xtaclient.LeserOptions{Endpoint: r.url, Identity: hubKey, Max: tt.max,
				SpoolDir: t.TempDir()}}}
			before := 0
			for run, want := range tt.wantClosed {
				res := a.RunLeser(ctx, jobs, e.in)
				if res[0].Err != nil || res[0].Closed != want {
					t.Fatalf("run %d: closed %d, err %v; want %d", run+1, res[0].Closed, res[0].Err, want)
				}
				next := r.faults.Requests(xta.ActionGetNextStatusList)
				if next-before != tt.wantNext[run] {
					t.Errorf("run %d: %d getNextStatusList requests, want %d", run+1, next-before, tt.wantNext[run])
				}
				before = next
			}
			for i := 0; i < total; i++ {
				if id := fmt.Sprintf("urn:de:xta:messageid:fv:%02d", i); !r.backend.Closed(hubKey, id) {
					t.Errorf("%s still open", id)
				}
			}
			evs, err := e.st.Events(ctx, "sub-p")
			if err != nil {
				t.Fatal(err)
			}
			acks := 0
			for _, ev := range evs {
				if ev.Status == routing.StatusAcknowledged {
					acks++
				}
			}
			if acks != total {
				t.Errorf("acknowledged events = %d, want %d (one per reply)", acks, total)
			}
		})
	}
}

// TestLeserNextPageFault: when getNextStatusList fails, the messages of the
// pages before stay persisted and closed, the run reports the failure, and
// the next run picks up the rest.
func TestLeserNextPageFault(t *testing.T) {
	ctx := context.Background()
	e := newLeserEnv(t)
	r := startPagedRemote(t, 2)
	for i := 0; i < 5; i++ {
		doc, err := xoev.BuildReceipt1120(e.ref.Header, xoev.Reply{UUID: uuid.NewString(), Created: time.Now(), Reference: e.ref.Reference})
		if err != nil {
			t.Fatal(err)
		}
		r.backend.Deliver(xta.MessageMeta{MessageID: fmt.Sprintf("urn:de:xta:messageid:fv:%02d", i), AuthorKey: readerKey,
			ReaderKey: hubKey, Service: service, BusinessScenario: xta.Code{Code: "XBAU_DATA"},
			MessageType: xta.Code{Code: doc.RootElement}, PayloadSchema: doc.Namespace},
			xtatest.Blob{ContentType: "application/xml", Data: doc.XML})
	}
	a := newFixture(t).adapter(t, xtaclient.Options{RetryMax: -1})
	jobs := []xtaclient.LeserJob{{LeserOptions: xtaclient.LeserOptions{Endpoint: r.url, Identity: hubKey, SpoolDir: t.TempDir()}}}
	r.faults.Inject(xta.ActionGetNextStatusList, xtatest.Fault{Kind: xtatest.SOAPFault, Code: xta.CodeInternalError})
	res := a.RunLeser(ctx, jobs, e.in)
	if res[0].Closed != 2 || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "getNextStatusList (page 2)") {
		t.Fatalf("first run: closed %d, err %v; want 2 and the getNextStatusList failure", res[0].Closed, res[0].Err)
	}
	res = a.RunLeser(ctx, jobs, e.in)
	if res[0].Closed != 3 || res[0].Err != nil {
		t.Fatalf("second run: closed %d, err %v; want the remaining 3", res[0].Closed, res[0].Err)
	}
}
