package xoev

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// MaxFormSize bounds the form JSON the mapper decodes.
const MaxFormSize = 4 << 20

// Form is the decoded part of a submission's form JSON that the 1200 mapping
// reads. The JSON shape is documented in the package documentation; fields not
// listed there are ignored (portals send much more than a 1200 can carry).
type Form struct {
	ArtDesAntrags string
	Applicant     FormApplicant
	Bezug         *FormBezug
	Grundstuecke  []Grundstueck
	// Anlagen holds per-attachment overrides keyed by attachment ID or filename.
	Anlagen map[string]FormAnlage
}

// FormApplicant are optional name parts and extras for the applicant.
type FormApplicant struct {
	FirstName  string // → vorname
	LastName   string // → familienname
	Title      string // → titel
	Salutation string // → anrede
	Phone      string // → kommunikation (kanal 02 Telefon Festnetz)
	Staat      string // Destatis Staatsgebiet code, needed for non-German addresses
}

// FormBezug refers to an earlier procedure.
type FormBezug struct {
	Referenz string // UUID of an earlier referenzAntragsservice
	Vorgang  string // Aktenzeichen of the authority
}

// Grundstueck is one plot of land.
type Grundstueck struct {
	Anschrift   *FormAnschrift
	Flurstuecke []Flurstueck
}

// FormAnschrift is the address of a plot.
type FormAnschrift struct {
	Strasse, Hausnummer, Postleitzahl, Ort, Ortsteil, Zusatz string
}

// Flurstueck identifies a cadastral parcel (Flurstückskennzeichen).
type Flurstueck struct {
	Bundesland           string // Destatis code "01".."16"
	GemarkungNummer      string
	GemarkungBezeichnung string
	Flur                 string
	Zaehler              string
	Nenner               string
	Folge                string
}

// FormAnlage overrides the anlage metadata of one attachment.
type FormAnlage struct {
	AnlageArt   string // code of urn:xoev-de:xbau:codeliste:anlagen
	Bezeichnung string
}

