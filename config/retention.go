package config

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// Retention deletes the payloads of finished submissions (attachments, form
// data, mapped XÖV messages, inbound message bodies) after a period; the
// metadata, the status history and the audit trail stay.
//
//	retention:
//	  default: 2160h          # 90 days after the last status change; 0 = keep payloads forever
//	  schedule: "30 2 * * *"  # cron (5 fields, hub.timezone): nightly at 02:30
//	  blobGrace: 10m          # attachment files written since are left for the next run
//	services:
//	  - id: universeller-antrag
//	    retention: 720h       # this service: 30 days; 0 = retention.default
type Retention struct {
	Default  time.Duration `mapstructure:"default"`
	Schedule string        `mapstructure:"schedule"`
	// BlobGrace keeps attachment files written less than this long ago
	// (an upload of the same content may be about to reference one); they
	// are deleted by a later run.
	BlobGrace time.Duration `mapstructure:"blobGrace"`
}

// DefaultRetention returns the built-in defaults: payloads kept until an
// operator sets a period, purge job nightly at 02:30.
func DefaultRetention() Retention {
	return Retention{Schedule: "30 2 * * *", BlobGrace: 10 * time.Minute}
}

// RetentionFor returns the retention period of a service (0: keep forever).
func (c *Config) RetentionFor(serviceID string) time.Duration {
	for _, s := range c.Services {
		if s.ID == serviceID && s.Retention > 0 {
			return s.Retention
		}
	}
	return c.Retention.Default
}

func (c *Config) validateRetention(p *problems) {
	r := c.Retention
	if r.Default < 0 {
		p.add("retention.default", "must not be negative, got %v", r.Default)
	} else if r.Default > 0 && r.Default < time.Hour {
		p.add("retention.default", "must be at least 1h (or 0 to keep payloads), got %v", r.Default)
	}
	if r.BlobGrace < 0 {
		p.add("retention.blobGrace", "must not be negative, got %v", r.BlobGrace)
	}
	if _, err := cron.ParseStandard(r.Schedule); err != nil {
		p.add("retention.schedule", "not a cron schedule (5 fields, e.g. \"30 2 * * *\"): %v", err)
	}
	for i, s := range c.Services {
		if s.Retention < 0 {
			p.add(fmt.Sprintf("services[%d].retention", i), "must not be negative, got %v", s.Retention)
		} else if s.Retention > 0 && s.Retention < time.Hour {
			p.add(fmt.Sprintf("services[%d].retention", i), "must be at least 1h (or 0 for retention.default), got %v", s.Retention)
		}
	}
}

// validateHarden checks the keys of limits.go, antivirus.go and retention.go.
func (c *Config) validateHarden(p *problems) {
	c.validateHardenLimits(p)
	c.validateAntivirus(p)
	c.validateRetention(p)
}
