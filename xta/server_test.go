package xta_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/testenv"
	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

const (
	readerKey = "ags:05315000"
	hubKey    = "dvdv:dxhub"
)

var fixedNow = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

type harness struct {
	url     string
	backend *xtatest.MemoryBackend
	server  *xta.Server
}

func newHarness(tb testing.TB, mutate func(*xta.Config)) *harness {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	backend := xtatest.NewMemoryBackend(readerKey, hubKey)
	cfg := xta.Config{
		WSDLDir:  filepath.Join(testenv.MustStandardsDir(tb), "xta2-v3"),
		BaseURL:  base,
		SpoolDir: tb.TempDir(),
		Now:      func() time.Time { return fixedNow },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := xta.NewServer(backend, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Mount(mux)
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	ts.Start()
	tb.Cleanup(ts.Close)
	return &harness{url: base, backend: backend, server: srv}
}

func sampleMeta(id, author, reader string) xta.MessageMeta {
	return xta.MessageMeta{
		MessageID:        id,
		AuthorKey:        author,
		ReaderKey:        reader,
		Service:          "urn:xoev-de:xbau:standard:xbau_2.6/xbau-anzeige.wsdl",
		BusinessScenario: xta.Code{Code: "XBAU_DATA"},
		MessageType:      xta.Code{Code: "baugenehmigung.antrag.0200", Name: "Bauantrag"},
		PayloadSchema:    "http://www.xleitstelle.de/xbau/2/6",
		Delivery:         fixedNow,
	}
}

func randomBytes(tb testing.TB, n int) []byte {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func faultCode(t *testing.T, err error) int {
	t.Helper()
	var f *xta.Fault
	if !errors.As(err, &f) {
		t.Fatalf("error %v is not an *xta.Fault", err)
	}
	return f.Code
}

func TestLeserCycle(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	pdf := randomBytes(t, 5<<20+123)
	msgXML := []byte(`<?xml version="1.0" encoding="UTF-8"?><xbau:baugenehmigung.antrag.0200 xmlns:xbau="http://www.xleitstelle.de/xbau/2/6"/>`)
	id := "urn:de:xta:messageid:dxhub:6f1c2d3e-0000-4000-8000-000000000001"
	h.backend.Deliver(sampleMeta(id, hubKey, readerKey),
		xtatest.Blob{ContentType: "application/xml", Filename: "antrag.xml", Data: msgXML},
		xtatest.Blob{ContentType: "application/pdf", Filename: "lageplan.pdf", Data: pdf},
		xtatest.Blob{ContentType: "text/plain", Filename: "notiz.txt", Data: []byte("Hinweis: äöü")},
	)
	c := xtatest.New(h.url, readerKey, nil)
	c.AttachmentDir = t.TempDir()

	if err := c.CheckAccountActive(ctx); err != nil {
		t.Fatalf("CheckAccountActive: %v", err)
	}
	list, err := c.GetStatusList(ctx, 10)
	if err != nil {
		t.Fatalf("GetStatusList: %v", err)
	}
	if len(list) != 1 || list[0].MessageID != id {
		t.Fatalf("status list = %+v, want the one message", list)
	}
	got := list[0]
	if got.AuthorKey != hubKey || got.ReaderKey != readerKey || got.MessageType.Code != "baugenehmigung.antrag.0200" ||
		got.PayloadSchema != "http://www.xleitstelle.de/xbau/2/6" || !got.Delivery.Equal(fixedNow) ||
		got.Size != int64(len(msgXML)+len(pdf)+len("Hinweis: äöü")) {
		t.Errorf("status list meta = %+v", got)
	}

	fm, err := c.GetMessage(ctx, id)
	if err != nil {
		t.Fatalf("GetMessage: %v", err)
	}
	if !bytes.Equal(fm.Message, msgXML) {
		t.Errorf("message = %q, want %q", fm.Message, msgXML)
	}
	if fm.MessageInfo.ContentType != "application/xml" || fm.MessageInfo.Filename != "antrag.xml" || fm.MessageInfo.Size != int64(len(msgXML)) {
		t.Errorf("message info = %+v", fm.MessageInfo)
	}
	if len(fm.Attachments) != 2 {
		t.Fatalf("attachments = %d, want 2", len(fm.Attachments))
	}
	a := fm.Attachments[0]
	if a.SHA256 != sha(pdf) || a.Bytes != int64(len(pdf)) || a.ContentType != "application/pdf" || a.Filename != "lageplan.pdf" || a.Size != int64(len(pdf)) {
		t.Errorf("pdf attachment = %+v, want sha %s size %d", a, sha(pdf), len(pdf))
	}
	onDisk, err := os.ReadFile(a.Path)
	if err != nil || sha(onDisk) != sha(pdf) {
		t.Errorf("attachment file %s does not hold the pdf (err %v)", a.Path, err)
	}
	if b, _ := os.ReadFile(fm.Attachments[1].Path); string(b) != "Hinweis: äöü" {
		t.Errorf("text attachment = %q", b)
	}
	if fm.Meta.MessageID != id {
		t.Errorf("fetched meta id = %q", fm.Meta.MessageID)
	}
	if h.backend.Closed(readerKey, id) {
		t.Fatal("getMessage must not close the message")
	}

	if err := c.Close(ctx, id); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !h.backend.Closed(readerKey, id) {
		t.Error("message not closed in backend")
	}
	if err := c.Close(ctx, id); err != nil {
		t.Errorf("second Close must be idempotent: %v", err)
	}
	list, err = c.GetStatusList(ctx, 10)
	if err != nil {
		t.Fatalf("GetStatusList after close: %v", err)
	}
	if len(list) != 0 {
		t.Errorf("status list after close = %d entries, want 0", len(list))
	}
	// A closed message can still be fetched again (at-least-once readers).
	if _, err := c.GetMessage(ctx, id); err != nil {
		t.Errorf("re-fetch after close: %v", err)
	}
}

func TestFaults(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	stranger := xtatest.New(h.url, "ags:99999999", nil)
	reader := xtatest.New(h.url, readerKey, nil)
	reader.AttachmentDir = t.TempDir()
	tests := []struct {
		name string
		call func() error
		want int
	}{
		{"unknown account checkAccountActive", func() error { return stranger.CheckAccountActive(ctx) }, xta.CodeAccountMissing},
		{"unknown account getStatusList", func() error { _, err := stranger.GetStatusList(ctx, 5); return err }, xta.CodeAccountMissing},
		{"unknown account close", func() error { return stranger.Close(ctx, "urn:x") }, xta.CodeAccountMissing},
		{"unknown id getMessage", func() error { _, err := reader.GetMessage(ctx, "urn:de:xta:messageid:x:nope"); return err }, xta.CodeUnknownMessageID},
		{"unknown id close", func() error { return reader.Close(ctx, "urn:de:xta:messageid:x:nope") }, xta.CodeUnknownMessageID},
		{"unknown account sendMessage", func() error {
			return stranger.SendMessage(ctx, sampleMeta("urn:de:xta:messageid:x:1", "", hubKey), []byte("<a/>"))
		}, xta.CodeAccountMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			if got := faultCode(t, err); got != tt.want {
				t.Errorf("Fehlernummer = %d, want %d (%v)", got, tt.want, err)
			}
		})
	}
	t.Run("backend error is 9030 and retryable", func(t *testing.T) {
		h.backend.Fail = func(op string) error {
			if op == "StatusList" {
				return errors.New("disk on fire")
			}
			return nil
		}
		defer func() { h.backend.Fail = nil }()
		_, err := reader.GetStatusList(ctx, 5)
		var f *xta.Fault
		if !errors.As(err, &f) || f.Code != xta.CodeInternalError || !f.Retryable() || f.Exception != xta.ExcTechnicalProblem {
			t.Fatalf("err = %v, want retryable 9030 XTAWSTechnicalProblemException", err)
		}
		if strings.Contains(f.Reason, "disk on fire") {
			t.Errorf("internal error text leaked to the client: %q", f.Reason)
		}
	})
}

func TestStatusListMaxItems(t *testing.T) {
	h := newHarness(t, nil)
	for i := range 5 {
		h.backend.Deliver(sampleMeta(fmt.Sprintf("urn:de:xta:messageid:dxhub:%d", i), hubKey, readerKey),
			xtatest.Blob{ContentType: "application/xml", Data: []byte("<a/>")})
	}
	c := xtatest.New(h.url, readerKey, nil)
	list, err := c.GetStatusList(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].MessageID != "urn:de:xta:messageid:dxhub:0" || list[1].MessageID != "urn:de:xta:messageid:dxhub:1" {
		t.Fatalf("list = %+v", list)
	}
	resp := post(t, h.url+xta.PathMsgBox, "application/soap+xml; charset=utf-8", "", request(xta.ActionGetStatusList, readerKey,
		`<osci:MsgBoxStatusListRequest maxListItems="2" ListForm="MessageMetaData"/>`))
	if !strings.Contains(resp.body, `<osci:ItemsPending>3</osci:ItemsPending>`) {
		t.Errorf("ItemsPending 3 missing:\n%s", resp.body)
	}
	other := newHarness(t, nil)
	resp = post(t, other.url+xta.PathMsgBox, "application/soap+xml", "", request(xta.ActionGetStatusList, readerKey,
		`<osci:MsgBoxStatusListRequest maxListItems="2"/>`))
	if !strings.Contains(resp.body, `<osci:NoMessageAvailable reason="http://www.osci.eu/ws/2008/05/transport/MsgBox/reasons/NoMatch"/>`) {
		t.Errorf("empty box must say NoMessageAvailable/NoMatch:\n%s", resp.body)
	}
}

func TestSendMessage(t *testing.T) {
	spool := t.TempDir()
	h := newHarness(t, func(c *xta.Config) { c.SpoolDir = spool })
	ctx := context.Background()
	c := xtatest.New(h.url, readerKey, nil)
	att := randomBytes(t, 1<<20+7)
	meta := sampleMeta("urn:de:xta:messageid:fv:0f0e0d0c-1111-4222-8333-444455556666", readerKey, hubKey)
	meta.InReplyTo = []string{"urn:de:xta:messageid:dxhub:6f1c2d3e-0000-4000-8000-000000000001"}
	meta.MessageType = xta.Code{Code: "baugenehmigung.eingangsbestaetigung.0201"}
	receipt := []byte(`<?xml version="1.0"?><r:quittung xmlns:r="urn:x">ok &amp; fine</r:quittung>`)
	err := c.SendMessage(ctx, meta, receipt, xta.Content{
		ContentType: "application/pdf", Filename: "bescheid.pdf", Size: int64(len(att)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(att)), nil },
	})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	got := h.backend.Received()
	if len(got) != 1 {
		t.Fatalf("received %d messages, want 1", len(got))
	}
	r := got[0]
	if r.Meta.MessageID != meta.MessageID || r.Meta.AuthorKey != readerKey || r.Meta.ReaderKey != hubKey ||
		r.Meta.Service != meta.Service || r.Meta.MessageType.Code != "baugenehmigung.eingangsbestaetigung.0201" ||
		len(r.Meta.InReplyTo) != 1 || r.Meta.InReplyTo[0] != meta.InReplyTo[0] {
		t.Errorf("received meta = %+v", r.Meta)
	}
	if !bytes.Equal(r.Message.Data, receipt) || r.Message.ContentType != "application/xml" {
		t.Errorf("received message = %q (%s)", r.Message.Data, r.Message.ContentType)
	}
	if len(r.Attachments) != 1 || sha(r.Attachments[0].Data) != sha(att) || r.Attachments[0].Filename != "bescheid.pdf" {
		t.Errorf("received attachment wrong")
	}
	err = c.SendMessage(ctx, meta, receipt)
	if err == nil || faultCode(t, err) != xta.CodeMessageIDUsed {
		t.Fatalf("duplicate send: err = %v, want 9024", err)
	}
	if n := len(h.backend.Received()); n != 1 {
		t.Errorf("duplicate stored: %d messages", n)
	}
	entries, _ := os.ReadDir(spool)
	if len(entries) != 0 {
		t.Errorf("spool files left behind: %d", len(entries))
	}
}

func TestSendMessageSizeLimit(t *testing.T) {
	h := newHarness(t, func(c *xta.Config) { c.MaxRequestBytes = 64 << 10 })
	c := xtatest.New(h.url, readerKey, nil)
	big := randomBytes(t, 100<<10)
	err := c.SendMessage(context.Background(), sampleMeta("urn:de:xta:messageid:fv:big", readerKey, hubKey), []byte("<a/>"), xta.Content{
		ContentType: "application/octet-stream", Size: int64(len(big)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(big)), nil },
	})
	if err == nil || faultCode(t, err) != xta.CodeSizeLimitExceeded {
		t.Fatalf("err = %v, want 9023", err)
	}
	if len(h.backend.Received()) != 0 {
		t.Error("oversized message was stored")
	}
}
