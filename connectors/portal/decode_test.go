package portal

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzLimits = DecodeLimits{MaxJSONBytes: 1 << 16, MaxJSONDepth: 10, MaxAttachments: 3, MaxAttachmentBytes: 1 << 12}

// FuzzDecodeSubmission: the decoder never panics, every error is a *Problem with
// a known code and consistent status, and every accepted document satisfies the
// documented invariants.
func FuzzDecodeSubmission(f *testing.F) {
	f.Add([]byte(`{"tenant":"05315000","service":"s","reference":"r","applicant":{"name":"n","address":{"country":"DE"}},"form":{"a":[1,{"b":null}]}}`))
	f.Add([]byte(`{"tenant":"05315000","service":"s","reference":"r","applicant":{"name":"n"},"form":{},"attachments":[{"filename":"a\/b.pdf","content":"SGFsbG8=","contentType":"application/pdf"}]}`))
	f.Add([]byte(`{"tenant":"05315000","service":"s","reference":"r","applicant":{"name":"n"},"form":{},"attachments":[{"filename":"x","content":"SGF\/\r\nsbG8="}]}`))
	f.Add([]byte(`{"tenant":1,"tenant":2,"form":[[[[[[[[[[[[1]]]]]]]]]]]]}`))
	f.Add([]byte(`{"attachments":[1,"x",{"content":{"a":1}},{}]}`))
	f.Add([]byte("{\n\"a\" \"b\"}"))
	f.Add([]byte(`{"form":{"n":1e400,"s":"\ud800"}} {}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := DecodeSubmission(bytes.NewReader(data), fuzzLimits)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("error is not a *Problem: %v", err)
			}
			info, ok := codeInfo[p.Code]
			if !ok || p.Type != ProblemTypePrefix+p.Code || p.Status != info.status || p.Detail == "" || p.Title != info.title {
				t.Fatalf("inconsistent problem %+v", p)
			}
			if in != nil {
				t.Fatal("both an intake and an error")
			}
			return
		}
		if !isAGS(in.Tenant) || in.Service == "" || in.Reference == "" || strings.TrimSpace(in.Applicant.Name) == "" {
			t.Fatalf("accepted an incomplete submission %+v", in)
		}
		if !json.Valid(in.Form) || in.Form[0] != '{' {
			t.Fatalf("form is not a JSON object: %q", in.Form)
		}
		if len(in.Attachments) > fuzzLimits.MaxAttachments {
			t.Fatalf("%d attachments", len(in.Attachments))
		}
		for _, a := range in.Attachments {
			if clean, err := SanitizeFilename(a.Filename); err != nil || clean != a.Filename || strings.ContainsAny(a.Filename, "/\\") {
				t.Fatalf("filename %q not sanitised (%q, %v)", a.Filename, clean, err)
			}
			n, err := io.Copy(io.Discard, a.Open())
			if err != nil || n != a.Size || n > fuzzLimits.MaxAttachmentBytes {
				t.Fatalf("attachment %q: %d bytes (size %d), %v", a.Filename, n, a.Size, err)
			}
		}
	})
}

func decodeString(t *testing.T, s string, lim DecodeLimits) (*Intake, *Problem) {
	t.Helper()
	in, err := DecodeSubmission(strings.NewReader(s), lim)
	if err == nil {
		return in, nil
	}
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("not a problem: %v", err)
	}
	return nil, p
}

const minimalPrefix = `{"tenant":"05315000","service":"s","reference":"r","applicant":{"name":"n"},`

func TestDecodeKeepsFormBytes(t *testing.T) {
	form := `{ "betrag": 1e400, "präzise": 0.10000000000000000001, "text": "\u00e4\/", "leer": {} }`
	in, p := decodeString(t, minimalPrefix+`"form" :`+"\n\t"+form+"}", DecodeLimits{})
	if p != nil {
		t.Fatal(p)
	}
	if string(in.Form) != form {
		t.Fatalf("form changed:\n got %s\nwant %s", in.Form, form)
	}
}

func TestDecodeNullIsAbsent(t *testing.T) {
	in, p := decodeString(t, minimalPrefix+`"form":{},"attachments":null,"applicant":null}`, DecodeLimits{})
	if p == nil || p.Code != CodeInvalidField || !strings.Contains(p.Detail, `duplicate member "applicant"`) {
		t.Fatalf("duplicate applicant: %v %+v", in, p)
	}
	in, p = decodeString(t, `{"tenant":"05315000","service":"s","reference":"r","applicant":{"name":"n","email":null,"mailbox":null,"address":null},"form":{},"attachments":null}`, DecodeLimits{})
	if p != nil {
		t.Fatal(p)
	}
	if in.Applicant.Email != "" || len(in.Attachments) != 0 {
		t.Fatalf("%+v", in)
	}
}

func TestDecodeDepthLimit(t *testing.T) {
	lim := DecodeLimits{MaxJSONDepth: 5}
	nest := func(n int) string { return strings.Repeat(`[`, n) + strings.Repeat(`]`, n) }
	cases := []struct {
		name, doc string
		ok        bool
	}{
		// root (1) > form (2) > three arrays (3..5)
		{"form at the limit", minimalPrefix + `"form":{"a":` + nest(3) + `}}`, true},
		{"form over the limit", minimalPrefix + `"form":{"a":` + nest(4) + `}}`, false},
		{"wrong-typed value over the limit", minimalPrefix + `"form":{},"tenant":` + nest(5) + `}`, false},
		{"duplicate member over the limit", minimalPrefix + `"form":{},"service":` + nest(5) + `}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, p := decodeString(t, c.doc, lim)
			switch {
			case c.ok && p != nil:
				t.Fatal(p)
			case !c.ok && (p == nil || p.Code != CodeTooDeep || p.Status != 400):
				t.Fatalf("want too-deep, got %+v", p)
			}
		})
	}
}

