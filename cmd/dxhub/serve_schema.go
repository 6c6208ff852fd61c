package main

import (
	"net/http"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/connectors/portal"
	"github.com/dxhub/dxhub/xoev"
)

// mountServiceSchemas serves GET /v1/services and
// GET /v1/services/{id}/schema on mux with the portal API's authentication.
func mountServiceSchemas(mux *http.ServeMux, cfg *config.Config, e *xoev.Engine, api *portal.Handler) error {
	s, err := serviceSchemas(cfg, e, api.Authorize)
	if err != nil {
		return err
	}
	s.Register(mux)
	return nil
}
