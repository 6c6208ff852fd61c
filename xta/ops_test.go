package xta_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

func content(data []byte, ct, name string) xta.Content {
	return xta.Content{ContentType: ct, Filename: name, Size: int64(len(data)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

func TestManagementOperations(t *testing.T) {
	now := fixedNow
	h := newHarness(t, func(c *xta.Config) { c.Now = func() time.Time { return now } })
	h.backend.Now = func() time.Time { return now }
	ctx := context.Background()
	fv := xtatest.New(h.url, readerKey, nil).XTA()

	if av, err := fv.LookupService(ctx, hubKey, "", "urn:svc"); err != nil || av != xta.Available {
		t.Errorf("lookupService(hub) = %v, %v", av, err)
	}
	if av, err := fv.LookupService(ctx, "ags:99999999", "", "urn:svc"); err != nil || av != xta.NotAvailable {
		t.Errorf("lookupService(unknown) = %v, %v", av, err)
	}
	id, err := fv.CreateMessageID(ctx)
	if err != nil || !strings.HasPrefix(id, "urn:de:xta:messageid:dxhub:") || len(id) > 100 {
		t.Fatalf("createMessageId = %q, %v", id, err)
	}
	meta := sampleMeta(id, readerKey, hubKey)
	meta.Delivery = time.Time{}
	contents := []xta.Content{content([]byte("<antwort/>"), "application/xml", "a.xml")}
	if err := fv.SendMessage(ctx, meta, contents); err != nil {
		t.Fatalf("sendMessage: %v", err)
	}
	if err := fv.SendMessage(ctx, meta, contents); faultCode(t, err) != xta.CodeMessageIDUsed {
		t.Errorf("second sendMessage: %v, want 9024", err)
	}
	rep, err := fv.GetTransportReport(ctx, id)
	if err != nil {
		t.Fatalf("getTransportReport: %v", err)
	}
	if rep.Status() != xta.StatusGreen || !rep.Meta.InitialSend.Equal(now) || !rep.Meta.Delivery.Equal(now) || rep.Meta.MessageID != id {
		t.Errorf("report = status %d, %+v", rep.Status(), rep.Meta)
	}
	if _, err := fv.GetTransportReport(ctx, "urn:de:xta:messageid:x:unknown"); faultCode(t, err) != xta.CodeUnknownMessageID {
		t.Errorf("unknown report: %v", err)
	}
	// Someone else's message is unknown to this account.
	other := xtatest.New(h.url, hubKey, nil).XTA()
	if _, err := other.GetTransportReport(ctx, id); faultCode(t, err) != xta.CodeUnknownMessageID {
		t.Errorf("foreign report: %v", err)
	}

	// cancelMessage: 9101 without NotBefore, success before it, 9100 after.
	if err := fv.CancelMessage(ctx, id); faultCode(t, err) != xta.CodeNotBeforeNotSet {
		t.Errorf("cancel without NotBefore: %v", err)
	}
	later := sampleMeta("urn:de:xta:messageid:fv:later", readerKey, hubKey)
	later.Delivery = time.Time{}
	later.NotBefore = now.Add(time.Hour)
	if err := fv.SendMessage(ctx, later, contents); err != nil {
		t.Fatal(err)
	}
	if r, err := fv.GetTransportReport(ctx, later.MessageID); err != nil || r.Status() != xta.StatusOpen {
		t.Errorf("report before NotBefore: %v, %v", r, err)
	}
	late2 := later
	late2.MessageID = "urn:de:xta:messageid:fv:later2"
	if err := fv.SendMessage(ctx, late2, contents); err != nil {
		t.Fatal(err)
	}
	if err := fv.CancelMessage(ctx, later.MessageID); err != nil {
		t.Fatalf("cancel before NotBefore: %v", err)
	}
	if r, err := fv.GetTransportReport(ctx, later.MessageID); err != nil || r.Status() != xta.StatusRed {
		t.Errorf("report after cancel: %+v, %v", r, err)
	}
	now = now.Add(2 * time.Hour)
	if err := fv.CancelMessage(ctx, late2.MessageID); faultCode(t, err) != xta.CodeNotBeforePassed {
		t.Errorf("cancel after NotBefore: %v", err)
	}

	// sendMessageSync: a MemoryBackend is async only.
	syncMeta := sampleMeta("urn:de:xta:messageid:fv:sync", readerKey, hubKey)
	if _, err := fv.SendMessageSync(ctx, syncMeta, contents, nil); faultCode(t, err) != xta.CodeServiceOnlyAsync {
		t.Errorf("sendMessageSync on async server: %v", err)
	}
	// A backend that needs sync for sendMessage answers 9081.
	h.backend.Fail = func(op string) error {
		if op == "Receive" {
			return xta.ErrSyncOnly
		}
		return nil
	}
	if err := fv.SendMessage(ctx, sampleMeta("urn:de:xta:messageid:fv:s2", readerKey, hubKey), contents); faultCode(t, err) != xta.CodeServiceOnlySync {
		t.Errorf("sendMessage to sync-only service: %v", err)
	}
	h.backend.Fail = nil
}

func TestSendMessageSync(t *testing.T) {
	mem := xtatest.NewMemoryBackend(readerKey, hubKey)
	sb := &xtatest.SyncMemoryBackend{MemoryBackend: mem, Answer: func(in xtatest.Received) (*xta.OutboundMessage, error) {
		m := sampleMeta("urn:de:xta:messageid:dxhub:answer", hubKey, in.Meta.AuthorKey)
		m.InReplyTo = []string{in.Meta.MessageID}
		reply := append([]byte("echo:"), in.Message.Data...)
		return &xta.OutboundMessage{Meta: m, Message: content(reply, "application/xml", "answer.xml")}, nil
	}}
	url := startServer(t, sb, nil)
	for _, mtom := range []bool{false, true} {
		c := &xta.Client{Endpoints: xta.EndpointsAt(url), Author: readerKey, MTOM: mtom}
		var got []byte
		meta := sampleMeta("urn:de:xta:messageid:fv:sync-"+map[bool]string{true: "mtom", false: "inline"}[mtom], readerKey, hubKey)
		answer, err := c.SendMessageSync(context.Background(), meta, []xta.Content{content([]byte("<q/>"), "application/xml", "q.xml")},
			func(i int, h xta.ContentHeader, r io.Reader) error {
				var err error
				got, err = io.ReadAll(r)
				return err
			})
		if err != nil {
			t.Fatalf("mtom=%v: sendMessageSync: %v", mtom, err)
		}
		if string(got) != "echo:<q/>" || answer.InReplyTo[0] != meta.MessageID {
			t.Errorf("mtom=%v: answer %q, %+v", mtom, got, answer)
		}
	}
}

func TestMsgBoxIteration(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	var ids []string
	for i := 0; i < 5; i++ {
		id := "urn:de:xta:messageid:dxhub:it-" + string(rune('a'+i))
		ids = append(ids, id)
		m := sampleMeta(id, hubKey, readerKey)
		m.Delivery = fixedNow.Add(time.Duration(i) * time.Minute)
		if i == 4 {
			m.InReplyTo = []string{"urn:de:xta:messageid:fv:question"}
		}
		h.backend.Deliver(m, xtatest.Blob{ContentType: "application/xml", Data: []byte("<m" + string(rune('a'+i)) + "/>")})
	}
	c := xtatest.New(h.url, readerKey, nil).XTA()
	page, err := c.GetStatusList(ctx, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Metas) != 2 || page.Pending != 3 || page.Metas[0].MessageID != ids[0] || page.RequestID == "" {
		t.Fatalf("first page: %+v", page)
	}
	p2, err := c.GetNextStatusList(ctx, page.RequestID)
	if err != nil || len(p2.Metas) != 2 || p2.Pending != 1 || p2.Metas[0].MessageID != ids[2] || p2.RequestID != page.RequestID {
		t.Fatalf("second page: %+v, %v", p2, err)
	}
	p3, _ := c.GetNextStatusList(ctx, page.RequestID)
	if len(p3.Metas) != 1 || p3.Pending != 0 {
		t.Fatalf("third page: %+v", p3)
	}
	p4, _ := c.GetNextStatusList(ctx, page.RequestID)
	if len(p4.Metas) != 0 || p4.NoMessageReason != xta.MsgBoxReasonNoMatch {
		t.Errorf("exhausted: %+v", p4)
	}
	if p, err := c.GetNextStatusList(ctx, "urn:uuid:unknown"); err != nil || p.NoMessageReason != xta.MsgBoxReasonRequestIDInvalid {
		t.Errorf("unknown request ID: %+v, %v", p, err)
	}
	// Another reader cannot continue this iteration.
	if p, _ := xtatest.New(h.url, hubKey, nil).XTA().GetNextStatusList(ctx, page.RequestID); p.NoMessageReason != xta.MsgBoxReasonRequestIDInvalid {
		t.Errorf("foreign request ID: %+v", p)
	}

	// Selectors: time window and RelatesTo.
	sel := &xta.Selector{From: fixedNow.Add(time.Minute), To: fixedNow.Add(2 * time.Minute)}
	if p, _ := c.GetStatusList(ctx, 10, sel); len(p.Metas) != 2 || p.Metas[0].MessageID != ids[1] {
		t.Errorf("time window: %+v", p)
	}
	if p, _ := c.GetStatusList(ctx, 10, &xta.Selector{RelatesTo: []string{"urn:de:xta:messageid:fv:question"}}); len(p.Metas) != 1 || p.Metas[0].MessageID != ids[4] {
		t.Errorf("RelatesTo: %+v", p)
	}

	// getNextMessage walks the mailbox, acknowledging with LastMsgReceived.
	var seen []string
	sink := func(i int, h xta.ContentHeader, r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }
	res, err := c.GetNextMessage(ctx, page.RequestID, sink) // iteration is exhausted
	if faultCode(t, err) != xta.CodeUnknownMessageID {
		t.Errorf("getNextMessage on exhausted iteration: %v", err)
	}
	no := false
	res, err = c.GetNextMessage(ctx, "urn:uuid:unknown", sink)
	if faultCode(t, err) != xta.CodeUnknownMessageID {
		t.Errorf("getNextMessage unknown request: %v", err)
	}
	first, err := c.GetStatusList(ctx, 1, &xta.Selector{NewEntry: &no})
	if err != nil || len(first.Metas) != 0 {
		t.Fatalf("fetched-only list before any close: %+v %v", first, err)
	}
	page, _ = c.GetStatusList(ctx, 1, nil)
	last := ""
	for {
		var recv []string
		if last != "" {
			recv = []string{last}
		}
		res, err = c.GetNextMessage(ctx, page.RequestID, sink, recv...)
		if err != nil {
			break
		}
		seen = append(seen, res.Meta.MessageID)
		last = res.Meta.MessageID
	}
	if faultCode(t, err) != xta.CodeUnknownMessageID {
		t.Errorf("end of getNextMessage: %v", err)
	}
	// The first page item was listed, getNextMessage continues after it.
	if strings.Join(seen, ",") != strings.Join(ids[1:], ",") {
		t.Errorf("getNextMessage order %v, want %v", seen, ids[1:])
	}
	for _, id := range ids[1:] {
		if !h.backend.Closed(readerKey, id) {
			t.Errorf("%s not closed by LastMsgReceived", id)
		}
	}
	if p, _ := c.GetStatusList(ctx, 10, &xta.Selector{NewEntry: &no}); len(p.Metas) != 4 {
		t.Errorf("fetched-only list: %d items", len(p.Metas))
	}
	// getMessage with a selector (no ID) returns the first match.
	r, err := c.GetMessage(ctx, "", sink)
	if err == nil {
		t.Errorf("getMessage with empty ID succeeded: %+v", r)
	}
}

// startServer runs an XTA server over b on 127.0.0.1 and returns its base URL.
func startServer(tb testing.TB, b xta.Backend, mutate func(*xta.Config)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := xta.Config{WSDLDir: filepath.Join(testenv.MustStandardsDir(tb), "xta2-v3"), BaseURL: base, SpoolDir: tb.TempDir()}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := xta.NewServer(b, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux)
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	ts.Start()
	tb.Cleanup(ts.Close)
	return base
}
