package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

func stepsFor(id string, transport routing.TransportKind) (routing.Message, routing.Delivery) {
	// Times finer than the store keeps and in another zone: the commit
	// reports them as stored.
	at := t0.Add(1234 * time.Nanosecond).In(time.FixedZone("CET", 3600))
	msg := routing.Message{SubmissionID: id, UUID: "uuid-" + id, Standard: "XBau-Kernmodul", Version: "1.3.0", TypeCode: "1200",
		RootElement: "universellerAntrag.antrag.1200", Namespace: "ns", Service: "urn:s", XML: []byte("<x/>")}
	d := routing.Delivery{SubmissionID: id, MessageUUID: msg.UUID, TransportID: "urn:de:xta:messageid:dxhub:" + id,
		Route: routing.Route{ReaderKey: "ags:05315000", ServiceURI: "urn:s", Transport: transport}, NextAttemptAt: at, CreatedAt: at}
	return msg, d
}

func hubEvent(st routing.Status, detail string) routing.StatusEvent {
	return routing.StatusEvent{Status: st, Time: t0, Source: routing.SourceHub, Detail: detail}
}

func historyOf(t *testing.T, s *Store, id string) string {
	t.Helper()
	evs, err := s.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "%s:%s ", ev.Status, ev.Detail)
	}
	return strings.TrimSpace(b.String())
}

// TestCommitStepsAll: mapping, routing and a delivered attempt in one
// commit leave what SaveMapped, SaveRoute and RecordAttempt leave: three
// events in order, the message in the reader's mailbox, the job gone.
func TestCommitStepsAll(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		if _, _, err := s.CreateSubmission(ctx, newSub("s1")); err != nil {
			t.Fatal(err)
		}
		msg, d := stepsFor("s1", routing.TransportXTAMailbox)
		delivered := hubEvent(routing.StatusDelivered, "in the mailbox")
		c, err := s.CommitSteps(ctx, routing.Steps{
			Message: &msg, Validated: hubEvent(routing.StatusValidated, "mapped"),
			Delivery: &d, Routed: hubEvent(routing.StatusRouted, "routed"),
			Attempt: &routing.AttemptResult{Delivery: d, Number: 1, Started: t0, Finished: t0,
				Outcome: routing.Outcome{Kind: routing.Delivered}, Done: true, Event: &delivered},
		})
		if err != nil || !c.Applied || c.Delivery.ID == 0 {
			t.Fatalf("commit = %+v, %v", c, err)
		}
		if got, want := historyOf(t, s, "s1"), "received:submission accepted from portal p1 validated:mapped routed:routed delivered:in the mailbox"; got != want {
			t.Fatalf("history = %q\nwant %q", got, want)
		}
		got, err := s.GetDelivery(ctx, "s1")
		if err != nil || got.ID != c.Delivery.ID || got.Attempts != 1 || got.TransportID != d.TransportID {
			t.Fatalf("delivery = %+v, %v (commit said id %d)", got, err, c.Delivery.ID)
		}
		if it, err := s.MailboxGet(ctx, "ags:05315000", d.TransportID); err != nil || string(it.Message.XML) != "<x/>" {
			t.Fatalf("mailbox = %+v, %v", it, err)
		}
		if st, err := s.JobState(ctx, "s1"); err != nil || st.Exists {
			t.Fatalf("job = %+v, %v", st, err)
		}
		if atts, err := s.Attempts(ctx, "s1"); err != nil || len(atts) != 1 || atts[0].Outcome != "delivered" {
			t.Fatalf("attempts = %+v, %v", atts, err)
		}
	})
}

// TestCommitStepsMapAndRoute: mapping and routing together, then the
// attempt on its own with the delivery ID the commit reported; a retry
// releases the job for later like RecordAttempt.
func TestCommitStepsMapAndRoute(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		s.CreateSubmission(ctx, newSub("s1"))
		msg, d := stepsFor("s1", routing.TransportXTA)
		c, err := s.CommitSteps(ctx, routing.Steps{Message: &msg, Validated: hubEvent(routing.StatusValidated, "mapped"),
			Delivery: &d, Routed: hubEvent(routing.StatusRouted, "routed")})
		if err != nil || !c.Applied {
			t.Fatalf("commit = %+v, %v", c, err)
		}
		if sub, _ := s.GetSubmission(ctx, "s1"); sub.Status != routing.StatusRouted {
			t.Fatalf("status = %s", sub.Status)
		}
		if st, _ := s.JobState(ctx, "s1"); !st.Exists {
			t.Fatal("job ended before the delivery")
		}
		// The commit reports the delivery exactly as GetDelivery reads it.
		if got, err := s.GetDelivery(ctx, "s1"); err != nil || got != c.Delivery {
			t.Fatalf("stored delivery %+v (%v), commit reported %+v", got, err, c.Delivery)
		}
		d = c.Delivery
		next := t0.Add(time.Minute)
		c, err = s.CommitSteps(ctx, routing.Steps{Attempt: &routing.AttemptResult{Delivery: d, Number: 1, Started: t0, Finished: t0,
			Outcome: routing.Outcome{Kind: routing.Retry, Reason: "503"}, NextAttemptAt: next}})
		if err != nil || !c.Applied {
			t.Fatalf("attempt = %+v, %v", c, err)
		}
		if got, _ := s.NextJobAt(ctx); !got.Equal(next) {
			t.Fatalf("job due %v, want %v", got, next)
		}
		// The same attempt again fails its fence and changes nothing.
		_, err = s.CommitSteps(ctx, routing.Steps{Attempt: &routing.AttemptResult{Delivery: d, Number: 1, Started: t0, Finished: t0,
			Outcome: routing.Outcome{Kind: routing.Retry, Reason: "503"}, NextAttemptAt: next}})
		if !errors.Is(err, routing.ErrStale) {
			t.Fatalf("repeated attempt: %v, want ErrStale", err)
		}
		if atts, _ := s.Attempts(ctx, "s1"); len(atts) != 1 {
			t.Fatalf("attempts = %+v", atts)
		}
	})
}

