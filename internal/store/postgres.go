package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed migrations_pg/*.sql
var migrationsPG embed.FS

// ErrBadDSN is returned by OpenPostgres for a DSN pgx cannot parse. It
// quotes nothing of the DSN, which may hold a password.
var ErrBadDSN = errors.New("store: postgres DSN cannot be parsed (expected a postgres:// URL or key=value pairs; not shown, it may hold a password)")

// pgMigrationLock is the advisory lock key migrations hold ("dxhub" in ASCII).
const pgMigrationLock int64 = 0x6478687562

// Dialect names the SQL database behind a Store.
type Dialect string

// The supported dialects.
const (
	DialectSQLite   Dialect = "sqlite"
	DialectPostgres Dialect = "postgres"
)

// Dialect reports which database the store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

func (s *Store) pg() bool { return s.dialect == DialectPostgres }

// PostgresOptions tunes the PostgreSQL connection pool.
type PostgresOptions struct {
	// MaxConns is the most open connections (0: 16).
	MaxConns int
	// ConnMaxLifetime recycles connections after this long (0: 30 minutes).
	ConnMaxLifetime time.Duration
}

// OpenPostgres connects to PostgreSQL (pgx v5 through database/sql) and
// applies the PostgreSQL migrations. The dsn is a libpq URL or keyword/value
// string. Every statement's "?" placeholders are rewritten to "$n" by the
// connection (rebind), so the store's SQL is written once for both databases.
//
// There is no group commit: PostgreSQL commits concurrent transactions in
// parallel (READ COMMITTED), and every read-modify-write locks its rows.
func OpenPostgres(ctx context.Context, dsn string, opts PostgresOptions) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message quotes the DSN, and its password redaction is best
		// effort (a malformed DSN may defeat it): report no part of it.
		return nil, ErrBadDSN
	}
	db := sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)})
	maxConns := opts.MaxConns
	if maxConns <= 0 {
		maxConns = 16
	}
	life := opts.ConnMaxLifetime
	if life <= 0 {
		life = 30 * time.Minute
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxLifetime(life)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to postgres %s/%s: %w", cfg.Host, cfg.Database, err)
	}
	s := &Store{db: db, dialect: DialectPostgres}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// rebind rewrites the "?" placeholders of a query to PostgreSQL's "$1", "$2",
// … . Question marks inside string literals, quoted identifiers and comments
// stay as they are.
func rebind(query string) string {
	if strings.IndexByte(query, '?') < 0 {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(query) {
				if query[j] == c {
					if j+1 < len(query) && query[j+1] == c { // doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, len(query))
			b.WriteString(query[i:end])
			i = end - 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j - 1
		case c == '/' && i+1 < len(query) && query[i+1] == '*':
			j := strings.Index(query[i+2:], "*/")
			end := len(query)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(query[i:end])
			i = end - 1
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// rebindConnector hands out pgx connections whose statements are rebound;
// database/sql runs every query of the store (on the pool or in a
// transaction) through one of these, so no call site can miss the rewrite.
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := conn.(*stdlib.Conn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("store: unexpected pgx connection type %T", conn)
	}
	return &rebindConn{pc}, nil
}

// rebindConn is a pgx connection that rebinds every statement; all other
// driver interfaces (transactions, ping, session reset, value checks) are
// pgx's own.
type rebindConn struct{ *stdlib.Conn }

func (c *rebindConn) Prepare(query string) (driver.Stmt, error) { return c.Conn.Prepare(rebind(query)) }

func (c *rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(query))
}

func (c *rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(query), pgText(args))
}

func (c *rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(query), pgText(args))
}

// pgText makes string arguments storable in PostgreSQL TEXT, which rejects
// NUL bytes and invalid UTF-8 that SQLite stores as given (a transport error
// text or a remote server's note may carry either): each such byte becomes
// U+FFFD, so the write succeeds instead of failing the transaction. Lookups
// by such a string are rewritten the same way and still match.
func pgText(args []driver.NamedValue) []driver.NamedValue {
	for i, a := range args {
		s, ok := a.Value.(string)
		if !ok || (utf8.ValidString(s) && strings.IndexByte(s, 0) < 0) {
			continue
		}
		out := make([]driver.NamedValue, len(args))
		copy(out, args)
		for j := i; j < len(out); j++ {
			if s, ok := out[j].Value.(string); ok {
				out[j].Value = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
			}
		}
		return out
	}
	return args
}

// lockSubmission takes a submission's row lock first, on PostgreSQL, in a
// transaction that changes its delivery or job and then records a status
// event (which locks the submission too): all such transactions, and the
// operator's replay and dead-letter actions, then lock in one order
// (submission, then the rows hanging off it) and cannot deadlock. A missing
// submission is left to the caller's own checks.
func (s *Store) lockSubmission(ctx context.Context, tx *sql.Tx, id string) error {
	if !s.pg() {
		return nil
	}
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM submissions WHERE id = ? FOR NO KEY UPDATE`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return err
}

// lockSubmissionOf is lockSubmission for a transaction that knows the
// submission only through another row: query selects its submission_id.
func (s *Store) lockSubmissionOf(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	if !s.pg() {
		return nil
	}
	var id string
	err := tx.QueryRowContext(ctx, query, args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.lockSubmission(ctx, tx, id)
}

// forUpdate is the row lock a read-modify-write takes on PostgreSQL (FOR NO
// KEY UPDATE: it does not block inserts of rows referencing the locked one);
// SQLite's write transactions are serialized already (_txlock=immediate).
func (s *Store) forUpdate() string {
	if s.pg() {
		return " FOR NO KEY UPDATE"
	}
	return ""
}
