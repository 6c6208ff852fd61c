package xta_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dxhub/dxhub/xta"
)

// TestMemoryIterations: the in-memory default keeps an iteration for its
// reader until it expires, moves its cursor and extends it on use, and when
// full drops the iteration that expires first.
func TestMemoryIterations(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	m := &xta.MemoryIterations{Max: 3}
	for i := range 3 {
		it := xta.Iteration{Reader: "ags:05315000", Limit: i + 1}
		if err := m.PutIteration(ctx, fmt.Sprint("r", i), it, t0.Add(time.Duration(10+i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	c := xta.Cursor{Delivery: t0, MessageID: "urn:m:1"}
	if err := m.AdvanceIteration(ctx, "r0", c, t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	it, ok, err := m.GetIteration(ctx, "r0", "AGS:05315000", t0.Add(20*time.Minute))
	if err != nil || !ok || it.Cursor != c || it.Limit != 1 {
		t.Fatalf("r0 = %+v %v %v", it, ok, err)
	}
	for _, tc := range []struct {
		id, reader string
		at         time.Time
	}{
		{"r1", "ags:09162000", t0},                       // another reader
		{"r1", "ags:05315000", t0.Add(12 * time.Minute)}, // expired
		{"nope", "ags:05315000", t0},                     // unknown
	} {
		if _, ok, _ := m.GetIteration(ctx, tc.id, tc.reader, tc.at); ok {
			t.Errorf("%+v: found", tc)
		}
	}
	// Full: a new iteration drops r1, which expires first (r0 was extended).
	if err := m.PutIteration(ctx, "r3", xta.Iteration{Reader: "ags:05315000"}, t0.Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"r0": true, "r1": false, "r2": true, "r3": true} {
		if _, ok, _ := m.GetIteration(ctx, id, "ags:05315000", t0); ok != want {
			t.Errorf("%s kept = %v, want %v", id, ok, want)
		}
	}
}
