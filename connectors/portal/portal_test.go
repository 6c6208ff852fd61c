package portal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/blob"
	"github.com/dxhub/dxhub/routing"
)

var testNow = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

const (
	keyA = "key-a-0123456789"
	keyB = "key-b-9876543210"
)

// testOptions are small limits so every limit can be hit with tiny bodies.
func testOptions() Options {
	return Options{
		BaseURL: "https://hub.example.org/",
		Portals: []Portal{
			{ID: "portal-a", APIKey: keyA, Tenants: []string{"05315000", "09162000"}},
			{ID: "portal-b", APIKey: keyB, Tenants: []string{"05315000", "11000000"}},
		},
		Tenants:            []string{"05315000", "09162000", "11000000"},
		Services:           []string{"xbau-bauantrag", "xinneres-meldebescheinigung"},
		MaxBodyBytes:       64 << 10,
		MaxJSONBytes:       16 << 10,
		MaxAttachmentBytes: 1 << 10,
		MaxAttachments:     2,
		MaxJSONDepth:       8,
		Now:                func() time.Time { return testNow },
		Logger:             discardLogger(),
	}
}

type env struct {
	t        testing.TB
	h        *Handler
	srv      *httptest.Server
	store    *fakeStore
	blobs    *blob.Store
	accepted chan string
}

func newEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	bs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: newFakeStore(), blobs: bs, accepted: make(chan string, 100)}
	var n atomic.Int64
	opts := testOptions()
	opts.NewID = func() string { return fmt.Sprintf("id-%04d", n.Add(1)) }
	opts.OnAccepted = func(id string) { e.accepted <- id }
	if mod != nil {
		mod(&opts)
	}
	e.h, err = New(e.store, bs, opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.h.Register(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// request sends one request; key "" sends no Authorization header.
func (e *env) request(method, path, key string, body io.Reader, ctype string, hdr map[string]string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (e *env) postJSON(key string, body []byte, hdr map[string]string) *http.Response {
	e.t.Helper()
	return e.request(http.MethodPost, "/v1/submissions", key, bytes.NewReader(body), "application/json", hdr)
}

func readAll(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeProblem(t testing.TB, resp *http.Response) Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p Problem
	b := readAll(t, resp)
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("problem body %s: %v", b, err)
	}
	if p.Type != ProblemTypePrefix+p.Code || p.Status != resp.StatusCode || p.Title == "" || p.Detail == "" {
		t.Fatalf("inconsistent problem (HTTP %d): %s", resp.StatusCode, b)
	}
	return p
}

// blobFiles lists every regular file under the blob directory (tmp included).
func (e *env) blobFiles() []string {
	e.t.Helper()
	var out []string
	err := filepath.WalkDir(e.blobs.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func validDoc() map[string]any {
	return map[string]any{
		"tenant":    "05315000",
		"service":   "xbau-bauantrag",
		"reference": "PORTAL-2025-0001",
		"applicant": map[string]any{
			"mailbox": "bk-7f3a9c",
			"name":    "Erika Mustermann",
			"address": map[string]any{
				"street": "Heidestraße", "houseNumber": "17", "postalCode": "51147", "city": "Köln", "country": "DE",
			},
			"email": "erika@example.org",
		},
		"form": map[string]any{"vorhaben": "Errichtung eines Carports", "flurstueck": "123/4", "kosten": 12000},
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// with returns validDoc with one top-level member changed (nil deletes it).
func with(key string, v any) map[string]any {
	d := validDoc()
	if v == nil {
		delete(d, key)
	} else {
		d[key] = v
	}
	return d
}

type mpart struct {
	header   textproto.MIMEHeader // complete part header, or nil for name/filename/ctype
	name     string
	filename string
	ctype    string
	body     []byte
}

func buildMultipart(t testing.TB, parts ...mpart) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := p.header
		if h == nil {
			h = textproto.MIMEHeader{}
			cd := fmt.Sprintf(`form-data; name=%q`, p.name)
			if p.filename != "" {
				cd += fmt.Sprintf(`; filename=%q`, p.filename)
			}
			h.Set("Content-Disposition", cd)
			if p.ctype != "" {
				h.Set("Content-Type", p.ctype)
			}
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(p.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

func submissionPart(t testing.TB, doc any) mpart {
	return mpart{name: "submission", ctype: "application/json", body: mustJSON(t, doc)}
}

type acceptedResp struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	StatusURL string `json:"statusUrl"`
}

func expectAccepted(t testing.TB, resp *http.Response) (acceptedResp, []byte) {
	t.Helper()
	b := readAll(t, resp)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, want 202: %s", resp.StatusCode, b)
	}
	var a acceptedResp
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	if a.ID == "" || a.Status != "received" || a.StatusURL != "https://hub.example.org/v1/submissions/"+a.ID {
		t.Fatalf("unexpected 202 body %s", b)
	}
	if loc := resp.Header.Get("Location"); loc != a.StatusURL {
		t.Fatalf("Location = %q, want %q", loc, a.StatusURL)
	}
	return a, b
}

type submissionResp struct {
	ID          string               `json:"id"`
	Tenant      string               `json:"tenant"`
	Service     string               `json:"service"`
	Reference   string               `json:"reference"`
	Status      string               `json:"status"`
	ReceivedAt  time.Time            `json:"receivedAt"`
	UpdatedAt   time.Time            `json:"updatedAt"`
	Attachments []routing.Attachment `json:"attachments"`
	Events      []struct {
		Status   string    `json:"status"`
		Time     time.Time `json:"time"`
		Source   string    `json:"source"`
		Detail   string    `json:"detail"`
		Evidence string    `json:"evidence"`
	} `json:"events"`
}

func (e *env) get(key, id string) (submissionResp, *http.Response) {
	e.t.Helper()
	resp := e.request(http.MethodGet, "/v1/submissions/"+id, key, nil, "", nil)
	var s submissionResp
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(readAll(e.t, resp), &s); err != nil {
			e.t.Fatal(err)
		}
	}
	return s, resp
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestSubmitJSONHappyPath(t *testing.T) {
	e := newEnv(t, nil)
	a, _ := expectAccepted(t, e.postJSON(keyA, mustJSON(t, validDoc()), nil))
	select {
	case id := <-e.accepted:
		if id != a.ID {
			t.Fatalf("OnAccepted(%q), want %q", id, a.ID)
		}
	default:
		t.Fatal("OnAccepted was not called")
	}
	sub, err := e.store.GetSubmission(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sub.PortalID != "portal-a" || sub.Tenant != "05315000" || sub.Service != "xbau-bauantrag" ||
		sub.Reference != "PORTAL-2025-0001" || sub.Applicant.Name != "Erika Mustermann" ||
		sub.Applicant.Address.City != "Köln" || sub.Applicant.Mailbox != "bk-7f3a9c" || !sub.ReceivedAt.Equal(testNow) {
		t.Fatalf("stored submission %+v", sub)
	}
	var form map[string]any
	if err := json.Unmarshal(sub.Form, &form); err != nil || form["vorhaben"] != "Errichtung eines Carports" {
		t.Fatalf("form %s (%v)", sub.Form, err)
	}

	got, resp := e.get(keyA, a.ID)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET status %d", resp.StatusCode)
	}
	if got.ID != a.ID || got.Status != "received" || got.Tenant != "05315000" || got.Reference != "PORTAL-2025-0001" ||
		!got.ReceivedAt.Equal(testNow) || got.Attachments == nil || len(got.Events) != 1 || got.Events[0].Status != "received" ||
		got.Events[0].Source != "hub" {
		t.Fatalf("GET body %+v", got)
	}
}

func TestSubmitJSONInlineAttachments(t *testing.T) {
	e := newEnv(t, nil)
	pdf := []byte("%PDF-1.7 Lageplan \x00\x01\x02 ?>?>?> end")
	png := bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 200) // base64 full of '/' and '+'
	b64png := base64.StdEncoding.EncodeToString(png)
	// A portal that escapes '/' as \/ and wraps base64 lines with \r\n.
	escaped := strings.ReplaceAll(b64png[:76], "/", `\/`) + `\r\n` + strings.ReplaceAll(b64png[76:], "/", `\/`)
	doc := fmt.Sprintf(`{"tenant":"05315000","service":"xbau-bauantrag","reference":"R-1",
		"applicant":{"name":"Max Muster"},"form":{"a":1},
		"attachments":[
		  {"filename":"C:\\Users\\max\\Lageplan.pdf","contentType":"Application/PDF","content":%q},
		  {"filename":"foto\u202egnp.exe","content":"%s"}]}`,
		base64.StdEncoding.EncodeToString(pdf), escaped)
	a, _ := expectAccepted(t, e.postJSON(keyA, []byte(doc), nil))
	got, _ := e.get(keyA, a.ID)
	if len(got.Attachments) != 2 {
		t.Fatalf("attachments %+v", got.Attachments)
	}
	want := []struct {
		name, ctype string
		data        []byte
	}{{"Lageplan.pdf", "application/pdf", pdf}, {"fotognp.exe", "application/octet-stream", png}}
	sub, _ := e.store.GetSubmission(context.Background(), a.ID)
	for i, w := range want {
		at := got.Attachments[i]
		if at.Filename != w.name || at.ContentType != w.ctype || at.Size != int64(len(w.data)) || at.SHA256 != sha(w.data) || at.ID == "" {
			t.Errorf("attachment %d = %+v, want %s %s %d %s", i, at, w.name, w.ctype, len(w.data), sha(w.data))
		}
		f, err := e.blobs.Open(sub.Attachments[i].BlobKey)
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := io.ReadAll(f)
		f.Close()
		if !bytes.Equal(stored, w.data) {
			t.Errorf("blob %d differs from the sent bytes", i)
		}
	}
}

// streamSignal wraps the blob store and closes reached once a Put has read
// threshold bytes, proving the handler streams while the client still sends.
type streamSignal struct {
	*blob.Store
	threshold int64
	reached   chan struct{}
	once      sync.Once
}

func (s *streamSignal) Put(ctx context.Context, r io.Reader, limit int64) (blob.Ref, error) {
	return s.Store.Put(ctx, &countReader{r: r, fn: func(n int64) {
		if n >= s.threshold {
			s.once.Do(func() { close(s.reached) })
		}
	}}, limit)
}

type countReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.fn(c.n)
	return n, err
}

func TestSubmitMultipartStreamsLargeAttachment(t *testing.T) {
	bs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sig := &streamSignal{Store: bs, threshold: 1 << 20, reached: make(chan struct{})}
	store := newFakeStore()
	opts := testOptions()
	opts.MaxBodyBytes, opts.MaxAttachmentBytes = 32<<20, 16<<20
	h, err := New(store, sig, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	const size = 5<<20 + 123
	data := make([]byte, size)
	rng := rand.New(rand.NewChaCha8([32]byte{1, 2, 3}))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			w, err := mw.CreateFormField("submission")
			if err != nil {
				return err
			}
			if err := json.NewEncoder(w).Encode(validDoc()); err != nil {
				return err
			}
			fw, err := mw.CreateFormFile("bauzeichnung", "Bauzeichnung Ansicht Süd.tif")
			if err != nil {
				return err
			}
			if _, err := fw.Write(data[:2<<20]); err != nil {
				return err
			}
			select { // the handler must be writing the blob before the client has sent it all
			case <-sig.reached:
			case <-time.After(30 * time.Second):
				return errors.New("the handler did not stream the attachment while it was being sent")
			}
			if _, err := fw.Write(data[2<<20:]); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/submissions", pr)
	req.Header.Set("Authorization", "Bearer "+keyA)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a, _ := expectAccepted(t, resp)

	sub, err := store.GetSubmission(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sub.Attachments) != 1 {
		t.Fatalf("attachments %+v", sub.Attachments)
	}
	at := sub.Attachments[0]
	if at.Filename != "Bauzeichnung Ansicht Süd.tif" || at.ContentType != "application/octet-stream" ||
		at.Size != size || at.SHA256 != sha(data) || at.BlobKey != at.SHA256 {
		t.Fatalf("attachment %+v", at)
	}
	f, err := bs.Open(at.BlobKey)
	if err != nil {
		t.Fatalf("blob file missing: %v", err)
	}
	defer f.Close()
	hs := sha256.New()
	if n, err := io.Copy(hs, f); err != nil || n != size || hex.EncodeToString(hs.Sum(nil)) != at.SHA256 {
		t.Fatalf("blob file: %d bytes, err %v", n, err)
	}
	if n := h.tracker.heldKeys(); n != 0 {
		t.Fatalf("%d blob keys still held after the request", n)
	}
}

func TestIdempotentReplay(t *testing.T) {
	e := newEnv(t, nil)
	hdr := map[string]string{"Idempotency-Key": "portal-a:antrag:4711"}
	body, ctype := buildMultipart(t,
		submissionPart(t, validDoc()),
		mpart{name: "f", filename: "a.txt", ctype: "text/plain", body: []byte("Anlage A")})
	post := func(key string, body []byte) *http.Response {
		return e.request(http.MethodPost, "/v1/submissions", key, bytes.NewReader(body), ctype, hdr)
	}
	first := post(keyA, body)
	a1, b1 := expectAccepted(t, first)
	second := post(keyA, body)
	_, b2 := expectAccepted(t, second)
	if !bytes.Equal(b1, b2) {
		t.Fatalf("replay body differs:\n%s\n%s", b1, b2)
	}
	if second.Header.Get("Idempotent-Replayed") != "true" || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("Idempotent-Replayed header not set on the replay only")
	}
	if e.store.count() != 1 || len(e.accepted) != 1 {
		t.Fatalf("%d submissions, %d OnAccepted calls; want 1 and 1", e.store.count(), len(e.accepted))
	}
	// The blob of the original stays: the replay wrote the same content.
	sub, _ := e.store.GetSubmission(context.Background(), a1.ID)
	if _, err := e.blobs.Open(sub.Attachments[0].BlobKey); err != nil {
		t.Fatalf("blob of the original submission is gone: %v", err)
	}

	// A retry that re-encodes the same parts gets another random boundary; the
	// canonical multipart hash still recognises it.
	body2, ctype2 := buildMultipart(t,
		submissionPart(t, validDoc()),
		mpart{name: "f", filename: "a.txt", ctype: "text/plain", body: []byte("Anlage A")})
	if ctype2 == ctype {
		t.Fatal("the test expects a new boundary")
	}
	reencoded := e.request(http.MethodPost, "/v1/submissions", keyA, bytes.NewReader(body2), ctype2, hdr)
	if _, b := expectAccepted(t, reencoded); !bytes.Equal(b, b1) {
		t.Fatalf("re-encoded replay body differs:\n%s\n%s", b1, b)
	}
	// Other content in a part is another request.
	body3, ctype3 := buildMultipart(t,
		submissionPart(t, validDoc()),
		mpart{name: "f", filename: "a.txt", ctype: "text/plain", body: []byte("Anlage B")})
	if resp := e.request(http.MethodPost, "/v1/submissions", keyA, bytes.NewReader(body3), ctype3, hdr); resp.StatusCode != http.StatusConflict {
		t.Fatalf("changed attachment: status %d, want 409", resp.StatusCode)
	}

	// The same key from another portal is another portal's key.
	third := post(keyB, body)
	a3, _ := expectAccepted(t, third)
	if a3.ID == a1.ID {
		t.Fatal("portal-b got portal-a's submission")
	}
}

func TestIdempotentReplayJSON(t *testing.T) {
	e := newEnv(t, nil)
	hdr := map[string]string{"Idempotency-Key": "json-1"}
	body := mustJSON(t, validDoc())
	_, b1 := expectAccepted(t, e.postJSON(keyA, body, hdr))
	second := e.postJSON(keyA, body, hdr)
	if _, b2 := expectAccepted(t, second); !bytes.Equal(b1, b2) || second.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay differs:\n%s\n%s", b1, b2)
	}
	// For JSON the hash covers the exact bytes: even white space counts.
	resp := e.postJSON(keyA, append(body, ' '), hdr)
	if p := decodeProblem(t, resp); resp.StatusCode != http.StatusConflict || p.Code != CodeIdempotencyConflict {
		t.Fatalf("status %d %+v", resp.StatusCode, p)
	}
	if e.store.count() != 1 {
		t.Fatalf("%d submissions, want 1", e.store.count())
	}
}

func TestIdempotencyConflictKeepsSharedBlobs(t *testing.T) {
	e := newEnv(t, nil)
	hdr := map[string]string{"Idempotency-Key": "k-1"}
	shared := mpart{name: "f", filename: "shared.txt", body: []byte("shared content")}
	body1, ct1 := buildMultipart(t, submissionPart(t, validDoc()), shared)
	a, _ := expectAccepted(t, e.request(http.MethodPost, "/v1/submissions", keyA, bytes.NewReader(body1), ct1, hdr))
	before := len(e.blobFiles())

	// Same key, different body: one attachment shared with the committed
	// submission, one new. The new one must go, the shared one must stay.
	body2, ct2 := buildMultipart(t, submissionPart(t, validDoc()), shared,
		mpart{name: "g", filename: "new.txt", body: []byte("only in the conflicting request")})
	resp := e.request(http.MethodPost, "/v1/submissions", keyA, bytes.NewReader(body2), ct2, hdr)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("status %d, want 409", resp.StatusCode)
	}
	p := decodeProblem(t, resp)
	if p.Code != CodeIdempotencyConflict || !strings.Contains(p.Detail, `"k-1"`) {
		t.Fatalf("problem %+v", p)
	}
	if after := len(e.blobFiles()); after != before {
		t.Fatalf("%d blob files after the conflict, want %d", after, before)
	}
	sub, _ := e.store.GetSubmission(context.Background(), a.ID)
	if _, err := e.blobs.Open(sub.Attachments[0].BlobKey); err != nil {
		t.Fatalf("shared blob deleted: %v", err)
	}
	if _, err := e.blobs.Open(sha([]byte("only in the conflicting request"))); err == nil {
		t.Fatal("blob of the failed request was not deleted")
	}
}

func TestStoreFailureDeletesBlobsUnlessRetained(t *testing.T) {
	for _, retain := range []bool{false, true} {
		t.Run(fmt.Sprintf("retain=%v", retain), func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.RetainOrphanBlobs = retain })
			e.store.fail = errors.New("disk full")
			body, ct := buildMultipart(t, submissionPart(t, validDoc()), mpart{name: "f", filename: "x.bin", body: []byte("x")})
			resp := e.request(http.MethodPost, "/v1/submissions", keyA, bytes.NewReader(body), ct, nil)
			p := decodeProblem(t, resp)
			if resp.StatusCode != 500 || p.Code != CodeInternal || strings.Contains(p.Detail, "disk full") ||
				!strings.Contains(p.Detail, "reference") {
				t.Fatalf("HTTP %d %+v", resp.StatusCode, p)
			}
			if n := len(e.blobFiles()); (n == 1) != retain {
				t.Fatalf("%d blob files left (retain=%v)", n, retain)
			}
			if len(e.accepted) != 0 {
				t.Fatal("OnAccepted called for a failed submission")
			}
		})
	}
}

