package config

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// HubTLS serves the main listener (portal API, and XTA unless it has its own
// listener) over HTTPS. It is required when any portal uses a client
// certificate (portals[].clientCert): the listener then asks every client
// for a certificate and verifies one that is given against the portals'
// CAs (tls.VerifyClientCertIfGiven). TLS 1.2 is the lowest version.
//
//	hub:
//	  tls: {certFile: /etc/dxhub/hub.crt, keyFile: /etc/dxhub/hub.key}
type HubTLS struct {
	CertFile string `mapstructure:"certFile"`
	KeyFile  string `mapstructure:"keyFile"`
}

// Enabled reports whether the main listener serves TLS.
func (t HubTLS) Enabled() bool { return t.CertFile != "" }

// PortalClientCert binds a portal to its TLS client certificate (mTLS): the
// certificate must chain to CAFile and match Fingerprint (SHA-256 of the DER
// certificate, hex, colons allowed) or, without one, SubjectCN. By default
// the portal needs its certificate AND its API key on every request; with
// WithoutAPIKey the certificate alone authenticates it (apiKey/apiKeyFile
// may then be left out; a key, if configured, still works but only together
// with the certificate).
//
//	portals:
//	  - id: fachportal
//	    apiKeyFile: fachportal.key
//	    clientCert: {subjectCN: fachportal.example.de, caFile: portal-ca.pem}
type PortalClientCert struct {
	SubjectCN     string `mapstructure:"subjectCN"`
	Fingerprint   string `mapstructure:"fingerprint"`
	CAFile        string `mapstructure:"caFile"`
	WithoutAPIKey bool   `mapstructure:"withoutAPIKey"`
}

// Enabled reports whether the portal uses a client certificate.
func (c PortalClientCert) Enabled() bool {
	return c.SubjectCN != "" || c.Fingerprint != "" || c.CAFile != "" || c.WithoutAPIKey
}

// ClientCAs reads the CA bundle of a portal's client certificate.
func (c PortalClientCert) ClientCAs() (*x509.CertPool, error) {
	b, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", c.CAFile)
	}
	return pool, nil
}

// APIKeyHash returns the SHA-256 of the portal's API key (apiKey or the
// content of apiKeyFile) and whether it has one. After DropPortalSecrets it
// is the only form of the key left.
func (p Portal) APIKeyHash() ([sha256.Size]byte, bool) {
	if s := p.Secret(); s != "" {
		return sha256.Sum256([]byte(s)), true
	}
	return p.keyHash, p.keyHash != [sha256.Size]byte{}
}

// DropPortalSecrets replaces the portals' plaintext API keys by their
// SHA-256 (APIKeyHash). dxhub serve calls it once the portal API is built,
// so no plaintext key stays referenced by the running process. Call it
// after Validate (which needs the plaintext to find duplicate keys).
func (c *Config) DropPortalSecrets() {
	for i := range c.Portals {
		p := &c.Portals[i]
		p.keyHash, _ = p.APIKeyHash()
		p.APIKey, p.fileKey = "", ""
	}
}

func (c *Config) validatePortalTLS(p *problems) {
	t := c.Hub.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.add("hub.tls", "certFile and keyFile go together")
	} else if t.Enabled() {
		ok := true
		for _, f := range []struct{ key, path string }{{"certFile", t.CertFile}, {"keyFile", t.KeyFile}} {
			if _, err := os.Stat(f.path); err != nil {
				p.add("hub.tls."+f.key, "cannot read %s: %v", f.path, err)
				ok = false
			}
		}
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); ok && err != nil {
			p.add("hub.tls.certFile", "%s and %s are not a PEM certificate and its private key: %v", t.CertFile, t.KeyFile, err)
		}
	}
	for i, pt := range c.Portals {
		cc := pt.ClientCert
		if !cc.Enabled() {
			continue
		}
		k := fmt.Sprintf("portals[%d].clientCert", i)
		if !t.Enabled() {
			p.add(k, "client certificates need TLS on the main listener: set hub.tls.certFile and keyFile")
		}
		if cc.SubjectCN == "" && cc.Fingerprint == "" {
			p.add(k, "name the certificate by subjectCN or fingerprint")
		}
		if fp := strings.ReplaceAll(cc.Fingerprint, ":", ""); cc.Fingerprint != "" {
			if b, err := hex.DecodeString(fp); err != nil || len(b) != sha256.Size {
				p.add(k+".fingerprint", "must be the SHA-256 of the DER certificate in hex (64 digits, colons allowed)")
			}
		}
		if cc.CAFile == "" {
			p.add(k+".caFile", "must name the CA bundle (PEM) the portal's certificate is issued by")
		} else if _, err := cc.ClientCAs(); err != nil {
			p.add(k+".caFile", "%v", err)
		}
	}
}

// resolvePortalPaths makes hub.tls and the portals' CA files relative to the
// configuration file.
func (c *Config) resolvePortalPaths(baseDir string, fromEnv map[string]string) {
	c.Hub.TLS.CertFile = resolvePath(baseDir, c.Hub.TLS.CertFile, fromEnv["hub.tls.certfile"] != "")
	c.Hub.TLS.KeyFile = resolvePath(baseDir, c.Hub.TLS.KeyFile, fromEnv["hub.tls.keyfile"] != "")
	for i := range c.Portals {
		cc := &c.Portals[i].ClientCert
		cc.CAFile = resolvePath(baseDir, cc.CAFile, false)
	}
}
