package portal

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/internal/blob"
)

func TestServicesAndSchemas(t *testing.T) {
	bs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(newFakeStore(), bs, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	schema := []byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}`)
	svc, err := NewServices([]ServiceInfo{
		{ID: "xbau-bauantrag", Name: "Bauantrag", Standard: "xbau-2.6", MessageType: "baugenehmigung.antrag.0200"},
		{ID: "xinneres-meldebescheinigung", Name: "Meldebescheinigung"},
	}, map[string][]byte{"xbau-bauantrag": schema}, "https://hub.example.org/", h.Authorize)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	svc.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path, key string, hdr ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	resp := get("/v1/services", keyA)
	var list struct{ Services []ServiceInfo }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != 200 {
		t.Fatalf("list: %d %v", resp.StatusCode, err)
	}
	if len(list.Services) != 2 || list.Services[0].SchemaURL != "https://hub.example.org/v1/services/xbau-bauantrag/schema" || list.Services[1].SchemaURL != "" {
		t.Errorf("services = %+v", list.Services)
	}

	resp = get("/v1/services/xbau-bauantrag/schema", keyB)
	body, _ := io.ReadAll(resp.Body)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/schema+json" || string(body) != string(schema) || etag == "" {
		t.Fatalf("schema: %d %q %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body, etag)
	}
	if resp := get("/v1/services/xbau-bauantrag/schema", keyA, "If-None-Match", `"x", `+etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}

	for name, c := range map[string]struct {
		path, key, code string
		status          int
	}{
		"no key":                 {"/v1/services", "", CodeUnauthorized, 401},
		"bad key":                {"/v1/services/xbau-bauantrag/schema", "nope", CodeUnauthorized, 401},
		"unknown service":        {"/v1/services/gibt-es-nicht/schema", keyA, CodeNotFound, 404},
		"service without schema": {"/v1/services/xinneres-meldebescheinigung/schema", keyA, CodeNotFound, 404},
	} {
		t.Run(name, func(t *testing.T) {
			resp := get(c.path, c.key)
			var p Problem
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.status || p.Code != c.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
				t.Errorf("%d %+v", resp.StatusCode, p)
			}
		})
	}

	if _, err := NewServices(nil, map[string][]byte{"x": schema}, "", h.Authorize); err == nil {
		t.Error("schema of an unlisted service accepted")
	}
	if _, err := NewServices([]ServiceInfo{{ID: "x"}}, map[string][]byte{"x": []byte("{")}, "", h.Authorize); err == nil {
		t.Error("non-JSON schema accepted")
	}
	if _, err := NewServices(nil, nil, "", nil); err == nil {
		t.Error("missing authorize accepted")
	}
}
