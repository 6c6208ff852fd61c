package xta

import (
	"encoding/base64"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// TestTextStreamTakesOver checks that large base64 content is read by the
// takeover path (not materialised as one xml.CharData token).
func TestTextStreamTakesOver(t *testing.T) {
	data := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB
	enc := base64.StdEncoding.EncodeToString([]byte(data))
	in := `<s:Envelope xmlns:s="` + NSSOAP12 + `" xmlns:x="` + NSXTA + `"><s:Body><x:GenericContentContainer><x:ContentContainer>` +
		`<x:Message contentType="text/plain">` + enc + `</x:Message></x:ContentContainer></x:GenericContentContainer></s:Body></s:Envelope>`
	p := newParser(strings.NewReader(in), Limits{MaxBytes: 4 << 20})
	var n int64
	_, err := p.envelope(func(p *parser, start xml.StartElement) error {
		return p.streamContainer(start, func(_ int, _ ContentHeader, r io.Reader) error {
			var err error
			n, err = io.Copy(io.Discard, r)
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(data)) {
		t.Fatalf("decoded %d bytes, want %d", n, len(data))
	}
	if p.skipped < int64(len(enc)) {
		t.Errorf("takeover read %d of %d content bytes; the decoder materialised the rest", p.skipped, len(enc))
	}
}
