package store

import (
	"context"
	"database/sql/driver"
	"errors"

	"modernc.org/sqlite"
)

// A prepared-statement cache for SQLite connections.
//
// database/sql hands a query string to the driver on every ExecContext and
// QueryContext; modernc's driver then parses and plans it anew and finalizes
// it afterwards. The hub runs the same few hundred statements over and over,
// and the CPU profile of the full path showed SQLite's parser
// (sqlite3Prepare, yy_reduce) at about 15 % of the hub's CPU. The wrapper
// below keeps each connection's prepared statements keyed by their text:
// database/sql sees a connection without ExecerContext/QueryerContext, so it
// prepares, runs and closes a statement; the prepare is served from the cache
// and the close only returns the statement to it (modernc resets a cached
// statement after each use). SQLite re-prepares a cached statement itself
// when the schema changes, so migrations need no special care.

// stmtCacheSize bounds the statements kept per connection; statements beyond
// it are prepared and finalized per use as before. The hub's statements are
// fixed strings, so this is far above what a connection sees.
const stmtCacheSize = 512

// stmtCacheMaxLen keeps scripts (migrations) and generated long statements
// out of the cache.
const stmtCacheMaxLen = 4096

type cachingConnector struct {
	dsn string
	drv *sqlite.Driver
}

func (c cachingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn)
}

func (c cachingConnector) Driver() driver.Driver { return c.drv }

// sqliteConn is what cachingConn needs of modernc's connection.
type sqliteConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.Pinger
	driver.SessionResetter
	driver.Validator
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
	if _, ok := c.stmts[query]; ok || len(c.stmts) >= stmtCacheSize || len(query) > stmtCacheMaxLen {
		return st, nil
	}
	cs := &cachedStmt{stmt: st.(sqliteStmt), busy: true}
	c.stmts[query] = cs
	return cs, nil
}

func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.c.BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error         { return c.c.Ping(ctx) }
func (c *cachingConn) ResetSession(ctx context.Context) error { return c.c.ResetSession(ctx) }
func (c *cachingConn) IsValid() bool                          { return c.c.IsValid() }

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

// sqliteStmt is what cachedStmt needs of modernc's statement.
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
