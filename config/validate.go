package config

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FieldError is one problem with one configuration key. Key is the path as
// written in YAML, with list indices: "portals[0].tenants[1]". Keys of entries
// merged from directory.file start with that file's path:
// "dir.yaml:endpoints[2].url".
type FieldError struct {
	Key     string
	Problem string
}

func (e *FieldError) Error() string {
	if e.Key == "" {
		return e.Problem
	}
	return e.Key + ": " + e.Problem
}

// FieldErrors returns every *FieldError in err, looking through wrapping and
// errors.Join trees, in order.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case nil:
		case *FieldError:
			out = append(out, x)
		case interface{ Unwrap() []error }:
			for _, y := range x.Unwrap() {
				walk(y)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	return out
}

var (
	// orgKeyRE is a DVDV organisation key: prefix and number, "ags:05315000".
	orgKeyRE = regexp.MustCompile(`^[a-z]{3}:[0-9]+$`)
	agsRE    = regexp.MustCompile(`^[0-9]{8}$`)
	// idRE is the shape of portal and service IDs (they appear in URLs and logs).
	idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// problems collects FieldErrors.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &FieldError{Key: key, Problem: fmt.Sprintf(format, args...)})
}

// Validate checks the configuration and returns all problems at once, joined
// with errors.Join, each a *FieldError naming the key; nil if there are none.
// It reads portals' API key files that Load has not read yet (for
// configurations built in code).
func (c *Config) Validate() error {
	var p problems
	c.validateHub(&p)
	c.validateLimits(&p)
	c.validateHarden(&p)
	c.validateWorkersRetry(&p)
	c.validateTenants(&p)
	c.validatePortals(&p)
	c.validatePortalTLS(&p)
	c.validateServices(&p)
	c.validateReliability(&p)
	c.validateTracing(&p)
	c.validateStore(&p)
	c.validateKafka(&p)
	c.validateAdmin(&p)
	c.validateEndpoints(&p)
	if f := c.Mailbox.Messages; f != "" {
		if st, err := os.Stat(f); err != nil {
			p.add("mailbox.messages", "%v", err)
		} else if !st.Mode().IsRegular() {
			p.add("mailbox.messages", "%s is not a regular file", f)
		}
	}
	c.validateMailbox(&p)
	for _, e := range c.DVDV.Validate("dvdv") {
		p = append(p, e)
	}
	if err := c.XTA.Validate("xta"); err != nil {
		p = append(p, err)
	}
	if err := c.validateOSCI(); err != nil {
		p = append(p, err)
	}
	return errors.Join(p...)
}

func (c *Config) validateMailbox(p *problems) {
	m := c.Mailbox
	if m.URL == "" {
		for k, v := range map[string]string{"certFile": m.CertFile, "keyFile": m.KeyFile, "caFile": m.CAFile} {
			if v != "" {
				p.add("mailbox."+k, "is set but mailbox.url is empty (the local Postfach needs no certificates)")
			}
		}
		return
	}
	u, err := url.Parse(m.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		p.add("mailbox.url", "must be an absolute http(s) URL, got %q", m.URL)
	}
	if (m.CertFile == "") != (m.KeyFile == "") {
		p.add("mailbox", "certFile and keyFile must be given together")
	}
	for k, v := range map[string]string{"certFile": m.CertFile, "keyFile": m.KeyFile, "caFile": m.CAFile} {
		if v == "" {
			continue
		}
		if _, err := os.Stat(v); err != nil {
			p.add("mailbox."+k, "%v", err)
		}
	}
	if m.Sender == "" {
		p.add("mailbox.sender", "is required with mailbox.url (shown as the sender of every message)")
	}
}

