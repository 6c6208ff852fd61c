package xoev

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestValidatorReportsLines(t *testing.T) {
	doc, _ := mapped1200(t)
	// Break two things: an unknown element and a bad UUID.
	bad := bytes.Replace(doc.XML, []byte("<artDesAntrags "), []byte("<artDesAntrag "), 1)
	bad = bytes.Replace(bad, []byte("</artDesAntrags>"), []byte("</artDesAntrag>"), 1)
	bad = bytes.Replace(bad, []byte("<id>1e85360e"), []byte("<id>zz85360e"), 1)
	err := shared.validator.Validate(context.Background(), bad)
	var se *SchemaError
	if !errors.As(err, &se) || !IsPermanent(err) {
		t.Fatalf("got %v, want *SchemaError", err)
	}
	if se.Root != Root1200 || !strings.HasSuffix(se.Schema, "xbau-kernmodul-universellerAntrag.xsd") || len(se.Issues) == 0 {
		t.Fatalf("schema error %+v", se)
	}
	line := 1 + bytes.Count(bad[:bytes.Index(bad, []byte("<artDesAntrag "))], []byte("\n"))
	if se.Issues[0].Line != line || !strings.Contains(se.Issues[0].Message, "artDesAntrag") {
		t.Errorf("first issue %+v, want line %d", se.Issues[0], line)
	}
	if !strings.Contains(err.Error(), "line ") {
		t.Errorf("error text %q lacks the line", err)
	}
}

func TestValidatorRouting(t *testing.T) {
	ctx := context.Background()
	if err := shared.validator.Validate(ctx, []byte(`<a xmlns="urn:other"/>`)); !errors.Is(err, ErrNoSchema) {
		t.Errorf("unknown root: %v", err)
	}
	var se *SchemaError
	if err := shared.validator.Validate(ctx, []byte(`not xml`)); !errors.As(err, &se) {
		t.Errorf("not XML: %v", err)
	}
	// A 1200 root checked against the prozessnachrichten schema fails.
	doc, _ := mapped1200(t)
	if err := shared.validator.ValidateAgainst(ctx, SchemaFor(NSKernmodul130, Root1120), Root1200, doc.XML); !errors.As(err, &se) {
		t.Errorf("wrong schema: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := shared.validator.Validate(cctx, doc.XML); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// TestValidatorConcurrent shares one compiled schema between goroutines
// (run with -race).
func TestValidatorConcurrent(t *testing.T) {
	v, err := NewValidator(shared.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	good, replies := builtReplies(t)
	bad := bytes.Replace(good.XML, []byte("<zaehler>"), []byte("<zaehlerX>"), 1)
	bad = bytes.Replace(bad, []byte("</zaehler>"), []byte("</zaehlerX>"), 1)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if err := v.Validate(context.Background(), good.XML); err != nil {
					errs <- err
					return
				}
				if err := v.Validate(context.Background(), replies["1120"].XML); err != nil {
					errs <- err
					return
				}
				var se *SchemaError
				if err := v.Validate(context.Background(), bad); !errors.As(err, &se) {
					errs <- errors.New("invalid document accepted")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestValidatorClose(t *testing.T) {
	v, err := NewValidator(shared.dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Precompile(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	doc, _ := mapped1200(t)
	if err := v.Validate(context.Background(), doc.XML); !errors.Is(err, ErrValidatorClosed) {
		t.Errorf("after Close: %v", err)
	}
	if _, err := NewValidator(t.TempDir()); err == nil {
		t.Error("validator without schemas accepted")
	}
}

func TestOpen(t *testing.T) {
	cfg := testConfig()
	cfg.StandardsDir = shared.dir
	m, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	doc, err := m.Map(context.Background(), loadCase(t, "testdata/golden/minimal.json"))
	if err != nil || doc.TypeCode != "1200" {
		t.Fatalf("%v %+v", err, doc)
	}
	if _, err := Open(Config{}); err == nil {
		t.Error("empty StandardsDir accepted")
	}
}

// TestValidatorCheck: Check reports a schema set that does not compile, and
// a set that compiles is not kept (it is compiled again on first use), unless
// it was already in use.
func TestValidatorCheck(t *testing.T) {
	v, err := NewValidator(shared.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()

	brokenDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(brokenDir, "xoev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(brokenDir, "xoev", "broken.xsd"),
		[]byte(`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="a" type="nope"/></xs:schema>`), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := &Validator{dir: brokenDir, entries: map[string]*schemaEntry{}}
	if err := broken.Check("xoev/broken.xsd"); err == nil || !strings.Contains(err.Error(), "compiling") {
		t.Errorf("broken schema: got %v, want a compile error", err)
	}
	if err := v.Check("../etc/passwd.xsd"); err == nil {
		t.Error("a path outside the standards directory was accepted")
	}

	file := SchemaFor(NSKernmodul130, Root1200)
	if err := v.Check(file); err != nil {
		t.Fatal(err)
	}
	if n := len(v.entries); n != 0 {
		t.Errorf("Check kept %d compiled schema sets, want none", n)
	}
	doc, _ := mapped1200(t)
	if err := v.Validate(context.Background(), doc.XML); err != nil {
		t.Fatalf("first validation after Check: %v", err)
	}
	if err := v.Check(file); err != nil || len(v.entries) != 1 {
		t.Errorf("Check of a set in use: err %v, %d sets cached, want the one kept", err, len(v.entries))
	}
}
