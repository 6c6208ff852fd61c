package osci

import (
	"errors"
	"github.com/dxhub/dxhub/internal/xmlsec"
	"strings"
	"testing"
)

// Hostile XML is refused before any tree is built, with the exact reason.
func TestParseEnvelopeRefusesHostileXML(t *testing.T) {
	env := func(body string) string {
		return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + body + `</soap:Body></soap:Envelope>`
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"xxe", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>` + env("&e;"), "DOCTYPE and entity declarations are not allowed"},
		{"billion laughs", `<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>` + env("&b;"), "DOCTYPE and entity declarations are not allowed"},
		{"processing instruction", `<?xml-stylesheet href="x"?>` + env(""), "processing instruction <?xml-stylesheet?> is not allowed"},
		{"deep", env(strings.Repeat("<a>", 120) + strings.Repeat("</a>", 120)), "nesting deeper than 100"},
		{"huge attribute", env(`<a x="` + strings.Repeat("A", 1<<20+1) + `"/>`), "attribute x longer than"},
		{"many elements", env(strings.Repeat("<a/>", 200_001)), "more than 200000 elements"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseEnvelope([]byte(tc.doc))
			if !errors.Is(err, ErrHostileXML) || !errors.Is(err, ErrNotOSCI) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrHostileXML with %q", err, tc.want)
			}
		})
	}
	// A plain envelope still parses as far as the guard is concerned.
	if err := xmlsec.CheckXML([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + env("<x/>"))); err != nil {
		t.Fatal(err)
	}
}
