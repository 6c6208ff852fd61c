package xoev

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// profilesDir holds the shipped profiles (embedded by package config).
var profilesDir = filepath.Join("..", "config", "profiles")

// shippedProfiles loads every config/profiles/*.yaml.
func shippedProfiles(t testing.TB) map[string]*Profile {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(profilesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no profiles in %s: %v", profilesDir, err)
	}
	out := map[string]*Profile{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := LoadProfile(filepath.Base(f), data)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".yaml")] = p
	}
	return out
}

func newTestEngine(t testing.TB) *Engine {
	t.Helper()
	cfg := testConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	e, err := NewEngine(cfg, shared.lists, shared.validator)
	if err != nil {
		t.Fatal(err)
	}
	for svc, p := range shippedProfiles(t) {
		if err := e.Register(svc, p); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// profileCases returns testdata/profiles/<service>/*.json.
func profileCases(t testing.TB, service string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "profiles", service, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no golden inputs for profile %s in testdata/profiles/%s", service, service)
	}
	return files
}

// TestProfileGolden maps every testdata/profiles/<service>/*.json with the
// shipped profile of that service and compares with the .xml beside it
// (-update rewrites). Every shipped profile must have at least one case.
func TestProfileGolden(t *testing.T) {
	e := newTestEngine(t)
	for _, svc := range e.Services() {
		for _, in := range profileCases(t, svc) {
			name := svc + "/" + strings.TrimSuffix(filepath.Base(in), ".json")
			t.Run(name, func(t *testing.T) {
				c := loadCase(t, in)
				c.Submission.Service = svc
				doc, err := e.Map(context.Background(), c)
				if err != nil {
					t.Fatal(err)
				}
				golden := strings.TrimSuffix(in, ".json") + ".xml"
				if *update {
					if err := os.WriteFile(golden, doc.XML, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./xoev -run TestProfileGolden -update)", err)
				}
				if !bytes.Equal(doc.XML, want) {
					t.Errorf("%s differs from the mapping output:\n%s", golden, doc.XML)
				}
			})
		}
	}
}

// TestProfileGoldenXmllint validates every profile golden output with the
// xmllint CLI (--nonet) against the profile's schema: independent of the
// in-process validator.
func TestProfileGoldenXmllint(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint not found (apt-get install libxml2-utils): ", err)
	}
	for svc, p := range shippedProfiles(t) {
		golden, _ := filepath.Glob(filepath.Join("testdata", "profiles", svc, "*.xml"))
		if len(golden) == 0 {
			t.Errorf("profile %s has no golden XML", svc)
		}
		schema := filepath.Join(shared.dir, filepath.FromSlash(p.Schema))
		for _, g := range golden {
			out, err := exec.Command(xmllint, "--nonet", "--noout", "--schema", schema, g).CombinedOutput()
			if err != nil {
				t.Errorf("xmllint %s against %s: %v\n%s", g, p.Schema, err, out)
			}
		}
	}
}
