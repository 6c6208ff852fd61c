package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/internal/testenv"
)

const dryRunJSON = `{
  "service": "baugenehmigung",
  "reference": "0b7f3c1e-2a4d-4e5f-9a6b-7c8d9e0f1a2b",
  "applicant": {"name": "Erika Mustermann", "address": {"postalCode": "50668", "city": "Köln"}},
  "form": {
    "bezeichnung": "Neubau Carport",
    "bauherren": [{"vorname": "Erika", "nachname": "Mustermann", "anschrift": {"postleitzahl": "50668", "ort": "Köln"}}],
    "artDerMassnahme": ["errichtung"],
    "grundstuecke": [{"bundesland": "05", "flurstuecke": [{"gemarkung": "054321", "zaehler": "345"}]}]
  },
  "attachments": [{"id": "a1", "filename": "lageplan.pdf", "contentType": "application/pdf", "content": "JVBERi0xLjQK"}]
}`

func TestCmdMapAndValidate(t *testing.T) {
	t.Setenv("DXHUB_STANDARDS_DIR", testenv.MustStandardsDir(t))
	dir := t.TempDir()
	in := filepath.Join(dir, "sub.json")
	if err := os.WriteFile(in, []byte(dryRunJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	args := []string{"--reader", "ags:05315000", "--created", "2026-11-23T09:30:00+01:00", in}
	var out, errb bytes.Buffer
	if err := cmdMap(ctx, args, &out, &errb); err != nil {
		t.Fatalf("map: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "<xbau:baugenehmigung.antrag.0200") {
		t.Fatalf("map output:\n%s", out.String())
	}
	xmlFile := filepath.Join(dir, "0200.xml")
	if err := os.WriteFile(xmlFile, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	// validate: the mapped message is valid; a tampered one is not.
	out.Reset()
	if err := cmdValidate(ctx, []string{xmlFile}, &out, &errb); err != nil || !strings.Contains(out.String(), "valid") {
		t.Fatalf("validate: %v %s", err, out.String())
	}
	bad := filepath.Join(dir, "bad.xml")
	raw, _ := os.ReadFile(xmlFile)
	if err := os.WriteFile(bad, bytes.ReplaceAll(raw, []byte("xbau:bezeichnungDesBauvorhabens>"), []byte("xbau:bezeichnung>")), 0o644); err != nil {
		t.Fatal(err)
	}
	err := cmdValidate(ctx, []string{xmlFile, bad}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "bad.xml: INVALID") || !strings.Contains(err.Error(), "/baugenehmigung.antrag.0200/bauvorhaben/") {
		t.Fatalf("validate of a broken file: %v", err)
	}
	kennung := filepath.Join(dir, "kennung.xml")
	if err := os.WriteFile(kennung, bytes.Replace(raw, []byte("<kennung>ags:05315000</kennung>"), []byte("<kennung>AGS-05315000</kennung>"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmdValidate(ctx, []string{kennung}, &out, &errb); err == nil || !strings.Contains(err.Error(), "sch-xbau-001") {
		t.Fatalf("validate of a bad DVDV kennung: %v", err)
	}

	// --diff: identical, then different.
	out.Reset()
	if err := cmdMap(ctx, append([]string{"--diff", xmlFile}, args...), &out, &errb); err != nil {
		t.Fatalf("diff identical: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := cmdMap(ctx, append([]string{"--diff", bad}, args...), &out, &errb); err == nil || !strings.Contains(out.String(), "+") {
		t.Fatalf("diff different: %v\n%s", err, out.String())
	}

	// Field-precise errors.
	broken := strings.Replace(dryRunJSON, `"zaehler": "345"`, `"zaehler": "34x"`, 1)
	broken = strings.Replace(broken, `["errichtung"]`, `["abriss"]`, 1)
	if err := os.WriteFile(in, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if err := cmdMap(ctx, args, &out, &errb); err == nil {
		t.Fatal("map accepted broken form data")
	}
	for _, want := range []string{"/form/grundstuecke/0/flurstuecke/0/zaehler", "/form/artDerMassnahme/0", `"abriss" is not allowed`} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("errors lack %q:\n%s", want, errb.String())
		}
	}
}