type badCase struct {
	name   string
	mod    func(*Options)
	key    string            // API key; "" = no Authorization header
	hdr    map[string]string // extra headers
	body   func(t testing.TB) ([]byte, string)
	status int
	code   string
	detail string
	field  string // expected JSON pointer, if set
}

func jsonBody(v any) func(t testing.TB) ([]byte, string) {
	return func(t testing.TB) ([]byte, string) { return mustJSON(t, v), "application/json" }
}

func rawBody(s, ctype string) func(t testing.TB) ([]byte, string) {
	return func(testing.TB) ([]byte, string) { return []byte(s), ctype }
}

func mpBody(parts ...func(t testing.TB) mpart) func(t testing.TB) ([]byte, string) {
	return func(t testing.TB) ([]byte, string) {
		ps := make([]mpart, len(parts))
		for i, p := range parts {
			ps[i] = p(t)
		}
		return buildMultipart(t, ps...)
	}
}

func subPart(doc any) func(t testing.TB) mpart {
	return func(t testing.TB) mpart { return submissionPart(t, doc) }
}

func filePart(name, filename string, body []byte) func(t testing.TB) mpart {
	return func(testing.TB) mpart { return mpart{name: name, filename: filename, body: body} }
}

func inline(filename, content string) map[string]any {
	return map[string]any{"filename": filename, "content": content}
}

