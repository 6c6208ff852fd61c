package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDVDVValidate(t *testing.T) {
	if errs := DefaultDVDV().Validate("dvdv"); len(errs) != 0 {
		t.Fatalf("defaults invalid: %v", errs)
	}
	cert := filepath.Join(t.TempDir(), "c.pem")
	os.WriteFile(cert, []byte("x"), 0o600)
	ok := DefaultDVDV()
	ok.Servers = []string{"https://dvdv1.example/dvdv2-backend", "https://dvdv2.example/dvdv2-backend"}
	ok.CertFile, ok.KeyFile = cert, cert
	if errs := ok.Validate("dvdv"); len(errs) != 0 {
		t.Fatalf("valid config: %v", errs)
	}
	tests := []struct {
		name string
		mod  func(*DVDV)
		want string
	}{
		{"bad server", func(d *DVDV) { d.Servers = []string{"dvdv.example"} }, "dvdv.servers[0]: "},
		{"duplicate server", func(d *DVDV) { d.Servers = append(d.Servers, d.Servers[0]+"/") }, "dvdv.servers[2]: duplicate server"},
		{"no cert", func(d *DVDV) { d.CertFile = "" }, "dvdv.certFile: required"},
		{"missing key file", func(d *DVDV) { d.KeyFile = "/nonexistent/key.pem" }, "dvdv.keyFile: "},
		{"entry path", func(d *DVDV) { d.EntryPath = "extern/bundesmasterauth/directory" }, "dvdv.entryPath: "},
		{"timeout", func(d *DVDV) { d.Timeout = 0 }, "dvdv.timeout: must be greater than 0"},
		{"call timeout", func(d *DVDV) { d.CallTimeout = time.Second }, "dvdv.callTimeout: 1s is less than dvdv.timeout"},
		{"ttl", func(d *DVDV) { d.TTL.Negative = 0 }, "dvdv.ttl.negative: must be greater than 0"},
		{"cron", func(d *DVDV) { d.RefreshSchedule = "*/5 * * * * *" }, "dvdv.refreshSchedule: "},
		{"refresh ahead", func(d *DVDV) { d.RefreshAhead = time.Hour }, "dvdv.refreshAhead: 1h0m0s must be less than"},
		{"retry max", func(d *DVDV) { d.RetryMax = -1 }, "dvdv.retryMax: -1 must be between 0 and 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := ok
			d.Servers = append([]string(nil), ok.Servers...)
			tt.mod(&d)
			errs := d.Validate("dvdv")
			var all []string
			for _, e := range errs {
				if _, isField := e.(*FieldError); !isField {
					t.Errorf("%T is not a *FieldError", e)
				}
				all = append(all, e.Error())
			}
			if !strings.Contains(strings.Join(all, "\n"), tt.want) {
				t.Fatalf("errors %q do not contain %q", all, tt.want)
			}
		})
	}
	// Without servers, cert files are not required.
	off := DefaultDVDV()
	off.EntryPath = DVDVEntryStandaloneAuth
	if errs := off.Validate("dvdv"); len(errs) != 0 {
		t.Fatalf("disabled DVDV: %v", errs)
	}
}
