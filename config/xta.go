package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// XTA configures the hub's XTA 2 server (the built-in mailbox) and its XTA
// client (delivery to remote XTA servers, picking up replies there). The
// lead wires it as Config.XTA with `mapstructure:"xta"`.
//
//	xta:
//	  server:
//	    serverIdentity: dxhub
//	    mtom: false
//	    listen: 127.0.0.1:8443   # the XTA TLS listener (with tls.certFile)
//	    baseURL: https://xta.hub.example.org:8443
//	    tls:
//	      certFile: /etc/dxhub/xta-server.crt
//	      keyFile: /etc/dxhub/xta-server.key
//	      clientCAFile: /etc/dxhub/fachverfahren-ca.pem
//	    clients:
//	      - subjectCN: fachverfahren-koeln
//	        identities: ["ags:05315000"]
//	      - fingerprint: "3f:9a:…"
//	        identities: ["ags:09162000"]
//	  client:
//	    timeout: 60s
//	    retryMax: 2
//	    mtom: true
//	    certFile: /etc/dxhub/hub-client.crt
//	    keyFile: /etc/dxhub/hub-client.key
//	    serverCAFile: /etc/dxhub/xta-servers-ca.pem
//	    tenants:
//	      - tenant: "05315000"
//	        certFile: /etc/dxhub/koeln.crt
//	        keyFile: /etc/dxhub/koeln.key
//	    endpoints:
//	      - url: https://xta.example.org/GovGateway211/send211
//	        mtom: false
//	    leser:
//	      - endpoint: https://xta.example.org
//	        tenant: "05315000"
//	        identity: "kop:0500000001"
//	        schedule: "*/5 * * * *"
type XTA struct {
	Server XTAServer `mapstructure:"server"`
	Client XTAClient `mapstructure:"client"`
}

// XTAServer configures the hub's own XTA server.
type XTAServer struct {
	// ServerIdentity is the XTAServerIdentity of transport reports and the
	// sender part of message IDs from createMessageId (≤ 41 characters).
	ServerIdentity string `mapstructure:"serverIdentity"`
	// MTOM answers getMessage/sendMessageSync always with MTOM/XOP; false
	// mirrors the request's packaging.
	MTOM bool `mapstructure:"mtom"`
	// TLS, when CertFile is set, serves the XTA ports over TLS on their own
	// listener (Listen) instead of the main one; with ClientCAFile
	// Fachverfahren must authenticate with client certificates mapped to
	// identities by Clients.
	TLS XTAServerTLS `mapstructure:"tls"`
	// Listen is the host:port of the XTA TLS listener; required with
	// TLS.CertFile, not allowed without it (plain XTA is served on
	// hub.listen).
	Listen string `mapstructure:"listen"`
	// BaseURL is the public URL of the XTA TLS listener, used in the served
	// WSDL; empty means "https://" + Listen (unspecified host: localhost).
	BaseURL string `mapstructure:"baseURL"`
	// Clients maps client certificates to the organisation keys they may act for.
	Clients []XTACertMapping `mapstructure:"clients"`
	// MaxRequestBytes bounds a sendMessage request (0: 64 MiB).
	MaxRequestBytes Size `mapstructure:"maxRequestBytes"`
	// MaxControlBytes bounds every other request (0: 1 MiB).
	MaxControlBytes Size `mapstructure:"maxControlBytes"`
	// MaxDepth, MaxElements, MaxAttributes bound a request's structure
	// (0: 64, 100000, 64 per element).
	MaxDepth      int `mapstructure:"maxDepth"`
	MaxElements   int `mapstructure:"maxElements"`
	MaxAttributes int `mapstructure:"maxAttributes"`
}

// XTAServerTLS holds the server's certificate and the CA bundle that issues
// Fachverfahren client certificates.
type XTAServerTLS struct {
	CertFile     string `mapstructure:"certFile"`
	KeyFile      string `mapstructure:"keyFile"`
	ClientCAFile string `mapstructure:"clientCAFile"`
}

// XTACertMapping maps one client certificate (by SHA-256 fingerprint, or by
// subject CN) to identities such as "ags:05315000".
type XTACertMapping struct {
	SubjectCN   string   `mapstructure:"subjectCN"`
	Fingerprint string   `mapstructure:"fingerprint"`
	Identities  []string `mapstructure:"identities"`
}

