package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"modernc.org/sqlite"
)

func openCaching(t *testing.T) *sql.DB {
	t.Helper()
	db := sql.OpenDB(cachingConnector{dsn: "file:" + filepath.Join(t.TempDir(), "c.db") + "?_pragma=journal_mode(WAL)", drv: &sqlite.Driver{}})
	db.SetMaxOpenConns(1) // one connection, so every statement meets its cached twin
	t.Cleanup(func() { db.Close() })
	return db
}

// The cache must be invisible: repeated statements, a query nested inside
// the open rows of the same query, errors and schema changes all behave as
// without it.
func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	db := openCaching(t)
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
	for i := 1; i <= 5; i++ {
		mustExec(`INSERT INTO t (id, v) VALUES (?, ?)`, i, "v")
	}
	// A constraint error leaves the cached statement usable.
	if _, err := db.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, 1, "dup"); err == nil {
		t.Fatal("duplicate key accepted")
	}
	mustExec(`INSERT INTO t (id, v) VALUES (?, ?)`, 6, "v")
	// A short script runs every statement, not only the first one a
	// prepared statement would run; twice, so a cached first half would show.
	for range 2 {
		mustExec(`CREATE TABLE s (x INTEGER); INSERT INTO s VALUES (1); INSERT INTO s VALUES (2)`)
		var sum int
		if err := db.QueryRowContext(ctx, `SELECT sum(x) FROM s`).Scan(&sum); err != nil || sum != 3 {
			t.Fatalf("script: sum = %d, %v", sum, err)
		}
		mustExec(`DROP TABLE s`)
	}

	const q = `SELECT id FROM t WHERE id >= ? ORDER BY id`
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	outer, err := tx.QueryContext(ctx, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	var pairs int
	for outer.Next() {
		var id int
		if err := outer.Scan(&id); err != nil {
			t.Fatal(err)
		}
		// The same text while outer's rows are open: a one-off statement.
		inner, err := tx.QueryContext(ctx, q, id)
		if err != nil {
			t.Fatal(err)
		}
		for inner.Next() {
			pairs++
		}
		if err := inner.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	outer.Close()
	if want := 6 + 5 + 4 + 3 + 2 + 1; pairs != want {
		t.Fatalf("nested iteration saw %d pairs, want %d", pairs, want)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	// A schema change re-prepares the cached SELECT transparently.
	mustExec(`ALTER TABLE t ADD COLUMN w TEXT`)
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE id >= ?`, 3).Scan(&n); err != nil || n != 4 {
		t.Fatalf("count after ALTER = %d, %v", n, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE id >= ?`, 5).Scan(&n); err != nil || n != 2 {
		t.Fatalf("cached count = %d, %v", n, err)
	}
}

func BenchmarkStmtCache(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		open func() *sql.DB
	}{
		{"cached", func() *sql.DB {
			return sql.OpenDB(cachingConnector{dsn: "file:" + filepath.Join(b.TempDir(), "c.db"), drv: &sqlite.Driver{}})
		}},
		{"driver", func() *sql.DB {
			db, _ := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "d.db"))
			return db
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			db := tc.open()
			defer db.Close()
			db.SetMaxOpenConns(1)
			if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c INTEGER)`); err != nil {
				b.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO t VALUES (1, 'a', 'b', 3)`); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				var a, bb string
				var c int
				if err := db.QueryRowContext(ctx, `SELECT a, b, c FROM t WHERE id = ? AND c >= ? AND a <> ?`, 1, 0, "x").Scan(&a, &bb, &c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
