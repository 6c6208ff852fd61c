package config

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestTracingValidate(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	headers := file("headers", "# collector credentials\nAuthorization: Bearer s3cret\n\nX-Scope-OrgID: kommune\n")
	badHeaders := file("bad-headers", "Authorization Bearer s3cret\n")
	ca := file("ca.pem", "x")
	on := func(c *Config) { c.Tracing.Enabled = true }
	otlp := func(c *Config) { on(c); c.Tracing.OTLP.Endpoint = "https://collector.example:4318/v1/traces" }
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string
	}{
		{name: "off by default", mutate: func(*Config) {}},
		{name: "off ignores the rest", mutate: func(c *Config) { c.Tracing.SampleRatio = 7 }},
		{name: "local only", mutate: on},
		{name: "otlp with headers and TLS", mutate: func(c *Config) {
			otlp(c)
			c.Tracing.OTLP.Headers = "X-Tenant=dxhub,Authorization=Bearer%20abc"
			c.Tracing.OTLP.HeadersFile = headers
			c.Tracing.OTLP.CAFile = ca
		}},
		{name: "sample ratio", mutate: func(c *Config) { on(c); c.Tracing.SampleRatio = 1.5 }, want: []string{"tracing.sampleRatio"}},
		{name: "service name", mutate: func(c *Config) { on(c); c.Tracing.ServiceName = " " }, want: []string{"tracing.serviceName"}},
		{name: "endpoint not a URL", mutate: func(c *Config) { on(c); c.Tracing.OTLP.Endpoint = "collector:4318" },
			want: []string{"tracing.otlp.endpoint"}},
		{name: "TLS files on plain http", mutate: func(c *Config) {
			on(c)
			c.Tracing.OTLP.Endpoint, c.Tracing.OTLP.CAFile = "http://collector:4318/v1/traces", ca
		}, want: []string{"tracing.otlp.endpoint"}},
		{name: "exporter settings", mutate: func(c *Config) {
			otlp(c)
			c.Tracing.OTLP.Timeout, c.Tracing.OTLP.Compression = 0, "zstd"
		}, want: []string{"tracing.otlp.compression", "tracing.otlp.timeout"}},
		{name: "tls files", mutate: func(c *Config) {
			otlp(c)
			c.Tracing.OTLP.CAFile, c.Tracing.OTLP.CertFile = "/nonexistent/ca.pem", ca
		}, want: []string{"tracing.otlp.caFile", "tracing.otlp.keyFile"}},
		{name: "bad headers", mutate: func(c *Config) { otlp(c); c.Tracing.OTLP.Headers = "Authorization" },
			want: []string{"tracing.otlp.headers"}},
		{name: "bad header name", mutate: func(c *Config) { otlp(c); c.Tracing.OTLP.Headers = "Bad Name=x" },
			want: []string{"tracing.otlp.headers"}},
		{name: "bad headers file", mutate: func(c *Config) { otlp(c); c.Tracing.OTLP.HeadersFile = badHeaders },
			want: []string{"tracing.otlp.headersFile"}},
		{name: "missing headers file", mutate: func(c *Config) { otlp(c); c.Tracing.OTLP.HeadersFile = "/nonexistent/headers" },
			want: []string{"tracing.otlp.headersFile"}},
		{name: "local limits", mutate: func(c *Config) {
			on(c)
			c.Tracing.Local = TracingLocal{Enabled: true, FlushInterval: time.Hour}
		}, want: []string{"tracing.local.flushInterval", "tracing.local.maxSpans", "tracing.local.maxSpansPerSubmission"}},
		{name: "nowhere to go", mutate: func(c *Config) { on(c); c.Tracing.Local.Enabled = false }, want: []string{"tracing.enabled"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(c)
			err := c.Validate()
			var got []string
			for _, fe := range FieldErrors(err) {
				got = append(got, fe.Key)
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("problem keys = %v, want %v (%v)", got, tc.want, err)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("a secret leaked into the error: %v", err)
			}
		})
	}
}

func TestTracingFromFileAndEnv(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "otlp-headers"), []byte("Authorization: Bearer from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	def, _ := os.ReadFile("default.yaml")
	path := filepath.Join(dir, "dxhub.yaml")
	extra := `
tracing:
  enabled: true
  sampleRatio: 0.25
  otlp: {endpoint: "https://collector.example:4318/v1/traces", headersFile: otlp-headers}
  local: {maxSpans: 5000}
`
	if err := os.WriteFile(path, append(def, []byte(extra)...), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DXHUB_TRACING_OTLP_HEADERS", "X-Scope-OrgID=kreis%2Dkoeln")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	tr := c.Tracing
	if !tr.Enabled || tr.SampleRatio != 0.25 || tr.ServiceName != "dxhub" || tr.OTLP.HeadersFile != filepath.Join(dir, "otlp-headers") ||
		tr.Local != (TracingLocal{Enabled: true, MaxSpans: 5000, MaxSpansPerSubmission: 256, FlushInterval: time.Second}) ||
		tr.OTLP.Compression != "gzip" || tr.OTLP.Timeout != 10*time.Second {
		t.Fatalf("tracing = %+v", tr)
	}
	h, err := tr.OTLP.OTLPHeaders()
	if err != nil || len(h) != 2 || h["Authorization"] != "Bearer from-file" || h["X-Scope-OrgID"] != "kreis-koeln" {
		t.Fatalf("headers = %v, %v", h, err)
	}
	if Default().Tracing.Enabled {
		t.Fatal("tracing is on in the embedded default")
	}
}

// withoutKeys drops the overrides of one area (which checks them itself).
func withoutKeys(all []EnvOverride, prefix string) []EnvOverride {
	var out []EnvOverride
	for _, o := range all {
		if !strings.HasPrefix(o.Key, prefix) {
			out = append(out, o)
		}
	}
	return out
}

func TestTracingEnvOverrides(t *testing.T) {
	var got []string
	for _, o := range EnvOverrides() {
		if strings.HasPrefix(o.Key, "tracing.") {
			if want := "DXHUB_" + strings.ToUpper(strings.ReplaceAll(o.Key, ".", "_")); o.Env != want {
				t.Errorf("%s: env %s, want %s", o.Key, o.Env, want)
			}
			got = append(got, o.Key)
		}
	}
	sort.Strings(got)
	want := []string{"tracing.enabled", "tracing.local.enabled", "tracing.local.flushInterval", "tracing.local.maxSpans",
		"tracing.local.maxSpansPerSubmission", "tracing.otlp.caFile", "tracing.otlp.certFile", "tracing.otlp.compression",
		"tracing.otlp.endpoint", "tracing.otlp.headers", "tracing.otlp.headersFile", "tracing.otlp.keyFile",
		"tracing.otlp.timeout", "tracing.sampleRatio", "tracing.serviceName"}
	if !slices.Equal(got, want) {
		t.Fatalf("tracing overrides = %v, want %v", got, want)
	}
}
