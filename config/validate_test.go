package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func testCertPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "Stadt Köln"},
		NotBefore:    time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestValidate(t *testing.T) {
	const uri = "urn:xoev-de:xbau-kernmodul:universellerAntrag"
	dir := t.TempDir()
	emptyKey := writeFile(t, dir, "empty.key", "\n \n")
	texts := writeFile(t, dir, "texts.yaml", "received: Ihr Antrag ist eingegangen.\n")
	cert := testCertPEM(t)

	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // exact problem keys, sorted
		msg    string   // optional substring of the joined error
	}{
		{name: "default is valid", mutate: func(*Config) {}},
		{
			name: "optional fields set correctly",
			mutate: func(c *Config) {
				c.Hub.BaseURL = "https://dxhub.example.de/base"
				c.Hub.StandardsDir = dir
				c.Mailbox.Messages = texts
				c.OSCI.Signing = OSCIKeyPair{CertFile: "testdata/hub-osci-sig.crt", KeyFile: "testdata/hub-osci-sig.key"}
				c.OSCI.Decryption = OSCIKeyPair{CertFile: "testdata/hub-osci-enc.crt", KeyFile: "testdata/hub-osci-enc.key"}
				c.Endpoints = append(c.Endpoints, Endpoint{
					ReaderKey: "ags:05111000", ServiceURI: uri, Transport: TransportOSCI,
					URL: "https://osci.example/", Intermediary: "http://intermediary.example:8080/osci",
					EncryptionCert: cert, SignatureCert: cert,
				})
			},
		},

		// hub
		{name: "listen without port", mutate: func(c *Config) { c.Hub.Listen = "localhost" }, want: []string{"hub.listen"}, msg: "not host:port"},
		{name: "listen named port", mutate: func(c *Config) { c.Hub.Listen = "localhost:http" }, want: []string{"hub.listen"}},
		{name: "listen port out of range", mutate: func(c *Config) { c.Hub.Listen = ":65536" }, want: []string{"hub.listen"}},
		{name: "baseURL not http", mutate: func(c *Config) { c.Hub.BaseURL = "ftp://x.example" }, want: []string{"hub.baseURL"}},
		{name: "baseURL relative", mutate: func(c *Config) { c.Hub.BaseURL = "/hub" }, want: []string{"hub.baseURL"}},
		{name: "baseURL with query", mutate: func(c *Config) { c.Hub.BaseURL = "https://x.example/?a=b" }, want: []string{"hub.baseURL"}},
		{name: "dataDir empty", mutate: func(c *Config) { c.Hub.DataDir = " " }, want: []string{"hub.dataDir"}},
		{name: "standardsDir missing", mutate: func(c *Config) { c.Hub.StandardsDir = filepath.Join(dir, "nope") }, want: []string{"hub.standardsDir"}},
		{name: "standardsDir is a file", mutate: func(c *Config) { c.Hub.StandardsDir = texts }, want: []string{"hub.standardsDir"}},
		{name: "authorKey upper case", mutate: func(c *Config) { c.Hub.AuthorKey = "KOP:0500000001" }, want: []string{"hub.authorKey"}},
		{name: "authorKey without number", mutate: func(c *Config) { c.Hub.AuthorKey = "kop:" }, want: []string{"hub.authorKey"}},
		{name: "authorName empty", mutate: func(c *Config) { c.Hub.AuthorName = "" }, want: []string{"hub.authorName"}},
		{name: "timezone unknown", mutate: func(c *Config) { c.Hub.Timezone = "Europe/Bonn" }, want: []string{"hub.timezone"}},
		{name: "timezone empty", mutate: func(c *Config) { c.Hub.Timezone = "" }, want: []string{"hub.timezone"}},
		{name: "logLevel", mutate: func(c *Config) { c.Hub.LogLevel = "verbose" }, want: []string{"hub.logLevel"}},
		{name: "logFormat", mutate: func(c *Config) { c.Hub.LogFormat = "xml" }, want: []string{"hub.logFormat"}},

		// limits
		{
			name: "limits zero",
			mutate: func(c *Config) {
				c.Limits = Limits{}
			},
			want: []string{"limits.maxAttachmentBytes", "limits.maxAttachments", "limits.maxBodyBytes", "limits.maxJSONBytes", "limits.maxJSONDepth"},
		},
		{
			name:   "parts exceed the whole body",
			mutate: func(c *Config) { c.Limits.MaxBodyBytes = 10 * MiB; c.Limits.MaxJSONBytes = 11 * MiB },
			want:   []string{"limits.maxAttachmentBytes", "limits.maxJSONBytes"},
			msg:    "limits.maxJSONBytes: 11MiB exceeds limits.maxBodyBytes (10MiB)",
		},

		// workers and retry
		{
			name:   "workers",
			mutate: func(c *Config) { c.Workers = Workers{Count: -1, Lease: 0, PollInterval: -time.Second} },
			want:   []string{"workers.count", "workers.lease", "workers.pollInterval"},
		},
		{name: "zero workers is intake only", mutate: func(c *Config) { c.Workers.Count = 0 }},
		{name: "jitter above 1", mutate: func(c *Config) { c.Retry.Jitter = 1.5 }, want: []string{"retry.jitter"}},
		{name: "jitter negative", mutate: func(c *Config) { c.Retry.Jitter = -0.1 }, want: []string{"retry.jitter"}},
		{name: "jitter NaN", mutate: func(c *Config) { c.Retry.Jitter = math.NaN() }, want: []string{"retry.jitter"}},
		{name: "jitter bounds are valid", mutate: func(c *Config) { c.Retry.Jitter = 1; c.Retry.Multiplier = 1 }},
		{name: "multiplier below 1", mutate: func(c *Config) { c.Retry.Multiplier = 0.5 }, want: []string{"retry.multiplier"}},
		{name: "multiplier infinite", mutate: func(c *Config) { c.Retry.Multiplier = math.Inf(1) }, want: []string{"retry.multiplier"}},
		{
			name: "backoffs",
			mutate: func(c *Config) {
				c.Retry.InitialBackoff = 0
				c.Retry.MaxBackoff = -1
				c.Retry.MaxAge = 0
				c.Retry.MaxAttempts = 0
			},
			want: []string{"retry.initialBackoff", "retry.maxAge", "retry.maxAttempts", "retry.maxBackoff"},
		},
		{
			name:   "maxBackoff below initial",
			mutate: func(c *Config) { c.Retry.InitialBackoff = time.Minute; c.Retry.MaxBackoff = time.Second },
			want:   []string{"retry.maxBackoff"},
		},

		// tenants
		{name: "AGS 7 digits", mutate: func(c *Config) { c.Tenants[0].AGS = "0531500" }, want: []string{"portals[0].tenants[0]", "tenants[0].ags"}},
		{name: "AGS letters", mutate: func(c *Config) { c.Tenants[0].AGS = "0531500x" }, want: []string{"portals[0].tenants[0]", "tenants[0].ags"}},
		{
			name: "duplicate AGS",
			mutate: func(c *Config) {
				c.Tenants = append(c.Tenants, Tenant{AGS: "05315000", Name: "Köln 2", DVDVKey: "ags:05315000"})
			},
			want: []string{"tenants[1].ags"},
			msg:  `tenants[1].ags: duplicate tenant "05315000" (first at tenants[0])`,
		},
		{name: "tenant name empty", mutate: func(c *Config) { c.Tenants[0].Name = "" }, want: []string{"tenants[0].name"}},
		{name: "dvdvKey", mutate: func(c *Config) { c.Tenants[0].DVDVKey = "05315000" }, want: []string{"tenants[0].dvdvKey"}},

		// portals
		{
			name:   "unknown tenant of a portal",
			mutate: func(c *Config) { c.Portals[0].Tenants = []string{"05315000", "0531500"} },
			want:   []string{"portals[0].tenants[1]"},
			msg:    `portals[0].tenants[1]: unknown tenant "0531500"`,
		},
		{name: "portal without tenants", mutate: func(c *Config) { c.Portals[0].Tenants = nil }, want: []string{"portals[0].tenants"}},
		{
			name:   "portal tenant twice",
			mutate: func(c *Config) { c.Portals[0].Tenants = []string{"05315000", "05315000"} },
			want:   []string{"portals[0].tenants[1]"},
		},
		{
			name: "duplicate portal ID",
			mutate: func(c *Config) {
				c.Portals = append(c.Portals, Portal{ID: "demo-portal", APIKey: "other", Tenants: []string{"05315000"}})
			},
			want: []string{"portals[1].id"},
			msg:  `duplicate portal ID "demo-portal" (first at portals[0])`,
		},
		{name: "portal ID empty", mutate: func(c *Config) { c.Portals[0].ID = "" }, want: []string{"portals[0].id"}},
		{name: "portal ID with space", mutate: func(c *Config) { c.Portals[0].ID = "demo portal" }, want: []string{"portals[0].id"}},
		{name: "no API key", mutate: func(c *Config) { c.Portals[0].APIKey = "" }, want: []string{"portals[0]"}, msg: "needs apiKey or apiKeyFile"},
		{name: "both API keys", mutate: func(c *Config) { c.Portals[0].APIKeyFile = emptyKey }, want: []string{"portals[0]"}, msg: "not both"},
		{
			name:   "API key file missing",
			mutate: func(c *Config) { c.Portals[0].APIKey = ""; c.Portals[0].APIKeyFile = filepath.Join(dir, "absent.key") },
			want:   []string{"portals[0].apiKeyFile"},
			msg:    "absent.key",
		},
		{
			name:   "API key file empty",
			mutate: func(c *Config) { c.Portals[0].APIKey = ""; c.Portals[0].APIKeyFile = emptyKey },
			want:   []string{"portals[0].apiKeyFile"},
			msg:    "is empty",
		},
		{
			name: "same API key twice",
			mutate: func(c *Config) {
				c.Portals = append(c.Portals, Portal{ID: "second", APIKey: DemoAPIKey, Tenants: []string{"05315000"}})
			},
			want: []string{"portals[1]"},
			msg:  "same API key as portals[0]",
		},

		// services
		{
			name:   "duplicate service ID",
			mutate: func(c *Config) { c.Services = append(c.Services, c.Services[0]) },
			want:   []string{"services[4].id"},
		},
		{name: "service URI relative", mutate: func(c *Config) { c.Services[0].ServiceURI = "xbau/antrag" }, want: []string{"services[0].serviceURI"}},
		{name: "service URI empty", mutate: func(c *Config) { c.Services[0].ServiceURI = "" }, want: []string{"services[0].serviceURI"}},
		{name: "service URI with space", mutate: func(c *Config) { c.Services[0].ServiceURI = "urn:a b" }, want: []string{"services[0].serviceURI"}},
		{
			name:   "unknown standard",
			mutate: func(c *Config) { c.Services[0].Standard = "xbau-9.9" },
			want:   []string{"services[0].standard"},
			msg:    `unknown standard "xbau-9.9" (known: xbau-kernmodul-1.3.0, xbau-2.6, xbau-2.3, xdomea-3.0.0)`,
		},
		{name: "unknown builtin profile", mutate: func(c *Config) { c.Services[1].Profile = "builtin:nope" }, want: []string{"services[1].profile"}, msg: `no builtin profile "nope"`},
		{name: "missing profile file", mutate: func(c *Config) { c.Services[1].Profile = "/nonexistent/p.yaml" }, want: []string{"services[1].profile"}},
		{name: "standard without Go mapping needs a profile", mutate: func(c *Config) { c.Services[1].Profile = "" }, want: []string{"services[1].profile"}},
		{name: "messageType empty", mutate: func(c *Config) { c.Services[0].MessageType = "" }, want: []string{"services[0].messageType"}},
		{name: "negative SLA", mutate: func(c *Config) { c.Services[0].SLA = -time.Hour }, want: []string{"services[0].sla"}},

		// endpoints
		{name: "unknown transport", mutate: func(c *Config) { c.Endpoints[0].Transport = "smtp" }, want: []string{"endpoints[0].transport"}},
		{name: "xta needs url", mutate: func(c *Config) { c.Endpoints[0].Transport = TransportXTA }, want: []string{"endpoints[0].url"}, msg: "required for transport xta"},
		{
			name: "osci url must be http(s)",
			mutate: func(c *Config) {
				c.OSCI.Signing = OSCIKeyPair{CertFile: "testdata/hub-osci-sig.crt", KeyFile: "testdata/hub-osci-sig.key"}
				c.OSCI.Decryption = OSCIKeyPair{CertFile: "testdata/hub-osci-enc.crt", KeyFile: "testdata/hub-osci-enc.key"}
				c.Endpoints[0].Transport = TransportOSCI
				c.Endpoints[0].URL = "ftp://osci.example"
			},
			want: []string{"endpoints[0].url"},
		},
		{
			name: "osci endpoint without the osci section",
			mutate: func(c *Config) {
				c.Endpoints[0].Transport = TransportOSCI
				c.Endpoints[0].URL = "https://osci.example/fv"
			},
			want: []string{"endpoints[0].transport"}, msg: "osci.signing.certFile is not set",
		},
		{
			name:   "mailbox takes no url",
			mutate: func(c *Config) { c.Endpoints[0].URL = "https://x.example" },
			want:   []string{"endpoints[0].url"},
		},
		{
			name:   "duplicate endpoint pair",
			mutate: func(c *Config) { c.Endpoints = append(c.Endpoints, c.Endpoints[0]) },
			want:   []string{"endpoints[4]"},
			msg:    `duplicate endpoint for reader "ags:05315000" and service "` + uri + `" (first at endpoints[0])`,
		},
		{
			name: "same reader, other service is fine",
			mutate: func(c *Config) {
				e := c.Endpoints[0]
				e.ServiceURI = "urn:xoev-de:other:service"
				c.Endpoints = append(c.Endpoints, e)
			},
		},
		{name: "readerKey", mutate: func(c *Config) { c.Endpoints[0].ReaderKey = "ags 05315000" }, want: []string{"endpoints[0].readerKey"}},
		{name: "endpoint service URI", mutate: func(c *Config) { c.Endpoints[0].ServiceURI = "" }, want: []string{"endpoints[0].serviceURI"}},
		{name: "intermediary", mutate: func(c *Config) { c.Endpoints[0].Intermediary = "intermediary" }, want: []string{"endpoints[0].intermediary"}},
		{
			name: "certificates",
			mutate: func(c *Config) {
				c.Endpoints[0].EncryptionCert = "garbage"
				c.Endpoints[0].SignatureCert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
			},
			want: []string{"endpoints[0].encryptionCert", "endpoints[0].signatureCert"},
		},

		// mailbox
		{name: "mailbox texts missing", mutate: func(c *Config) { c.Mailbox.Messages = filepath.Join(dir, "nope.yaml") }, want: []string{"mailbox.messages"}},
		{name: "mailbox texts is a directory", mutate: func(c *Config) { c.Mailbox.Messages = dir }, want: []string{"mailbox.messages"}},

		// all problems at once
		{
			name: "every problem is reported",
			mutate: func(c *Config) {
				c.Hub.Listen = "nope"
				c.Limits.MaxAttachments = 0
				c.Retry.Jitter = 2
				c.Tenants[0].DVDVKey = ""
				c.Portals[0].Tenants = []string{"0531500"}
				c.Services[0].Standard = ""
				c.Endpoints[0].Transport = ""
			},
			want: []string{
				"endpoints[0].transport", "hub.listen", "limits.maxAttachments", "portals[0].tenants[0]",
				"retry.jitter", "services[0].standard", "tenants[0].dvdvKey",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(c)
			err := c.Validate()
			if got := errKeys(err); !slices.Equal(got, tt.want) {
				t.Fatalf("problem keys = %q; want %q\nerror:\n%v", got, tt.want, err)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error does not contain %q:\n%v", tt.msg, err)
			}
			for _, fe := range FieldErrors(err) {
				if fe.Problem == "" || !strings.HasPrefix(fe.Error(), fe.Key+": ") {
					t.Errorf("bad FieldError %#v", fe)
				}
			}
		})
	}
}

