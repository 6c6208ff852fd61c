package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// The trace context of a submission survives the store, and kept spans are
// bounded per submission and in total, on every backend.
func TestTraceSpans(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		ns := newSub("s1")
		ns.TraceParent = tp
		if _, _, err := s.CreateSubmission(ctx, ns); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CreateSubmission(ctx, newSub("s2")); err != nil {
			t.Fatal(err)
		}
		if sub, err := s.GetSubmission(ctx, "s1"); err != nil || sub.TraceParent != tp {
			t.Fatalf("GetSubmission trace parent = %q, %v", sub.TraceParent, err)
		}
		if got, err := s.TraceParent(ctx, "s1"); err != nil || got != tp {
			t.Fatalf("TraceParent(s1) = %q, %v", got, err)
		}
		if got, err := s.TraceParent(ctx, "s2"); err != nil || got != "" {
			t.Fatalf("TraceParent(s2) = %q, %v", got, err)
		}
		if _, err := s.TraceParent(ctx, "nope"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("TraceParent(unknown) err = %v", err)
		}
		// The outbox reads carry it with each event, so dispatchers need no
		// lookup per event.
		tpOf := map[string]string{"s1": tp, "s2": ""}
		hooks, err := s.PendingWebhooks(ctx, []string{"p1"}, t0.Add(time.Hour), 10)
		if err != nil || len(hooks) != 2 {
			t.Fatalf("PendingWebhooks = %d, %v", len(hooks), err)
		}
		for _, h := range hooks {
			if h.TraceParent != tpOf[h.Event.SubmissionID] {
				t.Errorf("webhook event of %s: trace parent %q", h.Event.SubmissionID, h.TraceParent)
			}
		}
		kevs, err := s.PendingKafkaEvents(ctx, 10)
		if err != nil || len(kevs) != 2 {
			t.Fatalf("PendingKafkaEvents = %d, %v", len(kevs), err)
		}
		for _, k := range kevs {
			if k.TraceParent != tpOf[k.Event.SubmissionID] {
				t.Errorf("kafka event of %s: trace parent %q", k.Event.SubmissionID, k.TraceParent)
			}
		}
		notes, err := s.PendingNotifications(ctx, []routing.Status{routing.StatusReceived}, 10)
		if err != nil || len(notes) != 2 {
			t.Fatalf("PendingNotifications = %d, %v", len(notes), err)
		}
		for _, n := range notes {
			if n.Submission.TraceParent != tpOf[n.Submission.ID] {
				t.Errorf("Postfach notification of %s: trace parent %q", n.Submission.ID, n.Submission.TraceParent)
			}
		}

		span := func(sub string, i int) Span {
			start := t0.Add(time.Duration(i) * time.Millisecond)
			return Span{SubmissionID: sub, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: fmt.Sprintf("%016x", i+1),
				ParentSpanID: "00f067aa0ba902b7", Name: fmt.Sprintf("stage-%d", i), Kind: "internal",
				Start: start, End: start.Add(time.Millisecond), StatusCode: "error", StatusMessage: "retry: 503",
				Attributes: map[string]string{"delivery.attempt": fmt.Sprint(i + 1), "quote": `"ü"`}}
		}
		var batch []Span
		for i := range 5 {
			batch = append(batch, span("s1", 4-i)) // out of order: Spans sorts by start
		}
		batch = append(batch, span("s2", 0))
		dropped, err := s.SaveSpans(ctx, batch, 3)
		if err != nil || dropped != 2 {
			t.Fatalf("SaveSpans dropped %d, %v; want 2 dropped (cap 3)", dropped, err)
		}
		if dropped, err := s.SaveSpans(ctx, []Span{span("s1", 9)}, 3); err != nil || dropped != 1 {
			t.Fatalf("SaveSpans beyond the cap dropped %d, %v", dropped, err)
		}
		got, err := s.Spans(ctx, "s1")
		if err != nil || len(got) != 3 {
			t.Fatalf("Spans(s1) = %d spans, %v", len(got), err)
		}
		want := span("s1", 2) // the first three of the batch were 4, 3, 2: sorted 2, 3, 4
		if g := got[0]; g.Name != want.Name || !g.Start.Equal(want.Start) || !g.End.Equal(want.End) || g.SpanID != want.SpanID ||
			g.ParentSpanID != want.ParentSpanID || g.StatusCode != "error" || g.StatusMessage != want.StatusMessage ||
			g.Attributes["quote"] != `"ü"` || g.Attributes["delivery.attempt"] != "3" || g.Kind != "internal" {
			t.Fatalf("span[0] = %+v, want %+v", g, want)
		}
		if got[1].Name != "stage-3" || got[2].Name != "stage-4" {
			t.Fatalf("order: %s, %s", got[1].Name, got[2].Name)
		}
		// Prune to the newest 2 spans overall: s2's span and the last of s1.
		n, err := s.PruneSpans(ctx, 2)
		if err != nil || n != 2 {
			t.Fatalf("PruneSpans = %d, %v; want 2", n, err)
		}
		if got, _ := s.Spans(ctx, "s1"); len(got) != 1 {
			t.Fatalf("after prune s1 has %d spans", len(got))
		}
		if got, _ := s.Spans(ctx, "s2"); len(got) != 1 {
			t.Fatalf("after prune s2 has %d spans", len(got))
		}
		if n, err := s.PruneSpans(ctx, 2); err != nil || n != 0 {
			t.Fatalf("second PruneSpans = %d, %v", n, err)
		}
	})
}
