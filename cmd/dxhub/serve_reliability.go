package main

import (
	"log/slog"
	"time"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/routing"
)

// breakerPolicy turns reliability.* into the pipeline's breaker policy.
func breakerPolicy(r config.Reliability) routing.BreakerPolicy {
	p := routing.BreakerPolicy{Failures: r.Breaker.Failures, Cooldown: r.Breaker.Cooldown,
		MaxCooldown: r.Breaker.MaxCooldown, Concurrency: r.Concurrency, Limits: map[string]int{}}
	if p.Failures == 0 {
		p.Failures = -1 // reliability.breaker.failures: 0 never opens
	}
	for _, e := range r.Endpoints {
		p.Limits[e.Endpoint] = e.Concurrency
	}
	return p
}

// slaMonitor builds the SLA monitor from services[].sla and services[].expiry.
func slaMonitor(cfg *config.Config, st routing.SLAStore, clock routing.Clock, log *slog.Logger, wake func()) *routing.SLAMonitor {
	slas, expiry := map[string]time.Duration{}, map[string]time.Duration{}
	for _, s := range cfg.Services {
		slas[s.ID] = s.EffectiveSLA()
		if s.Expiry > 0 {
			expiry[s.ID] = s.Expiry
		}
	}
	return &routing.SLAMonitor{Store: st, SLA: slas, Expiry: expiry, DefaultSLA: config.DefaultSLA, Clock: clock, Logger: log,
		OnBreach: func(string, string, time.Duration) { wake() }}
}
