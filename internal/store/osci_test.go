package store

import (
	"context"
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// latestMigration is the highest migration number embedded in the binary.
func latestMigration(t *testing.T) int {
	t.Helper()
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	v := 0
	for _, n := range names {
		n, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(n, "migrations/"), "_", 2)[0])
		if err != nil {
			t.Fatal(err)
		}
		v = max(v, n)
	}
	return v
}

func TestOSCIOutLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		if _, _, err := s.CreateSubmission(ctx, newSub("s1")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.OSCIOutGet(ctx, "t1"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("get unknown: %v", err)
		}
		r, err := s.OSCIOutCreate(ctx, OSCIOut{TransportID: "t1", SubmissionID: "s1", MessageID: "bWlk", Intermediary: "http://i", IntermediaryCert: "PEM", CreatedAt: t0})
		if err != nil || r.State != OSCICreated || r.MessageID != "bWlk" {
			t.Fatalf("%+v %v", r, err)
		}
		// The first persisted MessageId wins.
		if r, err = s.OSCIOutCreate(ctx, OSCIOut{TransportID: "t1", SubmissionID: "s1", MessageID: "other", Intermediary: "http://i", CreatedAt: t0}); err != nil || r.MessageID != "bWlk" {
			t.Fatalf("%+v %v", r, err)
		}
		if err := s.OSCIOutAttempt(ctx, "t1", t0); err != nil {
			t.Fatal(err)
		}
		if err := s.OSCIOutUpdate(ctx, "t1", OSCISent, `{"creation":"x"}`, "stored", t0.Add(time.Second), nil); err != nil {
			t.Fatal(err)
		}
		open, err := s.OSCIOutOpen(ctx, 10)
		if err != nil || len(open) != 1 || open[0].Sends != 1 || open[0].ProcessCard != `{"creation":"x"}` {
			t.Fatalf("open %+v %v", open, err)
		}
		ev := &routing.StatusEvent{Status: routing.StatusFetched, Time: t0.Add(2 * time.Second), Source: routing.SourceOSCI, Evidence: "bWlk"}
		if err := s.OSCIOutUpdate(ctx, "t1", OSCIFetched, "", "received", t0.Add(2*time.Second), ev); err != nil {
			t.Fatal(err)
		}
		if open, _ := s.OSCIOutOpen(ctx, 10); len(open) != 0 {
			t.Fatalf("still open: %+v", open)
		}
		r, _ = s.OSCIOutGet(ctx, "t1")
		if r.ProcessCard != `{"creation":"x"}` {
			t.Fatalf("card lost on update without card: %q", r.ProcessCard)
		}
		evs, _ := s.Events(ctx, "s1")
		if evs[len(evs)-1].Status != routing.StatusFetched {
			t.Fatalf("events %+v", evs)
		}
	})
}

func TestOSCIInboxDedupe(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		it := OSCIInboxItem{MessageID: "m1", Intermediary: "http://i", FetchedAt: t0, Body: []byte("mime")}
		if ok, err := s.OSCIInboxPut(ctx, it); !ok || err != nil {
			t.Fatalf("%v %v", ok, err)
		}
		if ok, err := s.OSCIInboxPut(ctx, it); ok || err != nil {
			t.Fatalf("duplicate stored: %v %v", ok, err)
		}
		if has, err := s.OSCIInboxHas(ctx, "m1"); !has || err != nil {
			t.Fatalf("has m1: %v %v", has, err)
		}
		if has, err := s.OSCIInboxHas(ctx, "m2"); has || err != nil {
			t.Fatalf("has m2: %v %v", has, err)
		}
		p, err := s.OSCIInboxPending(ctx, 10)
		if err != nil || len(p) != 1 || string(p[0].Body) != "mime" {
			t.Fatalf("%+v %v", p, err)
		}
		if err := s.OSCIInboxDone(ctx, "m1", "", t0); err != nil {
			t.Fatal(err)
		}
		if p, _ := s.OSCIInboxPending(ctx, 10); len(p) != 0 {
			t.Fatalf("pending after done: %+v", p)
		}
	})
}
