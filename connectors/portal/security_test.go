package portal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/antivirus"
	"github.com/dxhub/dxhub/internal/antivirus/clamdtest"
)

// Payloads whose first bytes say what they are.
var (
	pdfBytes  = []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
	exeBytes  = append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"), bytes.Repeat([]byte{0}, 48)...)
	zipBytes  = []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00word/document.xml")
	pngBytes  = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	jpegBytes = []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00")
	elfBytes  = []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00")
	xmlBytes  = []byte("\xef\xbb\xbf<?xml version=\"1.0\"?><a/>")
)

func securityOptions(o *Options) { o.MaxTotalAttachmentBytes = 1536 }

// rawNamePart sends filename byte for byte as an RFC 2231 filename*
// parameter (percent-encoded UTF-8), the way clients send non-ASCII names.
func rawNamePart(name, filename, ctype string, body []byte) mpart {
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf("form-data; name=%q; filename*=UTF-8''%s", name, pctEncode(filename)))
	h.Set("Content-Type", ctype)
	return mpart{header: h, body: body}
}

func pctEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// withEpilogue appends n bytes after the closing boundary.
func withEpilogue(n int, parts ...func(t testing.TB) mpart) func(t testing.TB) ([]byte, string) {
	return func(t testing.TB) ([]byte, string) {
		b, ct := mpBody(parts...)(t)
		return append(b, bytes.Repeat([]byte("e"), n)...), ct
	}
}

func typedPart(name, filename, ctype string, body []byte) func(t testing.TB) mpart {
	return func(testing.TB) mpart { return mpart{name: name, filename: filename, ctype: ctype, body: body} }
}

func typedInline(filename, ctype string, content []byte) map[string]any {
	return map[string]any{"filename": filename, "contentType": ctype, "content": base64.StdEncoding.EncodeToString(content)}
}

