package pgserver

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A durable cluster (the bench's) starts with fsync on, names its
// postmaster, serves a new database, and Stop removes everything.
func TestStartDurable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			s.Stop()
		}
	}()
	pid, err := s.PID()
	if err != nil || pid <= 0 {
		t.Fatalf("PID = %d, %v", pid, err)
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || !strings.Contains(string(cmdline), "postgres") {
		t.Fatalf("process %d is not the postmaster: %q %v", pid, cmdline, err)
	}
	dsn, err := s.CreateDatabase(ctx, "bench_1")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var fsync, name string
	if err := db.QueryRowContext(ctx, `SELECT current_setting('fsync'), current_database()`).Scan(&fsync, &name); err != nil {
		t.Fatal(err)
	}
	if fsync != "on" || name != "bench_1" {
		t.Fatalf("fsync = %s, database = %s", fsync, name)
	}
	db.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Fatalf("cluster directory %s left behind: %v", s.Dir, err)
	}
}
