package main

import (
	"log/slog"

	"github.com/dxhub/dxhub/dvdv"
	"github.com/dxhub/dxhub/internal/metrics"
	"github.com/dxhub/dxhub/routing"
)

// newHubMetrics builds the hub's Prometheus registry. Breakers and the DVDV
// resolver are read at scrape time through h, so they may be set up after.
func newHubMetrics(h *hub, log *slog.Logger) *metrics.Metrics {
	src := metrics.Sources{Store: h.store, Breakers: hubBreakers{h}, Logger: log}
	if h.dvdv != nil {
		src.DVDV = h.dvdv
	}
	return metrics.New(src)
}

type hubBreakers struct{ h *hub }

func (b hubBreakers) States() map[string]routing.EndpointState {
	if b.h.pipeline == nil {
		return nil
	}
	return b.h.pipeline.Breakers().States()
}

var _ interface{ Stats() dvdv.Stats } = (*dvdv.Resolver)(nil)