func deepJSON(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

// TestSecurityIntakeLimitsAndAttacks sends each attack to POST
// /v1/submissions and checks the exact answer.
func TestSecurityIntakeLimitsAndAttacks(t *testing.T) {
	tests := []struct {
		name   string
		body   func(t testing.TB) ([]byte, string)
		status int
		code   string
		detail string
	}{
		{name: "body over limits.maxBodyBytes",
			body:   withEpilogue(70<<10, subPart(validDoc()), filePart("f", "a.txt", []byte("a"))),
			status: 413, code: CodeTooLarge, detail: "the request body exceeds the limit of 65536 bytes"},
		{name: "JSON over limits.maxJSONBytes",
			body:   jsonBody(with("form", map[string]any{"x": strings.Repeat("x", 17<<10)})),
			status: 413, code: CodeTooLarge, detail: "the submission JSON exceeds the limit of 16384 bytes"},
		{name: "JSON nested beyond limits.maxJSONDepth",
			body:   rawBody(`{"form":`+deepJSON(9)+`}`, "application/json"),
			status: 400, code: CodeTooDeep, detail: "JSON nesting exceeds the maximum depth of 8 at line 1, column 44 (byte offset 43)"},
		{name: "JSON nesting bomb of 100000 levels",
			body:   rawBody(strings.Repeat("[", 10000), "application/json"),
			status: 400, code: CodeTooDeep, detail: "JSON nesting exceeds the maximum depth of 8 at line 1, column 9 (byte offset 8)"},
		{name: "inline attachments over limits.maxAttachments",
			body:   jsonBody(with("attachments", []any{typedInline("a.txt", "text/plain", []byte("a")), typedInline("b.txt", "text/plain", []byte("b")), typedInline("c.txt", "text/plain", []byte("c"))})),
			status: 413, code: CodeTooLarge, detail: "more than 2 attachments"},
		{name: "multipart attachments over limits.maxAttachments",
			body:   mpBody(subPart(validDoc()), filePart("f1", "a.txt", []byte("a")), filePart("f2", "b.txt", []byte("b")), filePart("f3", "c.txt", []byte("c"))),
			status: 413, code: CodeTooLarge, detail: `more than 2 attachments (part 4, "f3")`},
		{name: "inline attachment over limits.maxAttachmentBytes",
			body:   jsonBody(with("attachments", []any{typedInline("plan.txt", "text/plain", bytes.Repeat([]byte("p"), 1025))})),
			status: 413, code: CodeTooLarge, detail: `attachment "plan.txt" is 1025 bytes, more than the limit of 1024 bytes`},
		{name: "multipart attachment over limits.maxAttachmentBytes",
			body:   mpBody(subPart(validDoc()), typedPart("f", "plan.pdf", "application/pdf", append(pdfBytes, bytes.Repeat([]byte("p"), 1024)...))),
			status: 413, code: CodeTooLarge, detail: `attachment "plan.pdf" exceeds the limit of 1024 bytes`},
		{name: "multipart attachments over limits.maxTotalAttachmentBytes",
			body: mpBody(subPart(validDoc()), filePart("f1", "a.txt", bytes.Repeat([]byte("a"), 1000)),
				filePart("f2", "b.txt", bytes.Repeat([]byte("b"), 1000))),
			status: 413, code: CodeTooLarge, detail: `attachment "b.txt" brings the attachments beyond the total limit of 1536 bytes`},
		{name: "inline attachments over limits.maxTotalAttachmentBytes",
			body: jsonBody(with("attachments", []any{typedInline("a.txt", "text/plain", bytes.Repeat([]byte("a"), 1000)),
				typedInline("b.txt", "text/plain", bytes.Repeat([]byte("b"), 1000))})),
			status: 413, code: CodeTooLarge, detail: `attachment "b.txt" brings the attachments beyond the total limit of 1536 bytes`},
		{name: "filename only dots",
			body:   mpBody(subPart(validDoc()), filePart("f", "..", []byte("x"))),
			status: 400, code: CodeInvalidFilename, detail: `attachment part 2 (name "f"): the filename ".." has no usable characters after removing the path, control characters and leading and trailing dots`},
		{name: "filename only a traversal path",
			body:   jsonBody(with("attachments", []any{typedInline("../../", "text/plain", []byte("x"))})),
			status: 400, code: CodeInvalidFilename, detail: `/attachments/0/filename: the filename "../../" has no usable characters after removing the path, control characters and leading and trailing dots`},
		{name: "filename only control characters",
			body:   mpBody(subPart(validDoc()), func(testing.TB) mpart { return rawNamePart("f", "\x01\x02\u202e", "text/plain", []byte("x")) }),
			status: 400, code: CodeInvalidFilename, detail: `attachment part 2 (name "f"): the filename "\x01\x02\u202e" has no usable characters after removing the path, control characters and leading and trailing dots`},
		{name: "declared PDF carrying a Windows executable",
			body:   mpBody(subPart(validDoc()), typedPart("f", "antrag.pdf", "application/pdf", exeBytes)),
			status: 422, code: CodeContentTypeMismatch, detail: `attachment "antrag.pdf" is declared as application/pdf but its content is a Windows executable (MZ)`},
		{name: "declared PDF carrying a ZIP archive",
			body:   mpBody(subPart(validDoc()), typedPart("f", "antrag.pdf", "application/pdf", zipBytes)),
			status: 422, code: CodeContentTypeMismatch, detail: `attachment "antrag.pdf" is declared as application/pdf but its content is a ZIP archive`},
		{name: "declared PDF inline carrying a Windows executable",
			body:   jsonBody(with("attachments", []any{typedInline("antrag.pdf", "application/pdf; name=antrag.pdf", exeBytes)})),
			status: 422, code: CodeContentTypeMismatch, detail: `attachment "antrag.pdf" is declared as application/pdf but its content is a Windows executable (MZ)`},
		{name: "declared PNG carrying a JPEG",
			body:   mpBody(subPart(validDoc()), typedPart("f", "foto.png", "image/png", jpegBytes)),
			status: 422, code: CodeContentTypeMismatch, detail: `attachment "foto.png" is declared as image/png but its content is a JPEG image`},
		{name: "declared JPEG carrying a PDF",
			body:   mpBody(subPart(validDoc()), typedPart("f", "foto.jpg", "image/jpeg", pdfBytes)),
			status: 422, code: CodeContentTypeMismatch, detail: `attachment "foto.jpg" is declared as image/jpeg but its content is a PDF document`},
		{name: "declared DOCX carrying a PDF",
			body: mpBody(subPart(validDoc()), typedPart("f", "brief.docx",
				"application/vnd.openxmlformats-officedocument.wordprocessingml.document", pdfBytes)),
			status: 422, code: CodeContentTypeMismatch, detail: `attachment "brief.docx" is declared as application/vnd.openxmlformats-officedocument.wordprocessingml.document but its content is a PDF document`},
		{name: "declared XML carrying binary data",
			body:   mpBody(subPart(validDoc()), typedPart("f", "daten.xml", "application/xml", pngBytes)),
			status: 422, code: CodeContentTypeMismatch, detail: `attachment "daten.xml" is declared as application/xml but its content is a PNG image`},
		{name: "declared text carrying an ELF executable",
			body:   mpBody(subPart(validDoc()), typedPart("f", "liesmich.txt", "text/plain", elfBytes)),
			status: 422, code: CodeContentTypeMismatch, detail: `attachment "liesmich.txt" is declared as text/plain but its content is an ELF executable`},
		{name: "octet-stream carrying a Windows executable",
			body:   mpBody(subPart(validDoc()), typedPart("f", "setup.bin", "application/octet-stream", exeBytes)),
			status: 422, code: CodeExecutableContent, detail: `attachment "setup.bin" (declared as application/octet-stream) is a Windows executable (MZ); executable files are not accepted`},
		{name: "undeclared type carrying a shell script",
			body:   jsonBody(with("attachments", []any{typedInline("run", "", []byte("#!/bin/sh\nrm -rf /\n"))})),
			status: 422, code: CodeExecutableContent, detail: `attachment "run" (declared as application/octet-stream) is a script with a #! interpreter line; executable files are not accepted`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, securityOptions)
			body, ctype := tc.body(t)
			resp := e.request(http.MethodPost, "/v1/submissions", keyA, bytes.NewReader(body), ctype, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, readAll(t, resp))
			}
			p := decodeProblem(t, resp)
			if p.Type != ProblemTypePrefix+tc.code || p.Code != tc.code || p.Detail != tc.detail {
				t.Fatalf("got %s %q\nwant %s %q", p.Type, p.Detail, ProblemTypePrefix+tc.code, tc.detail)
			}
			if len(e.blobFiles()) != 0 || e.store.creates != 0 {
				t.Fatalf("a refused request left %d blobs, %d submissions", len(e.blobFiles()), e.store.creates)
			}
		})
	}
}

