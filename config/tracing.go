package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Tracing configures OpenTelemetry tracing of the submission path (intake →
// mapping → routing → delivery → back-channel), the trace ID in every log
// line and the spans kept in the store for `dxhub trace`.
//
//	tracing:
//	  enabled: false
//	  serviceName: dxhub
//	  sampleRatio: 1.0          # share of new traces recorded; a portal's sampled flag wins
//	  otlp:                     # export over OTLP/HTTP (protobuf); endpoint "" = no export
//	    endpoint: ""            # e.g. https://otel-collector.example:4318/v1/traces
//	    caFile: ""              # CA of the collector (default: system roots)
//	    certFile: ""            # client certificate (mTLS)
//	    keyFile: ""
//	    headers: ""             # "Name=value,Name2=value2"; best set as DXHUB_TRACING_OTLP_HEADERS
//	    headersFile: ""         # or a file of "Name: value" lines (e.g. an Authorization token)
//	    timeout: 10s
//	    compression: gzip       # gzip or none
//	  local:                    # finished spans of submissions in the store (dxhub trace)
//	    enabled: true
//	    maxSpans: 100000        # oldest spans are pruned beyond this
//	    maxSpansPerSubmission: 256
//	    flushInterval: 1s
type Tracing struct {
	Enabled     bool         `mapstructure:"enabled"`
	ServiceName string       `mapstructure:"serviceName"`
	SampleRatio float64      `mapstructure:"sampleRatio"`
	OTLP        TracingOTLP  `mapstructure:"otlp"`
	Local       TracingLocal `mapstructure:"local"`
}

// TracingOTLP is the OTLP/HTTP exporter.
type TracingOTLP struct {
	Endpoint    string        `mapstructure:"endpoint"`
	CAFile      string        `mapstructure:"caFile"`
	CertFile    string        `mapstructure:"certFile"`
	KeyFile     string        `mapstructure:"keyFile"`
	Headers     string        `mapstructure:"headers"`
	HeadersFile string        `mapstructure:"headersFile"`
	Timeout     time.Duration `mapstructure:"timeout"`
	Compression string        `mapstructure:"compression"`
}

// TracingLocal keeps finished spans of submissions in the store.
type TracingLocal struct {
	Enabled               bool          `mapstructure:"enabled"`
	MaxSpans              int           `mapstructure:"maxSpans"`
	MaxSpansPerSubmission int           `mapstructure:"maxSpansPerSubmission"`
	FlushInterval         time.Duration `mapstructure:"flushInterval"`
}

// DefaultTracing returns the built-in defaults (tracing off).
func DefaultTracing() Tracing {
	return Tracing{
		ServiceName: "dxhub",
		SampleRatio: 1,
		OTLP:        TracingOTLP{Timeout: 10 * time.Second, Compression: "gzip"},
		Local:       TracingLocal{Enabled: true, MaxSpans: 100000, MaxSpansPerSubmission: 256, FlushInterval: time.Second},
	}
}

// OTLPHeaders returns the exporter's extra request headers: otlp.headers
// ("Name=value,…", values may be percent-encoded as in
// OTEL_EXPORTER_OTLP_HEADERS) and the lines of otlp.headersFile ("Name:
// value"). They usually carry credentials: never log them.
func (t TracingOTLP) OTLPHeaders() (map[string]string, error) {
	out := map[string]string{}
	if s := strings.TrimSpace(t.Headers); s != "" {
		for i, pair := range strings.Split(s, ",") {
			name, val, ok := strings.Cut(pair, "=")
			name = strings.TrimSpace(name)
			if !ok || name == "" {
				return nil, fmt.Errorf("entry %d is not Name=value", i+1)
			}
			v, err := url.PathUnescape(strings.TrimSpace(val))
			if err != nil {
				return nil, fmt.Errorf("entry %d (%s): %w", i+1, name, err)
			}
			out[name] = v
		}
	}
	if t.HeadersFile != "" {
		b, err := os.ReadFile(t.HeadersFile)
		if err != nil {
			return nil, err
		}
		for i, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			name, val, ok := strings.Cut(line, ":")
			name = strings.TrimSpace(name)
			if !ok || name == "" {
				return nil, fmt.Errorf("%s line %d is not \"Name: value\"", t.HeadersFile, i+1)
			}
			out[name] = strings.TrimSpace(val)
		}
	}
	for name := range out {
		if !validHeaderName(name) {
			return nil, fmt.Errorf("%q is not a valid HTTP header name", name)
		}
	}
	return out, nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return true
}

