package xoev

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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
	// An XBau 2.6 message dxhub does not classify (0203 Anhörung) and an
	// XInneres-style header.
	xbau := `<?xml version="1.0" encoding="UTF-8"?>
<xbau:baugenehmigung.anhoerung.0203 xmlns:xbau="http://www.xleitstelle.de/xbau/2/6" produkt="FV" produkthersteller="X" standard="XBau-Hochbau" version="2.6" test="true">
  <nachrichtenkopf.g2g>
    <identifikation.nachricht>
      <nachrichtenUUID>0b7c0f7e-1111-4222-8333-944455556666</nachrichtenUUID>
      <nachrichtentyp listURI="urn:xoev-de:xbau:codeliste:xbau-nachrichten" listVersionID="4.0"><code>0203</code></nachrichtentyp>
      <erstellungszeitpunkt>2026-11-24T10:00:00Z</erstellungszeitpunkt>
    </identifikation.nachricht>
    <leser><verzeichnisdienst listVersionID="3"><code>DVDV</code></verzeichnisdienst><kennung>kop:0500000001</kennung><name>Portal</name></leser>
    <autor><verzeichnisdienst listVersionID="3"><code>DVDV</code></verzeichnisdienst><kennung>ags:05315000</kennung><name>Köln</name></autor>
  </nachrichtenkopf.g2g>
</xbau:baugenehmigung.anhoerung.0203>`
	in, err := ParseInbound([]byte(xbau))
	if err != nil {
		t.Fatal(err)
	}
	h := in.Header
	if in.Kind != KindUnknown || h.TypeCode != "0203" || h.TypeListVersion != "4.0" || h.AuthorKey != "ags:05315000" || !h.Test || h.Standard != "XBau-Hochbau" {
		t.Errorf("0203 = %+v", in)
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
		"too many elements": {[]byte("<a>" + strings.Repeat("<b/>", MaxElements) + "</a>"), true},
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
		if _, err := parseTree([]byte(s), InboundLimits{}); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{`<a><p:b xmlns:q="urn:q"/></a>`, `<a p:x="1"/>`, `<a><b xmlns:p="urn:p"/><p:c/></a>`} {
		if _, err := parseTree([]byte(s), InboundLimits{}); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
}

// TestParseInboundIncompleteNewTypes: the back-channel messages added for
// 1121, 1180, 0201, 0205 and XInneres refuse data their type requires.
func TestParseInboundIncompleteNewTypes(t *testing.T) {
	for name, c := range map[string]struct{ file, old, new string }{
		"1121 without vorgang":            {"xbau26-1121.xml", "<vorgang>63-2026-0815</vorgang>", ""},
		"1121 without bezug":              {"xbau23-1121.xml", "bezug>", "bezugX>"},
		"1180 without nachrichtentyp":     {"xbau26-1180.xml", "<code>0201</code>", ""},
		"0201 without antragVollstaendig": {"xbau26-0201-vollstaendig.xml", "<xbau:antragVollstaendig>true</xbau:antragVollstaendig>", ""},
		"0201 bad boolean":                {"xbau26-0201-vollstaendig.xml", ">true<", ">ja<"},
		"0201 befund without code":        {"xbau23-0201.xml", "<code>1</code>", ""},
		"0205 without tenor":              {"xbau26-0205.xml", "istGenehmigung>", "istGenehmigungX>"},
		"0205 without documents":          {"xbau23-0205.xml", "anlage>", "anlageX>"},
		"0205 without header UUID":        {"xbau26-0205.xml", "<nachrichtenUUID>7a1e5b0c-3d2f-4a8b-9c6d-1e2f3a4b5c66</nachrichtenUUID>", ""},
		"0010 without erstellungszeit":    {"xinneres-0010.xml", "<erstellungszeitpunkt>2026-11-25T14:05:00+01:00", "<erstellungszeitpunkt>gestern"},
	} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "inbound", c.file))
			if err != nil {
				t.Fatal(err)
			}
			mod := strings.ReplaceAll(string(data), c.old, c.new)
			if mod == string(data) {
				t.Fatalf("%q not in %s", c.old, c.file)
			}
			_, err = ParseInbound([]byte(mod))
			var ie *InboundError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want *InboundError", err)
			}
		})
	}
	// An XInneres 0010 whose reference cannot be found stays unknown (kept,
	// never dropped) instead of being refused.
	in, err := ParseInbound([]byte(`<r:rueckweisung.asynchron.0010 xmlns:r="urn:r"><nachrichtenkopf><identifikation.nachricht><nachrichtenUUID>9c3a7d2e-5f4b-4c0d-9e8f-3a4b5c6d7e89</nachrichtenUUID><nachrichtentyp><code>0010</code></nachrichtentyp><erstellungszeitpunkt>2026-11-25T14:05:00Z</erstellungszeitpunkt></identifikation.nachricht></nachrichtenkopf><text>?</text></r:rueckweisung.asynchron.0010>`))
	if err != nil || in.Kind != KindUnknown || in.RefMessageUUID != "" || !strings.Contains(in.Detail, "ohne erkennbaren Bezug") {
		t.Errorf("0010 without reference: %+v %v", in, err)
	}
}

// TestParseTreeNamespaceFloodBounded: many namespace declarations on deeply
// nested elements cost memory linear in the input (the scope is not copied
// per element).
func TestParseTreeNamespaceFloodBounded(t *testing.T) {
	var b strings.Builder
	const depth, perLevel = MaxDepth - 1, 200
	for i := range depth {
		b.WriteString("<a")
		for j := range perLevel {
			fmt.Fprintf(&b, ` xmlns:p%d="urn:%d:%d"`, j, i, j)
		}
		b.WriteString(">")
	}
	b.WriteString(strings.Repeat("</a>", depth))
	data := []byte(b.String())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := parseTree(data, InboundLimits{}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 40*uint64(len(data)) {
		t.Errorf("parsing %d bytes allocated %d bytes", len(data), alloc)
	}
}

// TestParseInboundHugeAttributeBounded: an attribute of several MiB (within
// MaxInboundSize) is parsed with memory linear in the input.
func TestParseInboundHugeAttributeBounded(t *testing.T) {
	data := []byte(`<a x="` + strings.Repeat("y", 8<<20) + `"><b/></a>`)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	in, err := ParseInbound(data)
	runtime.ReadMemStats(&after)
	if err != nil || in.Kind != KindUnknown {
		t.Fatalf("%v %v", in.Kind, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8*uint64(len(data)) {
		t.Errorf("parsing %d bytes allocated %d bytes", len(data), alloc)
	}
}
