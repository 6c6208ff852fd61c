package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dxhub/dxhub/routing"
)

// A replay of a dead letter sent to a remote XTA server: the new message is
// filed, the old delivery with its attempts is archived, the remote report of
// the old message is no longer polled, the dead letter is resolved, and the
// job is due. A concurrent second replay with the same number is stale.
func TestReplayDeadLetterToRemoteXTA(t *testing.T) {
	forEachBackend(t, func(t *testing.T, openTest func(*testing.T) *Store) {
		ctx := context.Background()
		s := openTest(t)
		now := t0
		if _, _, err := s.CreateSubmission(ctx, routing.NewSubmission{Submission: routing.Submission{ID: "s1", PortalID: "p",
			Tenant: "05315000", Service: "svc", Reference: "r", Applicant: routing.Applicant{Name: "A"}, Form: []byte(`{}`),
			ReceivedAt: now}}); err != nil {
			t.Fatal(err)
		}
		ev := func(st routing.Status) routing.StatusEvent {
			return routing.StatusEvent{Status: st, Time: now, Source: routing.SourceHub}
		}
		msg := routing.Message{SubmissionID: "s1", UUID: "u1", Standard: "X", Version: "1", TypeCode: "1200", RootElement: "r",
			Namespace: "n", Service: "urn:s", XML: []byte("<a/>")}
		if err := s.SaveMapped(ctx, msg, ev(routing.StatusValidated)); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveRoute(ctx, routing.Delivery{SubmissionID: "s1", MessageUUID: "u1", TransportID: "tid-1",
			Route:         routing.Route{ReaderKey: "ags:05315000", ServiceURI: "urn:s", Transport: routing.TransportXTA, Endpoint: "https://fv"},
			NextAttemptAt: now, CreatedAt: now}, ev(routing.StatusRouted)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.XTARemoteCreate(ctx, XTARemote{TransportID: "tid-1", SubmissionID: "s1", RemoteID: "remote-1",
			Endpoint: "https://fv", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.XTARemoteUpdate(ctx, "tid-1", "sent", -1, "", now, nil); err != nil {
			t.Fatal(err)
		}
		d, _ := s.GetDelivery(ctx, "s1")
		failed := ev(routing.StatusFailed)
		if err := s.RecordAttempt(ctx, routing.AttemptResult{Delivery: d, Number: 1, Started: now, Finished: now,
			Outcome: routing.Outcome{Kind: routing.Permanent, Reason: "9050"}, Dead: true, Event: &failed}); err != nil {
			t.Fatal(err)
		}
		if open, _ := s.XTARemoteOpen(ctx, 10); len(open) != 1 {
			t.Fatalf("open remote reports before the replay: %d", len(open))
		}
		later := now.Add(time.Hour)
		msg2 := msg
		msg2.UUID, msg2.XML = "u2", []byte("<a fixed='1'/>")
		rp, err := s.Replay(ctx, ReplayRequest{SubmissionID: "s1", Seq: 1, Message: msg2, ProfileVersion: "2", Reason: "fixed",
			Operator: "operator test", Now: later})
		if err != nil {
			t.Fatal(err)
		}
		if rp.PreviousMessageUUID != "u1" || rp.PreviousTransportID != "tid-1" || rp.PreviousStatus != routing.StatusFailed {
			t.Fatalf("replay = %+v", rp)
		}
		if _, err := s.Replay(ctx, ReplayRequest{SubmissionID: "s1", Seq: 1, Message: msg2, Reason: "again", Now: later}); !errors.Is(err, routing.ErrStale) {
			t.Fatalf("second replay with the same number: %v", err)
		}
		if _, err := s.GetDelivery(ctx, "s1"); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("old delivery still live: %v", err)
		}
		if cur, _ := s.OutboundMessage(ctx, "s1"); cur.UUID != "u2" {
			t.Fatalf("current outbound = %s", cur.UUID)
		}
		if open, _ := s.XTARemoteOpen(ctx, 10); len(open) != 0 {
			t.Fatalf("the superseded message's report is still polled: %+v", open)
		}
		if dl, _ := s.DeadLetter(ctx, "s1"); dl.ResolvedAt.IsZero() || dl.Resolution != "replayed as u2" {
			t.Fatalf("dead letter = %+v", dl)
		}
		if ids, err := s.ClaimJobs(ctx, "w", later, time.Minute, 10); err != nil || len(ids) != 1 {
			t.Fatalf("job not due: %v %v", ids, err)
		}
		// While that worker holds the job, another replay waits.
		if _, err := s.Replay(ctx, ReplayRequest{SubmissionID: "s1", Seq: 2, Message: msg2, Reason: "x", Now: later}); !errors.Is(err, ErrBusy) {
			t.Fatalf("replay during a lease: %v", err)
		}
		rs, err := s.Replays(ctx, "s1")
		if err != nil || len(rs) != 1 || rs[0].Superseded == nil || len(rs[0].Superseded.Attempts) != 1 ||
			rs[0].Superseded.Attempts[0].Reason != "9050" || rs[0].Superseded.State != "dead" || rs[0].Reason != "fixed" {
			t.Fatalf("replays = %+v (%v)", rs, err)
		}
		if sub, _ := s.GetSubmission(ctx, "s1"); sub.Status != routing.StatusValidated || !sub.RetryBase.Equal(later) {
			t.Fatalf("submission = %s, retry base %s", sub.Status, sub.RetryBase)
		}
		if _, err := s.Replay(ctx, ReplayRequest{SubmissionID: "nope", Seq: 1, Message: msg2, Now: later}); !errors.Is(err, routing.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
	})
}
