package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// OSCI configures OSCI-Transport 1.2 (Config.OSCI, `osci:`): the hub's
// identities, the intermediaries it trusts, timeouts and the schedules of the
// Laufzettel poll and of the hub's own OSCI mailbox. OSCI is enabled when
// signing.certFile is set; routes with transport osci (configured or from the
// DVDV) need it.
//
//	osci:
//	  signing:    {certFile: hub-osci-sig.crt, keyFile: hub-osci-sig.key}
//	  decryption: {certFile: hub-osci-enc.crt, keyFile: hub-osci-enc.key}
//	  trustStore:
//	    caFile: osci-intermediaries-ca.pem
//	    allowDeprecated: false
//	  intermediaries:
//	    - url: https://osci.example/osci-manager-entry/externalentry
//	      cipherCertFile: intermediary-enc.crt
//	      signatureCertFile: intermediary-sig.crt
//	  timeout: 60s
//	  retryMax: 2
//	  processCardSchedule: "@every 5m"
//	  mailbox:
//	    intermediary: https://osci.example/osci-manager-entry/externalentry
//	    schedule: "@every 5m"
//	    max: 100
//
// Certificates are checked when the configuration is validated: every
// certificate must be valid now and permit its use (key usage); each key must
// match its certificate. Revocation (OCSP/CRL) is an extension point
// (xmlsec.RevocationChecker) and not checked by the embedded configuration.
type OSCI struct {
	Signing    OSCIKeyPair `mapstructure:"signing"`
	Decryption OSCIKeyPair `mapstructure:"decryption"`
	TrustStore OSCITrust   `mapstructure:"trustStore"`
	// Intermediaries are the intermediaries the hub talks to: their cipher
	// certificate (used when the route names none, e.g. configured endpoints)
	// and their signature certificate (pinned; otherwise the response's
	// certificate must chain to trustStore.caFile).
	Intermediaries []OSCIIntermediary `mapstructure:"intermediaries"`
	// Timeout bounds one HTTP exchange (default 60s); RetryMax in-call
	// retries of idempotent orders (default 2; -1 none).
	Timeout  time.Duration `mapstructure:"timeout"`
	RetryMax int           `mapstructure:"retryMax"`
	// ProcessCardSchedule is the cron spec of the Laufzettel poll.
	ProcessCardSchedule string      `mapstructure:"processCardSchedule"`
	Mailbox             OSCIMailbox `mapstructure:"mailbox"`
}

// OSCIKeyPair is a certificate with its private key (PEM files).
type OSCIKeyPair struct {
	CertFile string `mapstructure:"certFile"`
	KeyFile  string `mapstructure:"keyFile"`
}

// OSCITrust is the intermediary trust store.
type OSCITrust struct {
	// CAFile holds the root certificates intermediary signature
	// certificates must chain to (PEM bundle).
	CAFile string `mapstructure:"caFile"`
	// AllowDeprecated accepts deprecated algorithms (RSA PKCS#1 v1.5 key
	// transport, CBC ciphers, SHA-1) on input.
	AllowDeprecated bool `mapstructure:"allowDeprecated"`
}

// OSCIIntermediary is one configured intermediary.
type OSCIIntermediary struct {
	URL               string `mapstructure:"url"`
	CipherCertFile    string `mapstructure:"cipherCertFile"`
	SignatureCertFile string `mapstructure:"signatureCertFile"`
}

// OSCIMailbox is the hub's own OSCI mailbox (the hub as addressee).
type OSCIMailbox struct {
	Intermediary string `mapstructure:"intermediary"` // empty: no mailbox job
	Schedule     string `mapstructure:"schedule"`
	Max          int    `mapstructure:"max"`
}

// DefaultOSCI returns the built-in OSCI settings (disabled).
func DefaultOSCI() OSCI {
	return OSCI{Timeout: 60 * time.Second, RetryMax: 2, ProcessCardSchedule: "@every 5m",
		Mailbox: OSCIMailbox{Schedule: "@every 5m", Max: 100}}
}

// Enabled reports whether OSCI is configured.
//
// Configured endpoints with transport osci need it (Validate); routes with
// transport osci that only the DVDV names fail permanently at run time
// without it (dxhub serve warns).
func (o OSCI) Enabled() bool { return o.Signing.CertFile != "" }

// resolvePaths makes the certificate and key files relative to the
// configuration file's directory (like every other file key); values from
// the environment stay relative to the working directory.
func (o *OSCI) resolvePaths(baseDir string, fromEnv map[string]string) {
	r := func(key string, p *string) { *p = resolvePath(baseDir, *p, fromEnv[strings.ToLower(key)] != "") }
	r("osci.signing.certFile", &o.Signing.CertFile)
	r("osci.signing.keyFile", &o.Signing.KeyFile)
	r("osci.decryption.certFile", &o.Decryption.CertFile)
	r("osci.decryption.keyFile", &o.Decryption.KeyFile)
	r("osci.trustStore.caFile", &o.TrustStore.CAFile)
	for i := range o.Intermediaries {
		im := &o.Intermediaries[i]
		im.CipherCertFile = resolvePath(baseDir, im.CipherCertFile, false)
		im.SignatureCertFile = resolvePath(baseDir, im.SignatureCertFile, false)
	}
}

