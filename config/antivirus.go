package config

import (
	"net"
	"strings"
	"time"
)

// Antivirus is the optional virus scan of intake (ClamAV clamd): every
// attachment is streamed to clamd before the submission is accepted.
//
//	antivirus:
//	  clamd:
//	    address: unix:/run/clamav/clamd.ctl   # or 127.0.0.1:3310; "" = no scanning
//	    timeout: 30s                          # one scan, connect to verdict
//	    maxStreamBytes: 25MiB                 # = clamd's StreamMaxLength
//	  onError: reject                         # reject (503 + Retry-After) | accept (log an alert)
//	  retryAfter: 30s                         # Retry-After of the 503
type Antivirus struct {
	Clamd      Clamd         `mapstructure:"clamd"`
	OnError    string        `mapstructure:"onError"`
	RetryAfter time.Duration `mapstructure:"retryAfter"`
}

// Clamd is the clamd connection.
type Clamd struct {
	Address        string        `mapstructure:"address"`
	Timeout        time.Duration `mapstructure:"timeout"`
	MaxStreamBytes Size          `mapstructure:"maxStreamBytes"`
}

// Antivirus.OnError values.
const (
	AntivirusReject = "reject"
	AntivirusAccept = "accept"
)

// DefaultAntivirus returns the built-in defaults: off, fail closed when on.
func DefaultAntivirus() Antivirus {
	return Antivirus{
		Clamd:      Clamd{Timeout: 30 * time.Second, MaxStreamBytes: 25 * MiB},
		OnError:    AntivirusReject,
		RetryAfter: 30 * time.Second,
	}
}

// Enabled reports whether intake scans attachments.
func (a Antivirus) Enabled() bool { return a.Clamd.Address != "" }

func (c *Config) validateAntivirus(p *problems) {
	a := c.Antivirus
	if a.OnError != AntivirusReject && a.OnError != AntivirusAccept {
		p.add("antivirus.onError", "%q is not one of reject, accept", a.OnError)
	}
	if a.RetryAfter < time.Second {
		p.add("antivirus.retryAfter", "must be at least 1s, got %v", a.RetryAfter)
	}
	if a.Clamd.Timeout <= 0 {
		p.add("antivirus.clamd.timeout", "must be greater than 0")
	}
	if a.Clamd.MaxStreamBytes <= 0 || a.Clamd.MaxStreamBytes > 4*GiB-1 {
		p.add("antivirus.clamd.maxStreamBytes", "must be between 1 byte and 4GiB (clamd's limit), got %v", a.Clamd.MaxStreamBytes)
	}
	addr := a.Clamd.Address
	switch {
	case addr == "":
	case strings.HasPrefix(addr, "unix:"), strings.HasPrefix(addr, "/"):
		if strings.TrimPrefix(strings.TrimPrefix(addr, "unix:"), "//") == "" {
			p.add("antivirus.clamd.address", "the unix socket path is empty")
		}
	default:
		hp := strings.TrimPrefix(addr, "tcp://")
		if host, port, err := net.SplitHostPort(hp); err != nil || host == "" || port == "" {
			p.add("antivirus.clamd.address", "must be unix:/path/to/clamd.ctl, /path, or host:port, got %q", addr)
		}
	}
}