func TestSubmitBadInput(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("z"), n)) }
	withApplicant := func(k string, v any) map[string]any {
		d := validDoc()
		d["applicant"].(map[string]any)[k] = v
		return d
	}
	deepForm := func(n int) string {
		return strings.Repeat(`{"x":`, n) + "1" + strings.Repeat("}", n)
	}
	cases := []badCase{
		{name: "no authorization header", body: jsonBody(validDoc()),
			status: 401, code: CodeUnauthorized, detail: "missing Authorization header"},
		{name: "basic instead of bearer", hdr: map[string]string{"Authorization": "Basic cG9ydGFsOnNlY3JldA=="}, body: jsonBody(validDoc()),
			status: 401, code: CodeUnauthorized, detail: "malformed Authorization header"},
		{name: "bearer without token", hdr: map[string]string{"Authorization": "Bearer "}, body: jsonBody(validDoc()),
			status: 401, code: CodeUnauthorized, detail: "malformed Authorization header"},
		{name: "unknown api key", key: "key-a-0123456780", body: jsonBody(validDoc()),
			status: 401, code: CodeUnauthorized, detail: "API key is not valid"},
		{name: "portal not allowed for tenant", key: keyA, body: jsonBody(with("tenant", "11000000")),
			status: 403, code: CodeForbiddenTenant, detail: "portal portal-a may not submit for tenant 11000000", field: "/tenant"},
		{name: "portal not allowed for tenant, attachment part first", key: keyA,
			body:   mpBody(filePart("f", "a.pdf", []byte("%PDF")), subPart(with("tenant", "11000000"))),
			status: 403, code: CodeForbiddenTenant, detail: "may not submit for tenant 11000000"},
		{name: "idempotency key not ascii", key: keyA, hdr: map[string]string{"Idempotency-Key": "schlüssel"}, body: jsonBody(validDoc()),
			status: 400, code: CodeInvalidIdempotencyKey, detail: "only printable ASCII"},
		{name: "idempotency key too long", key: keyA, hdr: map[string]string{"Idempotency-Key": strings.Repeat("k", 201)}, body: jsonBody(validDoc()),
			status: 400, code: CodeInvalidIdempotencyKey, detail: "201 characters long"},
		{name: "unsupported content type", key: keyA, body: rawBody(`{}`, "text/plain"),
			status: 415, code: CodeUnsupportedMediaType, detail: `"text/plain" is not supported`},
		{name: "missing content type", key: keyA, body: rawBody(`{}`, ""),
			status: 415, code: CodeUnsupportedMediaType, detail: "missing Content-Type"},
		{name: "json charset latin1", key: keyA, body: rawBody(`{}`, "application/json; charset=iso-8859-1"),
			status: 415, code: CodeUnsupportedMediaType, detail: `charset "iso-8859-1"`},
		{name: "malformed json", key: keyA, body: rawBody("{\n  \"tenant\": \"05315000\",\n  \"service\" \"x\"\n}", "application/json"),
			status: 400, code: CodeMalformedJSON, detail: "line 3, column 13 (byte offset 38)"},
		{name: "truncated json", key: keyA, body: rawBody(`{"tenant": "05315000"`, "application/json"),
			status: 400, code: CodeMalformedJSON, detail: "unexpected end of JSON input"},
		{name: "empty body", key: keyA, body: rawBody("", "application/json"),
			status: 400, code: CodeMalformedJSON, detail: "request body is empty"},
		{name: "trailing data", key: keyA, body: func(t testing.TB) ([]byte, string) {
			return append(mustJSON(t, validDoc()), []byte(` {"again":1}`)...), "application/json"
		}, status: 400, code: CodeMalformedJSON, detail: "invalid character '{' after top-level value"},
		{name: "root is an array", key: keyA, body: rawBody(`[1,2]`, "application/json"),
			status: 422, code: CodeInvalidField, detail: "must be a JSON object, got an array"},
		{name: "unknown top-level field", key: keyA, body: jsonBody(with("colour", "blue")),
			status: 400, code: CodeUnknownField, detail: `unknown field "colour" in the submission`, field: "/colour"},
		{name: "unknown nested field", key: keyA, body: func(t testing.TB) ([]byte, string) {
			d := validDoc()
			d["applicant"].(map[string]any)["address"].(map[string]any)["zip"] = "51147"
			return mustJSON(t, d), "application/json"
		}, status: 400, code: CodeUnknownField, detail: `unknown field "zip" in applicant address`, field: "/applicant/address/zip"},
		{name: "json too deep", key: keyA, body: func(t testing.TB) ([]byte, string) {
			d := validDoc()
			d["form"] = json.RawMessage(deepForm(8))
			return mustJSON(t, d), "application/json"
		}, status: 400, code: CodeTooDeep, detail: "exceeds the maximum depth of 8 at line 1, column"},
		{name: "several missing fields", key: keyA, body: rawBody(`{"tenant":"05315000","applicant":{"email":"a@b.de"}}`, "application/json"),
			status: 422, code: CodeMissingField, detail: "4 fields are missing or invalid: /service: is required"},
		{name: "missing reference", key: keyA, body: jsonBody(with("reference", nil)),
			status: 422, code: CodeMissingField, detail: "/reference: is required", field: "/reference"},
		{name: "missing form", key: keyA, body: jsonBody(with("form", nil)),
			status: 422, code: CodeMissingField, detail: "/form: is required", field: "/form"},
		{name: "empty applicant name", key: keyA, body: jsonBody(withApplicant("name", " ")),
			status: 422, code: CodeMissingField, detail: "/applicant/name: is required and must not be empty", field: "/applicant/name"},
		{name: "tenant not 8 digits", key: keyA, body: jsonBody(with("tenant", "0531500")),
			status: 422, code: CodeInvalidField, detail: `exactly 8 digits, got "0531500"`, field: "/tenant"},
		{name: "tenant is a number", key: keyA, body: rawBody(`{"tenant":5315000,"service":"xbau-bauantrag","reference":"r","applicant":{"name":"n"},"form":{}}`, "application/json"),
			status: 422, code: CodeInvalidField, detail: "/tenant: must be a string, got a number", field: "/tenant"},
		{name: "unknown tenant", key: keyA, body: jsonBody(with("tenant", "99999999")),
			status: 422, code: CodeUnknownTenant, detail: `tenant "99999999" (AGS) is not served`, field: "/tenant"},
		{name: "unknown service", key: keyA, body: jsonBody(with("service", "xbau-abriss")),
			status: 422, code: CodeUnknownService, detail: `service "xbau-abriss" is not configured`, field: "/service"},
		{name: "reference too long", key: keyA, body: jsonBody(with("reference", strings.Repeat("ä", 201))),
			status: 422, code: CodeInvalidField, detail: "201 characters long, more than the maximum of 200", field: "/reference"},
		{name: "form is not an object", key: keyA, body: jsonBody(with("form", []int{1})),
			status: 422, code: CodeInvalidField, detail: "/form: must be a JSON object with the form data, got an array", field: "/form"},
		{name: "duplicate member", key: keyA, body: rawBody(`{"tenant":"05315000","tenant":"09162000","service":"xbau-bauantrag","reference":"r","applicant":{"name":"n"},"form":{}}`, "application/json"),
			status: 422, code: CodeInvalidField, detail: `duplicate member "tenant"`, field: "/tenant"},
		{name: "invalid email", key: keyA, body: jsonBody(withApplicant("email", "Erika <erika@example.org>")),
			status: 422, code: CodeInvalidField, detail: "must be a plain e-mail address", field: "/applicant/email"},
		{name: "invalid country", key: keyA, body: func(t testing.TB) ([]byte, string) {
			d := validDoc()
			d["applicant"].(map[string]any)["address"].(map[string]any)["country"] = "Deutschland"
			return mustJSON(t, d), "application/json"
		}, status: 422, code: CodeInvalidField, detail: "ISO 3166-1 alpha-2", field: "/applicant/address/country"},
		{name: "invalid base64", key: keyA, body: jsonBody(with("attachments", []any{inline("a.txt", "not base64!")})),
			status: 422, code: CodeInvalidField, detail: "not valid standard base64", field: "/attachments/0/content"},
		{name: "inline attachment without filename", key: keyA, body: jsonBody(with("attachments", []any{map[string]any{"content": b64(3)}})),
			status: 422, code: CodeMissingField, detail: "/attachments/0/filename: is required", field: "/attachments/0/filename"},
		{name: "inline attachment empty filename", key: keyA, body: jsonBody(with("attachments", []any{inline("", b64(3))})),
			status: 400, code: CodeInvalidFilename, detail: "the filename is empty", field: "/attachments/0/filename"},
		{name: "inline attachment filename only a path", key: keyA, body: jsonBody(with("attachments", []any{inline("../../", b64(3))})),
			status: 400, code: CodeInvalidFilename, detail: "no usable characters", field: "/attachments/0/filename"},
		{name: "multipart part without filename", key: keyA, body: mpBody(subPart(validDoc()), filePart("anlage", "", []byte("x"))),
			status: 400, code: CodeInvalidFilename, detail: `attachment part 2 (name "anlage"): the filename is empty`},
		{name: "inline attachment too large", key: keyA, body: jsonBody(with("attachments", []any{inline("plan.pdf", b64(1025))})),
			status: 413, code: CodeTooLarge, detail: `attachment "plan.pdf" is 1025 bytes, more than the limit of 1024 bytes`},
		{name: "multipart attachment too large", key: keyA,
			body:   mpBody(subPart(validDoc()), filePart("f", "grundriss.pdf", bytes.Repeat([]byte("g"), 1025))),
			status: 413, code: CodeTooLarge, detail: `attachment "grundriss.pdf" exceeds the limit of 1024 bytes`},
		{name: "too many inline attachments", key: keyA,
			body:   jsonBody(with("attachments", []any{inline("a", b64(1)), inline("b", b64(1)), inline("c", b64(1))})),
			status: 413, code: CodeTooLarge, detail: "more than 2 attachments", field: "/attachments/2"},
		{name: "too many multipart attachments", key: keyA,
			body: mpBody(subPart(validDoc()), filePart("a", "a.txt", []byte("a")), filePart("b", "b.txt", []byte("b")),
				filePart("c", "c.txt", []byte("c"))),
			status: 413, code: CodeTooLarge, detail: `more than 2 attachments (part 4, "c")`},
		{name: "too many attachments inline and multipart together", key: keyA,
			body: mpBody(filePart("a", "a.txt", []byte("a")), filePart("b", "b.txt", []byte("b")),
				subPart(with("attachments", []any{inline("c", b64(1))}))),
			status: 413, code: CodeTooLarge, detail: "more than 2 attachments"},
		{name: "json over MaxJSONBytes", key: keyA, mod: func(o *Options) { o.MaxJSONBytes = 300 },
			body:   jsonBody(with("form", map[string]string{"text": strings.Repeat("t", 300)})),
			status: 413, code: CodeTooLarge, detail: "submission JSON exceeds the limit of 300 bytes"},
		{name: "body over MaxBodyBytes", key: keyA, mod: func(o *Options) { o.MaxBodyBytes = 2000; o.MaxAttachmentBytes = 4000 },
			body:   mpBody(subPart(validDoc()), filePart("f", "big.bin", bytes.Repeat([]byte("b"), 3000))),
			status: 413, code: CodeTooLarge, detail: "request body exceeds the limit of 2000 bytes"},
		{name: "multipart without submission part", key: keyA, body: mpBody(filePart("f", "a.txt", []byte("a"))),
			status: 422, code: CodeMissingField, detail: `no part named "submission"`},
		{name: "multipart twice submission", key: keyA, body: mpBody(subPart(validDoc()), subPart(validDoc())),
			status: 400, code: CodeMalformedMultipart, detail: `more than one part named "submission"`},
		{name: "multipart without boundary", key: keyA, body: rawBody("--x\r\n", "multipart/form-data"),
			status: 400, code: CodeMalformedMultipart, detail: "no boundary parameter"},
		{name: "multipart truncated", key: keyA, body: func(t testing.TB) ([]byte, string) {
			b, ct := buildMultipart(t, submissionPart(t, validDoc()), mpart{name: "f", filename: "a.txt", body: []byte("abc")})
			return b[:len(b)-10], ct
		}, status: 400, code: CodeMalformedMultipart, detail: `reading attachment "a.txt" failed`},
		{name: "multipart submission part not json", key: keyA,
			body: mpBody(func(t testing.TB) mpart {
				return mpart{name: "submission", ctype: "application/xml", body: []byte("<antrag/>")}
			}),
			status: 415, code: CodeUnsupportedMediaType, detail: `"submission" part has Content-Type "application/xml"`},
		{name: "multipart submission part malformed", key: keyA,
			body:   mpBody(func(testing.TB) mpart { return mpart{name: "submission", body: []byte(`{"tenant":}`)} }),
			status: 400, code: CodeMalformedJSON, detail: "line 1, column 11"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.mod)
			body, ctype := tc.body(t)
			resp := e.request(http.MethodPost, "/v1/submissions", tc.key, bytes.NewReader(body), ctype, tc.hdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, readAll(t, resp))
			}
			p := decodeProblem(t, resp)
			if p.Code != tc.code || !strings.Contains(p.Detail, tc.detail) {
				t.Fatalf("problem code %q detail %q; want code %q, detail containing %q", p.Code, p.Detail, tc.code, tc.detail)
			}
			if tc.field != "" && (p.Field == nil || *p.Field != tc.field) {
				t.Fatalf("problem field %v, want %q", p.Field, tc.field)
			}
			if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
			if e.store.count() != 0 || len(e.accepted) != 0 {
				t.Fatal("a rejected request was stored")
			}
			if files := e.blobFiles(); len(files) != 0 {
				t.Fatalf("a rejected request left blob files: %v", files)
			}
			if n := e.h.tracker.heldKeys(); n != 0 {
				t.Fatalf("%d blob keys still held", n)
			}
		})
	}
}