// validateOSCI checks the osci section, and that no configured endpoint uses
// transport osci without it.
func (c *Config) validateOSCI() error {
	o := c.OSCI
	var errs []error
	add := func(k, format string, a ...any) {
		errs = append(errs, &FieldError{Key: "osci." + k, Problem: fmt.Sprintf(format, a...)})
	}
	if !o.Enabled() {
		for i, e := range c.Endpoints {
			if e.Transport != TransportOSCI {
				continue
			}
			k := e.origin
			if k == "" {
				k = fmt.Sprintf("endpoints[%d]", i)
			}
			errs = append(errs, &FieldError{Key: k + ".transport", Problem: fmt.Sprintf(
				"transport osci (reader %s) needs the hub's OSCI identities, but osci.signing.certFile is not set", e.ReaderKey)})
		}
		if o.Mailbox.Intermediary != "" {
			add("signing.certFile", "the OSCI mailbox needs the hub's OSCI identities")
		}
		return errors.Join(errs...)
	}
	now := time.Now()
	pair := func(k string, p OSCIKeyPair, usage x509.KeyUsage, what string) {
		if p.CertFile == "" || p.KeyFile == "" {
			add(k, "certFile and keyFile are required")
			return
		}
		cb, err := os.ReadFile(p.CertFile)
		if err != nil {
			add(k+".certFile", "%v", err)
			return
		}
		kb, err := os.ReadFile(p.KeyFile)
		if err != nil {
			add(k+".keyFile", "%v", err)
			return
		}
		kp, err := tls.X509KeyPair(cb, kb)
		if err != nil {
			add(k, "certificate and key do not form a pair: %v", err)
			return
		}
		cert, err := x509.ParseCertificate(kp.Certificate[0])
		if err != nil {
			add(k+".certFile", "%v", err)
			return
		}
		checkCert(add, k+".certFile", cert, usage, what, now)
	}
	pair("signing", o.Signing, x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment, "signatures")
	pair("decryption", o.Decryption, x509.KeyUsageKeyEncipherment|x509.KeyUsageDataEncipherment, "encryption")
	if o.TrustStore.CAFile != "" {
		if b, err := os.ReadFile(o.TrustStore.CAFile); err != nil {
			add("trustStore.caFile", "%v", err)
		} else if !x509.NewCertPool().AppendCertsFromPEM(b) {
			add("trustStore.caFile", "%s holds no PEM certificate", o.TrustStore.CAFile)
		}
	}
	seen := map[string]bool{}
	hasCipher := map[string]bool{}
	for i, im := range o.Intermediaries {
		hasCipher[im.URL] = im.CipherCertFile != ""
		k := fmt.Sprintf("intermediaries[%d]", i)
		if u, err := url.Parse(im.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(k+".url", "%q is not an http(s) URL", im.URL)
		}
		if seen[im.URL] {
			add(k+".url", "%s listed twice", im.URL)
		}
		seen[im.URL] = true
		for _, f := range []struct {
			key, file string
			usage     x509.KeyUsage
			what      string
		}{{"cipherCertFile", im.CipherCertFile, x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment, "encryption"},
			{"signatureCertFile", im.SignatureCertFile, x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, "signatures"}} {
			if f.file == "" {
				continue
			}
			cert, err := readCert(f.file)
			if err != nil {
				add(k+"."+f.key, "%v", err)
				continue
			}
			checkCert(add, k+"."+f.key, cert, f.usage, f.what, now)
		}
		if im.SignatureCertFile == "" && o.TrustStore.CAFile == "" {
			add(k+".signatureCertFile", "without a pinned signature certificate the intermediary's responses need trustStore.caFile")
		}
	}
	if o.Timeout < 0 {
		add("timeout", "must not be negative")
	}
	if o.RetryMax < -1 {
		add("retryMax", "must be -1 (none) or more")
	}
	for k, s := range map[string]string{"processCardSchedule": o.ProcessCardSchedule, "mailbox.schedule": o.Mailbox.Schedule} {
		if s == "" {
			add(k, "is required")
		} else if _, err := cron.ParseStandard(s); err != nil {
			add(k, "%q is not a cron schedule: %v", s, err)
		}
	}
	if m := o.Mailbox.Intermediary; m != "" {
		if u, err := url.Parse(m); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("mailbox.intermediary", "%q is not an http(s) URL", m)
		} else if !seen[m] || !hasCipher[m] {
			add("mailbox.intermediary", "%s is not listed in osci.intermediaries with a cipherCertFile (needed to encrypt the fetch)", m)
		}
	}
	if o.Mailbox.Max < 0 {
		add("mailbox.max", "must not be negative")
	}
	return errors.Join(errs...)
}

func checkCert(add func(k, format string, a ...any), k string, c *x509.Certificate, usage x509.KeyUsage, what string, now time.Time) {
	switch {
	case now.Before(c.NotBefore):
		add(k, "certificate %q is not valid before %s", c.Subject, c.NotBefore.UTC().Format(time.RFC3339))
	case now.After(c.NotAfter):
		add(k, "certificate %q expired at %s", c.Subject, c.NotAfter.UTC().Format(time.RFC3339))
	case c.KeyUsage != 0 && c.KeyUsage&usage == 0:
		add(k, "certificate %q does not permit %s (key usage)", c.Subject, what)
	}
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s holds no PEM certificate", path)
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}
