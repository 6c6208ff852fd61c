package xtabox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/connectors/mapping"
	"github.com/dxhub/dxhub/connectors/xtabox"
	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/internal/store"
	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/routing"
	"github.com/dxhub/dxhub/xoev"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

const (
	hubKey  = "kop:0500000001"
	koeln   = "ags:05315000"
	bonnKey = "ags:05314000"
)

// clock is an injected, manually advanced clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is the built-in mailbox over a real SQLite store and blob store,
// served by a real XTA server on 127.0.0.1.
type env struct {
	t     testing.TB
	st    *store.Store
	path  string
	blobs *blob.Store
	clock *clock
	box   *xtabox.Mailbox
	url   string
	srv   *httptest.Server
	ttl   time.Duration
	// memIters keeps iterations in memory (xta's default) instead of the store.
	memIters bool
}

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, clock: &clock{now: t0}, path: filepath.Join(t.TempDir(), "hub.db"), ttl: 15 * time.Minute}
	var err error
	if e.st, err = store.OpenSQLite(ctx, e.path, store.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	if e.blobs, err = blob.Open(filepath.Join(t.TempDir(), "blobs")); err != nil {
		t.Fatal(err)
	}
	tenants := map[string]routing.Tenant{"05315000": {AGS: "05315000", Name: "Köln", DVDVKey: koeln}}
	back := &routing.BackChannel{Store: e.st, Parser: mapping.Parser{}, Tenants: tenants, Clock: e.clock,
		Logger: slog.New(slog.DiscardHandler)}
	e.box = &xtabox.Mailbox{Store: e.st, Blobs: xtabox.BlobStore{Store: e.blobs}, Receiver: back,
		Accounts: []string{koeln, bonnKey}, AuthorKey: hubKey, Clock: e.clock}
	e.start()
	return e
}

// start (re)starts the XTA server on the same store, as a restarted process
// (or a second one sharing the database) would.
func (e *env) start() {
	e.t.Helper()
	if e.srv != nil {
		e.srv.Close()
	}
	e.srv = httptest.NewUnstartedServer(nil)
	e.url = "http://" + e.srv.Listener.Addr().String()
	var iters xta.IterationStore = &xtabox.Iterations{Store: e.st, Clock: e.clock}
	if e.memIters {
		iters = nil
	}
	s, err := xta.NewServer(e.box, xta.Config{WSDLDir: filepath.Join(testenv.MustStandardsDir(e.t), "xta2-v3"), BaseURL: e.url,
		SpoolDir: e.t.TempDir(), Now: e.clock.Now, IteratorTTL: e.ttl, Iterations: iters})
	if err != nil {
		e.t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Mount(mux)
	e.srv.Config.Handler = mux
	e.srv.Start()
	e.t.Cleanup(e.srv.Close)
}

func (e *env) client(identity string) *xta.Client {
	return &xta.Client{Endpoints: xta.EndpointsAt(e.url), Author: identity}
}

// sample1200 is a real XBau Kernmodul 1200 (the golden file of xoev).
func sample1200(t testing.TB) ([]byte, xoev.Inbound) {
	t.Helper()
	b, err := os.ReadFile("../../xoev/testdata/golden/minimal.xml")
	if err != nil {
		t.Fatal(err)
	}
	in, err := xoev.ParseInbound(b)
	if err != nil {
		t.Fatal(err)
	}
	return b, in
}

// route stores submission id with its mapped message and a delivery to
// reader's mailbox, due at the current time; it returns the delivery.
func (e *env) route(id, uuid, reader string, xml []byte) routing.Delivery {
	e.t.Helper()
	ctx := context.Background()
	now := e.clock.Now()
	if _, _, err := e.st.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{
		ID: id, PortalID: "p1", Tenant: "05315000", Service: "universeller-antrag", Reference: "ref-" + id,
		Applicant: routing.Applicant{Name: "Erika Mustermann", Mailbox: "mb-1"}, Form: []byte(`{}`), ReceivedAt: now,
	}}); err != nil {
		e.t.Fatal(err)
	}
	msg := routing.Message{SubmissionID: id, UUID: uuid, Standard: "XBau-Kernmodul", Version: "1.3.0", TypeCode: "1200",
		RootElement: "universellerAntrag.antrag.1200", Namespace: xoev.NSKernmodul130, Service: "urn:s", XML: xml}
	if err := e.st.SaveMapped(ctx, msg, routing.StatusEvent{Status: routing.StatusValidated, Time: now, Source: routing.SourceHub}); err != nil {
		e.t.Fatal(err)
	}
	d := routing.Delivery{SubmissionID: id, MessageUUID: uuid, TransportID: "urn:de:xta:messageid:dxhub:" + id,
		Route:         routing.Route{ReaderKey: reader, ServiceURI: "urn:s", Transport: routing.TransportXTAMailbox},
		NextAttemptAt: now, CreatedAt: now}
	if err := e.st.SaveRoute(ctx, d, routing.StatusEvent{Status: routing.StatusRouted, Time: now, Source: routing.SourceHub}); err != nil {
		e.t.Fatal(err)
	}
	d, err := e.st.GetDelivery(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) attempt(d routing.Delivery, n int, out routing.Outcome) {
	e.t.Helper()
	now := e.clock.Now()
	r := routing.AttemptResult{Delivery: d, Number: n, Started: now, Finished: now, Outcome: out}
	switch out.Kind {
	case routing.Delivered:
		r.Done = true
		r.Event = &routing.StatusEvent{Status: routing.StatusDelivered, Time: now, Source: routing.SourceHub}
	case routing.Permanent:
		r.Dead = true
		r.Event = &routing.StatusEvent{Status: routing.StatusFailed, Time: now, Source: routing.SourceHub, Detail: out.Reason}
	default:
		r.NextAttemptAt = now.Add(time.Minute)
	}
	if err := e.st.RecordAttempt(context.Background(), r); err != nil {
		e.t.Fatal(err)
	}
}

