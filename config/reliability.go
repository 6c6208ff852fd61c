package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Reliability configures how delivery protects itself and the Fachverfahren
// (DESIGN §4): a circuit breaker per endpoint and a cap on the deliveries in
// flight to one endpoint at a time.
//
//	reliability:
//	  breaker:
//	    failures: 5        # consecutive failed attempts that open it; 0 = never open
//	    cooldown: 30s      # open time before one probe (doubles per failed probe)
//	    maxCooldown: 10m
//	  concurrency: 4       # deliveries in flight per endpoint; 0 = unlimited
//	  endpoints:           # per-endpoint overrides
//	    - endpoint: https://xta.bonn.example/GovGateway211/send211
//	      concurrency: 1
//
// Per-service deadlines are services[].sla (default 72h) and services[].expiry.
type Reliability struct {
	Breaker     Breaker         `mapstructure:"breaker"`
	Concurrency int             `mapstructure:"concurrency"`
	Endpoints   []EndpointLimit `mapstructure:"endpoints"`
}

// Breaker is the per-endpoint circuit breaker policy.
type Breaker struct {
	Failures    int           `mapstructure:"failures"`
	Cooldown    time.Duration `mapstructure:"cooldown"`
	MaxCooldown time.Duration `mapstructure:"maxCooldown"`
}

// EndpointLimit overrides reliability.concurrency for one endpoint: a
// transport URL (endpoints[].url) or, for the built-in mailbox, the reader's
// DVDV key.
type EndpointLimit struct {
	Endpoint    string `mapstructure:"endpoint"`
	Concurrency int    `mapstructure:"concurrency"`
}

// DefaultReliability returns the built-in defaults.
func DefaultReliability() Reliability {
	return Reliability{
		Breaker:     Breaker{Failures: 5, Cooldown: 30 * time.Second, MaxCooldown: 10 * time.Minute},
		Concurrency: 4,
	}
}

// EffectiveSLA is the service's fetch deadline: services[].sla or DefaultSLA.
func (s Service) EffectiveSLA() time.Duration {
	if s.SLA > 0 {
		return s.SLA
	}
	return DefaultSLA
}

// ProfileVersionRefs returns the service's older profile references
// (services[].profileVersions), files resolved against the config file's
// directory like services[].profile.
func (c *Config) ProfileVersionRefs(s Service) []string {
	base := ""
	if c.source != "" {
		base = filepath.Dir(c.source)
	}
	out := make([]string, 0, len(s.ProfileVersions))
	for _, r := range s.ProfileVersions {
		if !strings.HasPrefix(r, BuiltinProfilePrefix) {
			r = resolvePath(base, r, false)
		}
		out = append(out, r)
	}
	return out
}

// ReadProfileRef reads one profile reference of a service (a profile or one
// of its older versions) the way ReadProfile reads services[].profile.
func ReadProfileRef(s Service, ref string) (name string, data []byte, err error) {
	s.Profile = ref
	return ReadProfile(s)
}

func (c *Config) validateReliability(p *problems) {
	r := c.Reliability
	if r.Breaker.Failures < 0 {
		p.add("reliability.breaker.failures", "must not be negative (0 disables the breaker)")
	}
	if r.Breaker.Cooldown <= 0 {
		p.add("reliability.breaker.cooldown", "must be positive, got %s", r.Breaker.Cooldown)
	}
	if r.Breaker.MaxCooldown < r.Breaker.Cooldown {
		p.add("reliability.breaker.maxCooldown", "must be at least reliability.breaker.cooldown (%s), got %s",
			r.Breaker.Cooldown, r.Breaker.MaxCooldown)
	}
	if r.Concurrency < 0 {
		p.add("reliability.concurrency", "must not be negative (0 means unlimited)")
	}
	seen := map[string]int{}
	for i, e := range r.Endpoints {
		k := fmt.Sprintf("reliability.endpoints[%d]", i)
		switch {
		case strings.TrimSpace(e.Endpoint) == "":
			p.add(k+".endpoint", "must not be empty")
		case orgKeyRE.MatchString(e.Endpoint):
		default:
			if u, err := url.Parse(e.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				p.add(k+".endpoint", "must be an http(s) URL of an endpoint or a reader's DVDV key, got %q", e.Endpoint)
			}
		}
		if j, dup := seen[e.Endpoint]; dup && e.Endpoint != "" {
			p.add(k+".endpoint", "duplicate of reliability.endpoints[%d]", j)
		}
		seen[e.Endpoint] = i
		if e.Concurrency < 1 {
			p.add(k+".concurrency", "must be at least 1, got %d", e.Concurrency)
		}
	}
	for i, s := range c.Services {
		k := fmt.Sprintf("services[%d]", i)
		if s.Expiry < 0 {
			p.add(k+".expiry", "must not be negative (0 means never)")
		} else if s.Expiry > 0 && s.Expiry <= s.EffectiveSLA() {
			p.add(k+".expiry", "must be longer than the SLA (%s), got %s", s.EffectiveSLA(), s.Expiry)
		}
		if len(s.ProfileVersions) > 0 && s.Profile == "" {
			p.add(k+".profileVersions", "needs services[%d].profile (the current version)", i)
		}
		for j, ref := range c.ProfileVersionRefs(s) {
			if _, _, err := ReadProfileRef(s, ref); err != nil {
				p.add(fmt.Sprintf("%s.profileVersions[%d]", k, j), "%v", err)
			}
		}
	}
}
