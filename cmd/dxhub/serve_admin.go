package main

import (
	"net/http"
	"strings"
	"time"

	"github.com/dxhub/dxhub/internal/admin"
	"github.com/dxhub/dxhub/internal/store"
)

// mountAdmin serves the admin web UI under /admin/ when admin.enabled.
func (h *hub) mountAdmin(mux *http.ServeMux) error {
	a := h.cfg.Admin
	if !a.Enabled {
		return nil
	}
	tenants := make([]admin.Tenant, 0, len(h.cfg.Tenants))
	for _, t := range h.cfg.Tenants {
		tenants = append(tenants, admin.Tenant{AGS: t.AGS, Name: t.Name, DVDVKey: t.DVDVKey})
	}
	slas := map[string]time.Duration{}
	for _, s := range h.cfg.Services {
		slas[s.ID] = s.EffectiveSLA()
	}
	ui, err := admin.New(admin.Options{
		Store: h.store, Tenants: tenants,
		SLA: func(service string) time.Duration {
			if d, ok := slas[service]; ok {
				return d
			}
			return 72 * time.Hour
		},
		SessionIdle: a.SessionIdle, SessionMaxAge: a.SessionMaxAge,
		Throttle:      store.LoginThrottle{Max: a.LoginMaxFailures, Window: a.LoginWindow, Lockout: a.LoginLockout},
		SecureCookies: strings.HasPrefix(h.cfg.BaseURL(), "https://"),
		Location:      h.loc, Logger: h.log.With("component", "admin"),
		Wake: func() {
			if h.pipeline != nil {
				h.pipeline.Wake()
			}
		},
	})
	if err != nil {
		return err
	}
	mux.Handle(admin.Prefix, ui)
	return nil
}
