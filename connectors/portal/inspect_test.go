package portal

import (
	"bytes"
	"testing"
)

// FuzzCheckContent: whatever the bytes and the declared type, the check
// never panics, never lets an executable through and never refuses a
// payload that carries exactly what it declares.
func FuzzCheckContent(f *testing.F) {
	f.Add("application/pdf", []byte("%PDF-1.7"))
	f.Add("application/pdf", []byte("MZ\x90\x00"))
	f.Add("application/octet-stream", []byte("\x7fELF"))
	f.Add("text/plain", []byte("Grüße"))
	f.Add("application/xml", []byte("\xef\xbb\xbf  <?xml version=\"1.0\"?><a/>"))
	f.Add("image/png; x=y", []byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, ctype string, head []byte) {
		p := checkContent("f", ctype, head)
		k := sniff(head)
		if k.executable && len(head) > 0 && p == nil {
			t.Fatalf("executable %s accepted as %q", k.name, ctype)
		}
		if p != nil && p.Code != CodeContentTypeMismatch && p.Code != CodeExecutableContent {
			t.Fatalf("code %s", p.Code)
		}
	})
}

func BenchmarkCheckContent(b *testing.B) {
	head := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{0x80, 0x20}, 250)...)
	for b.Loop() {
		if p := checkContent("plan.pdf", "application/pdf", head); p != nil {
			b.Fatal(p)
		}
	}
}