func TestSeveralMissingFieldsListed(t *testing.T) {
	e := newEnv(t, nil)
	resp := e.postJSON(keyA, []byte(`{"tenant":"05315000","applicant":{"email":"a@b.de"}}`), nil)
	p := decodeProblem(t, resp)
	var fields []string
	for _, fe := range p.Errors {
		if fe.Code != CodeMissingField {
			t.Errorf("error %+v is not missing-field", fe)
		}
		fields = append(fields, fe.Field)
	}
	if got, want := strings.Join(fields, " "), "/service /reference /applicant/name /form"; got != want {
		t.Fatalf("errors[] fields %q, want %q", got, want)
	}
}

func TestMalformedJSONPosition(t *testing.T) {
	e := newEnv(t, nil)
	resp := e.postJSON(keyA, []byte("{\n  \"tenant\": \"05315000\",\n  \"service\" \"x\"\n}"), nil)
	p := decodeProblem(t, resp)
	if p.Line != 3 || p.Column != 13 || p.Offset == nil || *p.Offset != 38 {
		t.Fatalf("position line %d column %d offset %v; want 3, 13, 38", p.Line, p.Column, p.Offset)
	}
}

func TestGetSubmission(t *testing.T) {
	e := newEnv(t, nil)
	body, ct := buildMultipart(t, submissionPart(t, validDoc()), mpart{name: "f", filename: "plan.pdf", ctype: "application/pdf", body: []byte("%PDF-1.4")})
	a, _ := expectAccepted(t, e.request(http.MethodPost, "/v1/submissions", keyA, bytes.NewReader(body), ct, nil))
	later := testNow.Add(time.Minute)
	if err := e.store.addEvent(a.ID, routing.StatusEvent{Status: routing.StatusDelivered, Time: later, Source: routing.SourceXTA,
		Detail: "im Postfach des Fachverfahrens", Evidence: "urn:de:xta:messageid:hub:1"}); err != nil {
		t.Fatal(err)
	}

	t.Run("own", func(t *testing.T) {
		got, resp := e.get(keyA, a.ID)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("status %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if got.Status != "delivered" || !got.UpdatedAt.Equal(later) || got.Service != "xbau-bauantrag" || len(got.Events) != 2 {
			t.Fatalf("%+v", got)
		}
		ev := got.Events[1]
		if ev.Status != "delivered" || ev.Source != "xta" || ev.Evidence != "urn:de:xta:messageid:hub:1" || !ev.Time.Equal(later) {
			t.Fatalf("event %+v", ev)
		}
		at := got.Attachments
		if len(at) != 1 || at[0].Filename != "plan.pdf" || at[0].ContentType != "application/pdf" || at[0].Size != 8 ||
			at[0].SHA256 != sha([]byte("%PDF-1.4")) || at[0].ID == "" || at[0].BlobKey != "" {
			t.Fatalf("attachments %+v", at)
		}
	})
	var details []string
	for _, c := range []struct{ name, key, id string }{
		{"other portal", keyB, a.ID},
		{"unknown id", keyA, "does-not-exist"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, resp := e.get(c.key, c.id)
			if resp.StatusCode != 404 {
				t.Fatalf("status %d, want 404", resp.StatusCode)
			}
			p := decodeProblem(t, resp)
			if p.Code != CodeNotFound {
				t.Fatalf("%+v", p)
			}
			details = append(details, strings.ReplaceAll(p.Detail, c.id, "ID"))
		})
	}
	if len(details) == 2 && details[0] != details[1] {
		t.Fatalf("another portal's submission is distinguishable from an unknown one: %q vs %q", details[0], details[1])
	}
	t.Run("unauthenticated", func(t *testing.T) {
		_, resp := e.get("", a.ID)
		if p := decodeProblem(t, resp); resp.StatusCode != 401 || p.Code != CodeUnauthorized {
			t.Fatalf("status %d %+v", resp.StatusCode, p)
		}
	})
}