// TestCommitStepsDoneBefore: steps whose first one was committed before
// (another worker, a crash after the commit) write nothing at all, not
// even the later steps, and report Applied false.
func TestCommitStepsDoneBefore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		s.CreateSubmission(ctx, newSub("s1"))
		msg, d := stepsFor("s1", routing.TransportXTAMailbox)
		if err := s.SaveMapped(ctx, msg, hubEvent(routing.StatusValidated, "mapped")); err != nil {
			t.Fatal(err)
		}
		delivered := hubEvent(routing.StatusDelivered, "in the mailbox")
		attempt := &routing.AttemptResult{Delivery: d, Number: 1, Started: t0, Finished: t0,
			Outcome: routing.Outcome{Kind: routing.Delivered}, Done: true, Event: &delivered}
		c, err := s.CommitSteps(ctx, routing.Steps{Message: &msg, Validated: hubEvent(routing.StatusValidated, "mapped again"),
			Delivery: &d, Routed: hubEvent(routing.StatusRouted, "routed"), Attempt: attempt})
		if err != nil || c.Applied {
			t.Fatalf("commit over a saved message = %+v, %v; want not applied", c, err)
		}
		want := "received:submission accepted from portal p1 validated:mapped"
		if got := historyOf(t, s, "s1"); got != want {
			t.Fatalf("history = %q, want %q", got, want)
		}
		if _, err := s.GetDelivery(ctx, "s1"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("a delivery was written: %v", err)
		}
		// Routed by someone else meanwhile: routing and attempt write nothing.
		if err := s.SaveRoute(ctx, d, hubEvent(routing.StatusRouted, "routed")); err != nil {
			t.Fatal(err)
		}
		c, err = s.CommitSteps(ctx, routing.Steps{Delivery: &d, Routed: hubEvent(routing.StatusRouted, "routed again"), Attempt: attempt})
		if err != nil || c.Applied {
			t.Fatalf("commit over a saved route = %+v, %v; want not applied", c, err)
		}
		if atts, _ := s.Attempts(ctx, "s1"); len(atts) != 0 {
			t.Fatalf("attempts = %+v", atts)
		}
		if got := historyOf(t, s, "s1"); got != want+" routed:routed" {
			t.Fatalf("history = %q", got)
		}
		if st, _ := s.JobState(ctx, "s1"); !st.Exists {
			t.Fatal("job ended")
		}
	})
}

// TestCommitStepsRollsBackAll: a failing later step (an invalid event)
// takes the earlier ones with it; bad requests are refused.
func TestCommitStepsRollsBackAll(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		s.CreateSubmission(ctx, newSub("s1"))
		s.CreateSubmission(ctx, newSub("s2"))
		msg, d := stepsFor("s1", routing.TransportXTA)
		_, err := s.CommitSteps(ctx, routing.Steps{Message: &msg, Validated: hubEvent(routing.StatusValidated, "mapped"),
			Delivery: &d, Routed: hubEvent("bogus", "routed")})
		if err == nil {
			t.Fatal("invalid routed event accepted")
		}
		if got := historyOf(t, s, "s1"); got != "received:submission accepted from portal p1" {
			t.Fatalf("history = %q", got)
		}
		if _, err := s.OutboundMessage(ctx, "s1"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("message kept after the rollback: %v", err)
		}
		if _, err := s.CommitSteps(ctx, routing.Steps{}); err == nil {
			t.Fatal("empty steps accepted")
		}
		_, d2 := stepsFor("s2", routing.TransportXTA)
		if _, err := s.CommitSteps(ctx, routing.Steps{Message: &msg, Validated: hubEvent(routing.StatusValidated, "mapped"),
			Delivery: &d2, Routed: hubEvent(routing.StatusRouted, "routed")}); err == nil {
			t.Fatal("steps of two submissions accepted")
		}
	})
}
