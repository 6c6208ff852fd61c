package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned for writes after Close.
var ErrClosed = errors.New("store: closed")

// writer is the store's group commit. SQLite has one writer at a time and,
// with synchronous=FULL, every commit costs an fsync; so instead of letting
// concurrent transactions queue for the write lock one fsync after another,
// a single goroutine takes every write that is waiting, runs each inside its
// own SAVEPOINT of one transaction, and commits them together: many
// submissions per fsync under load, the same single commit when idle.
//
// Each caller's function stays atomic on its own (a failing one is rolled
// back to its savepoint and reports its error, the others commit), and a
// caller hears "committed" only after the COMMIT returned, so durability is
// exactly that of a transaction per call.
type writer struct {
	db       *sql.DB
	reqs     chan *writeReq
	maxBatch int

	writes, commits atomic.Int64

	mu        sync.RWMutex // closed is set under mu, hand-overs hold it shared
	closed    bool
	closeOnce sync.Once
	quit      chan struct{}
	done      chan struct{}
}

type writeReq struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan error
}

func newWriter(db *sql.DB, maxBatch int) *writer {
	w := &writer{db: db, reqs: make(chan *writeReq, maxBatch), maxBatch: maxBatch,
		quit: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

// do runs fn in a transaction and returns once it is committed or failed.
func (w *writer) do(ctx context.Context, fn func(*sql.Tx) error) error {
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	select {
	case w.reqs <- r:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	// Once handed over the request may commit even if ctx ends now, so the
	// caller must wait for the verdict.
	return <-r.done
}

// close lets queued writes finish, then stops the writer; later writes get
// ErrClosed.
func (w *writer) close() {
	w.closeOnce.Do(func() {
		w.mu.Lock() // waits for callers in the middle of handing over
		w.closed = true
		w.mu.Unlock()
		close(w.quit)
	})
	<-w.done
}

func (w *writer) loop() {
	defer close(w.done)
	batch := make([]*writeReq, 0, w.maxBatch)
	for {
		select {
		case r := <-w.reqs:
			batch = append(batch[:0], r)
		case <-w.quit:
			// No caller can hand over anything now: finish what is queued.
			for {
				select {
				case r := <-w.reqs:
					w.run([]*writeReq{r})
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < w.maxBatch {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		w.run(batch)
	}
}

func (w *writer) run(batch []*writeReq) {
	w.writes.Add(int64(len(batch)))
	w.commits.Add(1)
	if len(batch) == 1 {
		r := batch[0]
		r.done <- directTx(r.ctx, w.db, r.fn)
		return
	}
	errs := make([]error, len(batch))
	fail := func(err error) {
		for i, r := range batch {
			if errs[i] == nil {
				errs[i] = err
			}
			r.done <- errs[i]
		}
	}
	tx, err := w.db.BeginTx(context.Background(), nil)
	if err != nil {
		fail(fmt.Errorf("begin: %w", err))
		return
	}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if _, err := tx.Exec(`SAVEPOINT w`); err != nil {
			tx.Rollback()
			fail(fmt.Errorf("savepoint: %w", err))
			return
		}
		if err := runFn(r.fn, tx); err != nil {
			errs[i] = err
			if _, rerr := tx.Exec(`ROLLBACK TO w`); rerr != nil {
				tx.Rollback()
				fail(fmt.Errorf("rollback to savepoint after %v: %w", err, rerr))
				return
			}
		}
		if _, err := tx.Exec(`RELEASE w`); err != nil {
			tx.Rollback()
			fail(fmt.Errorf("release savepoint: %w", err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(fmt.Errorf("commit: %w", err))
		return
	}
	for i, r := range batch {
		r.done <- errs[i]
	}
}

// WriteStats reports how many write transactions callers asked for and how
// many commits (fsyncs) carried them: writes/commits is the grouping factor.
func (s *Store) WriteStats() (writes, commits int64) {
	if s.w == nil {
		return 0, 0
	}
	return s.w.writes.Load(), s.w.commits.Load()
}

// runFn turns a panic in one caller's function into that caller's error, so
// the writer goroutine (and every other caller) keeps going.
func runFn(fn func(*sql.Tx) error, tx *sql.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: panic in transaction: %v", p)
		}
	}()
	return fn(tx)
}

func directTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := runFn(fn, tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
