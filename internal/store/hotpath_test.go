package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// TestAdvanceUpdateMatchesLifecycle: SQLite's single-statement status
// update allows exactly the moves routing.Status.Advances allows.
func TestAdvanceUpdateMatchesLifecycle(t *testing.T) {
	if len(allStatuses) != 12 {
		t.Fatalf("allStatuses has %d entries; keep it in step with routing's lifecycle", len(allStatuses))
	}
	for _, next := range allStatuses {
		if !next.Valid() {
			t.Fatalf("%q is not a routing status", next)
		}
		q, args := advanceUpdate(next)
		allowed := map[string]bool{}
		for _, a := range args {
			allowed[a.(string)] = true
		}
		for _, cur := range allStatuses {
			want := next == routing.StatusReceived || cur.Advances(next)
			got := q != "" && (args == nil || allowed[string(cur)])
			if got != want {
				t.Errorf("%s -> %s: update %v, want %v", cur, next, got, want)
			}
		}
	}
}

// TestInsertEventForwardOnly: a late event is recorded in the history but
// does not move the current status back, on every backend.
func TestInsertEventForwardOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		if _, _, err := s.CreateSubmission(ctx, newSub("f1")); err != nil {
			t.Fatal(err)
		}
		for _, st := range []routing.Status{routing.StatusValidated, routing.StatusAcknowledged, routing.StatusFetched, routing.StatusDecided, routing.StatusFailed} {
			if err := s.AppendEvent(ctx, "f1", routing.StatusEvent{Status: st, Time: t0, Source: routing.SourceHub}); err != nil {
				t.Fatal(err)
			}
		}
		sub, err := s.GetSubmission(ctx, "f1")
		if err != nil || sub.Status != routing.StatusDecided {
			t.Fatalf("status = %q, %v; want decided (terminal, later events recorded only)", sub.Status, err)
		}
		evs, err := s.Events(ctx, "f1")
		if err != nil || len(evs) != 6 {
			t.Fatalf("history = %d events, %v; want 6", len(evs), err)
		}
		if err := s.AppendEvent(ctx, "nope", routing.StatusEvent{Status: routing.StatusFetched, Time: t0, Source: routing.SourceHub}); err == nil {
			t.Fatal("event for an unknown submission accepted")
		}
	})
}

// TestGetSubmissionHead: everything but the form, on every backend.
func TestGetSubmissionHead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		if _, _, err := s.CreateSubmission(ctx, newSub("h1")); err != nil {
			t.Fatal(err)
		}
		full, err := s.GetSubmission(ctx, "h1")
		if err != nil || len(full.Form) == 0 {
			t.Fatalf("full = %+v, %v", full, err)
		}
		head, err := s.GetSubmissionHead(ctx, "h1")
		if err != nil {
			t.Fatal(err)
		}
		if head.Form != nil {
			t.Fatalf("head has a form: %s", head.Form)
		}
		full.Form = nil
		if !reflect.DeepEqual(head, full) {
			t.Fatalf("head = %+v\nwant %+v", head, full)
		}
		if _, err := s.GetSubmissionHead(ctx, "nope"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
	})
}

// TestWebhooksDelivered: a page of marks in one transaction, on every
// backend; an empty page writes nothing.
func TestWebhooksDelivered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		for _, id := range []string{"w1", "w2"} {
			if _, _, err := s.CreateSubmission(ctx, newSub(id)); err != nil {
				t.Fatal(err)
			}
		}
		now := t0.Add(time.Minute)
		hooks, err := s.PendingWebhooks(ctx, []string{"p1"}, now, 10)
		if err != nil || len(hooks) != 2 {
			t.Fatalf("pending = %+v, %v", hooks, err)
		}
		if err := s.WebhooksDelivered(ctx, nil); err != nil {
			t.Fatal(err)
		}
		marks := []WebhookMark{{EventID: hooks[0].Event.ID, Attempts: 1, At: now}, {EventID: hooks[1].Event.ID, Attempts: 2, At: now}}
		if err := s.WebhooksDelivered(ctx, marks); err != nil {
			t.Fatal(err)
		}
		if hooks, err := s.PendingWebhooks(ctx, []string{"p1"}, now, 10); err != nil || len(hooks) != 0 {
			t.Fatalf("still pending: %+v, %v", hooks, err)
		}
	})
}
