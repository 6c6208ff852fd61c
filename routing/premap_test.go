package routing_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/dxhub/dxhub/routing"
)

// countingMapper counts its calls.
type countingMapper struct {
	fakeMapper
	calls *int
}

func (m countingMapper) Map(ctx context.Context, in routing.MapInput) (routing.Message, error) {
	*m.calls++
	return m.fakeMapper.Map(ctx, in)
}

// TestPremap: a submission mapped at intake (Pipeline.Premap, committed with
// CreateSubmission) carries exactly the message and `validated` event the
// mapping stage would have written, and the pipeline does not map it again.
func TestPremap(t *testing.T) {
	ctx := context.Background()
	calls := 0
	e := newEnv(t, countingMapper{calls: &calls}, nil)
	sub := routing.Submission{ID: "s1", PortalID: "p", Tenant: "05315000", Service: "universeller-antrag", Reference: "r",
		Applicant: routing.Applicant{Name: "A"}, Form: []byte(`{}`), ReceivedAt: e.clock.Now()}
	pm, err := e.pipeline.Premap(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	got, created, err := e.store.CreateSubmission(ctx, routing.NewSubmission{Submission: sub, Premapped: pm})
	if err != nil || !created || got.Status != routing.StatusValidated {
		t.Fatalf("create: %+v created=%v err=%v", got, created, err)
	}
	e.run(t)
	if want := "[received validated routed delivered]"; fmt.Sprint(e.statuses(t, "s1")) != want {
		t.Fatalf("history = %v, want %s", e.statuses(t, "s1"), want)
	}
	if calls != 1 {
		t.Errorf("mapper called %d times, want once (at intake)", calls)
	}

	// The same submission mapped by the pipeline instead.
	e.submit(t, "s2")
	e.run(t)
	m1, _ := e.store.OutboundMessage(ctx, "s1")
	m2, _ := e.store.OutboundMessage(ctx, "s2")
	if m1.UUID != "uuid-s1" || m1.SubmissionID != "s1" || m1.Service != m2.Service || string(m1.XML) != string(m2.XML) {
		t.Errorf("premapped message %+v differs from the pipeline's %+v", m1, m2)
	}
	ev1, _ := e.store.Events(ctx, "s1")
	ev2, _ := e.store.Events(ctx, "s2")
	if ev1[1].Detail != ev2[1].Detail || ev1[1].Source != ev2[1].Source || ev1[1].Evidence != "uuid-s1" {
		t.Errorf("validated event %+v, the pipeline's %+v", ev1[1], ev2[1])
	}

	// Mapping errors are the mapper's, for the portal to report.
	bad := newEnv(t, fakeMapper{err: routing.PermanentError(errors.New("/form/x: required"))}, nil)
	if _, err := bad.pipeline.Premap(ctx, sub); !errors.Is(err, routing.ErrPermanent) {
		t.Errorf("premap of an unmappable submission: %v", err)
	}
	sub.Tenant = "99999999"
	if _, err := e.pipeline.Premap(ctx, sub); err == nil || errors.Is(err, routing.ErrPermanent) {
		t.Errorf("premap for an unknown tenant: %v, want a non-permanent error", err)
	}
}