func (c *Config) validateHub(p *problems) {
	h := c.Hub
	if err := checkHostPort(h.Listen); err != nil {
		p.add("hub.listen", "%v", err)
	}
	if h.BaseURL != "" {
		if err := checkHTTPURL(h.BaseURL); err != nil {
			p.add("hub.baseURL", "%v", err)
		} else if u, _ := url.Parse(h.BaseURL); u.RawQuery != "" || u.Fragment != "" {
			p.add("hub.baseURL", "%q must not have a query or fragment", h.BaseURL)
		}
	}
	if strings.TrimSpace(h.DataDir) == "" {
		p.add("hub.dataDir", "must not be empty")
	}
	if h.StandardsDir != "" {
		if st, err := os.Stat(h.StandardsDir); err != nil {
			p.add("hub.standardsDir", "%v", err)
		} else if !st.IsDir() {
			p.add("hub.standardsDir", "%s is not a directory", h.StandardsDir)
		}
	}
	if !orgKeyRE.MatchString(h.AuthorKey) {
		p.add("hub.authorKey", "%q is not a DVDV organisation key (want e.g. \"kop:0500000001\")", h.AuthorKey)
	}
	if strings.TrimSpace(h.AuthorName) == "" {
		p.add("hub.authorName", "must not be empty")
	}
	if h.Timezone == "" {
		p.add("hub.timezone", "must not be empty (e.g. \"Europe/Berlin\")")
	} else if _, err := time.LoadLocation(h.Timezone); err != nil {
		p.add("hub.timezone", "%v", err)
	}
	if h.DebugListen != "" {
		if _, _, err := net.SplitHostPort(h.DebugListen); err != nil {
			p.add("hub.debugListen", "%q is not host:port: %v", h.DebugListen, err)
		}
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, h.LogLevel) {
		p.add("hub.logLevel", "%q is not one of debug, info, warn, error", h.LogLevel)
	}
	if !slices.Contains([]string{"text", "json"}, h.LogFormat) {
		p.add("hub.logFormat", "%q is not one of text, json", h.LogFormat)
	}
}

func (c *Config) validateLimits(p *problems) {
	l := c.Limits
	for _, s := range []struct {
		key string
		v   Size
	}{
		{"limits.maxBodyBytes", l.MaxBodyBytes},
		{"limits.maxJSONBytes", l.MaxJSONBytes},
		{"limits.maxAttachmentBytes", l.MaxAttachmentBytes},
	} {
		if s.v <= 0 {
			p.add(s.key, "must be greater than 0")
		}
	}
	if l.MaxBodyBytes > 0 {
		if l.MaxJSONBytes > l.MaxBodyBytes {
			p.add("limits.maxJSONBytes", "%v exceeds limits.maxBodyBytes (%v)", l.MaxJSONBytes, l.MaxBodyBytes)
		}
		if l.MaxAttachmentBytes > l.MaxBodyBytes {
			p.add("limits.maxAttachmentBytes", "%v exceeds limits.maxBodyBytes (%v)", l.MaxAttachmentBytes, l.MaxBodyBytes)
		}
	}
	if l.MaxAttachments <= 0 {
		p.add("limits.maxAttachments", "must be greater than 0")
	}
	if l.MaxJSONDepth <= 0 {
		p.add("limits.maxJSONDepth", "must be greater than 0")
	}
}

func (c *Config) validateWorkersRetry(p *problems) {
	w, r := c.Workers, c.Retry
	// 0 workers is an intake-only process: it accepts submissions and serves
	// the mailbox, while other processes (or a later start) run the pipeline.
	if w.Count < 0 {
		p.add("workers.count", "must not be negative (0 = intake only)")
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			p.add(key, "must be greater than 0")
		}
	}
	positive("workers.lease", w.Lease)
	positive("workers.pollInterval", w.PollInterval)
	positive("retry.initialBackoff", r.InitialBackoff)
	positive("retry.maxBackoff", r.MaxBackoff)
	positive("retry.maxAge", r.MaxAge)
	if r.InitialBackoff > 0 && r.MaxBackoff > 0 && r.MaxBackoff < r.InitialBackoff {
		p.add("retry.maxBackoff", "%v is less than retry.initialBackoff (%v)", r.MaxBackoff, r.InitialBackoff)
	}
	if math.IsNaN(r.Multiplier) || math.IsInf(r.Multiplier, 0) || r.Multiplier < 1 {
		p.add("retry.multiplier", "%v must be at least 1", r.Multiplier)
	}
	if math.IsNaN(r.Jitter) || r.Jitter < 0 || r.Jitter > 1 {
		p.add("retry.jitter", "%v must be between 0 and 1", r.Jitter)
	}
	if r.MaxAttempts <= 0 {
		p.add("retry.maxAttempts", "must be greater than 0")
	}
}

