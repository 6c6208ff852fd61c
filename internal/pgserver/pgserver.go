// Package pgserver starts a throw-away PostgreSQL cluster from the Debian
// package's server binaries: initdb into a temporary directory, postmaster on
// 127.0.0.1 with a free port, trust authentication. The tests
// (internal/testenv) and `dxhub bench --cluster` use it.
package pgserver

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
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Server is a running cluster.
type Server struct {
	BinDir string // directory of initdb, pg_ctl and postgres
	Dir    string // cluster root: data/, socket, log
	Port   int
	RunAs  string // the user the server runs as ("" = the current one)

	cred  *syscall.Credential
	admin *sql.DB
}

// Options tune the cluster.
type Options struct {
	// Durable keeps PostgreSQL's defaults (fsync, synchronous_commit,
	// full_page_writes on), for measurements; off (tests) turns them off.
	Durable bool
}

// User is the cluster's superuser; clients connect as it without a password.
const User = "dxhub"

// FindBin returns the directory of the newest installed PostgreSQL
// server binaries: /usr/lib/postgresql/<version>/bin (Debian's layout), else
// the directory of initdb on PATH.
func FindBin() (string, error) {
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
		"install Debian's postgresql package (make deps does)")
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Start creates and starts a cluster. PostgreSQL refuses to run as
// root, so under root the cluster directory is handed to the "postgres"
// system user (else "nobody") and initdb and pg_ctl run with its uid and gid.
func Start(ctx context.Context, o Options) (*Server, error) {
	bin, err := FindBin()
	if err != nil {
		return nil, err
	}
	p := &Server{BinDir: bin}
	if os.Geteuid() == 0 {
		if err := p.dropRoot(); err != nil {
			return nil, err
		}
	}
	if p.Dir, err = os.MkdirTemp("", "dxhub-pg-"); err != nil {
		return nil, err
	}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(p.Dir)
		return nil, err
	}
	if p.cred != nil {
		if err := os.Chown(p.Dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return fail(fmt.Errorf("postgres cluster: chown %s: %w", p.Dir, err))
		}
	}
	if out, err := p.run(ctx, "initdb", "-D", p.data(), "-U", User, "--auth=trust", "--encoding=UTF8", "--locale=C",
		"--no-sync"); err != nil {
		return fail(fmt.Errorf("initdb: %w\n%s", err, out))
	}
	// A free port may be taken between probing and binding: try a few.
	var lastErr error
	for range 3 {
		if p.Port, err = freePort(); err != nil {
			return fail(err)
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=300", p.Port, p.Dir)
		if !o.Durable {
			opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
		}
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
		return nil, fmt.Errorf("postgres cluster: %w", err)
	}
	return p, nil
}

func (p *Server) dropRoot() error {
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
	return errors.New("postgres cluster: running as root and neither user postgres nor nobody exists to run the server")
}

func (p *Server) data() string { return filepath.Join(p.Dir, "data") }

func (p *Server) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
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
func (p *Server) DSN(database string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", User, p.Port, database)
}

// String describes the cluster for test logs.
func (p *Server) String() string {
	who := "the current user"
	if p.RunAs != "" {
		who = "user " + p.RunAs
	}
	return fmt.Sprintf("PostgreSQL from %s, cluster %s, listening on 127.0.0.1:%d, run as %s", p.BinDir, p.Dir, p.Port, who)
}

// CreateDatabase creates an empty database and returns its DSN.
func (p *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	if _, err := p.admin.ExecContext(ctx, `CREATE DATABASE "`+strings.ReplaceAll(name, `"`, ``)+`"`); err != nil {
		return "", fmt.Errorf("postgres cluster: create database %s: %w", name, err)
	}
	return p.DSN(name), nil
}

// PID returns the postmaster's process ID (from postmaster.pid).
func (p *Server) PID() (int, error) {
	b, err := os.ReadFile(filepath.Join(p.data(), "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

// Stop shuts the server down and removes the cluster directory.
func (p *Server) Stop() error {
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
