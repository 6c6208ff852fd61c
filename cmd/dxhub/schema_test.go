package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/internal/testenv"
)

// TestCmdSchema: `dxhub schema SERVICE` prints the same schema as the xoev
// golden file of that service; usage errors exit 2, a service without profile 1.
func TestCmdSchema(t *testing.T) {
	t.Setenv("DXHUB_STANDARDS_DIR", testenv.MustStandardsDir(t))
	for _, svc := range []string{"baugenehmigung", "universeller-antrag", "baugenehmigung-xbau23", "xdomea-abgabe"} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"schema", svc}, &out, &errb); code != 0 {
			t.Fatalf("schema %s: exit %d: %s", svc, code, errb.String())
		}
		want, err := os.ReadFile(filepath.Join("..", "..", "xoev", "testdata", "schemas", svc+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("schema %s differs from xoev/testdata/schemas/%s.json", svc, svc)
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"schema", "--list"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "baugenehmigung\t") {
		t.Errorf("--list: exit %d: %s %s", code, out.String(), errb.String())
	}
	noProfile := filepath.Join(t.TempDir(), "dxhub.yaml")
	if err := os.WriteFile(noProfile, []byte(`services:
  - id: generisch
    name: Generisch
    standard: xbau-kernmodul-1.3.0
    messageType: universellerAntrag.antrag.1200
    serviceURI: urn:xoev-de:xbau-kernmodul:universellerAntrag
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"schema"}, 2, "exactly one service"},
		{[]string{"schema", "a", "b"}, 2, "exactly one service"},
		{[]string{"schema", "--list", "a"}, 2, "exactly one service"},
		{[]string{"schema", "gibt-es-nicht"}, 2, `unknown service "gibt-es-nicht"`},
	} {
		out.Reset()
		errb.Reset()
		if code := run(context.Background(), tt.args, &out, &errb); code != tt.code || !strings.Contains(errb.String(), tt.stderr) {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", tt.args, code, errb.String(), tt.code, tt.stderr)
		}
	}
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"schema", "--config", noProfile, "generisch"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "has no mapping profile") {
		t.Errorf("service without profile: exit %d, stderr %q", code, errb.String())
	}
}

// TestServiceSchemasWiring: the hub serves every profiled service's schema at
// GET /v1/services/{id}/schema and lists the services, behind the API key.
func TestServiceSchemasWiring(t *testing.T) {
	t.Setenv("DXHUB_STANDARDS_DIR", testenv.MustStandardsDir(t))
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	e, err := openSchemaEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	authorize := func(w http.ResponseWriter, r *http.Request) (string, bool) {
		if r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "no", http.StatusUnauthorized)
			return "", false
		}
		return "p", true
	}
	mux := http.NewServeMux()
	s, err := serviceSchemas(cfg, e, authorize)
	if err != nil {
		t.Fatal(err)
	}
	s.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer k")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	resp, body := get("/v1/services")
	var list struct {
		Services []struct{ ID, SchemaURL string }
	}
	if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 || len(list.Services) != len(cfg.Services) {
		t.Fatalf("list: %d %s %v", resp.StatusCode, body, err)
	}
	for _, si := range list.Services {
		if !strings.HasSuffix(si.SchemaURL, "/v1/services/"+si.ID+"/schema") {
			t.Errorf("%s: schema URL %q", si.ID, si.SchemaURL)
		}
		resp, body := get("/v1/services/" + si.ID + "/schema")
		want, err := os.ReadFile(filepath.Join("..", "..", "xoev", "testdata", "schemas", si.ID+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || !bytes.Equal(body, want) {
			t.Errorf("%s: %d, body differs from the golden schema", si.ID, resp.StatusCode)
		}
	}
}
