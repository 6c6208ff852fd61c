package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/internal/testenv"
)

// newTestHub runs a hub in-process on the embedded default with its own data
// directory and no pipeline workers (tests drive h.pipeline.RunOnce), after
// mutate (may be nil) adjusted the configuration; it is closed at the end of
// the test.
func newTestHub(t *testing.T, mutate func(*config.Config)) (*hub, *httptest.Server) {
	t.Helper()
	cfg := config.Default()
	cfg.Hub.DataDir = t.TempDir()
	cfg.Hub.StandardsDir = testenv.MustStandardsDir(t)
	cfg.Workers.Count = 0
	if mutate != nil {
		mutate(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := newHub(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.handler)
	t.Cleanup(func() { srv.Close(); h.close() })
	return h, srv
}
