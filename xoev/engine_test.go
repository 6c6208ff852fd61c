package xoev

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestEngineFieldErrors: malformed form data yields every error with its JSON
// pointer and what was expected (type, pattern, code list).
func TestEngineFieldErrors(t *testing.T) {
	e := newTestEngine(t)
	in := loadCase(t, filepath.Join("testdata", "profiles", "baugenehmigung", "efh.json"))
	in.Submission.Service = "baugenehmigung"
	var form map[string]any
	if err := json.Unmarshal(in.Submission.Form, &form); err != nil {
		t.Fatal(err)
	}
	form["anlagen"].(map[string]any)["att-1"].(map[string]any)["anlageart"] = "4711"
	g := form["grundstuecke"].([]any)[0].(map[string]any)
	g["flurstuecke"].([]any)[0].(map[string]any)["zaehler"] = "12a"
	g["bundesland"] = "17"
	delete(form, "bezeichnung")
	form["bauherren"].([]any)[0].(map[string]any)["email"] = "not-an-address"
	in.Submission.Form, _ = json.Marshal(form)

	_, err := e.Map(context.Background(), in)
	fes := AsFieldErrors(err)
	if !IsPermanent(err) || len(fes) == 0 {
		t.Fatalf("err = %v", err)
	}
	got := map[string]string{}
	for _, fe := range fes {
		got[fe.Field] = fe.Reason
	}
	want := map[string]string{
		"/form/anlagen/att-1/anlageart":              `code "4711" is not in code list urn:xoev-de:xbau:codeliste:anlagen version 3.0`,
		"/form/grundstuecke/0/flurstuecke/0/zaehler": `"12a" does not match the expected pattern`,
		"/form/grundstuecke/0/bundesland":            `expected 01..16`,
		"/form/bezeichnung":                          "is required",
		"/form/bauherren/0/email":                    "does not match the expected pattern",
	}
	for f, w := range want {
		if !strings.Contains(got[f], w) {
			t.Errorf("%s: got %q, want it to contain %q (all: %v)", f, got[f], w, got)
		}
	}
	var ce *CodeError
	if !errors.As(err, &ce) || ce.Code != "4711" || ce.ListURI != ListAnlagen {
		t.Errorf("CodeError = %+v", ce)
	}
	// The JSON shape is checked too.
	in.Submission.Form = json.RawMessage(`{"bezeichnung": {"x": 1}, "bauherren": "Erika", "grundstuecke": []}`)
	_, err = e.Map(context.Background(), in)
	got = map[string]string{}
	for _, fe := range AsFieldErrors(err) {
		got[fe.Field] = fe.Reason
	}
	for f, w := range map[string]string{"/form/bezeichnung": "expected a string", "/form/bauherren": "expected an array", "/form/grundstuecke": "at least 1 item"} {
		if !strings.Contains(got[f], w) {
			t.Errorf("%s: got %q, want %q (all %v)", f, got[f], w, got)
		}
	}
}