func (t *Tracing) resolvePaths(baseDir string, fromEnv map[string]string) {
	r := func(key string, p *string) { *p = resolvePath(baseDir, *p, fromEnv[strings.ToLower(key)] != "") }
	r("tracing.otlp.caFile", &t.OTLP.CAFile)
	r("tracing.otlp.certFile", &t.OTLP.CertFile)
	r("tracing.otlp.keyFile", &t.OTLP.KeyFile)
	r("tracing.otlp.headersFile", &t.OTLP.HeadersFile)
}

func (c *Config) validateTracing(p *problems) {
	t := c.Tracing
	if !t.Enabled {
		return
	}
	if strings.TrimSpace(t.ServiceName) == "" {
		p.add("tracing.serviceName", "must not be empty")
	}
	if t.SampleRatio < 0 || t.SampleRatio > 1 {
		p.add("tracing.sampleRatio", "must be between 0 and 1, got %g", t.SampleRatio)
	}
	o := t.OTLP
	if o.Endpoint != "" {
		if u, err := url.Parse(o.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("tracing.otlp.endpoint", "must be an http(s) URL of an OTLP/HTTP traces endpoint, got %q", o.Endpoint)
		} else if u.Scheme == "http" && (o.CAFile != "" || o.CertFile != "") {
			p.add("tracing.otlp.endpoint", "TLS files are set but the endpoint %q is plain http", o.Endpoint)
		}
		if o.Timeout <= 0 {
			p.add("tracing.otlp.timeout", "must be positive, got %s", o.Timeout)
		}
		if o.Compression != "gzip" && o.Compression != "none" {
			p.add("tracing.otlp.compression", "must be gzip or none, got %q", o.Compression)
		}
		for key, f := range map[string]string{"tracing.otlp.caFile": o.CAFile, "tracing.otlp.certFile": o.CertFile, "tracing.otlp.keyFile": o.KeyFile} {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				p.add(key, "%v", err)
			}
		}
		if (o.CertFile == "") != (o.KeyFile == "") {
			p.add("tracing.otlp.keyFile", "tracing.otlp.certFile and tracing.otlp.keyFile must be set together")
		}
		if _, err := o.OTLPHeaders(); err != nil {
			key := "tracing.otlp.headers"
			if o.HeadersFile != "" && strings.Contains(err.Error(), o.HeadersFile) {
				key = "tracing.otlp.headersFile"
			}
			p.add(key, "%v", err) // the error names the entry, never a value
		}
	}
	if t.Local.Enabled {
		if t.Local.MaxSpans < 1 {
			p.add("tracing.local.maxSpans", "must be at least 1, got %d", t.Local.MaxSpans)
		}
		if t.Local.MaxSpansPerSubmission < 1 {
			p.add("tracing.local.maxSpansPerSubmission", "must be at least 1, got %d", t.Local.MaxSpansPerSubmission)
		}
		if t.Local.FlushInterval <= 0 || t.Local.FlushInterval > time.Minute {
			p.add("tracing.local.flushInterval", "must be between 0 and 1m, got %s", t.Local.FlushInterval)
		}
	}
	if o.Endpoint == "" && !t.Local.Enabled {
		p.add("tracing.enabled", "tracing is enabled but spans go nowhere: set tracing.otlp.endpoint or tracing.local.enabled")
	}
}