// DecodeForm decodes and checks form JSON. Errors are *MappingError with a JSON
// pointer below "/form" (pointers are relative to the submission JSON).
func DecodeForm(raw json.RawMessage) (Form, error) {
	var f Form
	if len(bytes.TrimSpace(raw)) == 0 {
		return f, mapErr("/form", "form data is missing")
	}
	if len(raw) > MaxFormSize {
		return f, mapErr("/form", "form data has %d bytes, more than the limit of %d", len(raw), MaxFormSize)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return f, mapErr("/form", "form data is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return f, mapErr("/form", "form data has trailing content after the JSON value")
	}
	root, ok := v.(map[string]any)
	if !ok {
		return f, mapErr("/form", "form data must be a JSON object, got %s", jsonKind(v))
	}
	o := jobj{m: root, ptr: "/form"}
	var err error
	if f.ArtDesAntrags, err = o.str("artDesAntrags", false); err != nil {
		return f, err
	}
	if a, ok, err := o.obj("applicant"); err != nil {
		return f, err
	} else if ok {
		for _, fld := range []struct {
			key string
			dst *string
		}{
			{"firstName", &f.Applicant.FirstName}, {"lastName", &f.Applicant.LastName},
			{"title", &f.Applicant.Title}, {"salutation", &f.Applicant.Salutation},
			{"phone", &f.Applicant.Phone}, {"staat", &f.Applicant.Staat},
		} {
			if *fld.dst, err = a.str(fld.key, false); err != nil {
				return f, err
			}
		}
		if (f.Applicant.FirstName == "") != (f.Applicant.LastName == "") {
			missing := "lastName"
			if f.Applicant.FirstName == "" {
				missing = "firstName"
			}
			return f, mapErr(a.ptr+"/"+missing, "firstName and lastName must be given together")
		}
	}
	if b, ok, err := o.obj("bezug"); err != nil {
		return f, err
	} else if ok {
		fb := &FormBezug{}
		if fb.Referenz, err = b.str("referenz", false); err != nil {
			return f, err
		}
		if fb.Referenz != "" && !isUUID(fb.Referenz) {
			return f, mapErr(b.ptr+"/referenz", "must be a UUID")
		}
		if fb.Vorgang, err = b.str("vorgang", false); err != nil {
			return f, err
		}
		if fb.Referenz != "" || fb.Vorgang != "" {
			f.Bezug = fb
		}
	}
	if f.Grundstuecke, err = decodeGrundstuecke(o); err != nil {
		return f, err
	}
	if f.Anlagen, err = decodeAnlagen(o); err != nil {
		return f, err
	}
	return f, nil
}

func decodeGrundstuecke(o jobj) ([]Grundstueck, error) {
	arr, hasArr, err := o.arr("grundstuecke")
	if err != nil {
		return nil, err
	}
	single, hasSingle, err := o.obj("grundstueck")
	if err != nil {
		return nil, err
	}
	var items []jobj
	switch {
	case hasArr && hasSingle:
		return nil, mapErr(o.ptr+"/grundstueck", `give either "grundstueck" or "grundstuecke", not both`)
	case hasSingle:
		items = []jobj{single}
	case hasArr:
		for i := range arr.a {
			it, err := arr.objAt(i)
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		}
	}
	if len(items) == 0 {
		return nil, mapErr(o.ptr+"/grundstuecke", "at least one Grundstück is required")
	}
	out := make([]Grundstueck, 0, len(items))
	for _, g := range items {
		var gs Grundstueck
		if a, ok, err := g.obj("anschrift"); err != nil {
			return nil, err
		} else if ok {
			fa := &FormAnschrift{}
			for _, fld := range []struct {
				key string
				dst *string
			}{
				{"strasse", &fa.Strasse}, {"hausnummer", &fa.Hausnummer}, {"postleitzahl", &fa.Postleitzahl},
				{"ort", &fa.Ort}, {"ortsteil", &fa.Ortsteil}, {"zusatz", &fa.Zusatz},
			} {
				if *fld.dst, err = a.str(fld.key, false); err != nil {
					return nil, err
				}
			}
			if *fa != (FormAnschrift{}) {
				gs.Anschrift = fa
			}
		}
		defaultLand, err := g.str("bundesland", false)
		if err != nil {
			return nil, err
		}
		fl, ok, err := g.arr("flurstuecke")
		if err != nil {
			return nil, err
		}
		if !ok || fl.len() == 0 {
			return nil, mapErr(g.ptr+"/flurstuecke", "at least one Flurstück is required")
		}
		for i := range fl.a {
			fo, err := fl.objAt(i)
			if err != nil {
				return nil, err
			}
			f, err := decodeFlurstueck(fo, defaultLand)
			if err != nil {
				return nil, err
			}
			gs.Flurstuecke = append(gs.Flurstuecke, f)
		}
		out = append(out, gs)
	}
	return out, nil
}

func decodeFlurstueck(o jobj, defaultLand string) (Flurstueck, error) {
	var f Flurstueck
	var err error
	if f.Bundesland, err = o.str("bundesland", false); err != nil {
		return f, err
	}
	if f.Bundesland == "" {
		f.Bundesland = defaultLand
	}
	if f.Bundesland == "" {
		return f, mapErr(o.ptr+"/bundesland", "is required (Destatis Bundesland code 01..16, here or on the Grundstück)")
	}
	if len(f.Bundesland) == 1 && f.Bundesland[0] >= '1' && f.Bundesland[0] <= '9' {
		f.Bundesland = "0" + f.Bundesland // a JSON number 5 means "05"
	}
	if n, err := strconv.Atoi(f.Bundesland); err != nil || len(f.Bundesland) != 2 || n < 1 || n > 16 {
		return f, mapErr(o.ptr+"/bundesland", "%q is not a Destatis Bundesland code (01..16)", f.Bundesland)
	}
	if f.GemarkungNummer, err = o.str("gemarkung", false); err != nil {
		return f, err
	}
	if f.GemarkungBezeichnung, err = o.str("gemarkungName", false); err != nil {
		return f, err
	}
	switch {
	case f.GemarkungNummer == "" && f.GemarkungBezeichnung == "":
		return f, mapErr(o.ptr+"/gemarkung", `is required ("gemarkung" = Gemarkungsnummer or "gemarkungName" = Bezeichnung)`)
	case f.GemarkungNummer != "" && f.GemarkungBezeichnung != "":
		return f, mapErr(o.ptr+"/gemarkungName", `give either "gemarkung" or "gemarkungName", not both`)
	}
	if f.Flur, err = o.str("flur", false); err != nil {
		return f, err
	}
	if f.Zaehler, err = o.str("zaehler", false); err != nil {
		return f, err
	}
	if f.Nenner, err = o.str("nenner", false); err != nil {
		return f, err
	}
	if f.Folge, err = o.str("folge", false); err != nil {
		return f, err
	}
	short, err := o.str("flurstueck", false)
	if err != nil {
		return f, err
	}
	if short != "" {
		if f.Zaehler != "" {
			return f, mapErr(o.ptr+"/flurstueck", `give either "flurstueck" or "zaehler"/"nenner", not both`)
		}
		z, n, _ := strings.Cut(short, "/")
		f.Zaehler, f.Nenner = strings.TrimSpace(z), strings.TrimSpace(n)
		if f.Zaehler == "" || strings.Contains(f.Nenner, "/") {
			return f, mapErr(o.ptr+"/flurstueck", `%q is not a Flurstücksnummer of the form "Zähler" or "Zähler/Nenner"`, short)
		}
	}
	if f.Zaehler == "" {
		return f, mapErr(o.ptr+"/zaehler", `is required (Flurstücksnummer Zähler, or "flurstueck": "Zähler/Nenner")`)
	}
	for _, t := range []struct{ key, v string }{{"flur", f.Flur}, {"zaehler", f.Zaehler}, {"nenner", f.Nenner}, {"folge", f.Folge}, {"gemarkung", f.GemarkungNummer}} {
		if strings.ContainsAny(t.v, " \t\r\n") {
			return f, mapErr(o.ptr+"/"+t.key, "%q must not contain white space", t.v)
		}
	}
	return f, nil
}

func decodeAnlagen(o jobj) (map[string]FormAnlage, error) {
	a, ok, err := o.obj("anlagen")
	if err != nil || !ok {
		return nil, err
	}
	out := make(map[string]FormAnlage, len(a.m))
	keys := make([]string, 0, len(a.m))
	for k := range a.m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic first error
	for _, k := range keys {
		e, err := a.objKey(k)
		if err != nil {
			return nil, err
		}
		var fa FormAnlage
		if fa.AnlageArt, err = e.str("anlageart", false); err != nil {
			return nil, err
		}
		if fa.Bezeichnung, err = e.str("bezeichnung", false); err != nil {
			return nil, err
		}
		out[k] = fa
	}
	return out, nil
}

// jobj is a JSON object with its pointer.
type jobj struct {
	m   map[string]any
	ptr string
}

type jarr struct {
	a   []any
	ptr string
}

func (a jarr) objAt(i int) (jobj, error) {
	p := a.ptr + "/" + strconv.Itoa(i)
	m, ok := a.a[i].(map[string]any)
	if !ok {
		return jobj{}, mapErr(p, "must be an object, got %s", jsonKind(a.a[i]))
	}
	return jobj{m: m, ptr: p}, nil
}

func (o jobj) child(key string) string { return o.ptr + "/" + escapePointer(key) }

// str reads a string (JSON numbers are accepted and kept verbatim). Empty and
// white-space-only strings count as absent.
func (o jobj) str(key string, required bool) (string, error) {
	v, ok := o.m[key]
	if !ok || v == nil {
		if required {
			return "", mapErr(o.child(key), "is required")
		}
		return "", nil
	}
	var s string
	switch t := v.(type) {
	case string:
		s = strings.TrimSpace(t)
	case json.Number:
		s = t.String()
	default:
		return "", mapErr(o.child(key), "must be a string, got %s", jsonKind(v))
	}
	if s == "" && required {
		return "", mapErr(o.child(key), "is required")
	}
	return s, nil
}

func (o jobj) obj(key string) (jobj, bool, error) {
	v, ok := o.m[key]
	if !ok || v == nil {
		return jobj{}, false, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return jobj{}, false, mapErr(o.child(key), "must be an object, got %s", jsonKind(v))
	}
	return jobj{m: m, ptr: o.child(key)}, true, nil
}

func (o jobj) objKey(key string) (jobj, error) {
	j, _, err := o.obj(key)
	if err == nil && j.m == nil {
		return jobj{}, mapErr(o.child(key), "must be an object, got null")
	}
	return j, err
}

func (o jobj) arr(key string) (jarr, bool, error) {
	v, ok := o.m[key]
	if !ok || v == nil {
		return jarr{}, false, nil
	}
	a, ok := v.([]any)
	if !ok {
		return jarr{}, false, mapErr(o.child(key), "must be an array, got %s", jsonKind(v))
	}
	return jarr{a: a, ptr: o.child(key)}, true, nil
}

func (a jarr) len() int { return len(a.a) }

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// escapePointer escapes a JSON pointer reference token (RFC 6901).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
