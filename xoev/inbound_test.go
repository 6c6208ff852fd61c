package xoev

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseInbound1200(t *testing.T) {
	doc, in := mapped1200(t)
	h := in.Header
	if in.Kind != KindUnknown || h.UUID != doc.UUID || h.TypeCode != "1200" || h.RootElement != Root1200 || h.Namespace != NSKernmodul130 {
		t.Errorf("1200 = %+v", in)
	}
	if in.Reference != doc.ReferenceUUID || h.ReaderKey != "ags:05315000" || h.AuthorKey != "kop:0500000001" || h.ReaderName != "Stadt Köln, Bauaufsichtsamt" {
		t.Errorf("1200 = %+v", in)
	}
	if !h.Created.Equal(fixedTime) || h.CreatedText != "2026-11-23T09:30:00+01:00" || h.Test {
		t.Errorf("created %v %q", h.Created, h.CreatedText)
	}
}

func TestParseInboundUnknownXOEV(t *testing.T) {
	// An XBau 2.6 message (other namespace) and an XInneres-style header.
	xbau := `<?xml version="1.0" encoding="UTF-8"?>
<xbau:baugenehmigung.bescheid.0205 xmlns:xbau="http://www.xleitstelle.de/xbau/2/6" produkt="FV" produkthersteller="X" standard="XBau-Hochbau" version="2.6" test="true">
  <nachrichtenkopf.g2g>
    <identifikation.nachricht>
      <nachrichtenUUID>0b7c0f7e-1111-4222-8333-944455556666</nachrichtenUUID>
      <nachrichtentyp listURI="urn:xoev-de:xbau:codeliste:xbau-nachrichten" listVersionID="4.0"><code>0205</code></nachrichtentyp>
      <erstellungszeitpunkt>2026-11-24T10:00:00Z</erstellungszeitpunkt>
    </identifikation.nachricht>
    <leser><verzeichnisdienst listVersionID="3"><code>DVDV</code></verzeichnisdienst><kennung>kop:0500000001</kennung><name>Portal</name></leser>
    <autor><verzeichnisdienst listVersionID="3"><code>DVDV</code></verzeichnisdienst><kennung>ags:05315000</kennung><name>Köln</name></autor>
  </nachrichtenkopf.g2g>
</xbau:baugenehmigung.bescheid.0205>`
	in, err := ParseInbound([]byte(xbau))
	if err != nil {
		t.Fatal(err)
	}
	h := in.Header
	if in.Kind != KindUnknown || h.TypeCode != "0205" || h.TypeListVersion != "4.0" || h.AuthorKey != "ags:05315000" || !h.Test || h.Standard != "XBau-Hochbau" {
		t.Errorf("0205 = %+v", in)
	}
	if !h.Created.Equal(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("created %v", h.Created)
	}
	xinneres := `<m:quittung.0020 xmlns:m="urn:example" xmlns:k="urn:kopf"><k:nachrichtenkopf>
  <identifikation.nachricht><nachrichtenUUID>0b7c0f7e-1111-4222-8333-944455556667</nachrichtenUUID><nachrichtentyp><code>0020</code></nachrichtentyp><erstellungszeitpunkt>2026-11-24T10:00:00</erstellungszeitpunkt></identifikation.nachricht>
  <leser><behoerdenkennung><praefix><code>ags</code></praefix><kennung><code>05315000</code></kennung></behoerdenkennung><behoerdenname>Köln</behoerdenname></leser>
</k:nachrichtenkopf></m:quittung.0020>`
	in, err = ParseInbound([]byte(xinneres))
	if err != nil {
		t.Fatal(err)
	}
	if in.Kind != KindUnknown || in.Header.ReaderKey != "ags:05315000" || in.Header.ReaderName != "Köln" || in.Header.TypeCode != "0020" || in.Header.Created.IsZero() {
		t.Errorf("0020 = %+v", in)
	}
	// Any well-formed XML is "unknown", not an error.
	in, err = ParseInbound([]byte(`<a><b/></a>`))
	if err != nil || in.Kind != KindUnknown || in.Header.RootElement != "a" {
		t.Errorf("plain XML: %+v %v", in, err)
	}
}

