package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dxhub/dxhub/internal/testenv"
)

// The store's tests form one conformance suite run against every backend in
// DXHUB_TEST_BACKENDS (default: sqlite and postgres). PostgreSQL is started
// by the tests themselves from Debian's server binaries (testenv.Postgres:
// initdb into a temporary directory, 127.0.0.1 on a free port), once per test
// binary, with one fresh database per test; TestMain stops it.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := testenv.StopSharedPostgres(); err != nil {
		fmt.Fprintln(os.Stderr, "stop postgres:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// testDB is one empty database of a backend; open connects a Store to it
// (call it twice for two "processes" sharing the database).
type testDB struct {
	backend string
	target  string // SQLite file or PostgreSQL DSN
}

func newTestDB(t testing.TB, backend string) testDB {
	t.Helper()
	switch backend {
	case "sqlite":
		return testDB{backend, filepath.Join(t.TempDir(), "hub.db")}
	case "postgres":
		pg := testenv.SharedPostgres(t)
		return testDB{backend, pg.NewDatabase(t)}
	}
	t.Fatalf("unknown backend %q", backend)
	return testDB{}
}

func (d testDB) open(t testing.TB) *Store {
	t.Helper()
	s, err := d.openErr()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (d testDB) openErr() (*Store, error) {
	if d.backend == "postgres" {
		return OpenPostgres(context.Background(), d.target, PostgresOptions{})
	}
	return OpenSQLite(context.Background(), d.target, Options{})
}

// forEachDB runs fn as a subtest per backend, each with an empty database.
func forEachDB(t *testing.T, fn func(t *testing.T, db testDB)) {
	t.Helper()
	backends, err := testenv.Backends()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range backends {
		t.Run(b, func(t *testing.T) { fn(t, newTestDB(t, b)) })
	}
}

// forEachBackend runs fn per backend; openTest opens a Store on a fresh database.
func forEachBackend(t *testing.T, fn func(t *testing.T, openTest func(*testing.T) *Store)) {
	t.Helper()
	forEachDB(t, func(t *testing.T, db testDB) {
		fn(t, func(t *testing.T) *Store { return db.open(t) })
	})
}
