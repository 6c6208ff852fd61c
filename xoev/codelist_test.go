package xoev

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadCodeLists(t *testing.T) {
	l := shared.lists
	if l.Len() < 12 {
		t.Fatalf("loaded %d lists: %v", l.Len(), l.URIs())
	}
	an, ok := l.Lookup(ListAnlagen, "3.0")
	if !ok {
		t.Fatal("anlagen 3.0 missing")
	}
	if n, _ := an.Name("9999"); n != "Weitere, nicht näher spezifizierte Anlage" {
		t.Errorf("9999 = %q", n)
	}
	if n, _ := an.Name("1803"); n != "Lageplan" {
		t.Errorf("1803 = %q", n)
	}
	// Lists with other key column names.
	fk, ok := l.Lookup(ListFehlerkennzahlen, "2.2")
	if !ok || !fk.Has("X001") || fk.Has("x001") {
		t.Error("fehlerkennzahlen keyed wrongly")
	}
	pr, ok := l.Lookup("urn:xoev-de:bund:bmi:bit:codeliste:dvdv.praefix", "51")
	if !ok || !pr.Has("ags") {
		t.Error("dvdv.praefix 51 lacks ags")
	}
	if err := l.Check("/x", ListAnlagen, "3.0", "1803"); err != nil {
		t.Error(err)
	}
	var ce *CodeError
	if err := l.Check("/x", ListAnlagen, "3.0", "0001"); !errors.As(err, &ce) || ce.Field != "/x" || ce.Code != "0001" || ce.ListURI != ListAnlagen || ce.ListVersion != "3.0" {
		t.Errorf("unknown code: %v", err)
	}
	if err := l.Check("/x", ListAnlagen, "9.9", "1803"); !errors.Is(err, ErrCodeListMissing) || IsPermanent(err) {
		t.Errorf("missing list: %v", err)
	}
	if err := l.CheckIfLoaded("/x", ListMimeTypes, "1.0", "anything"); err != nil {
		t.Errorf("CheckIfLoaded on an absent list: %v", err)
	}
}

// TestTablesMatchCodeLists keeps the built-in status and Fehlerkennzahl tables
// in step with the deployed genericode files.
func TestTablesMatchCodeLists(t *testing.T) {
	st, ok := shared.lists.Lookup(ListStatusBauportal, ListStatusBauportalVersion)
	if !ok {
		t.Fatal("statusbauportal missing")
	}
	if len(st.Codes()) != len(StatusBauportal) {
		t.Errorf("statusbauportal has %d codes, table %d", len(st.Codes()), len(StatusBauportal))
	}
	for _, c := range st.Codes() {
		name, _ := st.Name(c)
		info, ok := StatusBauportal[c]
		if !ok || info.Name != name {
			t.Errorf("status %s: table %+v, list %q", c, info, name)
		}
		switch info.Kind {
		case KindAcknowledged, KindInProgress, KindDecided, KindRejected:
		default:
			t.Errorf("status %s has kind %q", c, info.Kind)
		}
	}
	fk, ok := shared.lists.Lookup(ListFehlerkennzahlen, ListFehlerkennzahlenVersion)
	if !ok {
		t.Fatal("fehlerkennzahlen missing")
	}
	if len(fk.Codes()) != len(Fehlerkennzahlen) {
		t.Errorf("fehlerkennzahlen has %d codes, table %d", len(fk.Codes()), len(Fehlerkennzahlen))
	}
	for _, c := range fk.Codes() {
		if name, _ := fk.Name(c); Fehlerkennzahlen[c] != name {
			t.Errorf("Fehlerkennzahl %s: table %q, list %q", c, Fehlerkennzahlen[c], name)
		}
	}
}

func TestLoadCodeListsErrors(t *testing.T) {
	src := filepath.Join(shared.dir, "xoev", "codelists", "urn:xoev-de:xbau:codeliste:anlagen_3.0.xml")
	good, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for name, files := range map[string]map[string]string{
		"not genericode": {"a.xml": `<root/>`},
		"not XML":        {"a.xml": `garbage`},
		"doctype":        {"a.xml": `<!DOCTYPE x [<!ENTITY e "e">]><x/>`},
		"duplicate":      {"a.xml": string(good), "b.xml": string(good)},
		"no rows":        {"a.xml": `<gc:CodeList xmlns:gc="http://docs.oasis-open.org/codelist/ns/genericode/1.0/"><Identification><Version>1</Version><CanonicalUri>urn:x</CanonicalUri></Identification><ColumnSet><Column Id="c"/><Key Id="k"><ColumnRef Ref="c"/></Key></ColumnSet><SimpleCodeList/></gc:CodeList>`},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for f, content := range files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := LoadCodeLists(dir); err == nil || !strings.Contains(err.Error(), dir) {
				t.Errorf("got %v, want an error naming the file", err)
			}
		})
	}
	if _, err := LoadCodeLists(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing directory accepted")
	}
	// Other files are ignored.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "anlagen.xml"), good, 0o644)
	l, err := LoadCodeLists(dir)
	if err != nil || l.Len() != 1 {
		t.Errorf("got %v, %d lists", err, l.Len())
	}
}

func TestNewMapperNeedsLists(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(shared.dir, "xoev", "codelists", "urn:xoev-de:xbau:codeliste:anlagen_3.0.xml")
	good, _ := os.ReadFile(src)
	os.WriteFile(filepath.Join(dir, "anlagen.xml"), good, 0o644)
	l, err := LoadCodeLists(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMapper(testConfig(), l, shared.validator); !errors.Is(err, ErrCodeListMissing) {
		t.Errorf("got %v, want ErrCodeListMissing", err)
	}
	cfg := testConfig()
	cfg.DefaultAnlageArt = "0001"
	if _, err := NewMapper(cfg, shared.lists, shared.validator); err == nil {
		t.Error("unknown default anlageart accepted")
	}
	if _, err := NewMapper(testConfig(), shared.lists, nil); err == nil {
		t.Error("nil validator accepted")
	}
}

// TestXInneresFehlercodesTable: the table ParseInbound uses for XInneres 0010
// reasons equals urn:de:xinneres:codeliste:fehlercodes version 2.
func TestXInneresFehlercodesTable(t *testing.T) {
	l, ok := shared.lists.Lookup(ListXInneresFehlercodes, ListXInneresFehlercodesVersion)
	if !ok {
		t.Fatal("urn:de:xinneres:codeliste:fehlercodes_2 missing")
	}
	if len(l.Codes()) != len(XInneresFehlercodes) {
		t.Errorf("fehlercodes has %d codes, table %d", len(l.Codes()), len(XInneresFehlercodes))
	}
	for _, c := range l.Codes() {
		if name, _ := l.Name(c); XInneresFehlercodes[c] != name {
			t.Errorf("Fehlercode %s: table %q, list %q", c, XInneresFehlercodes[c], name)
		}
	}
}