func codes(rs []xta.Record) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code+"@"+r.Time.UTC().Format("15:04:05"))
	}
	return strings.Join(out, " ")
}

// TestTransportReports: getTransportReport for messages in the hub's mailbox,
// both directions, with status 0–3, the timestamps of every step and the
// XÖV receipts the reader sent back attached.
func TestTransportReports(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	xml1200, in1200 := sample1200(t)

	// s-open: the first attempt failed, a retry is scheduled (status 0).
	dOpen := e.route("s-open", "uuid-open", koeln, xml1200)
	e.clock.Advance(time.Second) // 09:00:01
	e.attempt(dOpen, 1, routing.Outcome{Kind: routing.Retry, Reason: "database busy"})
	// s-dead: given up (status 3).
	dDead := e.route("s-dead", "uuid-dead", koeln, xml1200)
	e.attempt(dDead, 1, routing.Outcome{Kind: routing.Permanent, Reason: "reader has no account"})
	// s-done: in the mailbox (09:00:02), fetched (09:00:03), then the
	// Fachverfahren acknowledges it with a 1120 (09:00:04).
	e.clock.Advance(time.Second)
	dDone := e.route("s-done", in1200.Header.UUID, koeln, xml1200)
	e.attempt(dDone, 1, routing.Outcome{Kind: routing.Delivered})
	e.clock.Advance(time.Second)
	fv := e.client(koeln)
	if err := fv.Close(ctx, "", dDone.TransportID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	r1120, err := xoev.BuildReceipt1120(in1200.Header, xoev.Reply{Created: e.clock.Now(), Reference: in1200.Reference})
	if err != nil {
		t.Fatal(err)
	}
	send := func(c *xta.Client, id string, doc []byte) {
		t.Helper()
		meta := xta.MessageMeta{MessageID: id, AuthorKey: c.Author, AuthorType: "xoev", ReaderKey: hubKey, ReaderType: "xoev",
			Service: "urn:s", BusinessScenario: xta.Code{Code: "XBAU_DATA"},
			MessageType:   xta.Code{Code: "prozessnachrichten.eingangsbestaetigung.1120"},
			PayloadSchema: xoev.NSKernmodul130}
		err := c.SendMessage(ctx, meta, []xta.Content{{ContentType: "application/xml", Filename: "m.xml", Size: int64(len(doc)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(doc)), nil }}})
		if err != nil {
			t.Fatal(err)
		}
	}
	send(fv, "urn:de:xta:messageid:fv:1120", r1120.XML)
	// A well-formed reply that refers to nothing known is kept without
	// effect (status 2 for its sender).
	e.clock.Advance(time.Second) // 09:00:05
	other := in1200.Header
	other.UUID = "6f1a5d4e-0000-4000-8000-000000000000"
	stray, err := xoev.BuildReceipt1120(other, xoev.Reply{Created: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	send(fv, "urn:de:xta:messageid:fv:stray", stray.XML)
	e.clock.Advance(time.Minute) // reports at 09:01:05

	tests := []struct {
		name, identity, id string
		status             int
		infos, warnings    string
		errs               string
		delivery           string // MessageMetaData DeliveryAttributes/Delivery
		additional         string
	}{
		{name: "outbound open", identity: koeln, id: dOpen.TransportID, status: xta.StatusOpen,
			infos: "accepted@09:00:00 retry@09:01:05"},
		{name: "outbound failed", identity: koeln, id: dDead.TransportID, status: xta.StatusRed,
			infos: "accepted@09:00:01", errs: "failed@09:01:05"},
		{name: "outbound delivered, fetched, acknowledged", identity: koeln, id: dDone.TransportID, status: xta.StatusGreen,
			infos: "accepted@09:00:02 delivered@09:00:02 fetched@09:00:03 receipt@09:00:04", delivery: "09:00:02",
			additional: "xoev:1120"},
		{name: "inbound applied", identity: koeln, id: "urn:de:xta:messageid:fv:1120", status: xta.StatusGreen,
			infos: "received@09:00:04", delivery: "09:00:04"},
		{name: "inbound kept without effect", identity: koeln, id: "urn:de:xta:messageid:fv:stray", status: xta.StatusYellow,
			infos: "received@09:00:05", warnings: "kept@09:00:05", delivery: "09:00:05"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := e.client(tc.identity).GetTransportReport(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status() != tc.status {
				t.Errorf("status = %d, want %d", r.Status(), tc.status)
			}
			if !r.ReportTime.Equal(t0.Add(65 * time.Second)) {
				t.Errorf("ReportTime = %v", r.ReportTime)
			}
			if r.Meta.MessageID != tc.id {
				t.Errorf("MessageID = %q", r.Meta.MessageID)
			}
			if got := codes(r.Infos); got != tc.infos {
				t.Errorf("infos = %q, want %q", got, tc.infos)
			}
			if got := codes(r.Warnings); got != tc.warnings {
				t.Errorf("warnings = %q, want %q", got, tc.warnings)
			}
			if got := codes(r.Errors); got != tc.errs {
				t.Errorf("errors = %q, want %q", got, tc.errs)
			}
			if tc.delivery != "" && r.Meta.Delivery.UTC().Format("15:04:05") != tc.delivery {
				t.Errorf("Delivery = %v, want %s", r.Meta.Delivery, tc.delivery)
			}
			var keys []string
			for _, a := range r.Additional {
				keys = append(keys, a.Key)
				if a.Key == "xoev:1120" && string(a.Data) != string(r1120.XML) {
					t.Errorf("attached receipt differs from the 1120 sent")
				}
			}
			if got := strings.Join(keys, " "); got != tc.additional {
				t.Errorf("additional reports = %q, want %q", got, tc.additional)
			}
		})
	}
	// Somebody else's message is unknown to them (9070), in both directions.
	for _, id := range []string{dDone.TransportID, "urn:de:xta:messageid:fv:1120", "urn:de:xta:messageid:none"} {
		var f *xta.Fault
		if _, err := e.client(bonnKey).GetTransportReport(ctx, id); !errors.As(err, &f) || f.Code != xta.CodeUnknownMessageID {
			t.Errorf("report of %s for another account: err = %v, want fault 9070", id, err)
		}
	}
}

// TestIterationSurvivesRestart: the MsgBoxRequestID of getStatusList is kept
// in the store, so getNextStatusList continues it on a restarted server (or
// another process on the same database); it expires after the TTL.
func TestIterationSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	xml1200, _ := sample1200(t)
	var ids []string
	for i := range 3 {
		d := e.route(fmt.Sprint("s", i), fmt.Sprint("uuid-", i), koeln, xml1200)
		e.attempt(d, 1, routing.Outcome{Kind: routing.Delivered})
		ids = append(ids, d.TransportID)
		e.clock.Advance(time.Second)
	}
	fv := e.client(koeln)
	p1, err := fv.GetStatusList(ctx, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Metas) != 1 || p1.Metas[0].MessageID != ids[0] || p1.Pending != 2 || p1.RequestID == "" {
		t.Fatalf("first page = %+v", p1)
	}

	e.start() // a new server process on the same database
	fv = e.client(koeln)
	p2, err := fv.GetNextStatusList(ctx, p1.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	if len(p2.Metas) != 1 || p2.Metas[0].MessageID != ids[1] || p2.Pending != 1 || p2.NoMessageReason != "" {
		t.Fatalf("second page after restart = %+v", p2)
	}
	// Another reader cannot continue it.
	p, err := e.client(bonnKey).GetNextStatusList(ctx, p1.RequestID)
	if err != nil || p.NoMessageReason != xta.MsgBoxReasonRequestIDInvalid {
		t.Fatalf("foreign reader: %+v %v", p, err)
	}
	// getNextMessage continues the same iteration: the third message.
	var got []byte
	res, err := fv.GetNextMessage(ctx, p1.RequestID, func(i int, _ xta.ContentHeader, r io.Reader) error {
		if i == 0 {
			b, err := io.ReadAll(r)
			got = b
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Meta.MessageID != ids[2] || string(got) != string(xml1200) {
		t.Fatalf("getNextMessage = %s", res.Meta.MessageID)
	}
	// Unused for longer than the TTL, the iteration is gone.
	e.clock.Advance(e.ttl + time.Second)
	p3, err := fv.GetNextStatusList(ctx, p1.RequestID)
	if err != nil || p3.NoMessageReason != xta.MsgBoxReasonRequestIDInvalid {
		t.Fatalf("expired iteration: %+v %v", p3, err)
	}
	var f *xta.Fault
	if _, err := fv.GetNextMessage(ctx, p1.RequestID, func(int, xta.ContentHeader, io.Reader) error { return nil }); !errors.As(err, &f) ||
		f.Code != xta.CodeUnknownMessageID {
		t.Fatalf("getNextMessage on an expired iteration: %v", err)
	}
	// A Fachverfahren using the test kit sees the same mailbox.
	if list, err := xtatest.New(e.url, koeln, nil).GetStatusList(ctx, 10); err != nil || len(list) != 3 {
		t.Fatalf("status list = %d %v", len(list), err)
	}
}
