package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidateStore(t *testing.T) {
	dir := t.TempDir()
	dsnFile := writeFile(t, dir, "dsn", "postgres://dxhub:geheim@db.example:5432/dxhub?sslmode=verify-full\n")
	emptyFile := writeFile(t, dir, "empty", " \n")
	badFile := writeFile(t, dir, "bad", "mysql://u:geheim@h/db\n")
	tests := []struct {
		name   string
		store  Store
		want   []string
		msg    string
		secret bool // the error must not leak the password
	}{
		{name: "default sqlite", store: DefaultStore()},
		{name: "postgres url", store: Store{Driver: "postgres", DSN: "postgres://dxhub:geheim@db:5432/dxhub", MaxConns: 4, ConnMaxLifetime: time.Minute}},
		{name: "postgres keyword/value", store: Store{Driver: "postgres", DSN: "host=db dbname=dxhub user=dxhub", MaxConns: 4, ConnMaxLifetime: time.Minute}},
		{name: "postgres dsn file", store: Store{Driver: "postgres", DSNFile: dsnFile, MaxConns: 4, ConnMaxLifetime: time.Minute}},
		{name: "unknown driver", store: Store{Driver: "mysql", MaxConns: 1, ConnMaxLifetime: time.Minute}, want: []string{"store.driver"}, msg: `"mysql"`},
		{name: "empty driver", store: Store{MaxConns: 1, ConnMaxLifetime: time.Minute}, want: []string{"store.driver"}},
		{name: "postgres without dsn", store: Store{Driver: "postgres", MaxConns: 1, ConnMaxLifetime: time.Minute}, want: []string{"store.dsn"}, msg: "needs store.dsn or store.dsnFile"},
		{name: "postgres with both", store: Store{Driver: "postgres", DSN: "host=db", DSNFile: dsnFile, MaxConns: 1, ConnMaxLifetime: time.Minute}, want: []string{"store.dsn"}, msg: "not both"},
		{name: "postgres dsn other scheme", store: Store{Driver: "postgres", DSN: "mysql://u:geheim@h/db", MaxConns: 1, ConnMaxLifetime: time.Minute}, want: []string{"store.dsn"}, secret: true},
		{name: "postgres dsn garbage", store: Store{Driver: "postgres", DSN: "geheim", MaxConns: 1, ConnMaxLifetime: time.Minute}, want: []string{"store.dsn"}, secret: true},
		{name: "postgres url without host", store: Store{Driver: "postgres", DSN: "postgres:///dxhub", MaxConns: 1, ConnMaxLifetime: time.Minute}, want: []string{"store.dsn"}, msg: "no host"},
		{name: "dsn file missing", store: Store{Driver: "postgres", DSNFile: filepath.Join(dir, "nope"), MaxConns: 1, ConnMaxLifetime: time.Minute}, want: []string{"store.dsnFile"}},
		{name: "dsn file empty", store: Store{Driver: "postgres", DSNFile: emptyFile, MaxConns: 1, ConnMaxLifetime: time.Minute}, want: []string{"store.dsnFile"}, msg: "empty"},
		{name: "dsn file bad", store: Store{Driver: "postgres", DSNFile: badFile, MaxConns: 1, ConnMaxLifetime: time.Minute}, want: []string{"store.dsnFile"}, secret: true},
		{name: "sqlite with dsn", store: Store{Driver: "sqlite", DSN: "host=db", DSNFile: dsnFile, MaxConns: 1, ConnMaxLifetime: time.Minute}, want: []string{"store.dsn", "store.dsnFile"}},
		{name: "pool size and lifetime", store: Store{Driver: "sqlite", MaxConns: 0, ConnMaxLifetime: -time.Second}, want: []string{"store.connMaxLifetime", "store.maxConns"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Store = tt.store
			err := c.Validate()
			if got := errKeys(err); !slices.Equal(got, tt.want) {
				t.Fatalf("problem keys = %q; want %q\nerror:\n%v", got, tt.want, err)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error does not contain %q:\n%v", tt.msg, err)
			}
			if tt.secret && strings.Contains(err.Error(), "geheim") {
				t.Errorf("error leaks the DSN's secret:\n%v", err)
			}
		})
	}
}

func TestStoreFromFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "pg.dsn", "host=db.example dbname=dxhub\n")
	cfgFile := writeFile(t, dir, "dxhub.yaml", "store:\n  driver: postgres\n  dsnFile: pg.dsn\n  maxConns: 8\n")
	t.Setenv("DXHUB_STORE_CONNMAXLIFETIME", "5m")
	c, err := Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.Driver != "postgres" || c.Store.MaxConns != 8 || c.Store.ConnMaxLifetime != 5*time.Minute {
		t.Fatalf("store = %+v", c.Store)
	}
	dsn, err := c.StoreDSN()
	if err != nil || dsn != "host=db.example dbname=dxhub" {
		t.Fatalf("dsn = %q, %v (dsnFile is relative to the config file)", dsn, err)
	}
	if d := Default(); d.Store != DefaultStore() || d.Store.Driver != StoreSQLite {
		t.Fatalf("default store = %+v", d.Store)
	}
}