// TestSecurityFilenamesSanitised: hostile attachment names are accepted
// under a safe name.
func TestSecurityFilenamesSanitised(t *testing.T) {
	long := strings.Repeat("x", 300) + ".pdf"
	for _, tc := range []struct{ name, in, want string }{
		{"path traversal", "../../../etc/passwd", "passwd"},
		{"windows path traversal", `..\..\Windows\System32\drivers\etc\hosts`, "hosts"},
		{"NUL byte", "antrag\x00.pdf.exe", "antrag.pdf.exe"},
		{"control characters", "a\x1b[31mb\x7f.txt", "a[31mb.txt"},
		{"right-to-left override", "rechnung\u202efdp.exe", "rechnungfdp.exe"},
		{"zero-width characters", "an\u200btrag\ufeff.txt", "antrag.txt"},
		{"windows reserved name", "CON.txt", "_CON.txt"},
		{"windows reserved name lower case", "lpt1", "_lpt1"},
		{"windows reserved name with blanks", "aux .txt", "_aux .txt"},
		{"windows reserved characters", `a<b>c:d"e|f?g*h.txt`, "a_b_c_d_e_f_g_h.txt"},
		{"leading dots", ".htaccess", "htaccess"},
		{"leading dots and blanks", " . ..bashrc", "bashrc"},
		{"trailing dots", "antrag.txt...", "antrag.txt"},
		{"overlong name", long, strings.Repeat("x", 251) + ".pdf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, securityOptions)
			body, ctype := buildMultipart(t, submissionPart(t, validDoc()), rawNamePart("f", tc.in, "text/plain", []byte("Anlage")))
			a, _ := expectAccepted(t, e.request(http.MethodPost, "/v1/submissions", keyA, bytes.NewReader(body), ctype, nil))
			got, _ := e.get(keyA, a.ID)
			if len(got.Attachments) != 1 || got.Attachments[0].Filename != tc.want {
				t.Fatalf("stored %+v, want filename %q", got.Attachments, tc.want)
			}
		})
	}
}