func TestParseInboundStatusFromOtherList(t *testing.T) {
	_, in := mapped1200(t)
	d, err := BuildStatus1170(in.Header, "10", time.Time{}, Reply{Created: replyTime})
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Replace(d.XML, []byte(`listURI="`+ListStatusBauportal+`"`), []byte(`listURI="urn:example:status"`), 1)
	got, err := ParseInbound(other)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != KindUnknown || got.StatusCode != "10" || !strings.Contains(got.Detail, "urn:example:status") {
		t.Errorf("foreign status list: %+v", got)
	}
	unknown := bytes.Replace(d.XML, []byte(`<code>10</code>`), []byte(`<code>98</code>`), 1)
	got, err = ParseInbound(unknown)
	if err != nil || got.Kind != KindUnknown || got.StatusCode != "98" {
		t.Errorf("unknown status: %+v %v", got, err)
	}
}

func TestParseInboundIncompleteKnownTypes(t *testing.T) {
	_, replies := builtReplies(t)
	for name, c := range map[string]struct {
		doc      string
		old, new string
	}{
		"1170 without status": {"1170-10", "statusAntragsportal", "statusX"},
		"1120 without bezug":  {"1120", "<bezug>", "<bezugX>"},
		"1100 without grund":  {"1100", "rueckweisungsgrund", "rueckweisungsgrundX"},
		"1100 bad base64":     {"1100", "<nachricht>", "<nachricht>!!!"},
		"no UUID":             {"1120", "<nachrichtenUUID>", "<nachrichtenUUIDx>"},
	} {
		t.Run(name, func(t *testing.T) {
			data := strings.ReplaceAll(string(replies[c.doc].XML), c.old, c.new)
			data = strings.ReplaceAll(data, strings.Replace(c.old, "<", "</", 1), strings.Replace(c.new, "<", "</", 1))
			_, err := ParseInbound([]byte(data))
			var ie *InboundError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want *InboundError", err)
			}
		})
	}
}

func TestParseInboundRefusesBadXML(t *testing.T) {
	deep := strings.Repeat("<a>", MaxDepth+1) + strings.Repeat("</a>", MaxDepth+1)
	okDeep := strings.Repeat("<a>", MaxDepth) + strings.Repeat("</a>", MaxDepth)
	if _, err := ParseInbound([]byte(okDeep)); err != nil {
		t.Errorf("depth %d refused: %v", MaxDepth, err)
	}
	for name, c := range map[string]struct {
		data    []byte
		hostile bool
	}{
		"empty":             {nil, false},
		"not XML":           {[]byte("hello"), false},
		"JSON":              {[]byte(`{"a":1}`), false},
		"unclosed":          {[]byte("<a><b></a>"), false},
		"two roots":         {[]byte("<a/><b/>"), false},
		"text after":        {[]byte("<a/>x"), false},
		"doctype":           {[]byte(`<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`), true},
		"xxe":               {[]byte(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`), true},
		"billion laughs":    {[]byte(`<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>`), true},
		"too deep":          {[]byte(deep), true},
		"too large":         {append([]byte("<a>"), make([]byte, MaxInboundSize)...), true},
		"undeclared entity": {[]byte(`<a>&nbsp;</a>`), false},
		"bad prefix":        {[]byte(`<x:a/>`), false},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseInbound(c.data)
			if err == nil {
				t.Fatal("accepted")
			}
			if c.hostile != errors.Is(err, ErrHostileXML) {
				t.Errorf("errors.Is(ErrHostileXML) = %v for %v", !c.hostile, err)
			}
		})
	}
}

func TestParseTreeNamespaces(t *testing.T) {
	for _, s := range []string{`<a xml:lang="de"/>`, `<a xmlns="urn:d"><b/></a>`, `<p:a xmlns:p="urn:p" p:x="1"/>`, `<a xmlns:p="urn:p"><p:b/></a>`} {
		if _, err := parseTree([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{`<a><p:b xmlns:q="urn:q"/></a>`, `<a p:x="1"/>`, `<a><b xmlns:p="urn:p"/><p:c/></a>`} {
		if _, err := parseTree([]byte(s)); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}