// XTAClient configures delivery to remote XTA servers.
type XTAClient struct {
	Timeout  time.Duration `mapstructure:"timeout"`  // one HTTP attempt (0: 60s)
	RetryMax int           `mapstructure:"retryMax"` // in-call retries (0: 2; -1: none)
	// MTOM sends contents as MTOM/XOP parts unless Endpoints says otherwise.
	MTOM bool `mapstructure:"mtom"`
	// CertFile/KeyFile are the hub's default client certificate; Tenants
	// override it per tenant (AGS). ServerCAFile verifies remote servers
	// (empty: system roots).
	CertFile     string             `mapstructure:"certFile"`
	KeyFile      string             `mapstructure:"keyFile"`
	ServerCAFile string             `mapstructure:"serverCAFile"`
	Tenants      []XTATenantCert    `mapstructure:"tenants"`
	Endpoints    []XTAEndpointFlags `mapstructure:"endpoints"`
	Leser        []XTALeserJob      `mapstructure:"leser"`
}

// XTATenantCert is a tenant's client certificate for remote XTA servers.
type XTATenantCert struct {
	Tenant   string `mapstructure:"tenant"`
	CertFile string `mapstructure:"certFile"`
	KeyFile  string `mapstructure:"keyFile"`
}

// XTAEndpointFlags switches MTOM per send-port URL.
type XTAEndpointFlags struct {
	URL  string `mapstructure:"url"`
	MTOM bool   `mapstructure:"mtom"`
}

// XTALeserJob is a cron job picking up replies from a remote XTA mailbox.
type XTALeserJob struct {
	Endpoint string `mapstructure:"endpoint"`
	Tenant   string `mapstructure:"tenant"`
	Identity string `mapstructure:"identity"`
	Schedule string `mapstructure:"schedule"`
	// Max bounds the messages one run fetches, over all getStatusList /
	// getNextStatusList pages (0: 100); the rest wait for the next run.
	Max int `mapstructure:"max"`
}

