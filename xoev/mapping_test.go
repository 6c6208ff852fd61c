package xoev

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// withForm returns the full golden case with its form replaced.
func withForm(t *testing.T, form string) MapInput {
	t.Helper()
	in := loadCase(t, "testdata/golden/full.json")
	in.Submission.Form = json.RawMessage(form)
	in.Submission.Attachments = nil
	return in
}

const okPlot = `"grundstuecke":[{"flurstuecke":[{"bundesland":"05","gemarkung":"1","zaehler":"2"}]}]`

func TestMappingErrors(t *testing.T) {
	m := newTestMapper(t)
	full := func(t *testing.T) MapInput { return loadCase(t, "testdata/golden/full.json") }
	cases := []struct {
		name   string
		in     func(t *testing.T) MapInput
		field  string
		reason string
	}{
		{"no form", func(t *testing.T) MapInput { return withForm(t, ``) }, "/form", "missing"},
		{"form not object", func(t *testing.T) MapInput { return withForm(t, `[1]`) }, "/form", "JSON object"},
		{"form not JSON", func(t *testing.T) MapInput { return withForm(t, `{"a":`) }, "/form", "not valid JSON"},
		{"trailing data", func(t *testing.T) MapInput { return withForm(t, `{} {}`) }, "/form", "trailing"},
		{"no grundstueck", func(t *testing.T) MapInput { return withForm(t, `{"artDesAntrags":"1"}`) }, "/form/grundstuecke", "at least one"},
		{"empty grundstuecke", func(t *testing.T) MapInput { return withForm(t, `{"grundstuecke":[]}`) }, "/form/grundstuecke", "at least one"},
		{"both plot forms", func(t *testing.T) MapInput {
			return withForm(t, `{"grundstueck":{},`+okPlot+`}`)
		}, "/form/grundstueck", "not both"},
		{"plot not object", func(t *testing.T) MapInput { return withForm(t, `{"grundstuecke":["x"]}`) }, "/form/grundstuecke/0", "must be an object"},
		{"no flurstuecke", func(t *testing.T) MapInput { return withForm(t, `{"grundstuecke":[{"bundesland":"05"}]}`) }, "/form/grundstuecke/0/flurstuecke", "at least one"},
		{"missing zaehler", func(t *testing.T) MapInput {
			return withForm(t, `{"grundstuecke":[{"flurstuecke":[{"bundesland":"05","gemarkung":"1"}]}]}`)
		}, "/form/grundstuecke/0/flurstuecke/0/zaehler", "is required"},
		{"missing zaehler in second", func(t *testing.T) MapInput {
			return withForm(t, `{"grundstuecke":[{"bundesland":"05","flurstuecke":[{"gemarkung":"1","zaehler":"1"},{"gemarkung":"1"}]}]}`)
		}, "/form/grundstuecke/0/flurstuecke/1/zaehler", "is required"},
		{"missing gemarkung", func(t *testing.T) MapInput {
			return withForm(t, `{"grundstuecke":[{"flurstuecke":[{"bundesland":"05","zaehler":"1"}]}]}`)
		}, "/form/grundstuecke/0/flurstuecke/0/gemarkung", "is required"},
		{"missing bundesland", func(t *testing.T) MapInput {
			return withForm(t, `{"grundstuecke":[{"flurstuecke":[{"gemarkung":"1","zaehler":"1"}]}]}`)
		}, "/form/grundstuecke/0/flurstuecke/0/bundesland", "is required"},
		{"bad bundesland", func(t *testing.T) MapInput {
			return withForm(t, `{"grundstuecke":[{"flurstuecke":[{"bundesland":"17","gemarkung":"1","zaehler":"1"}]}]}`)
		}, "/form/grundstuecke/0/flurstuecke/0/bundesland", "01..16"},
		{"zaehler wrong type", func(t *testing.T) MapInput {
			return withForm(t, `{"grundstuecke":[{"flurstuecke":[{"bundesland":"05","gemarkung":"1","zaehler":{"a":1}}]}]}`)
		}, "/form/grundstuecke/0/flurstuecke/0/zaehler", "must be a string"},
		{"bad flurstueck shorthand", func(t *testing.T) MapInput {
			return withForm(t, `{"grundstuecke":[{"flurstuecke":[{"bundesland":"05","gemarkung":"1","flurstueck":"1/2/3"}]}]}`)
		}, "/form/grundstuecke/0/flurstuecke/0/flurstueck", "Zähler/Nenner"},
		{"no artDesAntrags", func(t *testing.T) MapInput {
			in := withForm(t, `{`+okPlot+`}`)
			in.Submission.Service = "unconfigured"
			return in
		}, "/form/artDesAntrags", "is required"},
		{"only firstName", func(t *testing.T) MapInput {
			return withForm(t, `{"artDesAntrags":"1","applicant":{"firstName":"A"},`+okPlot+`}`)
		}, "/form/applicant/lastName", "together"},
		{"bad bezug referenz", func(t *testing.T) MapInput {
			return withForm(t, `{"artDesAntrags":"1","bezug":{"referenz":"x"},`+okPlot+`}`)
		}, "/form/bezug/referenz", "UUID"},
		{"no applicant name", func(t *testing.T) MapInput {
			in := withForm(t, `{"artDesAntrags":"1",`+okPlot+`}`)
			in.Submission.Applicant.Name = " "
			return in
		}, "/applicant/name", "required"},
		{"no city", func(t *testing.T) MapInput {
			in := full(t)
			in.Submission.Applicant.City = ""
			return in
		}, "/applicant/address/city", "is required"},
		{"no postal code", func(t *testing.T) MapInput {
			in := full(t)
			in.Submission.Applicant.PostalCode = ""
			return in
		}, "/applicant/address/postalCode", "is required"},
		{"foreign without staat", func(t *testing.T) MapInput {
			in := full(t)
			in.Submission.Applicant.Country = "AT"
			return in
		}, "/applicant/address/country", "Destatis"},
		{"bad email", func(t *testing.T) MapInput {
			in := full(t)
			in.Submission.Applicant.Email = "nobody"
			return in
		}, "/applicant/email", "e-mail"},
		{"emoji in name", func(t *testing.T) MapInput {
			return withForm(t, `{"artDesAntrags":"1","applicant":{"firstName":"Anna 😀","lastName":"B"},`+okPlot+`}`)
		}, "/form/applicant/firstName", "DIN 91379"},
		{"non-Latin in city", func(t *testing.T) MapInput {
			in := full(t)
			in.Submission.Applicant.City = "Москва"
			return in
		}, "/applicant/address/city", "DIN 91379"},
		{"control char", func(t *testing.T) MapInput {
			in := full(t)
			in.Submission.Applicant.Street = "A\x01B"
			return in
		}, "/applicant/address/street", "control character"},
		{"unknown anlageart", func(t *testing.T) MapInput {
			in := full(t)
			in.Submission.Form = json.RawMessage(`{"artDesAntrags":"1",` + okPlot + `,"anlagen":{"att-1":{"anlageart":"4711"}}}`)
			return in
		}, "/form/anlagen/att-1/anlageart", ListAnlagen},
		{"unknown anlageart on attachment", func(t *testing.T) MapInput {
			in := full(t)
			in.Submission.Attachments[2].AnlageArt = "0001"
			return in
		}, "/attachments/2/anlageArt", "not in code list"},
		{"anlagen names no attachment", func(t *testing.T) MapInput {
			in := full(t)
			in.Submission.Form = json.RawMessage(`{"artDesAntrags":"1",` + okPlot + `,"anlagen":{"a/b":{"anlageart":"1803"}}}`)
			return in
		}, "/form/anlagen/a~1b", "names no attachment"},
		{"attachment without filename", func(t *testing.T) MapInput {
			in := full(t)
			in.Submission.Attachments[2].Filename = ""
			return in
		}, "/attachments/2/filename", "required"},
		{"attachment bad hash", func(t *testing.T) MapInput {
			in := full(t)
			in.Submission.Attachments[0].SHA256 = "abc"
			return in
		}, "/attachments/0/sha256", "64 hex"},
		{"attachment zero size", func(t *testing.T) MapInput {
			in := full(t)
			in.Submission.Attachments[0].Size = 0
			return in
		}, "/attachments/0/size", "positive"},
		{"attachment bad content type", func(t *testing.T) MapInput {
			in := full(t)
			in.Submission.Attachments[0].ContentType = "pdf"
			return in
		}, "/attachments/0/contentType", "MIME"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := m.Map(context.Background(), c.in(t))
			var me *MappingError
			if !errors.As(err, &me) {
				t.Fatalf("got %v, want *MappingError", err)
			}
			if me.Field != c.field || !strings.Contains(me.Error(), c.reason) {
				t.Errorf("got field %q reason %q, want field %q containing %q", me.Field, me.Reason, c.field, c.reason)
			}
			if !IsPermanent(err) {
				t.Error("mapping error is not permanent")
			}
		})
	}
}