// TestSecurityMatchingContentAccepted: payloads that are what they claim
// pass the sniffing.
func TestSecurityMatchingContentAccepted(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxAttachments = 10; o.MaxAttachmentBytes = 4 << 10 })
	parts := []mpart{submissionPart(t, validDoc())}
	for _, p := range []struct {
		name, ctype string
		data        []byte
	}{
		{"plan.pdf", "application/pdf", pdfBytes},
		{"foto.png", "image/png", pngBytes},
		{"foto.jpg", "image/jpeg", jpegBytes},
		{"brief.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", zipBytes},
		{"daten.xml", "application/xml", xmlBytes},
		{"notiz.txt", "text/plain; charset=utf-8", []byte("Grüße aus Köln")},
		{"leer.pdf", "application/pdf", nil},
		{"blob.bin", "application/octet-stream", []byte{0, 1, 2, 3}},
	} {
		parts = append(parts, mpart{name: p.name, filename: p.name, ctype: p.ctype, body: p.data})
	}
	body, ctype := buildMultipart(t, parts...)
	a, _ := expectAccepted(t, e.request(http.MethodPost, "/v1/submissions", keyA, bytes.NewReader(body), ctype, nil))
	if got, _ := e.get(keyA, a.ID); len(got.Attachments) != 8 {
		t.Fatalf("attachments %+v", got.Attachments)
	}
}