func (c *Config) validateTenants(p *problems) {
	seen := map[string]int{}
	for i, t := range c.Tenants {
		k := fmt.Sprintf("tenants[%d]", i)
		switch {
		case !agsRE.MatchString(t.AGS):
			p.add(k+".ags", "%q is not an AGS (exactly 8 digits, quoted in YAML)", t.AGS)
		default:
			if j, dup := seen[t.AGS]; dup {
				p.add(k+".ags", "duplicate tenant %q (first at tenants[%d])", t.AGS, j)
			} else {
				seen[t.AGS] = i
			}
		}
		if strings.TrimSpace(t.Name) == "" {
			p.add(k+".name", "must not be empty")
		}
		if !orgKeyRE.MatchString(t.DVDVKey) {
			p.add(k+".dvdvKey", "%q is not a DVDV organisation key (want e.g. \"ags:%s\")", t.DVDVKey, t.AGS)
		}
	}
}

func (c *Config) validatePortals(p *problems) {
	ids := map[string]int{}
	keys := map[string]int{}
	for i := range c.Portals {
		pt := &c.Portals[i]
		k := fmt.Sprintf("portals[%d]", i)
		checkID(p, "portals", i, pt.ID, "portal", ids)
		switch {
		case pt.APIKey != "" && pt.APIKeyFile != "":
			p.add(k, "set either apiKey or apiKeyFile, not both")
		case pt.APIKey == "" && pt.APIKeyFile == "" && !pt.ClientCert.WithoutAPIKey:
			p.add(k, "needs apiKey or apiKeyFile")
		case pt.APIKeyFile != "":
			if pt.fileKey == "" && pt.fileErr == nil {
				pt.fileKey, pt.fileErr = readKeyFile(pt.APIKeyFile)
			}
			if pt.fileErr != nil {
				p.add(k+".apiKeyFile", "%v", pt.fileErr)
			}
		}
		if s := pt.Secret(); s != "" {
			if j, dup := keys[s]; dup {
				p.add(k, "uses the same API key as portals[%d]", j)
			} else {
				keys[s] = i
			}
		}
		if len(pt.Tenants) == 0 {
			p.add(k+".tenants", "must name at least one tenant")
		}
		c.validateWebhook(p, k+".webhook", &pt.Webhook)
		if pt.RateLimit.PerSecond < 0 {
			p.add(k+".rateLimit.perSecond", "must not be negative, got %g", pt.RateLimit.PerSecond)
		}
		if pt.RateLimit.Burst < 0 {
			p.add(k+".rateLimit.burst", "must not be negative, got %d", pt.RateLimit.Burst)
		}
		seen := map[string]int{}
		for j, ags := range pt.Tenants {
			tk := fmt.Sprintf("%s.tenants[%d]", k, j)
			if _, ok := c.Tenant(ags); !ok {
				p.add(tk, "unknown tenant %q", ags)
			} else if first, dup := seen[ags]; dup {
				p.add(tk, "duplicate tenant %q (first at %s.tenants[%d])", ags, k, first)
			} else {
				seen[ags] = j
			}
		}
	}
}

func (c *Config) validateServices(p *problems) {
	ids := map[string]int{}
	for i, s := range c.Services {
		k := fmt.Sprintf("services[%d]", i)
		checkID(p, "services", i, s.ID, "service", ids)
		if !slices.Contains(knownStandards, s.Standard) {
			p.add(k+".standard", "unknown standard %q (known: %s)", s.Standard, strings.Join(knownStandards, ", "))
		}
		if strings.TrimSpace(s.MessageType) == "" {
			p.add(k+".messageType", "must not be empty")
		}
		if err := checkAbsURI(s.ServiceURI); err != nil {
			p.add(k+".serviceURI", "%v", err)
		}
		if s.SLA < 0 {
			p.add(k+".sla", "must not be negative")
		}
		if s.Profile != "" {
			if _, _, err := ReadProfile(s); err != nil {
				p.add(k+".profile", "%v", err)
			}
		} else if s.Standard != "xbau-kernmodul-1.3.0" {
			p.add(k+".profile", "standard %s needs a mapping profile (only xbau-kernmodul-1.3.0 has a built-in Go mapping)", s.Standard)
		}
	}
}