func TestUnknownCodeIsCodeError(t *testing.T) {
	m := newTestMapper(t)
	in := loadCase(t, "testdata/golden/full.json")
	in.Submission.Attachments[0].AnlageArt = "4711"
	in.Submission.Form = json.RawMessage(`{"artDesAntrags":"1",` + okPlot + `}`)
	_, err := m.Map(context.Background(), in)
	var ce *CodeError
	if !errors.As(err, &ce) || ce.Code != "4711" || ce.ListURI != ListAnlagen || ce.ListVersion != "3.0" || ce.Field != "/attachments/0/anlageArt" {
		t.Fatalf("got %#v", err)
	}
}

func TestConfigErrorsAreNotPermanent(t *testing.T) {
	m := newTestMapper(t)
	for name, mod := range map[string]func(*MapInput){
		"reader key": func(in *MapInput) { in.Reader.Key = "05315000" },
		"author key": func(in *MapInput) { in.Author.Key = "KOP:1" },
		"party name": func(in *MapInput) { in.Reader.Name = "Stadt \x02" },
	} {
		t.Run(name, func(t *testing.T) {
			in := loadCase(t, "testdata/golden/full.json")
			mod(&in)
			_, err := m.Map(context.Background(), in)
			if err == nil || IsPermanent(err) {
				t.Fatalf("got %v, want a non-permanent error", err)
			}
		})
	}
}

