package portal

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// ServiceInfo describes one configured service for GET /v1/services.
type ServiceInfo struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	Standard    string `json:"standard,omitempty"`
	MessageType string `json:"messageType,omitempty"`
	// SchemaURL is where the JSON Schema of the service's submission is
	// served; empty when the service has none (no mapping profile).
	SchemaURL string `json:"schemaUrl,omitempty"`
}

// Services serves the form contract of the configured services:
//
//   - GET /v1/services lists them (id, name, standard, message type and the
//     URL of the schema);
//   - GET /v1/services/{id}/schema returns the JSON Schema (2020-12) of a
//     submission for that service as application/schema+json, with an ETag
//     (If-None-Match gives 304).
//
// Both need a portal API key (Authorize). Schemas are fixed at start-up.
type Services struct {
	list      []ServiceInfo
	schemas   map[string]schemaDoc
	authorize func(w http.ResponseWriter, r *http.Request) (portalID string, ok bool)
}

type schemaDoc struct {
	data []byte
	etag string
}

// NewServices builds the handler. schemas maps service IDs to their JSON
// Schema (each must be a JSON document and name a listed service); baseURL
// prefixes the schema URLs (empty: relative URLs).
func NewServices(list []ServiceInfo, schemas map[string][]byte, baseURL string,
	authorize func(w http.ResponseWriter, r *http.Request) (string, bool)) (*Services, error) {
	if authorize == nil {
		return nil, fmt.Errorf("portal: services: an authorize function is required")
	}
	s := &Services{schemas: map[string]schemaDoc{}, authorize: authorize}
	known := map[string]bool{}
	for _, si := range list {
		known[si.ID] = true
	}
	for id, data := range schemas {
		if !known[id] {
			return nil, fmt.Errorf("portal: services: schema for unknown service %q", id)
		}
		if !json.Valid(data) {
			return nil, fmt.Errorf("portal: services: the schema of %q is not JSON", id)
		}
		sum := sha256.Sum256(data)
		s.schemas[id] = schemaDoc{data: data, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	}
	for _, si := range list {
		if _, ok := s.schemas[si.ID]; ok {
			si.SchemaURL = strings.TrimSuffix(baseURL, "/") + "/v1/services/" + si.ID + "/schema"
		}
		s.list = append(s.list, si)
	}
	return s, nil
}

// Register adds the routes to mux.
func (s *Services) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/services", s.listServices)
	mux.HandleFunc("GET /v1/services/{id}/schema", s.schema)
}

func (s *Services) listServices(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r); !ok {
		return
	}
	list := s.list
	if list == nil {
		list = []ServiceInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"services": list})
}

func (s *Services) schema(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r); !ok {
		return
	}
	id := r.PathValue("id")
	doc, ok := s.schemas[id]
	if !ok {
		writeProblem(w, newProblem(CodeNotFound, "there is no JSON Schema for service %q (unknown service, or one without a mapping profile)", clip(id, 100)))
		return
	}
	w.Header().Set("ETag", doc.etag)
	w.Header().Set("Cache-Control", "no-cache")
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, doc.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("Content-Length", fmt.Sprint(len(doc.data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc.data)
}

// etagMatches implements the weak comparison of If-None-Match (RFC 9110).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
