package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// TestXTAIterations: the MsgBoxRequestID state survives a reopen of the
// database (a restart, or a second process), belongs to its reader only,
// expires, and is purged and bounded per reader.
func TestXTAIterations(t *testing.T) {
	forEachDB(t, testXTAIterations)
}

func testXTAIterations(t *testing.T, db testDB) {
	ctx := context.Background()
	s, err := db.openErr()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	it := XTAIteration{RequestID: "urn:uuid:1", Reader: "AGS:05315000", Selection: []byte(`{"limit":2}`), ExpiresAt: t0.Add(15 * time.Minute)}
	if err := s.XTAIterationPut(ctx, it, t0, 0); err != nil {
		t.Fatal(err)
	}
	cursor := t0.Add(-time.Hour).Add(123 * time.Microsecond)
	if err := s.XTAIterationAdvance(ctx, "urn:uuid:1", cursor, "urn:de:xta:messageid:dxhub:a", t0.Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Another process (or the restarted one) continues the iteration.
	s2, err := db.openErr()
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := s2.XTAIterationGet(ctx, "urn:uuid:1", "ags:05315000", t0.Add(19*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !got.CursorTime.Equal(cursor) || got.CursorID != "urn:de:xta:messageid:dxhub:a" || string(got.Selection) != `{"limit":2}` ||
		!got.ExpiresAt.Equal(t0.Add(20*time.Minute)) {
		t.Fatalf("iteration = %+v", got)
	}
	for _, tc := range []struct {
		name, id, reader string
		at               time.Time
	}{
		{"other reader", "urn:uuid:1", "ags:09162000", t0},
		{"expired", "urn:uuid:1", "ags:05315000", t0.Add(21 * time.Minute)},
		{"unknown", "urn:uuid:2", "ags:05315000", t0},
	} {
		if _, err := s2.XTAIterationGet(ctx, tc.id, tc.reader, tc.at); !errors.Is(err, routing.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", tc.name, err)
		}
	}
	// Advancing a purged iteration is no error.
	if err := s2.XTAIterationAdvance(ctx, "urn:uuid:gone", time.Time{}, "", t0); err != nil {
		t.Fatal(err)
	}

	// Puts purge expired iterations and keep at most 3 per reader; that
	// housekeeping runs at most once a minute (the first put here, then the
	// other reader's put a minute later).
	t1 := t0.Add(time.Hour)
	for i := range 5 {
		if err := s2.XTAIterationPut(ctx, XTAIteration{RequestID: fmt.Sprint("urn:uuid:r", i), Reader: "ags:05315000",
			Selection: []byte("{}"), ExpiresAt: t1.Add(time.Duration(i) * time.Second).Add(15 * time.Minute)}, t1, 3); err != nil {
			t.Fatal(err)
		}
	}
	if err := s2.XTAIterationPut(ctx, XTAIteration{RequestID: "urn:uuid:other", Reader: "ags:09162000", Selection: []byte("{}"),
		ExpiresAt: t1.Add(15 * time.Minute)}, t1.Add(time.Minute), 3); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s2.db.QueryRowContext(ctx, `SELECT count(*) FROM xta_iterations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("%d iterations stored, want 3 of the first reader + 1 (expired purged)", n)
	}
	for i, want := range []bool{false, false, true, true, true} {
		_, err := s2.XTAIterationGet(ctx, fmt.Sprint("urn:uuid:r", i), "ags:05315000", t1)
		if (err == nil) != want {
			t.Errorf("iteration r%d kept = %v, want %v", i, err == nil, want)
		}
	}
}