// TestLoadProfileErrors: static profile checks name the offending key.
func TestLoadProfileErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "service: x\nbogus: 1\n", "bogus: unknown key"},
		{"bad var", "standard: s\nversion: v\nmessageType: m\ntypeCode: c\nschema: a.xsd\nroot: {prefix: p, namespaces: [{prefix: p, uri: u}]}\nbody: [{el: a, var: nope}]\n", `unknown var "nope"`},
		{"escaping schema", "standard: s\nversion: v\nmessageType: m\ntypeCode: c\nschema: ../../etc/x.xsd\nroot: {prefix: p, namespaces: [{prefix: p, uri: u}]}\nbody: [{el: a, const: x}]\n", "below the standards directory"},
		{"undeclared prefix", "standard: s\nversion: v\nmessageType: m\ntypeCode: c\nschema: a.xsd\nroot: {prefix: p, namespaces: [{prefix: p, uri: u}]}\nbody: [{el: q:a, const: x}]\n", `prefix "q" is not declared`},
		{"value and children", "standard: s\nversion: v\nmessageType: m\ntypeCode: c\nschema: a.xsd\nroot: {prefix: p, namespaces: [{prefix: p, uri: u}]}\nbody: [{el: a, const: x, children: [{el: b, const: y}]}]\n", "not both"},
		{"bad format", "standard: s\nversion: v\nmessageType: m\ntypeCode: c\nschema: a.xsd\nroot: {prefix: p, namespaces: [{prefix: p, uri: u}]}\nbody: [{el: a, from: /x, format: roman}]\n", `unknown format "roman"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadProfile("t.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestNoNetwork: a schema importing an http:// schemaLocation fails to compile
// without any request reaching the server.
func TestNoNetwork(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:remote"><xs:element name="r"/></xs:schema>`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	xsd := `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:r="urn:remote" targetNamespace="urn:local">
  <xs:import namespace="urn:remote" schemaLocation="` + srv.URL + `/remote.xsd"/>
  <xs:element name="l"><xs:complexType><xs:sequence><xs:element ref="r:r"/></xs:sequence></xs:complexType></xs:element>
</xs:schema>`
	if err := os.WriteFile(filepath.Join(dir, "net.xsd"), []byte(xsd), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := NewValidator(shared.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	v.dir = dir
	before := refusedNetworkLoads()
	if err := v.Compile("net.xsd"); err == nil {
		t.Error("a schema needing the network compiled")
	}
	if hits.Load() != 0 {
		t.Errorf("libxml2 fetched %d schema(s) over the network", hits.Load())
	}
	if refusedNetworkLoads() == before {
		t.Error("the no-network loader did not refuse the import")
	}
}

// maxFuzzForm bounds the form data FuzzEngine maps: four times the largest
// seed, enough for every rule of every shipped profile to fire.
const maxFuzzForm = 4 << 10

// FuzzEngine: arbitrary form JSON never panics the mapping engine and yields
// either a valid message or errors.
func FuzzEngine(f *testing.F) {
	e := newTestEngine(f)
	base := loadCase(f, filepath.Join("testdata", "profiles", "baugenehmigung", "efh.json"))
	f.Add([]byte(base.Submission.Form), "baugenehmigung")
	f.Add([]byte(`{"grundstuecke":[{"flurstuecke":[{"zaehler":1}]}]}`), "universeller-antrag")
	f.Add([]byte(`{"betreff":"x"}`), "xdomea-abgabe")
	f.Add([]byte(`{"bauherren":[[[[[]]]]],"anlagen":{"{./id}":{}}}`), "baugenehmigung-xbau23")
	f.Fuzz(func(t *testing.T, form []byte, svc string) {
		// Forms are bounded like the intake bounds them in production (and
		// the minimiser's cost grows with the square of the input length).
		if len(form) > maxFuzzForm {
			return
		}
		in := base
		in.Submission.Service = svc
		in.Submission.Form = form
		doc, err := e.Map(context.Background(), in)
		if err == nil && len(doc.XML) == 0 {
			t.Fatal("no error and no XML")
		}
	})
}

// BenchmarkProfileMap0200 maps and validates (in-process XSD + Schematron) a
// baugenehmigung.antrag.0200 with 20 Flurstücke and 10 Anlagen.
func BenchmarkProfileMap0200(b *testing.B) {
	e := newTestEngine(b)
	in := big0200(b)
	if _, err := e.Map(context.Background(), in); err != nil { // compiles the schema (Register only checks it)
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Map(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkValidate0200 validates the same 0200 in-process only.
func BenchmarkValidate0200(b *testing.B) {
	e := newTestEngine(b)
	doc, err := e.Map(context.Background(), big0200(b))
	if err != nil {
		b.Fatal(err)
	}
	p, _ := e.Profile("baugenehmigung")
	for b.Loop() {
		if err := e.validator.ValidateAgainst(context.Background(), p.Schema, p.MessageType, doc.XML); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkXmllint0200 validates the same 0200 with one xmllint process per
// message (the alternative to in-process validation).
func BenchmarkXmllint0200(b *testing.B) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		b.Fatal("xmllint not found (apt-get install libxml2-utils): ", err)
	}
	e := newTestEngine(b)
	doc, err := e.Map(context.Background(), big0200(b))
	if err != nil {
		b.Fatal(err)
	}
	p, _ := e.Profile("baugenehmigung")
	file := filepath.Join(b.TempDir(), "0200.xml")
	if err := os.WriteFile(file, doc.XML, 0o644); err != nil {
		b.Fatal(err)
	}
	schema := filepath.Join(shared.dir, filepath.FromSlash(p.Schema))
	for b.Loop() {
		if out, err := exec.Command(xmllint, "--nonet", "--noout", "--schema", schema, file).CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func big0200(tb testing.TB) MapInput {
	in := loadCase(tb, filepath.Join("testdata", "profiles", "baugenehmigung", "efh.json"))
	in.Submission.Service = "baugenehmigung"
	var form map[string]any
	if err := json.Unmarshal(in.Submission.Form, &form); err != nil {
		tb.Fatal(err)
	}
	var fl []any
	for i := range 20 {
		fl = append(fl, map[string]any{"gemarkung": "054321", "flur": "12", "zaehler": fmt.Sprint(100 + i)})
	}
	form["grundstuecke"] = []any{map[string]any{"bundesland": "05", "flurstuecke": fl}}
	form["anlagen"] = map[string]any{}
	in.Submission.Form, _ = json.Marshal(form)
	in.Submission.Attachments = nil
	for i := range 10 {
		in.Submission.Attachments = append(in.Submission.Attachments, Attachment{
			ID: fmt.Sprintf("att-%d", i), Filename: fmt.Sprintf("Bauvorlage %d.pdf", i), ContentType: "application/pdf",
			Size: 1000, SHA256: strings.Repeat("ab", 32),
		})
	}
	return in
}
