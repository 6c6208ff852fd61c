package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// Writes that queue up while one commits are committed together, each stays
// atomic on its own: a failing one (an idempotency conflict) is rolled back
// alone and reports its own error.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "hub.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	received := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	sub := func(id, key, hash string) routing.NewSubmission {
		return routing.NewSubmission{Submission: routing.Submission{ID: id, PortalID: "p", Tenant: "05315000", Service: "s",
			Reference: "r-" + id, Form: []byte(`{}`), ReceivedAt: received}, IdempotencyKey: key, BodyHash: hash}
	}
	if _, _, err := s.CreateSubmission(ctx, sub("first", "k0", "h0")); err != nil {
		t.Fatal(err)
	}
	w0, c0 := s.WriteStats()

	// Hold the writer inside one transaction while ten more writes queue up.
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.tx(ctx, func(tx *sql.Tx) error { close(started); <-release; return nil })
	}()
	<-started
	const n = 10
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ns := sub(fmt.Sprintf("s%d", i), fmt.Sprintf("k%d", i+1), "h")
			if i == 3 {
				ns = sub("conflict", "k0", "other body") // key k0 reused with another body
			}
			_, _, errs[i] = s.CreateSubmission(ctx, ns)
		}()
	}
	for len(s.w.reqs) < n {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()

	for i, err := range errs {
		if i == 3 {
			if !errors.Is(err, routing.ErrIdempotencyConflict) {
				t.Fatalf("conflicting write: err = %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if _, err := s.GetSubmission(ctx, fmt.Sprintf("s%d", i)); err != nil {
			t.Fatalf("s%d not committed: %v", i, err)
		}
	}
	if _, err := s.GetSubmission(ctx, "conflict"); !errors.Is(err, routing.ErrNotFound) {
		t.Fatalf("the rolled-back write left a submission: %v", err)
	}
	w1, c1 := s.WriteStats()
	if w1-w0 != n+1 || c1-c0 != 2 {
		t.Fatalf("%d writes in %d commits, want %d in 2", w1-w0, c1-c0, n+1)
	}
}

// A canceled context before the writer reaches the request: nothing is
// written and the caller hears why.
func TestGroupCommitCanceled(t *testing.T) {
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "hub.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.tx(ctx, func(*sql.Tx) error { t.Error("ran"); return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	s.Close()
	if err := s.tx(context.Background(), func(*sql.Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: err = %v", err)
	}
}
