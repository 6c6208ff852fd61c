package config

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"
)

func TestReliabilityValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string
	}{
		{name: "defaults", mutate: func(*Config) {}},
		{name: "per-service expiry after the SLA", mutate: func(c *Config) {
			c.Services[0].SLA = 48 * time.Hour
			c.Services[0].Expiry = 96 * time.Hour
		}},
		{name: "expiry not after the default SLA", mutate: func(c *Config) { c.Services[0].Expiry = 72 * time.Hour },
			want: []string{"services[0].expiry"}},
		{name: "negative expiry", mutate: func(c *Config) { c.Services[0].Expiry = -time.Hour },
			want: []string{"services[0].expiry"}},
		{name: "breaker", mutate: func(c *Config) {
			c.Reliability.Breaker = Breaker{Failures: -1, Cooldown: 0, MaxCooldown: -time.Second}
		}, want: []string{"reliability.breaker.cooldown", "reliability.breaker.failures", "reliability.breaker.maxCooldown"}},
		{name: "concurrency", mutate: func(c *Config) {
			c.Reliability.Concurrency = -1
			c.Reliability.Endpoints = []EndpointLimit{
				{Endpoint: "https://xta.example/send", Concurrency: 2},
				{Endpoint: "ags:05315000", Concurrency: 1},
				{Endpoint: "https://xta.example/send", Concurrency: 0},
				{Endpoint: "ftp://x", Concurrency: 1},
				{Endpoint: "", Concurrency: 1},
			}
		}, want: []string{"reliability.concurrency", "reliability.endpoints[2].concurrency", "reliability.endpoints[2].endpoint",
			"reliability.endpoints[3].endpoint", "reliability.endpoints[4].endpoint"}},
		{name: "unknown older profile", mutate: func(c *Config) {
			c.Services[0].ProfileVersions = []string{"builtin:universeller-antrag", "builtin:no-such-profile", "missing.yaml"}
		}, want: []string{"services[0].profileVersions[1]", "services[0].profileVersions[2]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(c)
			var got []string
			for _, fe := range FieldErrors(c.Validate()) {
				got = append(got, fe.Key)
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("problem keys = %v, want %v (%v)", got, tc.want, c.Validate())
			}
		})
	}
}

func TestReliabilityFromFile(t *testing.T) {
	dir := t.TempDir()
	prof, err := os.ReadFile("profiles/universeller-antrag.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ua-v1.yaml"), prof, 0o600); err != nil {
		t.Fatal(err)
	}
	def, _ := os.ReadFile("default.yaml")
	path := filepath.Join(dir, "dxhub.yaml")
	extra := `
reliability:
  breaker: {failures: 3, cooldown: 10s, maxCooldown: 1m}
  concurrency: 2
  endpoints:
    - {endpoint: "https://fv.example/xta", concurrency: 1}
`
	if err := os.WriteFile(path, append(def, []byte(extra)...), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DXHUB_RELIABILITY_CONCURRENCY", "3")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Reliability
	if r.Breaker != (Breaker{Failures: 3, Cooldown: 10 * time.Second, MaxCooldown: time.Minute}) || r.Concurrency != 3 ||
		len(r.Endpoints) != 1 || r.Endpoints[0].Concurrency != 1 {
		t.Fatalf("reliability = %+v", r)
	}
	s := c.Services[0]
	if s.EffectiveSLA() != 72*time.Hour || s.Expiry != 0 {
		t.Fatalf("sla %s expiry %s", s.EffectiveSLA(), s.Expiry)
	}
	// Older profile files resolve against the config file's directory.
	s.ProfileVersions = []string{"ua-v1.yaml", "builtin:universeller-antrag"}
	refs := c.ProfileVersionRefs(s)
	if refs[0] != filepath.Join(dir, "ua-v1.yaml") || refs[1] != "builtin:universeller-antrag" {
		t.Fatalf("refs = %v", refs)
	}
	if _, data, err := ReadProfileRef(s, refs[0]); err != nil || len(data) != len(prof) {
		t.Fatalf("read %v", err)
	}
}
