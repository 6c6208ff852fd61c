package testenv

import (
	"context"
	"database/sql"
	"os"
	"slices"
	"testing"
	"time"
)

func TestBackends(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want []string
		bad  bool
	}{
		{"", []string{"sqlite", "postgres"}, false},
		{"sqlite", []string{"sqlite"}, false},
		{" postgres , sqlite ", []string{"postgres", "sqlite"}, false},
		{"mysql", nil, true},
		{",", nil, true},
	} {
		t.Setenv(BackendsEnv, tc.env)
		got, err := Backends()
		if (err != nil) != tc.bad || !slices.Equal(got, tc.want) {
			t.Errorf("%s=%q: %v, %v; want %v (error %v)", BackendsEnv, tc.env, got, err, tc.want, tc.bad)
		}
	}
}

// TestPostgresLifecycle: a cluster starts, serves a fresh database, and
// Stop shuts it down and removes its directory.
func TestPostgresLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := StartPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			pg.Stop()
		}
	}()
	if os.Geteuid() == 0 && pg.RunAs == "" {
		t.Fatal("running as root but the server was not handed to another user")
	}
	dsn := pg.NewDatabase(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	var enc, coll string
	if err := db.QueryRowContext(ctx, `SELECT pg_encoding_to_char(encoding), datcollate FROM pg_database WHERE datname = current_database()`).Scan(&enc, &coll); err != nil {
		t.Fatal(err)
	}
	if enc != "UTF8" || coll != "C" {
		t.Fatalf("database encoding %s, collation %s; want UTF8 and C", enc, coll)
	}
	db.Close()
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if _, err := os.Stat(pg.Dir); !os.IsNotExist(err) {
		t.Fatalf("cluster directory left behind: %v", err)
	}
	db, _ = sql.Open("pgx", dsn)
	defer db.Close()
	if err := db.PingContext(ctx); err == nil {
		t.Fatal("server still answers after Stop")
	}
}
