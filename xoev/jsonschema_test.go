package xoev

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// compileSchema compiles a generated schema with an independent JSON Schema
// 2020-12 implementation (which also checks it against the metaschema).
func compileSchema(t testing.TB, service string, data []byte) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: schema is not JSON: %v", service, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	url := "urn:dxhub:schema:" + service
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("%s: schema does not compile as JSON Schema 2020-12: %v", service, err)
	}
	return s
}

// portalSubmission is a profile test case as the portal posts it.
func portalSubmission(in MapInput) map[string]any {
	s := in.Submission
	var form any
	if err := json.Unmarshal(s.Form, &form); err != nil {
		panic(err)
	}
	addr := map[string]any{}
	for k, v := range map[string]string{"street": s.Applicant.Street, "houseNumber": s.Applicant.HouseNumber, "postalCode": s.Applicant.PostalCode, "city": s.Applicant.City, "country": s.Applicant.Country} {
		if v != "" {
			addr[k] = v
		}
	}
	sub := map[string]any{
		"tenant": "05315000", "service": s.Service, "reference": s.Reference,
		"applicant": map[string]any{"name": s.Applicant.Name, "email": s.Applicant.Email, "mailbox": "bundid-test", "address": addr},
		"form":      form,
	}
	if sub["reference"] == "" {
		sub["reference"] = "ref-" + s.ID
	}
	return sub
}

// TestJSONSchemaGolden generates each shipped service's schema, compares it
// with testdata/schemas/<service>.json (-update rewrites) and compiles it as
// JSON Schema 2020-12.
func TestJSONSchemaGolden(t *testing.T) {
	e := newTestEngine(t)
	if len(e.Services()) == 0 {
		t.Fatal("no services")
	}
	for _, svc := range e.Services() {
		t.Run(svc, func(t *testing.T) {
			got, err := e.JSONSchema(svc)
			if err != nil {
				t.Fatal(err)
			}
			compileSchema(t, svc, got)
			golden := filepath.Join("testdata", "schemas", svc+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./xoev -run TestJSONSchemaGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the generated schema:\n%s", golden, got)
			}
		})
	}
	if _, err := e.JSONSchema("no-such-service"); !errors.Is(err, ErrNoProfile) {
		t.Errorf("unknown service: %v", err)
	}
}

// TestJSONSchemaAgreesWithEngine: every golden form of a service is valid
// against its schema, and each broken form below is refused by both the
// schema and the mapping engine (a field error at the same place).
func TestJSONSchemaAgreesWithEngine(t *testing.T) {
	e := newTestEngine(t)
	for _, svc := range e.Services() {
		data, err := e.JSONSchema(svc)
		if err != nil {
			t.Fatal(err)
		}
		s := compileSchema(t, svc, data)
		for _, f := range profileCases(t, svc) {
			in := loadCase(t, f)
			in.Submission.Service = svc
			if err := s.Validate(portalSubmission(in)); err != nil {
				t.Errorf("%s: golden case %s is not valid against the schema: %v", svc, f, err)
			}
		}
	}
	type edit func(form map[string]any)
	del := func(path ...string) edit {
		return func(form map[string]any) {
			m := form
			for _, p := range path[:len(path)-1] {
				switch v := m[p].(type) {
				case map[string]any:
					m = v
				case []any:
					m = v[0].(map[string]any)
				}
			}
			delete(m, path[len(path)-1])
		}
	}
	set := func(v any, path ...string) edit {
		return func(form map[string]any) {
			m := form
			for _, p := range path[:len(path)-1] {
				switch x := m[p].(type) {
				case map[string]any:
					m = x
				case []any:
					m = x[0].(map[string]any)
				}
			}
			m[path[len(path)-1]] = v
		}
	}
	for _, tt := range []struct {
		name, service, file string
		edit                edit
		field               string // JSON pointer prefix of the engine's error
	}{
		{"no Grundstück", "universeller-antrag", "full.json", func(f map[string]any) { delete(f, "grundstuecke"); delete(f, "grundstueck") }, "/form/grundstuecke"},
		{"no Flurstück", "universeller-antrag", "minimal.json", del("grundstueck", "flurstuecke"), "/form/grundstueck/flurstuecke"},
		{"Zähler not digits", "universeller-antrag", "minimal.json", set("12a", "grundstueck", "flurstuecke", "zaehler"), "/form/grundstueck/flurstuecke/0/zaehler"},
		{"unknown artDesAntrags type", "universeller-antrag", "minimal.json", set(map[string]any{"x": 1}, "artDesAntrags"), "/form/artDesAntrags"},
		{"no Bezeichnung", "baugenehmigung", "efh.json", del("bezeichnung"), "/form/bezeichnung"},
		{"no Bauherr", "baugenehmigung", "efh.json", del("bauherren"), "/form/bauherren"},
		{"Bauherr without Nachname", "baugenehmigung", "efh.json", del("bauherren", "nachname"), "/form/bauherren/0/nachname"},
		{"unknown Maßnahme", "baugenehmigung", "efh.json", set([]any{"abriss-mit-dynamit"}, "artDerMassnahme"), "/form/artDerMassnahme/0"},
		{"no Bauherr (2.3)", "baugenehmigung-xbau23", "efh.json", del("bauherren"), "/form/bauherren"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data, err := e.JSONSchema(tt.service)
			if err != nil {
				t.Fatal(err)
			}
			s := compileSchema(t, tt.service, data)
			in := loadCase(t, filepath.Join("testdata", "profiles", tt.service, tt.file))
			in.Submission.Service = tt.service
			var form map[string]any
			if err := json.Unmarshal(in.Submission.Form, &form); err != nil {
				t.Fatal(err)
			}
			tt.edit(form)
			raw, err := json.Marshal(form)
			if err != nil {
				t.Fatal(err)
			}
			in.Submission.Form = raw
			if err := s.Validate(portalSubmission(in)); err == nil {
				t.Error("the schema accepts the broken form")
			}
			_, err = e.Map(context.Background(), in)
			fes := AsFieldErrors(err)
			if !slices.ContainsFunc(fes, func(me *MappingError) bool { return strings.HasPrefix(me.Field, tt.field) }) {
				t.Errorf("engine error %v has no field %s", err, tt.field)
			}
		})
	}
}

