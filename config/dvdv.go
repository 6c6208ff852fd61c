package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// DVDV configures recipient lookup through the DVDV2 Directory REST API
// (package dvdv). With no servers the hub routes by the configured endpoints
// (the file directory) alone; with servers, configured endpoints still take
// precedence and DVDV answers every other (reader, service) pair.
type DVDV struct {
	// Servers are the DVDV server base URLs including "/dvdv2-backend", in
	// order of preference (sticky failover on transport errors and 5xx).
	Servers []string `mapstructure:"servers"`
	// EntryPath is "extern/standaloneauth/directory" (token authentication,
	// the default) or "intern/directory" (data-centre internal, no token).
	EntryPath string `mapstructure:"entryPath"`
	// CertFile and KeyFile are the hub's DVDV client certificate and its
	// RSA key in PEM; required for standalone authentication. Relative paths
	// are relative to the config file.
	CertFile string `mapstructure:"certFile"`
	KeyFile  string `mapstructure:"keyFile"`
	// CAFile optionally adds PEM root certificates for the servers' TLS.
	CAFile string `mapstructure:"caFile"`
	// Timeout bounds one HTTP attempt, CallTimeout one lookup including
	// retries and failover.
	Timeout     time.Duration `mapstructure:"timeout"`
	CallTimeout time.Duration `mapstructure:"callTimeout"`
	// RetryMax is the number of retries on one server before failing over
	// (0 = none); RetryWaitMin/Max bound the backoff between them.
	RetryMax     int           `mapstructure:"retryMax"`
	RetryWaitMin time.Duration `mapstructure:"retryWaitMin"`
	RetryWaitMax time.Duration `mapstructure:"retryWaitMax"`
	// TTL are the cache lifetimes per lookup kind.
	TTL DVDVTTL `mapstructure:"ttl"`
	// MaxStale bounds how long after expiry a cached answer is still served
	// while DVDV is unreachable; 0 = without limit.
	MaxStale time.Duration `mapstructure:"maxStale"`
	// RefreshSchedule is the cron spec of the cache refresh job (5 fields or
	// a descriptor like "@every 5m", in hub.timezone); "" disables it.
	RefreshSchedule string `mapstructure:"refreshSchedule"`
	// RefreshAhead: the job renews entries that expire within this window.
	RefreshAhead time.Duration `mapstructure:"refreshAhead"`
}

// DVDVTTL are the cache lifetimes per lookup kind.
type DVDVTTL struct {
	ServiceDescription   time.Duration `mapstructure:"serviceDescription"`
	AuthorityDescription time.Duration `mapstructure:"authorityDescription"`
	Categories           time.Duration `mapstructure:"categories"`
	VerifyCategory       time.Duration `mapstructure:"verifyCategory"`
	Certificate          time.Duration `mapstructure:"certificate"`
	Negative             time.Duration `mapstructure:"negative"`
}

// DVDV entry paths.
const (
	DVDVEntryStandaloneAuth = "extern/standaloneauth/directory"
	DVDVEntryIntern         = "intern/directory"
)

// DefaultDVDV returns the built-in DVDV settings: no servers (DVDV off), the
// DVDV libraries' cache lifetimes (TRANSPORT.md §12), a refresh every five
// minutes.
func DefaultDVDV() DVDV {
	return DVDV{
		EntryPath:    DVDVEntryStandaloneAuth,
		Timeout:      10 * time.Second,
		CallTimeout:  30 * time.Second,
		RetryMax:     1,
		RetryWaitMin: 200 * time.Millisecond,
		RetryWaitMax: 2 * time.Second,
		TTL: DVDVTTL{
			ServiceDescription: 10 * time.Minute, AuthorityDescription: 10 * time.Minute,
			Categories: time.Hour, VerifyCategory: 5 * time.Minute, Certificate: time.Hour,
			Negative: 5 * time.Minute,
		},
		MaxStale:        7 * 24 * time.Hour,
		RefreshSchedule: "@every 5m",
		RefreshAhead:    3 * time.Minute,
	}
}

// Enabled reports whether DVDV servers are configured.
func (d DVDV) Enabled() bool { return len(d.Servers) > 0 }

