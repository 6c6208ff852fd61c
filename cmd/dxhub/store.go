package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dxhub/dxhub/config"
	"github.com/dxhub/dxhub/internal/store"
)

// sqliteFile is the embedded database's file in the data directory.
const sqliteFile = "dxhub.db"

// openStore opens the hub's store as configured (store.driver): the SQLite
// file in hub.dataDir, created and migrated if missing, or the PostgreSQL
// database of store.dsn / store.dsnFile, migrated on open.
func openStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	return openStoreIn(ctx, cfg, cfg.Hub.DataDir, true)
}

// openExistingStore is openStore for the commands that inspect or repair a
// hub's data (dxhub deadletter, replay, dvdv cache, …): dataDir overrides
// hub.dataDir, and a missing SQLite database is an error, never created.
func openExistingStore(ctx context.Context, cfg *config.Config, dataDir string) (*store.Store, error) {
	return openStoreIn(ctx, cfg, dataDir, false)
}

func openStoreIn(ctx context.Context, cfg *config.Config, dataDir string, create bool) (*store.Store, error) {
	switch cfg.Store.Driver {
	case config.StorePostgres:
		dsn, err := cfg.StoreDSN()
		if err != nil {
			return nil, err
		}
		return store.OpenPostgres(ctx, dsn, store.PostgresOptions{
			MaxConns: cfg.Store.MaxConns, ConnMaxLifetime: cfg.Store.ConnMaxLifetime})
	case config.StoreSQLite, "":
		db := filepath.Join(dataDir, sqliteFile)
		if !create {
			if _, err := os.Stat(db); err != nil {
				return nil, fmt.Errorf("no hub database at %s: %w", db, err)
			}
		}
		return store.OpenSQLite(ctx, db, store.Options{})
	default:
		return nil, fmt.Errorf("store.driver: unknown driver %q (want sqlite or postgres)", cfg.Store.Driver)
	}
}