func TestMapDeterministic(t *testing.T) {
	m := newTestMapper(t)
	in := loadCase(t, "testdata/golden/full.json")
	a, err := m.Map(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Map(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if a.UUID != b.UUID || !bytes.Equal(a.XML, b.XML) {
		t.Error("re-mapping the same submission differs")
	}
	if want := MessageUUID("sub-0001", MessageKind1200); a.UUID != want {
		t.Errorf("UUID %s, want %s", a.UUID, want)
	}
	// Pinned: the namespace and the derivation must never change, or
	// re-mapping after an upgrade would produce a different nachrichtenUUID.
	if got := MessageUUID("sub-0001", "universellerAntrag.antrag.1200"); got != "4493f568-6257-5459-8ee7-6c8981deb022" {
		t.Errorf("MessageUUID changed: %s", got)
	}
	if IDNamespace.Version() != 5 || MessageUUID("sub-0002", MessageKind1200) == a.UUID || MessageUUID("sub-0001", "other") == a.UUID {
		t.Error("UUIDs do not depend on submission and kind")
	}
	in.Submission.ID = "sub-0003"
	c, err := m.Map(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if c.UUID == a.UUID {
		t.Error("another submission got the same UUID")
	}
}

func TestMapDocumentFields(t *testing.T) {
	m := newTestMapper(t)
	doc, err := m.Map(context.Background(), loadCase(t, "testdata/golden/minimal.json"))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Standard != "XBau-Kernmodul" || doc.Version != "1.3.0" || doc.TypeCode != "1200" || doc.RootElement != Root1200 || doc.Namespace != NSKernmodul130 {
		t.Errorf("document = %+v", doc)
	}
	// A non-UUID portal reference yields a derived, stable referenzAntragsservice.
	if !isUUID(doc.ReferenceUUID) || doc.ReferenceUUID != derivedUUID("sub-0002:referenzAntragsservice") {
		t.Errorf("reference %q", doc.ReferenceUUID)
	}
	if !bytes.HasPrefix(doc.XML, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Error("no XML declaration")
	}
	full, err := m.Map(context.Background(), loadCase(t, "testdata/golden/full.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []AttachmentRef{
		{ID: "att-1", DokumentID: "att-1", Filename: "lageplan.pdf", AnlageArt: "1803"},
		{ID: "att-2", DokumentID: "att-2", Filename: "Baubeschreibung.pdf", AnlageArt: "1500"},
		{ID: "att 3", DokumentID: "urn:uuid:" + derivedUUID("sub-0001:attachment:2"), Filename: "Foto Straßenansicht (Süd) - Cafe.JPG", AnlageArt: DefaultAnlageArt},
	}
	if len(full.Attachments) != len(want) {
		t.Fatalf("attachments %+v", full.Attachments)
	}
	for i := range want {
		if full.Attachments[i] != want[i] {
			t.Errorf("attachment %d = %+v, want %+v", i, full.Attachments[i], want[i])
		}
	}
	if bytes.Contains(full.XML, []byte("base64")) || len(full.XML) > 16<<10 {
		t.Errorf("attachments seem embedded (%d bytes)", len(full.XML))
	}
}

func TestDuplicateFilenamesAreMadeUnique(t *testing.T) {
	m := newTestMapper(t)
	in := loadCase(t, "testdata/golden/full.json")
	in.Submission.Form = json.RawMessage(`{"artDesAntrags":"1",` + okPlot + `}`)
	for i := range in.Submission.Attachments {
		in.Submission.Attachments[i].Filename = "plan.pdf"
		in.Submission.Attachments[i].ID = "same"
	}
	doc, err := m.Map(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	names, ids := map[string]bool{}, map[string]bool{}
	for _, a := range doc.Attachments {
		names[a.Filename], ids[a.DokumentID] = true, true
	}
	if len(names) != 3 || !names["plan_2.pdf"] || !names["plan_3.pdf"] || len(ids) != 3 {
		t.Errorf("attachments %+v", doc.Attachments)
	}
}

func TestSplitName(t *testing.T) {
	for _, c := range []struct{ in, vor, fam string }{
		{"Hans Peter Müller", "Hans Peter", "Müller"},
		{"Maria von der Leyen", "Maria", "von der Leyen"},
		{"Ludwig van Beethoven", "Ludwig", "van Beethoven"},
		{"  Anna   Schmidt ", "Anna", "Schmidt"},
		{"Madonna", "", "Madonna"},
		{"Karl von", "Karl", "von"},
		{"", "", ""},
	} {
		v, f := SplitName(c.in)
		if v != c.vor || f != c.fam {
			t.Errorf("SplitName(%q) = %q, %q; want %q, %q", c.in, v, f, c.vor, c.fam)
		}
	}
}

func TestSingleWordNameUsesNichtVorhanden(t *testing.T) {
	m := newTestMapper(t)
	in := loadCase(t, "testdata/golden/minimal.json")
	in.Submission.Applicant.Name = "Madonna"
	doc, err := m.Map(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc.XML, []byte("<vorname>\n          <nichtVorhanden>true</nichtVorhanden>")) {
		t.Errorf("no nichtVorhanden:\n%s", doc.XML)
	}
}

func TestSanitizeFilename(t *testing.T) {
	for _, c := range []struct{ in, ct, want string }{
		{"plan.pdf", "", "plan.pdf"},
		{"Grundriss – EG (v2).PDF", "", "Grundriss - EG (v2).PDF"},
		{"Café & Co.pdf", "", "Cafe _ Co.pdf"},
		{"scan", "image/png", "scan.png"},
		{"scan", "application/x-unknown", "scan.bin"},
		{"../../etc/passwd", "", "passwd.bin"},
		{"...", "", "Anlage.bin"},
		{"ZIP.tar.gz", "", "ZIP.tar.gz"},
		{strings.Repeat("a", 300) + ".pdf", "", strings.Repeat("a", 136) + ".pdf"},
	} {
		if got := SanitizeFilename(c.in, c.ct); got != c.want {
			t.Errorf("SanitizeFilename(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestForeignApplicantAndTestFlag(t *testing.T) {
	cfg := testConfig()
	cfg.Test = true
	m, err := NewMapper(cfg, shared.lists, shared.validator)
	if err != nil {
		t.Fatal(err)
	}
	in := loadCase(t, "testdata/golden/minimal.json")
	in.Submission.Applicant.Country = "at"
	in.Submission.Form = json.RawMessage(`{"applicant":{"staat":"151"},` + okPlot + `}`)
	doc, err := m.Map(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc.XML, []byte(`<staat listVersionID="2024-02-29">`)) || !bytes.Contains(doc.XML, []byte(`test="true"`)) {
		t.Errorf("no staat or test flag:\n%s", doc.XML)
	}
	parsed, err := ParseInbound(doc.XML)
	if err != nil || !parsed.Header.Test {
		t.Errorf("test flag not parsed: %v", err)
	}
	in.Submission.Form = json.RawMessage(`{"applicant":{"staat":"AT"},` + okPlot + `}`)
	var me *MappingError
	if _, err := m.Map(context.Background(), in); !errors.As(err, &me) || me.Field != "/form/applicant/staat" {
		t.Errorf("bad staat: %v", err)
	}
}