// TestSecurityAntivirus scans attachments with a real clamd (started by the
// test with its own signature database) through the intake.
func TestSecurityAntivirus(t *testing.T) {
	srv := clamdtest.Start(t, 2048)
	scanner := func(failOpen bool) func(*Options) {
		return func(o *Options) {
			securityOptions(o)
			o.MaxAttachmentBytes = 4 << 10
			o.MaxTotalAttachmentBytes = 0
			c, err := antivirus.New(srv.Socket, antivirus.Options{Timeout: 5 * time.Second, MaxStreamBytes: 2048})
			if err != nil {
				t.Fatal(err)
			}
			o.ScanRetryAfter = 45 * time.Second
			o.Scanner = &ClamdScanner{Client: c, FailOpen: failOpen, Logger: discardLogger()}
		}
	}
	newScanned := func(t *testing.T, failOpen bool) *env {
		e := newEnv(t, scanner(failOpen))
		e.h.opts.Scanner.(*ClamdScanner).Open = func(key string) (io.ReadCloser, error) { return e.blobs.Open(key) }
		return e
	}
	infectedPDF := append(append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte(" "), 700)...), clamdtest.Marker...)

	for _, tc := range []struct {
		name   string
		body   func(t testing.TB) ([]byte, string)
		status int
		code   string
		detail string
	}{
		{name: "clean multipart and inline attachments",
			body: func(t testing.TB) ([]byte, string) {
				return buildMultipart(t, submissionPart(t, with("attachments", []any{typedInline("notiz.txt", "text/plain", []byte("sauber"))})),
					mpart{name: "f", filename: "plan.pdf", ctype: "application/pdf", body: pdfBytes})
			}, status: 202},
		{name: "EICAR test file inline",
			body:   jsonBody(with("attachments", []any{typedInline("eicar.txt", "text/plain", clamdtest.EICAR())})),
			status: 422, code: CodeInfected, detail: `attachment "eicar.txt" contains malware: Eicar-Test-Signature.UNOFFICIAL`},
		{name: "signature inside a PDF part after a clean one",
			body:   mpBody(subPart(validDoc()), typedPart("f1", "ok.pdf", "application/pdf", pdfBytes), typedPart("f2", "lageplan.pdf", "application/pdf", infectedPDF)),
			status: 422, code: CodeInfected, detail: `attachment "lageplan.pdf" contains malware: Dxhub.Test.Marker.UNOFFICIAL`},
		{name: "attachment beyond the scanner's StreamMaxLength",
			body:   mpBody(subPart(validDoc()), typedPart("f", "gross.txt", "text/plain", bytes.Repeat([]byte("g"), 3000))),
			status: 413, code: CodeTooLarge, detail: `attachment "gross.txt" (3000 bytes) cannot be scanned: attachment exceeds the virus scanner's size limit (3000 bytes, antivirus.clamd.maxStreamBytes is 2048)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newScanned(t, false)
			body, ctype := tc.body(t)
			resp := e.request(http.MethodPost, "/v1/submissions", keyA, bytes.NewReader(body), ctype, nil)
			if tc.status == 202 {
				expectAccepted(t, resp)
				return
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, readAll(t, resp))
			}
			p := decodeProblem(t, resp)
			if p.Code != tc.code || p.Detail != tc.detail {
				t.Fatalf("got %s %q\nwant %s %q", p.Code, p.Detail, tc.code, tc.detail)
			}
			if len(e.blobFiles()) != 0 || e.store.creates != 0 {
				t.Fatalf("a refused request left %d blobs, %d submissions", len(e.blobFiles()), e.store.creates)
			}
		})
	}

	// clamd down: fail closed answers 503 with Retry-After, fail open accepts.
	closed, open := newScanned(t, false), newScanned(t, true)
	srv.Stop(t)
	doc := mustJSON(t, with("attachments", []any{typedInline("notiz.txt", "text/plain", []byte("sauber"))}))
	resp := closed.postJSON(keyA, doc, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "45" {
		t.Fatalf("fail closed: status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	p := decodeProblem(t, resp)
	if p.Code != CodeScannerUnavailable || p.Detail != `attachment "notiz.txt" could not be scanned for malware; try again in 45 s` {
		t.Fatalf("fail closed: %+v", p)
	}
	expectAccepted(t, open.postJSON(keyA, doc, nil))
	// Without attachments nothing needs scanning.
	expectAccepted(t, closed.postJSON(keyA, mustJSON(t, validDoc()), nil))
}

// The problem of a sniffing refusal is what the README documents.
func TestSecurityProblemShape(t *testing.T) {
	e := newEnv(t, securityOptions)
	body, ctype := buildMultipart(t, submissionPart(t, validDoc()), mpart{name: "f", filename: "antrag.pdf", ctype: "application/pdf", body: exeBytes})
	resp := e.request(http.MethodPost, "/v1/submissions", keyA, bytes.NewReader(body), ctype, nil)
	var m map[string]any
	if err := json.Unmarshal(readAll(t, resp), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"type": "urn:dxhub:problem:content-type-mismatch", "title": "Attachment content does not match its content type",
		"status": float64(422), "code": "content-type-mismatch",
		"detail": `attachment "antrag.pdf" is declared as application/pdf but its content is a Windows executable (MZ)`}
	if len(m) != len(want) {
		t.Fatalf("problem %v", m)
	}
	for k, v := range want {
		if m[k] != v {
			t.Fatalf("%s = %v, want %v", k, m[k], v)
		}
	}
}

// When the attachments already use the whole total, the next non-empty one
// is refused (the blob store's limit 0 would mean "unlimited"); an empty
// one still fits.
func TestSecurityTotalLimitExhausted(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxTotalAttachmentBytes = 10; o.MaxAttachments = 3 })
	body, ctype := buildMultipart(t, submissionPart(t, validDoc()), mpart{name: "a", filename: "a.txt", ctype: "text/plain", body: []byte("0123456789")},
		mpart{name: "b", filename: "leer.txt", ctype: "text/plain"}, mpart{name: "c", filename: "c.txt", ctype: "text/plain", body: []byte("x")})
	resp := e.request(http.MethodPost, "/v1/submissions", keyA, bytes.NewReader(body), ctype, nil)
	if resp.StatusCode != 413 {
		t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp))
	}
	if p := decodeProblem(t, resp); p.Detail != `attachment "c.txt" brings the attachments beyond the total limit of 10 bytes` {
		t.Fatalf("detail %q", p.Detail)
	}
	body, ctype = buildMultipart(t, submissionPart(t, validDoc()), mpart{name: "a", filename: "a.txt", ctype: "text/plain", body: []byte("0123456789")},
		mpart{name: "b", filename: "leer.txt", ctype: "text/plain"})
	expectAccepted(t, e.request(http.MethodPost, "/v1/submissions", keyA, bytes.NewReader(body), ctype, nil))
}
