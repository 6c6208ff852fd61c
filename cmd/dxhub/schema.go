package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/connectors/portal"
	"github.com/dxhub/dxhub/internal/standards"
	"github.com/dxhub/dxhub/xoev"
)

// cmdSchema implements `dxhub schema [--config FILE] [--list] SERVICE`: it
// prints the JSON Schema (2020-12) of a submission for SERVICE, generated
// from the service's mapping profile (the same document the hub serves at
// GET /v1/services/{id}/schema). --list prints the services and whether they
// have a schema.
func cmdSchema(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("schema", stderr)
	cfgPath := fs.String("config", "", "configuration file (default: embedded)")
	list := fs.Bool("list", false, "list the configured services instead")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *list && fs.NArg() != 0 || !*list && fs.NArg() != 1 {
		return usagef("schema: name exactly one service ID (or use --list)")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *list {
		for _, s := range cfg.Services {
			has := "no schema (built-in mapping without profile)"
			if s.Profile != "" {
				has = "schema from " + s.Profile
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", s.ID, s.Name, has)
		}
		return nil
	}
	svc := fs.Arg(0)
	s, ok := cfg.Service(svc)
	if !ok {
		return usagef("schema: unknown service %q", svc)
	}
	if s.Profile == "" {
		return fmt.Errorf("schema: service %s has no mapping profile, so no form schema", svc)
	}
	e, err := openSchemaEngine(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	data, err := e.JSONSchema(svc)
	if err != nil {
		return err
	}
	_, err = stdout.Write(data)
	return err
}

// openSchemaEngine opens the profile engine of cfg for schema generation.
func openSchemaEngine(cfg *config.Config) (*xoev.Engine, error) {
	loc, err := cfg.Location()
	if err != nil {
		return nil, err
	}
	dir, err := standards.Locate(cfg.Hub.StandardsDir)
	if err != nil {
		return nil, err
	}
	return openEngine(cfg, dir, loc, slog.New(slog.DiscardHandler))
}

// serviceSchemas builds the GET /v1/services and GET /v1/services/{id}/schema
// handler: every configured service, with the JSON Schema of those that
// have a mapping profile in e.
func serviceSchemas(cfg *config.Config, e *xoev.Engine, authorize func(http.ResponseWriter, *http.Request) (string, bool)) (*portal.Services, error) {
	var list []portal.ServiceInfo
	schemas := map[string][]byte{}
	for _, s := range cfg.Services {
		list = append(list, portal.ServiceInfo{ID: s.ID, Name: s.Name, Standard: s.Standard, MessageType: s.MessageType})
		data, err := e.JSONSchema(s.ID)
		switch {
		case errors.Is(err, xoev.ErrNoProfile):
			continue
		case err != nil:
			return nil, err
		}
		schemas[s.ID] = data
	}
	return portal.NewServices(list, schemas, cfg.BaseURL(), authorize)
}