func TestFieldErrors(t *testing.T) {
	a := &FieldError{Key: "a", Problem: "x"}
	b := &FieldError{Key: "b", Problem: "y"}
	wrapped := errors.Join(a, errors.Join(errors.New("plain"), b))
	got := FieldErrors(errors.Join(wrapped))
	if len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("FieldErrors = %v", got)
	}
	if FieldErrors(nil) != nil {
		t.Fatal("FieldErrors(nil) not empty")
	}
	if (&FieldError{Problem: "p"}).Error() != "p" {
		t.Fatal("FieldError without key")
	}
	var fe *FieldError
	if !errors.As(wrapped, &fe) || fe != a {
		t.Fatal("errors.As does not find the first FieldError")
	}
}

func TestKnownStandards(t *testing.T) {
	got := KnownStandards()
	if !slices.Contains(got, "xbau-kernmodul-1.3.0") {
		t.Fatalf("KnownStandards() = %v", got)
	}
	got[0] = "changed"
	if KnownStandards()[0] == "changed" {
		t.Fatal("KnownStandards exposes its backing array")
	}
	if !slices.Equal(Transports(), []string{"xta-mailbox", "xta", "osci"}) {
		t.Fatalf("Transports() = %v", Transports())
	}
}

func TestValidateWebhook(t *testing.T) {
	tests := []struct {
		name string
		w    Webhook
		want string
	}{
		{"none", Webhook{}, ""},
		{"ok", Webhook{URL: "https://p.example/h", Secret: "0123456789abcdef"}, ""},
		{"secret without url", Webhook{Secret: "0123456789abcdef"}, "portals[0].webhook.url: a webhook secret is set but no url"},
		{"relative url", Webhook{URL: "/h", Secret: "0123456789abcdef"}, "portals[0].webhook.url: must be an absolute http(s) URL"},
		{"no secret", Webhook{URL: "https://p.example/h"}, "portals[0].webhook: needs secret or secretFile"},
		{"both", Webhook{URL: "https://p.example/h", Secret: "0123456789abcdef", SecretFile: "x"}, "set either secret or secretFile"},
		{"short", Webhook{URL: "https://p.example/h", Secret: "short"}, "at least 16 characters"},
		{"missing file", Webhook{URL: "https://p.example/h", SecretFile: "/nonexistent/secret"}, "portals[0].webhook.secretFile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Portals[0].Webhook = tt.w
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestValidateMailbox(t *testing.T) {
	dir := t.TempDir()
	cert := dir + "/c.pem"
	os.WriteFile(cert, []byte("x"), 0o600)
	tests := []struct {
		name string
		m    Mailbox
		want string
	}{
		{"local", Mailbox{}, ""},
		{"remote ok", Mailbox{URL: "https://postfach.example/api", CertFile: cert, KeyFile: cert, Sender: "Stadt Köln"}, ""},
		{"cert without url", Mailbox{CertFile: cert}, "mailbox.certFile: is set but mailbox.url is empty"},
		{"bad url", Mailbox{URL: "postfach", Sender: "x"}, "mailbox.url: must be an absolute"},
		{"cert without key", Mailbox{URL: "https://p.example", CertFile: cert, Sender: "x"}, "certFile and keyFile must be given together"},
		{"missing file", Mailbox{URL: "https://p.example", CAFile: dir + "/nope", Sender: "x"}, "mailbox.caFile"},
		{"no sender", Mailbox{URL: "https://p.example"}, "mailbox.sender: is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Mailbox = tt.m
			err := c.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
