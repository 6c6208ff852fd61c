package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHardenKeys(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(c *Config)
		want   string // the joined problems, exactly; "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"clamd over a unix socket, fail open", func(c *Config) {
			c.Antivirus.Clamd.Address = "unix:/run/clamav/clamd.ctl"
			c.Antivirus.OnError = "accept"
		}, ""},
		{"clamd over tcp", func(c *Config) { c.Antivirus.Clamd.Address = "tcp://127.0.0.1:3310" }, ""},
		{"clamd address without port", func(c *Config) { c.Antivirus.Clamd.Address = "clamav" },
			`antivirus.clamd.address: must be unix:/path/to/clamd.ctl, /path, or host:port, got "clamav"`},
		{"empty socket path", func(c *Config) { c.Antivirus.Clamd.Address = "unix:" },
			"antivirus.clamd.address: the unix socket path is empty"},
		{"unknown onError", func(c *Config) { c.Antivirus.OnError = "ignore" },
			`antivirus.onError: "ignore" is not one of reject, accept`},
		{"retryAfter below a second", func(c *Config) { c.Antivirus.RetryAfter = 10 * time.Millisecond },
			"antivirus.retryAfter: must be at least 1s, got 10ms"},
		{"stream limit beyond clamd's", func(c *Config) { c.Antivirus.Clamd.MaxStreamBytes = 5 * GiB },
			"antivirus.clamd.maxStreamBytes: must be between 1 byte and 4GiB (clamd's limit), got 5GiB"},
		{"timeout zero", func(c *Config) { c.Antivirus.Clamd.Timeout = 0 },
			"antivirus.clamd.timeout: must be greater than 0"},
		{"bad schedule", func(c *Config) { c.Retention.Schedule = "nightly" },
			`retention.schedule: not a cron schedule (5 fields, e.g. "30 2 * * *"): expected exactly 5 fields, found 1: [nightly]`},
		{"negative blob grace", func(c *Config) { c.Retention.BlobGrace = -time.Second },
			"retention.blobGrace: must not be negative, got -1s"},
		{"negative default retention", func(c *Config) { c.Retention.Default = -time.Hour },
			"retention.default: must not be negative, got -1h0m0s"},
		{"retention of minutes", func(c *Config) { c.Retention.Default = 5 * time.Minute },
			"retention.default: must be at least 1h (or 0 to keep payloads), got 5m0s"},
		{"service retention of minutes", func(c *Config) { c.Services[0].Retention = time.Minute },
			"services[0].retention: must be at least 1h (or 0 for retention.default), got 1m0s"},
		{"negative total attachment limit", func(c *Config) { c.Limits.MaxTotalAttachmentBytes = -1 },
			"limits.maxTotalAttachmentBytes: must not be negative (0 = only limits.maxBodyBytes)"},
		{"negative xml depth", func(c *Config) { c.Limits.XML.MaxDepth = -1 },
			"limits.xml.maxDepth: must not be negative (0 = the built-in default)"},
		{"negative inbound size", func(c *Config) { c.Limits.Inbound.MaxBytes = -1 },
			"limits.inbound.maxBytes: must not be negative (0 = the built-in default)"},
		{"negative XTA control size", func(c *Config) { c.XTA.Server.MaxControlBytes = -1 },
			"xta.server.maxControlBytes: must not be negative (0 = the built-in default)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(c)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestHardenKeysFromFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "dxhub.yaml")
	y := strings.Replace(string(DefaultYAML()), "services:\n", "retention:\n  default: 2160h\n  schedule: \"0 3 * * *\"\nservices:\n", 1)
	y = strings.Replace(y, "  - id: universeller-antrag\n", "  - id: universeller-antrag\n    retention: 720h\n", 1)
	if err := os.WriteFile(f, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DXHUB_ANTIVIRUS_CLAMD_ADDRESS", "127.0.0.1:3310")
	t.Setenv("DXHUB_ANTIVIRUS_ONERROR", "accept")
	t.Setenv("DXHUB_LIMITS_XML_MAXDEPTH", "40")
	t.Setenv("DXHUB_LIMITS_INBOUND_MAXBYTES", "2MiB")
	t.Setenv("DXHUB_XTA_SERVER_MAXCONTROLBYTES", "64KiB")
	c, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Antivirus.Clamd.Address != "127.0.0.1:3310" || c.Antivirus.OnError != "accept" || !c.Antivirus.Enabled() ||
		c.Antivirus.Clamd.MaxStreamBytes != 25*MiB || c.Limits.XML.MaxDepth != 40 || c.Limits.XML.MaxTextBytes != 64*MiB {
		t.Fatalf("antivirus %+v, xml %+v", c.Antivirus, c.Limits.XML)
	}
	if c.Limits.Inbound.MaxBytes != 2*MiB || c.Limits.Inbound.MaxDepth != 200 || c.XTA.Server.MaxControlBytes != 64*KiB {
		t.Fatalf("inbound %+v, xta control %v", c.Limits.Inbound, c.XTA.Server.MaxControlBytes)
	}
	if c.Retention.Schedule != "0 3 * * *" || c.RetentionFor("universeller-antrag") != 720*time.Hour || c.RetentionFor("other") != 2160*time.Hour {
		t.Fatalf("retention %+v, service %v", c.Retention, c.RetentionFor("universeller-antrag"))
	}
}
