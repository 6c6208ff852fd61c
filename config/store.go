package config

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Store selects and tunes the database behind the hub (internal/store).
//
//	store:
//	  driver: sqlite            # sqlite (embedded, <hub.dataDir>/dxhub.db) | postgres
//	  dsn: ""                   # postgres: libpq URL or keyword/value string
//	  dsnFile: ""               # postgres: file holding the DSN (the password is a secret)
//	  maxConns: 16              # postgres: connection pool size
//	  connMaxLifetime: 30m      # postgres: connections are recycled after this long
//
// The PostgreSQL database is migrated at start like the SQLite file; several
// hub processes may share it (work is claimed with row locks and leases).
type Store struct {
	Driver          string        `mapstructure:"driver"`
	DSN             string        `mapstructure:"dsn"`
	DSNFile         string        `mapstructure:"dsnFile"`
	MaxConns        int           `mapstructure:"maxConns"`
	ConnMaxLifetime time.Duration `mapstructure:"connMaxLifetime"`
}

// The store drivers.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// DefaultStore returns the built-in defaults: the embedded SQLite database.
func DefaultStore() Store {
	return Store{Driver: StoreSQLite, MaxConns: 16, ConnMaxLifetime: 30 * time.Minute}
}

// StoreDSN returns the PostgreSQL DSN: store.dsn, or the trimmed content of
// store.dsnFile (relative to the config file's directory).
func (c *Config) StoreDSN() (string, error) {
	s := c.Store
	if s.DSNFile == "" {
		return s.DSN, nil
	}
	base := ""
	if c.source != "" {
		base = filepath.Dir(c.source)
	}
	dsn, err := readKeyFile(resolvePath(base, s.DSNFile, false))
	if err != nil {
		return "", fmt.Errorf("store.dsnFile: %w", err)
	}
	return dsn, nil
}

func (c *Config) validateStore(p *problems) {
	s := c.Store
	switch s.Driver {
	case StoreSQLite:
		for key, set := range map[string]bool{"store.dsn": s.DSN != "", "store.dsnFile": s.DSNFile != ""} {
			if set {
				p.add(key, "is only used with store.driver postgres (driver is sqlite)")
			}
		}
	case StorePostgres:
		switch {
		case s.DSN != "" && s.DSNFile != "":
			p.add("store.dsn", "set either store.dsn or store.dsnFile, not both")
		case s.DSN == "" && s.DSNFile == "":
			p.add("store.dsn", "store.driver postgres needs store.dsn or store.dsnFile")
		default:
			dsn, err := c.StoreDSN()
			key := "store.dsn"
			if s.DSNFile != "" {
				key = "store.dsnFile"
			}
			if err != nil {
				p.add(key, "%v", errors.Unwrap(err)) // StoreDSN's error already starts with the key
			} else if problem := checkPostgresDSN(dsn); problem != "" {
				p.add(key, "%s", problem)
			}
		}
	default:
		p.add("store.driver", "must be sqlite or postgres, got %q", s.Driver)
	}
	if s.MaxConns < 1 {
		p.add("store.maxConns", "must be at least 1, got %d", s.MaxConns)
	}
	if s.ConnMaxLifetime <= 0 {
		p.add("store.connMaxLifetime", "must be positive, got %s", s.ConnMaxLifetime)
	}
}

// checkPostgresDSN recognises the two DSN forms libpq and pgx accept; the
// driver parses the details when the store opens. It never echoes the DSN,
// which may hold a password.
func checkPostgresDSN(dsn string) string {
	dsn = strings.TrimSpace(dsn)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "is not a valid postgres:// URL"
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return "postgres:// URL names no host"
		}
		return ""
	}
	if strings.Contains(dsn, "://") {
		return "must be a postgres:// or postgresql:// URL or a keyword=value string"
	}
	if !strings.Contains(dsn, "=") {
		return "must be a postgres:// URL or a keyword=value string (e.g. host=db dbname=dxhub)"
	}
	return ""
}
