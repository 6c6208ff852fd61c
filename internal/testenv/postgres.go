package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
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

// Postgres is a throw-away PostgreSQL cluster started from the Debian
// package's server binaries: initdb into a temporary directory, postmaster on
// 127.0.0.1 with a free port, trust authentication, fsync off (test data only).
type Postgres struct {
	BinDir string // directory of initdb, pg_ctl and postgres
	Dir    string // cluster root: data/, socket, log
	Port   int
	RunAs  string // the user the server runs as ("" = the current one)

	cred  *syscall.Credential
	admin *sql.DB

	mu sync.Mutex
	n  int
}

// pgUser is the cluster's superuser; tests connect as it without a password.
const pgUser = "dxhub"

// FindPostgresBin returns the directory of the newest installed PostgreSQL
// server binaries: /usr/lib/postgresql/<version>/bin (Debian's layout), else
// the directory of initdb on PATH.
func FindPostgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(d string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		return v
	}
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if d := filepath.Dir(p); isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or PATH: " +
		"install Debian's postgresql package (make deps does) or set " + BackendsEnv + "=sqlite")
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// StartPostgres creates and starts a cluster. PostgreSQL refuses to run as
// root, so under root the cluster directory is handed to the "postgres"
// system user (else "nobody") and initdb and pg_ctl run with its uid and gid.
func StartPostgres(ctx context.Context) (*Postgres, error) {
	bin, err := FindPostgresBin()
	if err != nil {
		return nil, err
	}
	p := &Postgres{BinDir: bin}
	if os.Geteuid() == 0 {
		if err := p.dropRoot(); err != nil {
			return nil, err
		}
	}
	if p.Dir, err = os.MkdirTemp("", "dxhub-pg-"); err != nil {
		return nil, err
	}
	fail := func(err error) (*Postgres, error) {
		os.RemoveAll(p.Dir)
		return nil, err
	}
	if p.cred != nil {
		if err := os.Chown(p.Dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return fail(fmt.Errorf("postgres test cluster: chown %s: %w", p.Dir, err))
		}
	}
	if out, err := p.run(ctx, "initdb", "-D", p.data(), "-U", pgUser, "--auth=trust", "--encoding=UTF8", "--locale=C",
		"--no-sync"); err != nil {
		return fail(fmt.Errorf("initdb: %w\n%s", err, out))
	}
	// A free port may be taken between probing and binding: try a few.
	var lastErr error
	for range 3 {
		if p.Port, err = freePort(); err != nil {
			return fail(err)
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off "+
			"-c full_page_writes=off -c max_connections=300", p.Port, p.Dir)
		out, err := p.run(ctx, "pg_ctl", "-D", p.data(), "-l", filepath.Join(p.Dir, "server.log"), "-w", "-t", "60",
			"-o", opts, "start")
		if err == nil {
			lastErr = nil
			break
		}
		log, _ := os.ReadFile(filepath.Join(p.Dir, "server.log"))
		lastErr = fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	if lastErr != nil {
		return fail(lastErr)
	}
	if p.admin, err = sql.Open("pgx", p.DSN("postgres")); err != nil {
		p.Stop()
		return nil, err
	}
	if err := p.admin.PingContext(ctx); err != nil {
		p.Stop()
		return nil, fmt.Errorf("postgres test cluster: %w", err)
	}
	return p, nil
}

func (p *Postgres) dropRoot() error {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		p.RunAs = name
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		return nil
	}
	return errors.New("postgres test cluster: running as root and neither user postgres nor nobody exists to run the server")
}

func (p *Postgres) data() string { return filepath.Join(p.Dir, "data") }

func (p *Postgres) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(p.BinDir, tool), args...)
	cmd.Dir = p.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGTZ=UTC")
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd.CombinedOutput()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DSN returns the connection URL of a database in the cluster.
func (p *Postgres) DSN(database string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", pgUser, p.Port, database)
}

// String describes the cluster for test logs.
func (p *Postgres) String() string {
	who := "the current user"
	if p.RunAs != "" {
		who = "user " + p.RunAs
	}
	return fmt.Sprintf("PostgreSQL from %s, cluster %s, listening on 127.0.0.1:%d, run as %s", p.BinDir, p.Dir, p.Port, who)
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
	if _, err := p.admin.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		tb.Fatalf("postgres test cluster: create database %s: %v", name, err)
	}
	return p.DSN(name)
}

// Stop shuts the server down and removes the cluster directory.
func (p *Postgres) Stop() error {
	if p.admin != nil {
		p.admin.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := p.run(ctx, "pg_ctl", "-D", p.data(), "-m", "fast", "-w", "stop")
	if rerr := os.RemoveAll(p.Dir); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
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
