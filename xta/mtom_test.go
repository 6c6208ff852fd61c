package xta_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dxhub/dxhub/xta"
	"github.com/dxhub/dxhub/xta/xtatest"
)

// TestMTOMBothDirections sends with MTOM (the server spools the parts) and
// fetches with MTOM (the server mirrors the request packaging), and checks
// that forcing Config.MTOM answers a plain request with MTOM too.
func TestMTOMBothDirections(t *testing.T) {
	for _, forced := range []bool{false, true} {
		h := newHarness(t, func(c *xta.Config) { c.MTOM = forced })
		ctx := context.Background()
		pdf := randomBytes(t, 3<<20+17)
		fv := xtatest.New(h.url, readerKey, nil)
		fv.MTOM = !forced
		fv.AttachmentDir = t.TempDir()
		meta := sampleMeta("urn:de:xta:messageid:fv:mtom", readerKey, hubKey)
		if err := fv.SendMessage(ctx, meta, []byte("<antwort/>"), content(pdf, "application/pdf", "bescheid.pdf")); err != nil {
			t.Fatalf("forced=%v: MTOM sendMessage: %v", forced, err)
		}
		got := h.backend.Received()
		if len(got) != 1 || string(got[0].Message.Data) != "<antwort/>" || !bytes.Equal(got[0].Attachments[0].Data, pdf) {
			t.Fatalf("forced=%v: received %d messages", forced, len(got))
		}
		id := "urn:de:xta:messageid:dxhub:mtom-out"
		h.backend.Deliver(sampleMeta(id, hubKey, readerKey), xtatest.Blob{ContentType: "application/xml", Data: []byte("<a/>")},
			xtatest.Blob{ContentType: "application/pdf", Filename: "plan.pdf", Data: pdf})
		m, err := fv.GetMessage(ctx, id)
		if err != nil {
			t.Fatalf("forced=%v: MTOM getMessage: %v", forced, err)
		}
		if string(m.Message) != "<a/>" || len(m.Attachments) != 1 || m.Attachments[0].SHA256 != sha(pdf) {
			t.Errorf("forced=%v: fetched %q, %+v", forced, m.Message, m.Attachments)
		}
	}
}

func TestMTOMResponseIsMultipart(t *testing.T) {
	h := newHarness(t, func(c *xta.Config) { c.MTOM = true })
	id := "urn:de:xta:messageid:dxhub:raw-mtom"
	h.backend.Deliver(sampleMeta(id, hubKey, readerKey), xtatest.Blob{ContentType: "application/xml", Data: []byte("<a/>")})
	resp := post(t, h.url+xta.PathMsgBox, "application/soap+xml", "", request(xta.ActionGetMessage, readerKey,
		`<osci:MsgBoxFetchRequest><osci:MsgSelector><wsa:MessageID>`+id+`</wsa:MessageID></osci:MsgSelector></osci:MsgBoxFetchRequest>`))
	if !strings.HasPrefix(resp.ctype, `multipart/related; type="application/xop+xml"`) || !strings.Contains(resp.body, "<xop:Include") ||
		!strings.Contains(resp.body, "\r\n\r\n<a/>\r\n--") {
		t.Errorf("response %s:\n%s", resp.ctype, resp.body)
	}
}

// TestMTOMErrors checks packaging errors are clear faults.
func TestMTOMErrors(t *testing.T) {
	h := newHarness(t, nil)
	env := request(xta.ActionCheckAccountActive, readerKey, "")
	root := "--b\r\nContent-Type: application/xop+xml; type=\"application/soap+xml\"\r\nContent-ID: <root>\r\n\r\n"
	for name, tc := range map[string]struct{ ct, body, want string }{
		"no type":       {`multipart/related; boundary=b`, root + env + "\r\n--b--\r\n", "type"},
		"wrong root":    {`multipart/related; type="application/xop+xml"; boundary=b`, "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n", "root part"},
		"no parts":      {`multipart/related; type="application/xop+xml"; boundary=b`, "garbage", "root part"},
		"unreferenced":  {`multipart/related; type="application/xop+xml"; boundary=b`, root + env + "\r\n--b\r\nContent-ID: <x>\r\n\r\nzz\r\n--b--\r\n", "not referenced"},
		"start differs": {`multipart/related; type="application/xop+xml"; boundary=b; start="<other>"`, root + env + "\r\n--b--\r\n", "start part"},
	} {
		resp := post(t, h.url+xta.PathManagement, tc.ct, "", tc.body)
		if resp.status != http.StatusBadRequest || !strings.Contains(resp.body, tc.want) {
			t.Errorf("%s: %d %s", name, resp.status, resp.body)
		}
	}
}

// fileBackend serves one message whose attachment is read from a file, so
// the test's own heap holds no payload.
type fileBackend struct {
	*xtatest.MemoryBackend
	path string
	size int64
}

func (b *fileBackend) Fetch(ctx context.Context, reader, id string) (*xta.OutboundMessage, error) {
	return &xta.OutboundMessage{
		Meta:    sampleMeta(id, hubKey, reader),
		Message: content([]byte("<a/>"), "application/xml", "a.xml"),
		Attachments: []xta.Content{{ContentType: "application/octet-stream", Filename: "big.bin", Size: b.size,
			Open: func() (io.ReadCloser, error) { return os.Open(b.path) }}},
	}, nil
}

// heapPeak samples HeapAlloc while fn runs and returns the peak increase
// over the heap before fn (after a GC).
func heapPeak(fn func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			default:
			}
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			runtime.Gosched()
		}
	}()
	fn()
	close(done)
	wg.Wait()
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}

// TestLargeAttachmentBoundedHeap moves a 40 MB attachment server → Fachverfahren
// client (in one process: server and client heap together), inline and MTOM,
// and checks the peak heap growth stays far below the payload size.
func TestLargeAttachmentBoundedHeap(t *testing.T) {
	const size = 40 << 20
	dir := t.TempDir()
	path := filepath.Join(dir, "big.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	hash := sha256.New()
	chunk := randomBytes(t, 1<<20)
	for i := 0; i < size>>20; i++ {
		chunk[0] = byte(i)
		_, _ = f.Write(chunk)
		hash.Write(chunk)
	}
	f.Close()
	want := hex.EncodeToString(hash.Sum(nil))
	b := &fileBackend{MemoryBackend: xtatest.NewMemoryBackend(readerKey), path: path, size: size}
	url := startServer(t, b, nil)
	for _, mtom := range []bool{false, true} {
		fv := xtatest.New(url, readerKey, nil)
		fv.MTOM = mtom
		fv.AttachmentDir = t.TempDir()
		var m *xtatest.FetchedMessage
		var ferr error
		peak := heapPeak(func() { m, ferr = fv.GetMessage(context.Background(), "urn:de:xta:messageid:dxhub:big") })
		if ferr != nil {
			t.Fatalf("mtom=%v: %v", mtom, ferr)
		}
		if m.Attachments[0].Bytes != size || m.Attachments[0].SHA256 != want {
			t.Fatalf("mtom=%v: got %d bytes sha %s", mtom, m.Attachments[0].Bytes, m.Attachments[0].SHA256)
		}
		t.Logf("40 MB getMessage (mtom=%v): peak heap growth %.1f MiB (server + client in one process)", mtom, float64(peak)/(1<<20))
		if peak > 12<<20 {
			t.Errorf("mtom=%v: peak heap growth %d bytes for a %d-byte attachment", mtom, peak, size)
		}
	}
}