func TestHealthAndReadiness(t *testing.T) {
	var ready atomic.Pointer[error]
	e := newEnv(t, func(o *Options) {
		o.Ready = func(ctx context.Context) error {
			if p := ready.Load(); p != nil {
				return *p
			}
			return nil
		}
	})
	for _, path := range []string{"/healthz", "/readyz"} {
		resp := e.request(http.MethodGet, path, "", nil, "", nil)
		if b := readAll(t, resp); resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"status"`)) {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
	down := errors.New("database is locked")
	ready.Store(&down)
	resp := e.request(http.MethodGet, "/readyz", "", nil, "", nil)
	p := decodeProblem(t, resp)
	if resp.StatusCode != 503 || p.Code != CodeNotReady || !strings.Contains(p.Detail, "database is locked") {
		t.Fatalf("readyz while down: %d %+v", resp.StatusCode, p)
	}
	if resp := e.request(http.MethodGet, "/healthz", "", nil, "", nil); resp.StatusCode != 200 {
		t.Fatalf("healthz while not ready: %d", resp.StatusCode)
	}
}

func TestAuthorize(t *testing.T) {
	e := newEnv(t, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/mailboxes/{handle}/messages", func(w http.ResponseWriter, r *http.Request) {
		id, ok := e.h.Authorize(w, r)
		if ok {
			fmt.Fprint(w, id)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, c := range []struct {
		key    string
		status int
		body   string
	}{{keyB, 200, "portal-b"}, {"wrong", 401, CodeUnauthorized}, {"", 401, "missing Authorization"}} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/mailboxes/bk-1/messages", nil)
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := readAll(t, resp)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(b), c.body) {
			t.Errorf("key %q: %d %s; want %d containing %q", c.key, resp.StatusCode, b, c.status, c.body)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	bs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*Options){
		"bad tenant":          func(o *Options) { o.Tenants = append(o.Tenants, "123") },
		"duplicate portal":    func(o *Options) { o.Portals = append(o.Portals, Portal{ID: "portal-a", APIKey: "other"}) },
		"duplicate api key":   func(o *Options) { o.Portals = append(o.Portals, Portal{ID: "portal-c", APIKey: keyA}) },
		"empty api key":       func(o *Options) { o.Portals = append(o.Portals, Portal{ID: "portal-c"}) },
		"unconfigured tenant": func(o *Options) { o.Portals[0].Tenants = append(o.Portals[0].Tenants, "01001000") },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			o := testOptions()
			mod(&o)
			if _, err := New(newFakeStore(), bs, o); err == nil {
				t.Fatal("New accepted bad options")
			}
		})
	}
}

// BenchmarkIntakeJSON posts a 10 KB submission through the handler with the
// in-memory store (no network), measuring intake CPU per request.
func BenchmarkIntakeJSON(b *testing.B) {
	bs, err := blob.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	opts := testOptions()
	h, err := New(newFakeStore(), bs, opts)
	if err != nil {
		b.Fatal(err)
	}
	doc := validDoc()
	form := map[string]any{}
	for i := 0; len(mustJSON(b, form)) < 9600; i++ {
		form[fmt.Sprintf("feld%03d", i)] = map[string]any{"wert": fmt.Sprintf("Angabe Nummer %d zum Bauvorhaben", i), "n": i}
	}
	doc["form"] = form
	body := mustJSON(b, doc)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/submissions", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+keyA)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
