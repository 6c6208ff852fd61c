package dvdv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dxhub/dxhub/routing"
)

func TestFileDirectoryResolve(t *testing.T) {
	d, err := NewFileDirectory("test", []Entry{
		{ReaderKey: "ags:05315000", ServiceURI: "urn:s:1", Transport: "xta-mailbox"},
		{ReaderKey: "ags:05314000", ServiceURI: "urn:s:1", Transport: "xta", URL: "https://xta.bonn.example/send"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		reader, service string
		want            routing.TransportKind
		wantErr         error
	}{
		{"ags:05315000", "urn:s:1", routing.TransportXTAMailbox, nil},
		{"AGS:05315000", "urn:s:1", routing.TransportXTAMailbox, nil},
		{"ags:05314000", "urn:s:1", routing.TransportXTA, nil},
		{"ags:05315000", "urn:s:2", "", routing.ErrNotFound},
		{"ags:00000000", "urn:s:1", "", routing.ErrNotFound},
	}
	for _, tt := range tests {
		r, err := d.Resolve(context.Background(), tt.reader, tt.service)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("Resolve(%s, %s) err = %v, want %v", tt.reader, tt.service, err, tt.wantErr)
			continue
		}
		if err == nil && r.Transport != tt.want {
			t.Errorf("Resolve(%s, %s) = %s, want %s", tt.reader, tt.service, r.Transport, tt.want)
		}
	}
}

func TestFileDirectoryInvalid(t *testing.T) {
	tests := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"missing key", []Entry{{ServiceURI: "urn:x", Transport: "xta-mailbox"}}, "readerKey and serviceURI are required"},
		{"unknown transport", []Entry{{ReaderKey: "ags:1", ServiceURI: "urn:x", Transport: "smtp"}}, `unknown transport "smtp"`},
		{"xta without url", []Entry{{ReaderKey: "ags:1", ServiceURI: "urn:x", Transport: "xta"}}, "needs a url"},
		{"duplicate", []Entry{
			{ReaderKey: "ags:1", ServiceURI: "urn:x", Transport: "xta-mailbox"},
			{ReaderKey: "AGS:1", ServiceURI: "urn:x", Transport: "xta-mailbox"}}, "duplicate entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewFileDirectory("test", tt.entries)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dir.yaml")
	os.WriteFile(p, []byte("endpoints:\n  - readerKey: ags:05111000\n    serviceURI: urn:s:1\n    transport: xta-mailbox\n"), 0o600)
	es, err := LoadFile(p)
	if err != nil || len(es) != 1 || es[0].ReaderKey != "ags:05111000" {
		t.Fatalf("LoadFile = %+v, %v", es, err)
	}
	os.WriteFile(p, []byte("endpoints:\n  - readerKey: x\n    bogus: 1\n"), 0o600)
	if _, err := LoadFile(p); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("unknown field not rejected: %v", err)
	}
}
