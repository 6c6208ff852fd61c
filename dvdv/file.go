// Package dvdv resolves recipients: (organisation key, service URI) → transport,
// endpoint and certificates (DESIGN §1 step 3). This file holds the file-based
// directory used by the embedded default and by tests; the DVDV2 REST client
// implements the same routing.Resolver interface.
package dvdv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dxhub/dxhub/routing"
)

// Entry is one directory entry.
type Entry struct {
	ReaderKey      string `yaml:"readerKey"`
	ServiceURI     string `yaml:"serviceURI"`
	Transport      string `yaml:"transport"`
	URL            string `yaml:"url"`
	Intermediary   string `yaml:"intermediary"`
	EncryptionCert string `yaml:"encryptionCert"` // PEM
	SignatureCert  string `yaml:"signatureCert"`  // PEM
}

// NotFoundError says that the directory has no entry for the pair.
type NotFoundError struct{ ReaderKey, ServiceURI string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("dvdv: no entry for organisation %q and service %q", e.ReaderKey, e.ServiceURI)
}

// Is makes errors.Is(err, routing.ErrNotFound) hold.
func (e *NotFoundError) Is(target error) bool { return target == routing.ErrNotFound }

type dirKey struct{ reader, service string }

// FileDirectory is an immutable, in-memory directory loaded from configuration
// or a YAML file.
type FileDirectory struct {
	entries map[dirKey]routing.Route
	source  string
	now     func() time.Time
}

var _ routing.Resolver = (*FileDirectory)(nil)

// NewFileDirectory checks the entries and builds the directory. Organisation
// keys compare case-insensitively (DVDV keys are lower-case by convention).
func NewFileDirectory(source string, entries []Entry) (*FileDirectory, error) {
	d := &FileDirectory{entries: make(map[dirKey]routing.Route, len(entries)), source: source, now: time.Now}
	for i, e := range entries {
		k := dirKey{strings.ToLower(e.ReaderKey), e.ServiceURI}
		if e.ReaderKey == "" || e.ServiceURI == "" {
			return nil, fmt.Errorf("dvdv: %s entry %d: readerKey and serviceURI are required", source, i)
		}
		if _, dup := d.entries[k]; dup {
			return nil, fmt.Errorf("dvdv: %s entry %d: duplicate entry for %s / %s", source, i, e.ReaderKey, e.ServiceURI)
		}
		t := routing.TransportKind(e.Transport)
		switch t {
		case routing.TransportXTAMailbox:
		case routing.TransportXTA, routing.TransportOSCI:
			if e.URL == "" {
				return nil, fmt.Errorf("dvdv: %s entry %d: transport %s needs a url", source, i, t)
			}
		default:
			return nil, fmt.Errorf("dvdv: %s entry %d: unknown transport %q", source, i, e.Transport)
		}
		d.entries[k] = routing.Route{
			ReaderKey: e.ReaderKey, ServiceURI: e.ServiceURI, Transport: t, Endpoint: e.URL,
			Intermediary: e.Intermediary, EncryptionCert: e.EncryptionCert, SignatureCert: e.SignatureCert,
			Source: "file:" + source,
		}
	}
	return d, nil
}

// LoadFile reads a YAML file with a top-level `endpoints:` list of entries.
func LoadFile(path string) ([]Entry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dvdv: read directory file: %w", err)
	}
	var doc struct {
		Endpoints []Entry `yaml:"endpoints"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("dvdv: parse %s: %w", path, err)
	}
	return doc.Endpoints, nil
}

// Resolve returns the route for the pair or a *NotFoundError.
func (d *FileDirectory) Resolve(_ context.Context, readerKey, serviceURI string) (routing.Route, error) {
	r, ok := d.entries[dirKey{strings.ToLower(readerKey), serviceURI}]
	if !ok {
		return routing.Route{}, &NotFoundError{readerKey, serviceURI}
	}
	r.ResolvedAt = d.now()
	return r, nil
}

// Len returns the number of entries.
func (d *FileDirectory) Len() int { return len(d.entries) }