// Validate checks the DVDV settings; prefix is the key path ("dvdv"). It
// returns *FieldError values. Without servers only the shape of the values
// is checked, not the files.
func (d DVDV) Validate(prefix string) []error {
	var p problems
	key := func(k string) string { return prefix + "." + k }
	seen := map[string]int{}
	for i, s := range d.Servers {
		k := fmt.Sprintf("%s[%d]", key("servers"), i)
		if err := checkHTTPURL(s); err != nil {
			p.add(k, "%v", err)
			continue
		}
		if u, _ := url.Parse(s); u.RawQuery != "" || u.Fragment != "" {
			p.add(k, "%q must not have a query or fragment", s)
		}
		n := strings.TrimRight(s, "/")
		if j, dup := seen[n]; dup {
			p.add(k, "duplicate server (first at %s[%d])", key("servers"), j)
		}
		seen[n] = i
	}
	switch d.EntryPath {
	case DVDVEntryStandaloneAuth:
		if d.Enabled() {
			if d.CertFile == "" {
				p.add(key("certFile"), "required for %s", d.EntryPath)
			}
			if d.KeyFile == "" {
				p.add(key("keyFile"), "required for %s", d.EntryPath)
			}
		}
	case DVDVEntryIntern:
	default:
		p.add(key("entryPath"), "%q is not one of %s, %s", d.EntryPath, DVDVEntryStandaloneAuth, DVDVEntryIntern)
	}
	if d.Enabled() {
		for _, f := range []struct{ k, v string }{{"certFile", d.CertFile}, {"keyFile", d.KeyFile}, {"caFile", d.CAFile}} {
			if f.v == "" {
				continue
			}
			if st, err := os.Stat(f.v); err != nil {
				p.add(key(f.k), "%v", err)
			} else if !st.Mode().IsRegular() {
				p.add(key(f.k), "%s is not a regular file", f.v)
			}
		}
	}
	positive := func(k string, v time.Duration) {
		if v <= 0 {
			p.add(key(k), "must be greater than 0")
		}
	}
	positive("timeout", d.Timeout)
	positive("callTimeout", d.CallTimeout)
	positive("retryWaitMin", d.RetryWaitMin)
	positive("retryWaitMax", d.RetryWaitMax)
	if d.Timeout > 0 && d.CallTimeout > 0 && d.CallTimeout < d.Timeout {
		p.add(key("callTimeout"), "%v is less than %s (%v)", d.CallTimeout, key("timeout"), d.Timeout)
	}
	if d.RetryWaitMin > 0 && d.RetryWaitMax > 0 && d.RetryWaitMax < d.RetryWaitMin {
		p.add(key("retryWaitMax"), "%v is less than %s (%v)", d.RetryWaitMax, key("retryWaitMin"), d.RetryWaitMin)
	}
	if d.RetryMax < 0 || d.RetryMax > 10 {
		p.add(key("retryMax"), "%d must be between 0 and 10", d.RetryMax)
	}
	positive("ttl.serviceDescription", d.TTL.ServiceDescription)
	positive("ttl.authorityDescription", d.TTL.AuthorityDescription)
	positive("ttl.categories", d.TTL.Categories)
	positive("ttl.verifyCategory", d.TTL.VerifyCategory)
	positive("ttl.certificate", d.TTL.Certificate)
	positive("ttl.negative", d.TTL.Negative)
	if d.MaxStale < 0 {
		p.add(key("maxStale"), "must not be negative (0 = without limit)")
	}
	if d.RefreshSchedule != "" {
		if _, err := cron.ParseStandard(d.RefreshSchedule); err != nil {
			p.add(key("refreshSchedule"), "%q is not a cron schedule: %v", d.RefreshSchedule, err)
		}
		positive("refreshAhead", d.RefreshAhead)
		if d.RefreshAhead >= d.TTL.ServiceDescription && d.TTL.ServiceDescription > 0 {
			p.add(key("refreshAhead"), "%v must be less than %s (%v)", d.RefreshAhead, key("ttl.serviceDescription"), d.TTL.ServiceDescription)
		}
	}
	return p
}
