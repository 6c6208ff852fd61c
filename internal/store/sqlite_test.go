package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// Every setting OpenSQLite asks the driver for is in effect on a store
// connection: a DSN key the driver does not know would be ignored silently.
func TestSQLitePragmas(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		sync string
		want int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{{"", 2}, {"full", 2}, {"NORMAL", 1}} {
		t.Run("sync="+tc.sync, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.db")
			s, err := OpenSQLite(ctx, path, Options{Synchronous: tc.sync})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			conn, err := s.db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var mode string
			if err := conn.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
				t.Errorf("journal_mode = %q, %v", mode, err)
			}
			for _, p := range []struct {
				pragma string
				want   int
			}{
				{"busy_timeout", 10000},
				{"foreign_keys", 1},
				{"synchronous", tc.want},
				{"cache_size", -16384},
			} {
				var got int
				if err := conn.QueryRowContext(ctx, `PRAGMA `+p.pragma).Scan(&got); err != nil || got != p.want {
					t.Errorf("%s = %d, %v; want %d", p.pragma, got, err, p.want)
				}
			}
			conn.Close()

			// Write transactions begin IMMEDIATE: an open, still empty one
			// already holds the write lock, so another connection cannot write.
			tx, err := s.db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			other, err := sql.Open("sqlite", "file:"+path) // no busy timeout: fails at once
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			_, err = other.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`)
			if err == nil || !strings.Contains(err.Error(), "locked") {
				t.Fatalf("write beside an open store transaction: %v, want database is locked", err)
			}
		})
	}
}

// An unknown synchronous mode is refused before any file is opened.
func TestSQLiteBadSynchronous(t *testing.T) {
	_, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "p.db"), Options{Synchronous: "OFF"})
	if err == nil || !strings.Contains(err.Error(), `"OFF"`) {
		t.Fatalf("synchronous OFF: %v", err)
	}
}
