package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
)

// A prepared-statement cache for SQLite connections.
//
// database/sql hands a query string to the driver on every ExecContext and
// QueryContext; the driver then parses and plans it anew and finalizes it
// afterwards. The hub runs the same few hundred statements over and over,
// and the CPU profile of the full path showed SQLite's parser
// (sqlite3Prepare, yy_reduce) at about 15 % of the hub's CPU. The wrapper
// below keeps each connection's prepared statements keyed by their text:
// database/sql sees a connection without ExecerContext/QueryerContext, so it
// prepares, runs and closes a statement; the prepare is served from the
// cache and the close only returns the statement to it (the driver resets a
// statement before it binds new arguments and when its rows are closed).
// SQLite re-prepares a cached statement itself when the schema changes, so
// migrations need no special care.
//
// Scripts of several statements (the migrations) run as one prepared
// statement, which modernc's driver executes in full (TestStmtCache checks
// it: a driver whose statements stop after the first one, such as
// github.com/mattn/go-sqlite3's, needs them sent to its ExecContext). They
// are never cached: a text holding a semicolon or longer than
// stmtCacheMaxLen is prepared per use. A semicolon inside a literal only
// costs the caching.
//
// The wrapper needs of the driver's connection only the context-aware
// prepare and begin; Pinger, SessionResetter, Validator and
// NamedValueChecker are forwarded where the connection has them.

// stmtCacheSize bounds the statements kept per connection; statements beyond
// it are prepared and finalized per use as before. The hub's statements are
// fixed strings, so this is far above what a connection sees.
const stmtCacheSize = 512

// stmtCacheMaxLen keeps scripts (migrations) and generated long statements
// out of the cache.
const stmtCacheMaxLen = 4096

type cachingConnector struct {
	dsn string
	drv driver.Driver
}

func (c cachingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn)
}

func (c cachingConnector) Driver() driver.Driver { return c.drv }

// sqliteConn is what cachingConn needs of the driver's connection.
type sqliteConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
}

type cachingConn struct {
	c     sqliteConn
	stmts map[string]*cachedStmt
}

func newCachingConn(conn driver.Conn) (*cachingConn, error) {
	c, ok := conn.(sqliteConn)
	if !ok {
		conn.Close()
		return nil, errors.New("store: SQLite driver connection lacks context support")
	}
	return &cachingConn{c: c, stmts: make(map[string]*cachedStmt)}, nil
}

// cacheable tells whether query's prepared statement may be kept.
func cacheable(query string) bool {
	return len(query) <= stmtCacheMaxLen && !strings.Contains(query, ";")
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext serves query from the cache unless its cached statement is
// still in use on this connection (a query run while the rows of the same
// query are open), in which case a one-off statement is prepared.
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if cs, ok := c.stmts[query]; ok && !cs.busy {
		cs.busy = true
		return cs, nil
	}
	st, err := c.c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if _, ok := c.stmts[query]; ok || len(c.stmts) >= stmtCacheSize || !cacheable(query) {
		return st, nil
	}
	ss, ok := st.(sqliteStmt)
	if !ok {
		return st, nil
	}
	cs := &cachedStmt{stmt: ss, busy: true}
	c.stmts[query] = cs
	return cs, nil
}

func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.c.BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.c.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.c.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachingConn) IsValid() bool {
	if v, ok := c.c.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// CheckNamedValue applies the driver's own argument conversion where it has
// one; driver.ErrSkip makes database/sql use its default conversion.
func (c *cachingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.c.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// Close finalizes the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for q, cs := range c.stmts {
		errs = append(errs, cs.stmt.Close())
		delete(c.stmts, q)
	}
	errs = append(errs, c.c.Close())
	return errors.Join(errs...)
}

// sqliteStmt is what cachedStmt needs of the driver's statement.
type sqliteStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// cachedStmt is a statement owned by the cache: Close only marks it free.
// database/sql uses a connection from one goroutine at a time, so busy needs
// no lock.
type cachedStmt struct {
	stmt sqliteStmt
	busy bool
}

func (s *cachedStmt) Close() error {
	s.busy = false
	return nil
}

func (s *cachedStmt) NumInput() int { return s.stmt.NumInput() }

// CheckNamedValue forwards to the statement's own conversion, if any.
func (s *cachedStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.stmt.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (s *cachedStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.stmt.ExecContext(context.Background(), named(args))
}

func (s *cachedStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.stmt.QueryContext(context.Background(), named(args))
}

func (s *cachedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.stmt.ExecContext(ctx, args)
}

func (s *cachedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.stmt.QueryContext(ctx, args)
}

func named(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}