// Validate checks the XTA section; key is its prefix (e.g. "xta"). Every
// problem is returned as a *FieldError joined with errors.Join.
func (x *XTA) Validate(key string) error {
	var errs []error
	add := func(k, format string, a ...any) {
		errs = append(errs, &FieldError{Key: key + "." + k, Problem: fmt.Sprintf(format, a...)})
	}
	// keyPair loads a certificate and its key as the TLS stack will, so a
	// bad file stops check-config and serve, naming the key (k.certFile /
	// k.keyFile).
	keyPair := func(k, certFile, keyFile string) {
		for _, f := range []struct{ key, path string }{{"certFile", certFile}, {"keyFile", keyFile}} {
			if _, err := os.Stat(f.path); err != nil {
				add(k+"."+f.key, "cannot read %s: %v", f.path, err)
				return
			}
		}
		if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			add(k+".certFile", "%s and %s are not a PEM certificate and its private key: %v", certFile, keyFile, err)
		}
	}
	caBundle := func(k, path string) {
		if path == "" {
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			add(k, "cannot read %s: %v", path, err)
			return
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			add(k, "%s holds no PEM certificate", path)
		}
	}
	s := x.Server
	if len(s.ServerIdentity) > 41 || strings.ContainsAny(s.ServerIdentity, ": \t") {
		add("server.serverIdentity", "must be at most 41 characters without ':' or spaces")
	}
	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		add("server.tls", "certFile and keyFile go together")
	}
	if s.TLS.ClientCAFile != "" && s.TLS.CertFile == "" {
		add("server.tls.clientCAFile", "client certificates need TLS: set certFile and keyFile")
	}
	if s.TLS.CertFile != "" && s.TLS.KeyFile != "" {
		keyPair("server.tls", s.TLS.CertFile, s.TLS.KeyFile)
	}
	caBundle("server.tls.clientCAFile", s.TLS.ClientCAFile)
	switch {
	case s.TLS.CertFile != "" && s.Listen == "":
		add("server.listen", "the XTA TLS listener needs an address (host:port), e.g. 127.0.0.1:8443")
	case s.TLS.CertFile == "" && s.Listen != "":
		add("server.listen", "a separate XTA listener serves TLS only: set server.tls.certFile and keyFile (plain XTA is served on hub.listen)")
	case s.Listen != "":
		if err := checkHostPort(s.Listen); err != nil {
			add("server.listen", "%v", err)
		}
	}
	if s.BaseURL != "" {
		if u, err := url.Parse(s.BaseURL); err != nil || u.Scheme != "https" || u.Host == "" {
			add("server.baseURL", "%q is not an https URL", s.BaseURL)
		}
		if s.TLS.CertFile == "" {
			add("server.baseURL", "only used with server.tls (the XTA TLS listener)")
		}
	}
	if s.TLS.ClientCAFile != "" && len(s.Clients) == 0 {
		add("server.clients", "client certificates are required but no certificate is mapped to an identity")
	}
	for i, m := range s.Clients {
		k := fmt.Sprintf("server.clients[%d]", i)
		if m.SubjectCN == "" && m.Fingerprint == "" {
			add(k, "needs subjectCN or fingerprint")
		}
		if m.Fingerprint != "" && len(strings.ReplaceAll(m.Fingerprint, ":", "")) != 64 {
			add(k+".fingerprint", "must be a SHA-256 fingerprint (64 hex digits, colons allowed)")
		}
		if len(m.Identities) == 0 {
			add(k+".identities", "must name at least one organisation key")
		}
		for _, id := range m.Identities {
			if !strings.Contains(id, ":") {
				add(k+".identities", "%q is not an organisation key such as ags:05315000", id)
			}
		}
	}
	c := x.Client
	if c.Timeout < 0 {
		add("client.timeout", "must not be negative")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		add("client", "certFile and keyFile go together")
	}
	if c.CertFile != "" && c.KeyFile != "" {
		keyPair("client", c.CertFile, c.KeyFile)
	}
	caBundle("client.serverCAFile", c.ServerCAFile)
	seen := map[string]bool{}
	for i, t := range c.Tenants {
		k := fmt.Sprintf("client.tenants[%d]", i)
		if t.Tenant == "" || t.CertFile == "" || t.KeyFile == "" {
			add(k, "needs tenant, certFile and keyFile")
		}
		if seen[t.Tenant] {
			add(k+".tenant", "tenant %s listed twice", t.Tenant)
		}
		seen[t.Tenant] = true
		if t.CertFile != "" && t.KeyFile != "" {
			keyPair(k, t.CertFile, t.KeyFile)
		}
	}
	for i, e := range c.Endpoints {
		if u, err := url.Parse(e.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add(fmt.Sprintf("client.endpoints[%d].url", i), "%q is not an http(s) URL", e.URL)
		}
	}
	for i, j := range c.Leser {
		k := fmt.Sprintf("client.leser[%d]", i)
		if j.Endpoint == "" || j.Identity == "" || j.Schedule == "" {
			add(k, "needs endpoint, identity and schedule")
		}
		if j.Endpoint != "" {
			for _, e := range strings.Split(j.Endpoint, "|") {
				if u, err := url.Parse(e); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					add(k+".endpoint", "%q is not an http(s) URL (a base URL or management|send|msgbox URLs)", j.Endpoint)
					break
				}
			}
			if n := len(strings.Split(j.Endpoint, "|")); n != 1 && n != 3 {
				add(k+".endpoint", "give a base URL or three URLs management|send|msgbox")
			}
		}
		if j.Max < 0 || j.Max > 10000 {
			add(k+".max", "%d is out of range (0–10000 messages per run; 0: 100)", j.Max)
		}
		if j.Identity != "" && !strings.Contains(j.Identity, ":") {
			add(k+".identity", "%q is not an organisation key such as kop:0500000001", j.Identity)
		}
		if j.Schedule != "" {
			if _, err := cron.ParseStandard(j.Schedule); err != nil {
				add(k+".schedule", "%q is not a cron schedule: %v", j.Schedule, err)
			}
		}
	}
	return errors.Join(errs...)
}

// ListenURL returns the public base URL of the XTA TLS listener:
// server.baseURL, or "https://" + server.listen with an unspecified host
// replaced by localhost. It is "" without server.tls.
func (s XTAServer) ListenURL() string {
	if s.TLS.CertFile == "" {
		return ""
	}
	if s.BaseURL != "" {
		return strings.TrimRight(s.BaseURL, "/")
	}
	host, port, err := net.SplitHostPort(s.Listen)
	if err != nil {
		return "https://" + s.Listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "https://" + net.JoinHostPort(host, port)
}

// resolvePaths makes the certificate files relative to the configuration
// file's directory (like every other file key); values from the
// environment stay relative to the working directory.
func (x *XTA) resolvePaths(baseDir string, fromEnv map[string]string) {
	r := func(key string, p *string) { *p = resolvePath(baseDir, *p, fromEnv[strings.ToLower(key)] != "") }
	r("xta.server.tls.certFile", &x.Server.TLS.CertFile)
	r("xta.server.tls.keyFile", &x.Server.TLS.KeyFile)
	r("xta.server.tls.clientCAFile", &x.Server.TLS.ClientCAFile)
	r("xta.client.certFile", &x.Client.CertFile)
	r("xta.client.keyFile", &x.Client.KeyFile)
	r("xta.client.serverCAFile", &x.Client.ServerCAFile)
	for i := range x.Client.Tenants {
		t := &x.Client.Tenants[i]
		t.CertFile = resolvePath(baseDir, t.CertFile, false)
		t.KeyFile = resolvePath(baseDir, t.KeyFile, false)
	}
}