func (c *Config) validateEndpoints(p *problems) {
	type pair struct{ reader, service string }
	seen := map[pair]string{}
	for i, e := range c.Endpoints {
		k := e.origin
		if k == "" {
			k = fmt.Sprintf("endpoints[%d]", i)
		}
		if !orgKeyRE.MatchString(e.ReaderKey) {
			p.add(k+".readerKey", "%q is not a DVDV organisation key (want e.g. \"ags:05315000\")", e.ReaderKey)
		}
		if err := checkAbsURI(e.ServiceURI); err != nil {
			p.add(k+".serviceURI", "%v", err)
		}
		switch e.Transport {
		case TransportXTAMailbox:
			if e.URL != "" {
				p.add(k+".url", "must be empty for transport %s (the reader polls the hub)", e.Transport)
			}
		case TransportXTA, TransportOSCI:
			if e.URL == "" {
				p.add(k+".url", "required for transport %s", e.Transport)
			} else if err := checkHTTPURL(e.URL); err != nil {
				p.add(k+".url", "%v", err)
			}
		default:
			p.add(k+".transport", "unknown transport %q (want one of %s)", e.Transport, strings.Join(Transports(), ", "))
		}
		if e.Intermediary != "" {
			if err := checkHTTPURL(e.Intermediary); err != nil {
				p.add(k+".intermediary", "%v", err)
			}
		}
		if err := checkCertPEM(e.EncryptionCert); err != nil {
			p.add(k+".encryptionCert", "%v", err)
		}
		if err := checkCertPEM(e.SignatureCert); err != nil {
			p.add(k+".signatureCert", "%v", err)
		}
		pk := pair{strings.ToLower(e.ReaderKey), e.ServiceURI}
		if first, dup := seen[pk]; dup {
			p.add(k, "duplicate endpoint for reader %q and service %q (first at %s)", e.ReaderKey, e.ServiceURI, first)
		} else {
			seen[pk] = k
		}
	}
}

// checkID checks the shape of list[i].id and its uniqueness within the list.
func checkID(p *problems, list string, i int, id, what string, seen map[string]int) {
	key := fmt.Sprintf("%s[%d].id", list, i)
	if !idRE.MatchString(id) {
		p.add(key, "%q is not a valid %s ID (letters, digits, '.', '_', '-'; not empty)", id, what)
		return
	}
	if j, dup := seen[id]; dup {
		p.add(key, "duplicate %s ID %q (first at %s[%d])", what, id, list, j)
		return
	}
	seen[id] = i
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("%q has an invalid host", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port must be a number from 0 to 65535", addr)
	}
	return nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q must be an http or https URL", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	return nil
}

func checkAbsURI(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URI: %w", s, err)
	}
	if !u.IsAbs() || strings.ContainsAny(s, " \t\n") {
		return fmt.Errorf("%q is not an absolute URI (want e.g. \"urn:xoev-de:xbau-kernmodul:universellerAntrag\")", s)
	}
	return nil
}

// checkCertPEM accepts "" or a PEM block holding one X.509 certificate.
func checkCertPEM(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" {
		return errors.New("not a PEM \"CERTIFICATE\" block")
	}
	if _, err := x509.ParseCertificate(b.Bytes); err != nil {
		return fmt.Errorf("bad certificate: %w", err)
	}
	return nil
}

func (c *Config) validateWebhook(p *problems, k string, w *Webhook) {
	if w.URL == "" {
		if w.Secret != "" || w.SecretFile != "" {
			p.add(k+".url", "a webhook secret is set but no url")
		}
		return
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(k+".url", "must be an absolute http(s) URL, got %q", w.URL)
	}
	switch {
	case w.Secret != "" && w.SecretFile != "":
		p.add(k, "set either secret or secretFile, not both")
	case w.Secret == "" && w.SecretFile == "":
		p.add(k, "needs secret or secretFile to sign the webhook calls")
	case w.SecretFile != "":
		if w.fileSecret == "" && w.fileErr == nil {
			w.fileSecret, w.fileErr = readKeyFile(w.SecretFile)
		}
		if w.fileErr != nil {
			p.add(k+".secretFile", "%v", w.fileErr)
		}
	}
	if s := w.SigningSecret(); s != "" && len(s) < 16 {
		p.add(k, "the signing secret must have at least 16 characters")
	}
}
