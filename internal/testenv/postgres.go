package testenv

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/internal/pgserver"
)

// BackendsEnv names the environment variable that selects the store backends
// the store conformance suite runs against: a comma-separated list of "sqlite"
// and "postgres". Tests of PostgreSQL itself (testenv, the postgres CLI test,
// the cluster test) always run.
const BackendsEnv = "DXHUB_TEST_BACKENDS"

// Backends returns the store backends to test: DXHUB_TEST_BACKENDS, or both
// "sqlite" and "postgres" when it is unset. PostgreSQL is not optional by
// default: a test that needs it fails (never skips) when the server binaries
// are missing, so CI cannot silently lose the PostgreSQL half of the suite.
func Backends() ([]string, error) {
	v := strings.TrimSpace(os.Getenv(BackendsEnv))
	if v == "" {
		return []string{"sqlite", "postgres"}, nil
	}
	var out []string
	for _, b := range strings.Split(v, ",") {
		switch b = strings.TrimSpace(b); b {
		case "sqlite", "postgres":
			out = append(out, b)
		case "":
		default:
			return nil, fmt.Errorf("%s: unknown backend %q (want sqlite and/or postgres)", BackendsEnv, b)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s=%q names no backend", BackendsEnv, v)
	}
	return out, nil
}

// Postgres is a throw-away PostgreSQL cluster for tests (pgserver, fsync
// off: test data only), with one fresh database per test.
type Postgres struct {
	*pgserver.Server

	mu sync.Mutex
	n  int
}

// FindPostgresBin returns the directory of the newest installed PostgreSQL
// server binaries (pgserver.FindBin).
func FindPostgresBin() (string, error) {
	d, err := pgserver.FindBin()
	if err != nil {
		return "", fmt.Errorf("%w or set %s=sqlite", err, BackendsEnv)
	}
	return d, nil
}

// StartPostgres creates and starts a cluster (see pgserver.Start).
func StartPostgres(ctx context.Context) (*Postgres, error) {
	if _, err := FindPostgresBin(); err != nil {
		return nil, err
	}
	s, err := pgserver.Start(ctx, pgserver.Options{})
	if err != nil {
		return nil, err
	}
	return &Postgres{Server: s}, nil
}

var dbNameUnsafe = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDatabase creates an empty database for one test and returns its DSN.
func (p *Postgres) NewDatabase(tb testing.TB) string {
	tb.Helper()
	p.mu.Lock()
	p.n++
	n := p.n
	p.mu.Unlock()
	name := dbNameUnsafe.ReplaceAllString(strings.ToLower(tb.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("t%d_%s", n, name)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn, err := p.CreateDatabase(ctx, name)
	if err != nil {
		tb.Fatal(err)
	}
	return dsn
}

var shared struct {
	once sync.Once
	pg   *Postgres
	err  error
}

// SharedPostgres starts one cluster per test binary on first use and returns
// it; a package's TestMain calls StopSharedPostgres after m.Run. Missing
// binaries or a failed start fail the test (no skip).
func SharedPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.pg, shared.err = StartPostgres(ctx)
		if shared.err == nil {
			fmt.Fprintf(os.Stderr, "testenv: started %s\n", shared.pg)
		}
	})
	if shared.err != nil {
		tb.Fatalf("postgres backend: %v", shared.err)
	}
	return shared.pg
}

// StopSharedPostgres stops the cluster SharedPostgres started, if any.
func StopSharedPostgres() error {
	if shared.pg == nil {
		return nil
	}
	return shared.pg.Stop()
}