func TestDecodeHugeDepthIsTooDeepNotMalformed(t *testing.T) {
	doc := minimalPrefix + `"form":{"a":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`
	_, p := decodeString(t, doc, DecodeLimits{})
	if p == nil || p.Code != CodeTooDeep || p.Offset == nil || *p.Offset != int64(len(minimalPrefix)+12+DefaultMaxJSONDepth-2) {
		t.Fatalf("%+v", p)
	}
}

func TestSanitizeFilename(t *testing.T) {
	long := strings.Repeat("ä", 200) + ".pdf" // 404 bytes
	cases := []struct {
		in, want, err string
	}{
		{in: "Bauantrag.pdf", want: "Bauantrag.pdf"},
		{in: "../../etc/passwd", want: "passwd"},
		{in: `C:\Users\max\Lageplan 1.pdf`, want: "Lageplan 1.pdf"},
		{in: "rechnung\u202Efdp.exe", want: "rechnungfdp.exe"},
		{in: "a\x00b\x1fc\x7f.txt", want: "abc.txt"},
		{in: `what<>:"|?*.txt`, want: "what_______.txt"},
		{in: "  Anlage.txt.  ", want: "Anlage.txt"},
		{in: "bad\xffutf8.txt", want: "bad_utf8.txt"},
		{in: ".htaccess", want: "htaccess"},
		{in: long, want: strings.Repeat("ä", 125) + ".pdf"},
		{in: "", err: "the filename is empty"},
		{in: "   ", err: "the filename is empty"},
		{in: "dir/", err: "no usable characters"},
		{in: "..", err: "no usable characters"},
		{in: "\u200b\u202e", err: "no usable characters"},
	}
	for _, c := range cases {
		got, err := SanitizeFilename(c.in)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("SanitizeFilename(%q) = %q, %v; want error %q", c.in, got, err, c.err)
			}
		case err != nil || got != c.want:
			t.Errorf("SanitizeFilename(%q) = %q, %v; want %q", c.in, got, err, c.want)
		case len(got) > maxFilenameLen || !utf8.ValidString(got):
			t.Errorf("SanitizeFilename(%q) = %q: too long or invalid UTF-8", c.in, got)
		}
	}
}

func TestNormalizeContentType(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "application/octet-stream",
		"Application/PDF":               "application/pdf",
		"text/plain; charset=UTF-8":     "text/plain; charset=UTF-8",
		"image/png ; name=\"foto.png\"": "image/png; name=foto.png",
	} {
		if got, err := NormalizeContentType(in); err != nil || got != want {
			t.Errorf("NormalizeContentType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"pdf", "text/", "a/b; =x"} {
		if _, err := NormalizeContentType(bad); err == nil {
			t.Errorf("NormalizeContentType(%q) accepted", bad)
		}
	}
}