// TestJSONSchemaRules: how rule kinds become schema keywords, on a small
// profile, checked by validating instances with the compiled schema.
func TestJSONSchemaRules(t *testing.T) {
	p, err := LoadProfile("inline", []byte(`
service: t
standard: T
version: "1"
messageType: t.0001
typeCode: "0001"
schema: t/t.xsd
root: {prefix: t, namespaces: [{prefix: t, uri: "urn:t"}]}
body:
  - el: person
    each: /form/personen
    min: 1
    children:
      - el: nat
        if: {path: ./firma, absent: true}
        children:
          - {el: name, from: ./name, required: true}
      - el: org
        fallback: true
        children:
          - {el: name, from: ./firma, required: true}
      - el: kontakt
        if: ./kontakt
        children:
          - {el: mail, from: ./kontakt/mail, required: true, pattern: '[^@]+@[^@]+'}
  - {el: datum, from: /form/datum, format: date, required: true}
  - {el: plz, from: [/form/plz, /form/postleitzahl], required: true, doc: Postleitzahl}
  - {el: art, from: /form/art, enum: ["a", "b"]}
  - {el: z, from: /applicant/address/city, required: true}
  - el: anlage
    each: /attachments
    min: 2
    children:
      - {el: titel, from: "/form/anlagen/{./id}/titel", required: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	data, err := p.JSONSchema("t", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := compileSchema(t, "t", data)
	base := func() map[string]any {
		return map[string]any{
			"tenant": "05315000", "service": "t", "reference": "r",
			"applicant": map[string]any{"name": "A B", "address": map[string]any{"city": "Köln"}},
			"form": map[string]any{
				"personen": []any{map[string]any{"name": "X"}, map[string]any{"firma": "Y GmbH", "kontakt": map[string]any{"mail": "a@b"}}},
				"datum":    "2026-11-23", "postleitzahl": "50667", "art": "a",
				"anlagen": map[string]any{"att-1": map[string]any{"titel": "Plan"}},
			},
		}
	}
	if err := s.Validate(base()); err != nil {
		t.Fatalf("valid instance refused: %v\n%s", err, data)
	}
	for name, mod := range map[string]func(m map[string]any){
		"wrong service":  func(m map[string]any) { m["service"] = "u" },
		"no tenant":      func(m map[string]any) { delete(m, "tenant") },
		"no personen":    func(m map[string]any) { delete(m["form"].(map[string]any), "personen") },
		"empty personen": func(m map[string]any) { m["form"].(map[string]any)["personen"] = []any{} },
		"person without name/firma": func(m map[string]any) {
			m["form"].(map[string]any)["personen"] = []any{map[string]any{"vorname": "X"}}
		},
		"kontakt without mail": func(m map[string]any) {
			m["form"].(map[string]any)["personen"] = map[string]any{"name": "X", "kontakt": map[string]any{}}
		},
		"mail pattern": func(m map[string]any) {
			m["form"].(map[string]any)["personen"] = map[string]any{"name": "X", "kontakt": map[string]any{"mail": "x"}}
		},
		"no datum":        func(m map[string]any) { delete(m["form"].(map[string]any), "datum") },
		"neither plz":     func(m map[string]any) { delete(m["form"].(map[string]any), "postleitzahl") },
		"art not in enum": func(m map[string]any) { m["form"].(map[string]any)["art"] = "c" },
		"no city":         func(m map[string]any) { delete(m["applicant"].(map[string]any)["address"].(map[string]any), "city") },
	} {
		t.Run(name, func(t *testing.T) {
			m := base()
			mod(m)
			if err := s.Validate(m); err == nil {
				t.Error("accepted")
			}
		})
	}
	// One object counts as one item (as in the engine).
	m := base()
	m["form"].(map[string]any)["personen"] = map[string]any{"name": "X"}
	if err := s.Validate(m); err != nil {
		t.Errorf("single object item refused: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	att := doc["properties"].(map[string]any)["attachments"].(map[string]any)
	if att["x-dxhub-minAttachments"] != float64(2) {
		t.Errorf("attachments = %v", att)
	}
	plz := doc["properties"].(map[string]any)["form"].(map[string]any)["properties"].(map[string]any)["plz"].(map[string]any)
	if plz["description"] != "Postleitzahl" {
		t.Errorf("plz = %v", plz)
	}
}
